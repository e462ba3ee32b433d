using System.Text.Json.Nodes;
using Berth.Core.Errors;
using Berth.ImageService.Images;

namespace Berth.Tests.Unit.Images;

/// <summary>The --change instructions of commit and import, as docker commit takes them (Dockerfile syntax).</summary>
public sealed class ImageChangesTests
{
    private static JsonObject Apply(JsonObject config, params string[] changes)
    {
        ImageChanges.Apply(config, ImageChanges.Parse(changes));
        return config;
    }

    private static string[] Strings(JsonNode? node) => node!.AsArray().Select(item => item!.GetValue<string>()).ToArray();

    [Fact]
    public void Cmd_and_entrypoint_take_the_exec_form_and_wrap_the_shell_form()
    {
        var config = Apply(new JsonObject { ["Cmd"] = new JsonArray("sh") }, "CMD [\"cat\", \"/a b\"]", "entrypoint /bin/run --flag");
        Assert.Equal(["/bin/sh", "-c", "/bin/run --flag"], Strings(config["Entrypoint"]));
        // ENTRYPOINT resets CMD, as in a Dockerfile.
        Assert.Null(config["Cmd"]);
        Assert.Equal(["cat", "/a b"], Strings(Apply(config, "CMD [\"cat\", \"/a b\"]")["Cmd"]));
    }

    [Fact]
    public void Env_replaces_a_variable_of_the_same_name_and_takes_both_forms()
    {
        var config = Apply(new JsonObject { ["Env"] = new JsonArray("PATH=/bin", "MODE=old") },
            "ENV MODE=new \"QUOTED=a b\" EMPTY=", "ENV LEGACY some value");
        Assert.Equal(["PATH=/bin", "MODE=new", "QUOTED=a b", "EMPTY=", "LEGACY=some value"], Strings(config["Env"]));
    }

    [Fact]
    public void Label_expose_workdir_and_user_reach_their_fields()
    {
        var config = Apply(new JsonObject { ["WorkingDir"] = "/srv" },
            "LABEL org.example.a=1 'b=two words'", "EXPOSE 80 53/udp", "WORKDIR app", "WORKDIR sub", "USER 1000:1000");
        Assert.Equal("1", (string?)config["Labels"]!["org.example.a"]);
        Assert.Equal("two words", (string?)config["Labels"]!["b"]);
        Assert.Equal(["80/tcp", "53/udp"], config["ExposedPorts"]!.AsObject().Select(pair => pair.Key));
        Assert.Equal("/srv/app/sub", (string?)config["WorkingDir"]);
        Assert.Equal("1000:1000", (string?)config["User"]);
    }

    [Theory]
    [InlineData("RUN rm -rf /", "RUN cannot be changed")]
    [InlineData("", "it is empty")]
    [InlineData("CMD", "CMD needs an argument")]
    [InlineData("CMD [\"a\", 1]", "the exec form must be a JSON array of strings")]
    [InlineData("ENV =x", "'=x' is not key=value")]
    [InlineData("ENV lonely", "ENV needs key=value, or a key and a value")]
    [InlineData("LABEL a", "'a' is not key=value")]
    [InlineData("EXPOSE 70000", "'70000' is not a port")]
    [InlineData("EXPOSE 80/icmp", "'80/icmp' is not a port")]
    [InlineData("USER a b", "it takes one argument")]
    [InlineData("LABEL a=\"open", "a \" quote is not closed")]
    public void Bad_changes_are_refused_with_the_reason(string change, string reason)
    {
        var error = Assert.Throws<BerthException>(() => ImageChanges.Parse([change]));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal($"--change '{change}': {reason}", error.Message[..Math.Min(error.Message.Length, $"--change '{change}': {reason}".Length)]);
    }
}

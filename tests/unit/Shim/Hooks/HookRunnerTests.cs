using Berth.Api.Shim;
using Berth.Shim.Hooks;

namespace Berth.Tests.Unit.Shim.Hooks;

/// <summary>OCI hooks as the runtime spec defines their call: argv, exactly their env, the state on stdin, exit status, timeout.</summary>
public sealed class HookRunnerTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("berth-hooks-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly OciState State = new() { Id = "c1", Status = "creating", Pid = 42, Bundle = "/run/berth/bundles/c1" };

    [Fact]
    public void AHookGetsItsArgsItsOwnEnvironmentOnlyAndTheStateOnStdin()
    {
        string output = Path.Combine(_dir.FullName, "out");
        HookRunner.RunAll("createContainer",
            [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", $"echo \"$0 $1 [$HOME] $ONLY\" > {output}; cat >> {output}", "zero", "first"], Env = ["ONLY=this"] }],
            State);

        Assert.Equal("zero first [] this\n{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":42,\"bundle\":\"/run/berth/bundles/c1\"}",
            File.ReadAllText(output));
    }

    [Fact]
    public void AFailingHookStopsTheListAndSaysWhatItSaid()
    {
        string marker = Path.Combine(_dir.FullName, "second-ran");
        var error = Assert.Throws<HookFailedException>(() => HookRunner.RunAll("poststart",
        [
            new OciHook { Path = "/bin/sh", Args = ["sh", "-c", "echo broken >&2; exit 4"] },
            new OciHook { Path = "/bin/sh", Args = ["sh", "-c", $"touch {marker}"] },
        ], State));

        Assert.Equal("poststart hook /bin/sh exited with status 4: broken", error.Message);
        Assert.False(File.Exists(marker));
    }

    [Theory]
    [InlineData("/nonexistent/hook", null, "createRuntime hook /nonexistent/hook cannot be run: ")]
    [InlineData("/bin/sleep", 1, "createRuntime hook /bin/sleep did not finish within 1 s and was killed (no output)")]
    public void AHookThatCannotRunOrDoesNotFinishFails(string path, int? timeout, string expected)
    {
        var error = Assert.Throws<HookFailedException>(() => HookRunner.RunAll("createRuntime",
            [new OciHook { Path = path, Args = [path, "30"], Timeout = timeout }], State));

        Assert.StartsWith(expected, error.Message);
    }

    [Fact]
    public void NoHooksRunNothing() => HookRunner.RunAll("poststop", null, State);
}

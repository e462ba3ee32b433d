using System.CommandLine;
using Berth.Api.Admin;

namespace Berth.Cli.Commands;

/// <summary>berthctl commit CONTAINER REF [-m MSG] [--author A] [--change INSTR]... [--pause=false]: a container's changes as a new image, as docker commit.</summary>
internal static class CommitCommand
{
    public static Command Create(Option<string?> address)
    {
        var container = new Argument<string>("CONTAINER") { Description = "the container, by ID or unique ID prefix (crictl ps)" };
        var reference = new Argument<string>("REF") { Description = "the new image's name, such as registry.local/app:v2" };
        var message = new Option<string?>("--message", "-m") { Description = "a comment for the image's history" };
        var author = new Option<string?>("--author", "-a") { Description = "the image's author, such as \"Name <mail>\"" };
        var changes = ChangeOption();
        var pause = new Option<bool>("--pause", "-p") { Description = "freeze the container while its files are read", DefaultValueFactory = _ => true };
        var command = new Command("commit", "Create a new image from a container's changes") { container, reference, message, author, changes, pause };
        command.SetBody(address, async (result, admin, ct) =>
        {
            var request = new CommitRequest
            {
                Container = result.GetValue(container)!,
                Reference = result.GetValue(reference)!,
                Message = result.GetValue(message) ?? "",
                Author = result.GetValue(author) ?? "",
                Pause = result.GetValue(pause),
            };
            request.Changes.AddRange(result.GetValue(changes) ?? []);
            var committed = await admin.Containers.CommitAsync(request, cancellationToken: ct);
            foreach (var skipped in committed.Skipped)
            {
                await Console.Error.WriteLineAsync($"berthctl: left out /{skipped}: a socket, which an image layer cannot carry");
            }
            Console.WriteLine(committed.Image.Id);
            return 0;
        });
        return command;
    }

    /// <summary>--change/-c, repeatable: a Dockerfile instruction applied to the image's config (commit and import).</summary>
    public static Option<string[]> ChangeOption() => new("--change", "-c")
    {
        Description = "apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER or EXPOSE (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };
}

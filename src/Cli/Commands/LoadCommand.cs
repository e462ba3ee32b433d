using System.CommandLine;
using Berth.Api.Admin;

namespace Berth.Cli.Commands;

/// <summary>berthctl load [-i FILE]: the images of a docker-archive or OCI layout tar (gzip too), from a file or stdin, as docker load.</summary>
internal static class LoadCommand
{
    public static Command Create(Option<string?> address)
    {
        var input = new Option<string?>("--input", "-i") { Description = "the archive (default: stdin)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print nothing" };
        var command = new Command("load", "Load images from a docker-archive or OCI image layout tar, plain or gzip") { input, quiet };
        command.SetBody(address, async (result, admin, ct) =>
        {
            await using (var archive = result.GetValue(input) is { } path ? ArchiveStreams.OpenRead(path) : Console.OpenStandardInput())
            {
                using var call = admin.Images.Load(cancellationToken: ct);
                var loaded = await ArchiveStreams.UploadAsync(call, archive, data => new LoadChunk { Data = data }, ct);
                if (!result.GetValue(quiet))
                {
                    foreach (var image in loaded.Images)
                    {
                        Console.WriteLine(image.RepoTags.Count == 0
                            ? $"Loaded image ID: {image.Id}"
                            : string.Join('\n', image.RepoTags.Select(tag => $"Loaded image: {tag}")));
                    }
                }
            }
            return 0;
        });
        return command;
    }
}

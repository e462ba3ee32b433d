using System.CommandLine;
using Berth.Api.Admin;
using Grpc.Core;

namespace Berth.Cli.Commands;

/// <summary>berthctl save -o FILE [--format docker|oci] IMAGE...: images into one archive, as docker save (default) or an OCI image layout.</summary>
internal static class SaveCommand
{
    public static Command Create(Option<string?> address)
    {
        var images = new Argument<string[]>("IMAGE") { Description = "images by reference, ID or ID prefix", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "the archive to write (default: stdout, if it is not a terminal)" };
        var format = new Option<string>("--format") { Description = "docker (docker load reads it) or oci (an OCI image layout)", DefaultValueFactory = _ => "docker" };
        format.AcceptOnlyFromAmong("docker", "oci");
        var command = new Command("save", "Save images to a tar archive") { images, output, format };
        command.SetBody(address, async (result, admin, ct) =>
        {
            var request = new SaveRequest { Format = result.GetValue(format) == "oci" ? ArchiveFormat.Oci : ArchiveFormat.Docker };
            request.Images.AddRange(result.GetValue(images)!);
            await ArchiveStreams.DownloadAsync(result.GetValue(output), async target =>
            {
                using var call = admin.Images.Save(request, cancellationToken: ct);
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(ct))
                {
                    await target.WriteAsync(chunk.Data.Memory, ct);
                }
            });
            return 0;
        });
        return command;
    }
}

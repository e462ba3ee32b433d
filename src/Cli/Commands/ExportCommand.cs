using System.CommandLine;
using Berth.Api.Admin;
using Grpc.Core;

namespace Berth.Cli.Commands;

/// <summary>berthctl export CONTAINER -o FILE|-: a container's root filesystem as a tar, as docker export.</summary>
internal static class ExportCommand
{
    public static Command Create(Option<string?> address)
    {
        var container = new Argument<string>("CONTAINER") { Description = "the container, by ID or unique ID prefix (crictl ps)" };
        var output = new Option<string?>("--output", "-o") { Description = "the tar to write, - for stdout (default: stdout, if it is not a terminal)" };
        var command = new Command("export", "Export a container's filesystem as a tar archive") { container, output };
        command.SetBody(address, async (result, admin, ct) =>
        {
            await ArchiveStreams.DownloadAsync(result.GetValue(output), async target =>
            {
                using var call = admin.Containers.Export(new ExportRequest { Container = result.GetValue(container)! }, cancellationToken: ct);
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

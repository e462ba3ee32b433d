using System.CommandLine;
using Berth.Api.Admin;

namespace Berth.Cli.Commands;

/// <summary>berthctl import FILE|-|URL REF [--change INSTR]... [-m MSG]: a root filesystem tar (plain or gzip) as a one-layer image, as docker import.</summary>
internal static class ImportCommand
{
    public static Command Create(Option<string?> address)
    {
        var source = new Argument<string>("FILE|-|URL") { Description = "the tar: a file, - for stdin, or an http(s) URL" };
        var reference = new Argument<string>("REF") { Description = "the new image's name, such as registry.local/rootfs:v1" };
        var changes = CommitCommand.ChangeOption();
        var message = new Option<string?>("--message", "-m") { Description = "a comment for the image's history" };
        var command = new Command("import", "Import a root filesystem tar as a one-layer image") { source, reference, changes, message };
        command.SetBody(address, async (result, admin, ct) =>
        {
            var from = result.GetValue(source)!;
            var options = new ImportOptions { Reference = result.GetValue(reference)!, Message = result.GetValue(message) ?? "", Source = from };
            options.Changes.AddRange(result.GetValue(changes) ?? []);
            // berthctl fetches a URL itself and streams it as it would a file: berthd takes archives one way only, and the
            // download uses the operator's proxy settings and network, not the daemon's.
            using var http = new HttpClient();
            await using var archive = await OpenAsync(from, http, ct);
            using var call = admin.Images.Import(cancellationToken: ct);
            await call.RequestStream.WriteAsync(new ImportChunk { Options = options }, ct);
            var imported = await ArchiveStreams.UploadAsync(call, archive, data => new ImportChunk { Data = data }, ct);
            Console.WriteLine(imported.Image.Id);
            return 0;
        });
        return command;
    }

    private static async Task<Stream> OpenAsync(string from, HttpClient http, CancellationToken ct)
    {
        if (from == "-")
        {
            return Console.OpenStandardInput();
        }
        if (Uri.TryCreate(from, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
        {
            try
            {
                var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct);
                if (!response.IsSuccessStatusCode)
                {
                    throw new IOException($"cannot fetch {url}: it answered {(int)response.StatusCode} {response.ReasonPhrase}");
                }
                return await response.Content.ReadAsStreamAsync(ct);
            }
            catch (HttpRequestException error)
            {
                throw new IOException($"cannot fetch {url}: {error.Message}", error);
            }
        }
        return ArchiveStreams.OpenRead(from);
    }
}

using System.CommandLine;
using Berth.Api.Admin;
using Berth.Cli.Display;

namespace Berth.Cli.Commands;

/// <summary>berthctl images [-q]: docker images' table, one row per tag (an image without one shows &lt;none&gt;).</summary>
internal static class ImagesCommand
{
    public static Command Create(Option<string?> address)
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print image IDs only" };
        var command = new Command("images", "List the node's images") { quiet };
        command.Aliases.Add("ls");
        command.SetBody(address, async (result, admin, ct) =>
        {
            var images = (await admin.Images.ListAsync(new ListRequest(), cancellationToken: ct)).Images;
            if (result.GetValue(quiet))
            {
                foreach (var id in images.Select(image => ShortId(image.Id)).Distinct())
                {
                    Console.WriteLine(id);
                }
                return 0;
            }
            Console.Write(Table(images));
            return 0;
        });
        return command;
    }

    /// <summary>The table, columns padded to their widest cell.</summary>
    internal static string Table(IEnumerable<ImageSummary> images)
    {
        var rows = new List<string[]> { new[] { "REPOSITORY", "TAG", "IMAGE ID", "SIZE" } };
        foreach (var image in images)
        {
            var size = ByteSize.Format(image.Size);
            if (image.RepoTags.Count == 0)
            {
                var repository = image.RepoDigests.Select(RepositoryOfDigestReference).FirstOrDefault() ?? "<none>";
                rows.Add([repository, "<none>", ShortId(image.Id), size]);
            }
            foreach (var tag in image.RepoTags)
            {
                var colon = tag.LastIndexOf(':');
                rows.Add([tag[..colon], tag[(colon + 1)..], ShortId(image.Id), size]);
            }
        }
        var widths = Enumerable.Range(0, 4).Select(column => rows.Max(row => row[column].Length)).ToArray();
        var text = new System.Text.StringBuilder();
        foreach (var row in rows)
        {
            text.AppendJoin("   ", row.Select((cell, column) => column == row.Length - 1 ? cell : cell.PadRight(widths[column]))).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The 12 hex digits docker shows of an image ID.</summary>
    internal static string ShortId(string id) => id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..Math.Min(id.Length, 19)] : id;

    private static string RepositoryOfDigestReference(string reference) => reference[..reference.IndexOf('@')];
}

using System.CommandLine;
using Berth.Api.Admin;

namespace Berth.Cli.Commands;

/// <summary>berthctl tag SOURCE TARGET: a new name for an image, as docker tag.</summary>
internal static class TagCommand
{
    public static Command Create(Option<string?> address)
    {
        var source = new Argument<string>("SOURCE") { Description = "the image: reference, ID or unique ID prefix" };
        var target = new Argument<string>("TARGET") { Description = "the new name, REPOSITORY[:TAG] (TAG defaults to latest)" };
        var command = new Command("tag", "Give an image a new name") { source, target };
        command.SetBody(address, async (result, admin, ct) =>
        {
            await admin.Images.TagAsync(new TagRequest { Source = result.GetValue(source)!, Target = result.GetValue(target)! }, cancellationToken: ct);
            return 0;
        });
        return command;
    }
}

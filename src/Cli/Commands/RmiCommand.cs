using System.CommandLine;
using Berth.Api.Admin;

namespace Berth.Cli.Commands;

/// <summary>berthctl rmi IMAGE...: untag, and delete an image with its last name or by ID, printing what went as docker rmi does.</summary>
internal static class RmiCommand
{
    public static Command Create(Option<string?> address)
    {
        var images = new Argument<string[]>("IMAGE") { Description = "a name removes that name; an ID or ID prefix removes the image", Arity = ArgumentArity.OneOrMore };
        var command = new Command("rmi", "Remove images") { images };
        command.SetBody(address, async (result, admin, ct) =>
        {
            foreach (var image in result.GetValue(images)!)
            {
                var removal = await admin.Images.RemoveAsync(new RemoveRequest { Image = image }, cancellationToken: ct);
                foreach (var name in removal.Untagged)
                {
                    Console.WriteLine($"Untagged: {name}");
                }
                if (removal.Deleted)
                {
                    Console.WriteLine($"Deleted: {removal.ImageId}");
                }
            }
            return 0;
        });
        return command;
    }
}

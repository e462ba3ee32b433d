using System.CommandLine;
using Berth.Api.Admin;
using Grpc.Core;

namespace Berth.Cli.Commands;

/// <summary>berthctl push REF [--user U:P] [--quiet]: an image of this node to the registry its name points at, with each blob's progress, as docker push.</summary>
internal static class PushCommand
{
    public static Command Create(Option<string?> address)
    {
        var reference = new Argument<string>("REF") { Description = "the image's name on this node, which says where it goes (registry:5000/app:v1); berthctl tag gives one" };
        var user = new Option<string?>("--user", "-u") { Description = "registry credentials for this push, USER:PASSWORD (else berthctl login's, then berthd's config)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print nothing but the pushed repo@digest" };
        var command = new Command("push", "Push an image to a registry, showing each blob's progress") { reference, user, quiet };
        command.SetBody(address, async (result, admin, ct) =>
        {
            var request = new PushRequest { Reference = result.GetValue(reference)! };
            if (result.GetValue(user) is { } credentials)
            {
                request.Auth = PullCommand.ParseUser(credentials);
            }
            var display = PullCommand.Choose(result.GetValue(quiet));
            using var call = admin.Images.Push(request, cancellationToken: ct);
            await foreach (var pushEvent in call.ResponseStream.ReadAllAsync(ct))
            {
                switch (pushEvent.EventCase)
                {
                    case PushEvent.EventOneofCase.Started:
                        display.Started(pushEvent.Started);
                        break;
                    case PushEvent.EventOneofCase.Blob:
                        display.Layer(pushEvent.Blob);
                        break;
                    case PushEvent.EventOneofCase.Done:
                        display.Done(pushEvent.Done);
                        break;
                }
            }
            return 0;
        });
        return command;
    }
}

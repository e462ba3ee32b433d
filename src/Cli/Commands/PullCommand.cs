using System.CommandLine;
using Berth.Api.Admin;
using Berth.Cli.Display;
using Grpc.Core;

namespace Berth.Cli.Commands;

/// <summary>berthctl pull REF [--user U:P] [--quiet]: a pull with its progress, live on a terminal, as lines otherwise.</summary>
internal static class PullCommand
{
    public static Command Create(Option<string?> address)
    {
        var reference = new Argument<string>("REF") { Description = "the image, as docker pull names it (busybox, registry:5000/app:v1, repo@sha256:...)" };
        var user = new Option<string?>("--user", "-u") { Description = "registry credentials for this pull, USER:PASSWORD (else berthd's config and login)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print nothing but the image's name" };
        var command = new Command("pull", "Pull an image from a registry, showing each layer's progress") { reference, user, quiet };
        command.SetBody(address, async (result, admin, ct) =>
        {
            var request = new PullRequest { Reference = result.GetValue(reference)! };
            if (result.GetValue(user) is { } credentials)
            {
                request.Auth = ParseUser(credentials);
            }
            var display = Choose(result.GetValue(quiet));
            using var call = admin.Images.Pull(request, cancellationToken: ct);
            await foreach (var pullEvent in call.ResponseStream.ReadAllAsync(ct))
            {
                switch (pullEvent.EventCase)
                {
                    case PullEvent.EventOneofCase.Started:
                        display.Started(pullEvent.Started);
                        break;
                    case PullEvent.EventOneofCase.Layer:
                        display.Layer(pullEvent.Layer);
                        break;
                    case PullEvent.EventOneofCase.Done:
                        display.Done(pullEvent.Done);
                        break;
                }
            }
            return 0;
        });
        return command;
    }

    /// <summary>"USER:PASSWORD"; the password may hold colons, the user may not (as docker login and crictl --creds).</summary>
    internal static RegistryAuth ParseUser(string text)
    {
        var colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            throw new UsageException("--user must be USER:PASSWORD");
        }
        return new RegistryAuth { Username = text[..colon], Password = text[(colon + 1)..] };
    }

    /// <summary>stdout as the process got it, for the terminal display's own escapes (Console.Out makes every escape printable).</summary>
    internal static TextWriter RawOutput { get; set; } = Console.Out;

    /// <summary>The display for <paramref name="quiet"/> and where the output goes; push draws with it too.</summary>
    internal static PullDisplay Choose(bool quiet)
    {
        if (quiet)
        {
            return new QuietPullDisplay(Console.Out);
        }
        // Redrawing needs a terminal that understands cursor movement: not a pipe, a file or TERM=dumb.
        var terminal = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "" or "dumb");
        return terminal ? new TerminalPullDisplay(RawOutput, TimeProvider.System) : new PlainPullDisplay(Console.Out);
    }
}

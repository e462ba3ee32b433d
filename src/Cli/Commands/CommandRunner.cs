using System.CommandLine;
using Grpc.Core;

namespace Berth.Cli.Commands;

/// <summary>
/// Runs a command's body against the admin API and turns what can go wrong into one line on stderr and exit
/// code 1, as docker does: berthd's status message, or why the socket could not be reached.
/// </summary>
internal static class CommandRunner
{
    public delegate Task<int> Body(ParseResult result, AdminConnection admin, CancellationToken ct);

    public static void SetBody(this Command command, Option<string?> address, Body body) =>
        command.SetAction(async (result, ct) =>
        {
            try
            {
                using var admin = AdminConnection.Open(result.GetValue(address));
                return await body(result, admin, ct);
            }
            catch (UsageException error)
            {
                await Console.Error.WriteLineAsync($"berthctl: {error.Message}");
                return 2;
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable && error.Status.DebugException is { } cause)
            {
                await Console.Error.WriteLineAsync($"berthctl: cannot reach berthd's admin socket ({cause.Message}); is berthd running, and are you root?");
                return 1;
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Cancelled && ct.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync("berthctl: interrupted");
                return 130;
            }
            catch (RpcException error)
            {
                await Console.Error.WriteLineAsync($"berthctl: {error.Status.Detail}");
                return 1;
            }
        });
}

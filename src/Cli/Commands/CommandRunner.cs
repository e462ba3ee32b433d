using System.CommandLine;
using Grpc.Core;

namespace Berth.Cli.Commands;

/// <summary>
/// Runs a command's body against the admin API and turns what can go wrong into one line on stderr and an exit code,
/// never a stack trace: 1 when the operation failed (berthd refused it or cannot be reached, a file or pipe could not be
/// read or written), 2 for a command line berthctl cannot act on, 130 when interrupted (README, berthctl).
/// </summary>
internal static class CommandRunner
{
    public const int FailureExit = 1;
    public const int UsageExit = 2;
    public const int InterruptedExit = 130;

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
                return await FailAsync(error.Message, UsageExit);
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable && error.Status.DebugException is { } cause)
            {
                return await FailAsync($"cannot reach berthd's admin socket ({cause.Message}); is berthd running, and are you root?", FailureExit);
            }
            catch (Exception error) when (ct.IsCancellationRequested && error is RpcException { StatusCode: StatusCode.Cancelled } or OperationCanceledException)
            {
                return await FailAsync("interrupted", InterruptedExit);
            }
            catch (RpcException error)
            {
                return await FailAsync(error.Status.Detail, FailureExit);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or HttpRequestException)
            {
                return await FailAsync(error.Message, FailureExit);
            }
        });

    private static async Task<int> FailAsync(string message, int exitCode)
    {
        try
        {
            await Console.Error.WriteLineAsync($"berthctl: {message}");
        }
        catch (IOException)
        {
            // stderr itself is gone: the exit code still says it.
        }
        return exitCode;
    }
}

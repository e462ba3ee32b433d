namespace Berth.Api.Streaming;

/// <summary>
/// The idle close that SPDY connections and WebSocket channels share (kubelet's streaming server closes a
/// connection with no traffic for its idle timeout, containerd's stream_idle_timeout, 4 h by default): the
/// wait, and the owner's last word before the close.
/// </summary>
public static class IdleNotice
{
    /// <summary>The longest the owner's notice may take (a client that reads nothing cannot hold the close up).</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Waits until nothing happened for <paramref name="timeout"/> since <paramref name="lastActivity"/> (Environment.TickCount64
    /// milliseconds), rechecking at each deadline so that the close comes within a timer tick of it; false when
    /// <paramref name="closed"/> ends the wait first.
    /// </summary>
    public static async Task<bool> WaitForIdleAsync(Func<long> lastActivity, TimeSpan timeout, CancellationToken closed)
    {
        long idle = (long)timeout.TotalMilliseconds;
        while (!closed.IsCancellationRequested)
        {
            long left = lastActivity() + idle - Environment.TickCount64;
            if (left <= 0)
            {
                return true;
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(left), closed).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return false;
    }

    /// <summary>Runs <paramref name="notice"/> for at most <see cref="Bound"/>; its failure (the peer gone) is no one's concern.</summary>
    public static async Task SendAsync(Func<Task>? notice)
    {
        if (notice is null)
        {
            return;
        }
        try
        {
            await notice().WaitAsync(Bound).ConfigureAwait(false);
        }
        catch (Exception error) when (error is TimeoutException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }
}

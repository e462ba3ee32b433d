namespace Berth.RuntimeService.Runtime.Descriptors;

/// <summary>
/// Readiness of descriptors that are not sockets (a pseudo-terminal master, a pipe) for async code: one
/// dedicated thread runs poll(2) over every descriptor awaited and completes each wait when its
/// descriptor is ready. .NET's async I/O has no such path (a FileStream on a pipe or terminal blocks a
/// pool thread per pending read), and sockets berthd wraps in <see cref="System.Net.Sockets.Socket"/>
/// instead. The thread starts with the first wait and serves every session after.
/// </summary>
internal sealed unsafe class DescriptorPoller
{
    private static readonly Lazy<DescriptorPoller> s_shared = new(() => new DescriptorPoller());

    private readonly object _gate = new();
    private readonly List<Waiter> _waiters = [];
    private readonly int _wakeRead;
    private readonly int _wakeWrite;

    private DescriptorPoller()
    {
        (_wakeRead, _wakeWrite) = Interop.Sys.Pipe(nonBlocking: true);
        new Thread(Run) { IsBackground = true, Name = "descriptor poller" }.Start();
    }

    public static DescriptorPoller Shared => s_shared.Value;

    /// <summary>Completes when <paramref name="fd"/> has one of <paramref name="events"/> (or an error or hang-up, which the next call reports).</summary>
    public Task WaitAsync(int fd, short events, CancellationToken cancellationToken)
    {
        var waiter = new Waiter(fd, events);
        lock (_gate)
        {
            _waiters.Add(waiter);
        }
        Wake();
        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(() =>
            {
                Remove(waiter);
                waiter.Ready.TrySetCanceled(cancellationToken);
            });
        }
        return waiter.Ready.Task;
    }

    private void Remove(Waiter waiter)
    {
        lock (_gate)
        {
            _waiters.Remove(waiter);
        }
        Wake();
    }

    private void Wake()
    {
        byte one = 1;
        try
        {
            Interop.Sys.WriteSome(_wakeWrite, new ReadOnlySpan<byte>(&one, 1));
        }
        catch (ErrnoException)
        {
            // Full: the thread is woken already.
        }
    }

    private void Run()
    {
        var polled = new List<Waiter>();
        Interop.PollFd[] fds = new Interop.PollFd[16];
        Span<byte> drain = stackalloc byte[64];
        while (true)
        {
            polled.Clear();
            lock (_gate)
            {
                polled.AddRange(_waiters);
            }
            if (fds.Length < polled.Count + 1)
            {
                fds = new Interop.PollFd[polled.Count * 2 + 1];
            }
            fds[0] = new Interop.PollFd { Fd = _wakeRead, Events = Interop.Sys.POLLIN };
            for (int i = 0; i < polled.Count; i++)
            {
                fds[i + 1] = new Interop.PollFd { Fd = polled[i].Fd, Events = polled[i].Events };
            }
            fixed (Interop.PollFd* p = fds)
            {
                Interop.Sys.Poll(p, polled.Count + 1, -1);
            }
            if (fds[0].Revents != 0)
            {
                while (Interop.Sys.Read(_wakeRead, drain) > 0)
                {
                }
            }
            for (int i = 0; i < polled.Count; i++)
            {
                if (fds[i + 1].Revents == 0)
                {
                    continue;
                }
                Waiter waiter = polled[i];
                bool current;
                lock (_gate)
                {
                    // A waiter cancelled meanwhile may have had its descriptor closed and the number reused.
                    current = _waiters.Remove(waiter);
                }
                if (current)
                {
                    waiter.Registration.Dispose();
                    waiter.Ready.TrySetResult();
                }
            }
        }
    }

    private sealed class Waiter(int fd, short events)
    {
        public int Fd { get; } = fd;
        public short Events { get; } = events;
        public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration { get; set; }
    }
}

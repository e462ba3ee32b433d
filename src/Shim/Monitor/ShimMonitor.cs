using Berth.Api.Shim;
using Berth.Shim.Cgroups;

namespace Berth.Shim.Monitor;

/// <summary>
/// <c>berth-shim serve</c>: one thread, one poll(2) loop that hands each ready descriptor to the
/// part that owns it, as conmon-rs's server delegates to its child reaper, container I/O, logs
/// and streaming: <see cref="ControlClients"/> (the control socket and its connections),
/// <see cref="ChildProcess"/> (the first process: pidfd, stage pipes, status, exit record),
/// <see cref="ContainerOutput"/> (stdio, the CRI log and attachers), <see cref="ExecSessions"/> (running
/// ExecSync and streaming exec commands) and <see cref="NamespacePinSet"/> (a sandbox's pins). The monitor keeps what
/// spans them: the bundle, the cgroup, and the requests that combine the parts. In steady state
/// (an idle container, or one that only writes output) nothing in the loop allocates: the parts
/// keep their descriptors in fixed fields and arrays and read through fixed buffers.
/// </summary>
internal sealed partial class ShimMonitor : IDisposable
{
    private readonly string _bundle;
    private readonly OciSpec? _spec;
    // Whether the spec asks for a seccomp filter (which _spec no longer holds): it explains a stage that died unreported.
    private readonly bool _filtered;
    private readonly ShimOptions? _options;
    private readonly string? _loadError;
    private readonly string _socketPath;

    private readonly PollSet _poll;
    private readonly ControlClients _clients;
    private readonly ChildProcess _process;
    private readonly ContainerOutput _output;
    private readonly ExecSessions _execs;
    private readonly NamespacePinSet _pins;
    private readonly StageClock _clock;

    private ICgroup? _cgroup;
    private ulong _oomBaseline;
    private bool _stopping;
    private bool _trimWhenIdle;

    /// <summary>
    /// The spec as the monitor keeps it for its whole life: without the seccomp profile (RuntimeDefault's
    /// is some hundred names, about 30 KiB of heap per shim), which only the init, exec and pause stages
    /// use, each reading it from the bundle itself.
    /// </summary>
    private static OciSpec WithoutSeccomp(OciSpec spec) =>
        spec.Linux?.Seccomp is null ? spec : spec with { Linux = spec.Linux with { Seccomp = null } };

    public ShimMonitor(string bundle, StageClock clock)
    {
        _bundle = bundle;
        _clock = clock;
        try
        {
            var spec = BundleFiles.ReadSpec(bundle);
            _filtered = spec.Linux?.Seccomp is not null;
            _spec = WithoutSeccomp(spec);
            _options = BundleFiles.ReadOptions(bundle);
        }
        catch (Exception e)
        {
            _loadError = $"reading the bundle {bundle}: {FailureText.Describe(e)}";
            ShimLog.Write(_loadError);
        }
        ShimOptions options = _options ?? new ShimOptions();
        _socketPath = BundleLayout.SocketPath(bundle, options);
        // One read buffer for the output and the exec pipes: only one of them reads at a time.
        _poll = new PollSet();
        byte[] readBuffer = new byte[64 * 1024];
        _clients = new ControlClients(ConnectionClosed);
        _execs = new ExecSessions(_clients, readBuffer, options.MaxExecs);
        _output = new ContainerOutput(readBuffer);
        _process = new ChildProcess(options.Id, BundleLayout.ExitPath(bundle, options));
        _pins = new NamespacePinSet(options.NamespaceDir);
        _clock.Mark("shim.load_bundle");
    }

    private string Id => _options?.Id ?? "";

    private bool IsSandbox => _options?.Kind == ShimKind.Sandbox;

    /// <summary>Binds the socket, writes the pid file and serves until Shutdown.</summary>
    public int Run()
    {
        // A stale socket (or anything else there) from an earlier shim of this bundle.
        ShimFiles.Delete(_socketPath);
        _clients.Listen(_socketPath);
        // For operators and tools; a shim's pid means nothing after a power cut, so no fsync.
        AtomicFile.Write(BundleLayout.PidPath(_bundle), System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"), AtomicFile.Durability.None);
        ShimLog.Write($"serving {_options?.Kind} {Id} on {_socketPath}");
        _clock.Mark("shim.listen");
        // No trim here: berthd's Create is already on its way and would wait behind it; the trim after
        // the first burst of requests (Create, Start) returns start-up's garbage with theirs.
        while (!_stopping)
        {
            BuildPollSet();
            if (_trimWhenIdle)
            {
                // Requests allocate (protobuf, JSON, spawning); once they stop, give the memory back.
                if (_poll.Wait(0) == 0)
                {
                    _trimWhenIdle = false;
                    Footprint.Trim();
                }
                BuildPollSet();
            }
            _poll.Wait(_execs.NextTimeout());
            for (int i = 0; i < _poll.Count && !_stopping; i++)
            {
                short revents = _poll.ReadyEvents(i);
                if (revents != 0)
                {
                    Dispatch(_poll.Source(i), _poll.Index(i), revents);
                }
            }
            _output.Flush();
            _execs.KillOverdue();
        }
        return 0;
    }

    private void BuildPollSet()
    {
        _poll.Clear();
        _clients.AddTo(_poll);
        if (_process.Pidfd >= 0)
        {
            _poll.Add(_process.Pidfd, Interop.Sys.POLLIN, PollSource.Pidfd);
        }
        _output.AddTo(_poll);
        _execs.AddTo(_poll);
    }

    private void Dispatch(PollSource source, int index, short revents)
    {
        switch (source)
        {
            case PollSource.Listen:
                _clients.Accept();
                break;
            case PollSource.Client:
                if (_clients.Receive(index, revents))
                {
                    while (_clients.TryTakeRequest(index, out Request request))
                    {
                        Handle(index, request);
                    }
                }
                break;
            case PollSource.Pidfd:
                OnProcessExit();
                break;
            case PollSource.Stdout:
                _output.Pump(stderr: false);
                break;
            case PollSource.Stderr:
                _output.Pump(stderr: true);
                break;
            case PollSource.ExecStdout:
                _execs.Pump(index, stderr: false);
                break;
            case PollSource.ExecStderr:
                _execs.Pump(index, stderr: true);
                break;
            case PollSource.ExecPidfd:
                _execs.OnExit(index);
                break;
            case PollSource.ExecConsole:
                _execs.OnTerminal(index);
                break;
        }
    }

    /// <summary>A connection is closing: a command it waits for is killed, its attachment ends.</summary>
    private void ConnectionClosed(int client)
    {
        _execs.Abandon(client);
        _output.Detach(client);
    }

    /// <summary>
    /// The process ended: reap it and record the exit. A container that is not PID 1 of a pid
    /// namespace of its own (it shares the pod's or the host's) leaves its children running when it
    /// exits; they are killed, as containerd's runc shim does (shouldKillAllOnExit), so nothing of an
    /// exited container runs on.
    /// </summary>
    private void OnProcessExit()
    {
        if (_process.TryReap() is not { } exit)
        {
            return;
        }
        if (!IsSandbox && _cgroup is not null && !OwnsPidNamespace)
        {
            SignalCgroup(Interop.Sys.SIGKILL);
        }
        RecordExit(exit.ExitCode, null);
    }

    /// <summary>The spec creates a pid namespace for the process (a pid entry without a path).</summary>
    private bool OwnsPidNamespace =>
        _spec?.Linux?.Namespaces?.Any(ns => ns.Type == LinuxNamespaceType.Pid && string.IsNullOrEmpty(ns.Path)) == true;

    /// <summary>Whether the cgroup's OOM killer struck since the process was created.</summary>
    private bool OomKilledSinceCreate()
    {
        try
        {
            return (_cgroup?.OomKillCount() ?? 0) > _oomBaseline;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// The process is gone (or was never started): flush its output, work out whether the OOM
    /// killer took it, record it durably, then tell the waiters.
    /// </summary>
    private void RecordExit(int exitCode, string? failure)
    {
        _process.Release();
        _execs.KillAll();
        _output.Drain();
        _process.Exited(exitCode, failure, oomKilled: OomKilledSinceCreate());
        _clients.AnswerWaiters(new Response { State = _process.State() });
    }

    public void Dispose()
    {
        _clients.CloseAll();
        _output.Dispose();
        _poll.Dispose();
    }
}

using System.Diagnostics;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// A program a fixture runs: its stdout and stderr kept line by line (interleaved, as a person
/// reading a failure wants them), and an end that never hangs a test.
/// </summary>
/// <remarks>
/// Exit is observed through <see cref="Process.Exited"/>, not <see cref="Process.WaitForExitAsync"/>:
/// the latter also waits for the output pipes to close, and a daemon's detached children may
/// hold them open long after it has died.
/// </remarks>
internal sealed class ChildProcess : IAsyncDisposable
{
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromSeconds(1);

    private readonly Process _process;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _lines = [];
    private int? _signalTarget;

    /// <summary>The child signals go to, once <see cref="SignalChildAsync"/> found it.</summary>
    public int? SignalTarget => _signalTarget;

    private ChildProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Kept apart from the <see cref="Process"/>, which cannot report it once disposed.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>The program and its arguments, for messages.</summary>
    public string CommandLine { get; private init; } = "";

    /// <param name="environment">Variables set for the child beside those it inherits.</param>
    public static ChildProcess Start(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var child = new ChildProcess(process) { CommandLine = string.Join(' ', [program, .. startInfo.ArgumentList]) };
        process.Exited += (_, _) =>
        {
            child.ExitCode = process.ExitCode;
            child._exited.TrySetResult();
        };
        process.OutputDataReceived += (_, e) => child.Receive(e.Data, child._stdoutClosed);
        process.ErrorDataReceived += (_, e) => child.Receive(e.Data, child._stderrClosed);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>A snapshot of every line written so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>The last lines of output, ready to put in an exception message.</summary>
    public string Tail(int count = 50)
    {
        var lines = Lines;
        var tail = lines.Skip(Math.Max(0, lines.Count - count));
        return $"--- last {Math.Min(count, lines.Count)} lines of output of `{CommandLine}`"
            + (ExitCode is { } exitCode ? $" (exited with {exitCode})" : "")
            + " ---\n" + string.Join('\n', tail);
    }

    /// <summary>
    /// Polls <paramref name="probe"/> until it returns true. Fails with the output's tail if the
    /// program exits first or <paramref name="timeout"/> passes; a probe that throws counts as "not yet".
    /// </summary>
    public async Task WaitUntilReadyAsync(string what, TimeSpan timeout, Func<CancellationToken, Task<bool>> probe)
    {
        using var deadline = new CancellationTokenSource(timeout);
        Exception? lastFailure = null;
        while (!deadline.IsCancellationRequested)
        {
            if (HasExited)
            {
                await WaitForOutputAsync();
                throw new InvalidOperationException($"{what}: the program exited before it was ready.\n{Tail()}");
            }

            try
            {
                if (await probe(deadline.Token))
                {
                    return;
                }
            }
            catch (Exception e)
            {
                lastFailure = e;
            }

            await Task.WhenAny(_exited.Task, Task.Delay(50, CancellationToken.None));
        }

        throw new TimeoutException($"{what}: not ready after {timeout.TotalSeconds} s (last probe failure: {lastFailure?.Message ?? "none"}).\n{Tail()}");
    }

    /// <summary>SIGTERM, then SIGKILL if it has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        Signal(LibC.SIGTERM);
        if (await Task.WhenAny(_exited.Task, Task.Delay(grace)) != _exited.Task)
        {
            await KillAsync();
        }

        await WaitForOutputAsync();
    }

    /// <summary>
    /// From now on signals go to the program's only child (a launcher such as nsenter forks the real program
    /// and waits for it, forwarding nothing); waits up to <paramref name="timeout"/> for that child to appear.
    /// </summary>
    public async Task SignalChildAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string children = $"/proc/{_process.Id}/task/{_process.Id}/children";
        while (!HasExited && DateTime.UtcNow < deadline)
        {
            if (File.Exists(children) && File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var child])
            {
                _signalTarget = int.Parse(child);
                return;
            }
            await Task.Delay(10);
        }
        throw new InvalidOperationException($"{CommandLine} started no child within {timeout}:\n{Tail()}");
    }

    /// <summary>SIGKILL, and wait until the kernel has reaped it.</summary>
    public async Task KillAsync()
    {
        Signal(LibC.SIGKILL);
        await _exited.Task;
        await WaitForOutputAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    /// <summary>Sends <paramref name="signal"/> to the program (or to its child, after <see cref="SignalChildAsync"/>) if it still runs.</summary>
    public void Signal(int signal)
    {
        if (!HasExited)
        {
            LibC.Signal(_signalTarget ?? _process.Id, signal);
        }
    }

    /// <summary>The last lines a dying program wrote are the useful ones: give the pipes a moment to deliver them.</summary>
    private Task WaitForOutputAsync() =>
        Task.WhenAny(Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task), Task.Delay(OutputDrainLimit));

    private void Receive(string? line, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }
    }
}

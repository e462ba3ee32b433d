using System.IO.Pipelines;
using Berth.RuntimeService.Runtime;

namespace Berth.Tests.Unit.Fakes;

/// <summary>
/// A pretend process's stdio for streaming sessions, in memory: the test reads what the session wrote to
/// its stdin, writes its output, and ends it; resizes, stdin closes and disposal are recorded.
/// </summary>
internal sealed class FakeStdio(bool tty, bool stdin, bool stdout, bool stderr, bool stdinOnce)
{
    public Pipe StdinPipe { get; } = new();
    public Pipe StdoutPipe { get; } = new();
    public Pipe StderrPipe { get; } = new();
    public TaskCompletionSource<int> Exit { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public List<(ushort Columns, ushort Rows)> Resizes { get; } = [];
    public bool StdinClosed { get; private set; }
    public TaskCompletionSource Disposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The process ends its output and exits with <paramref name="code"/>.</summary>
    public async Task ExitAsync(int code)
    {
        await StdoutPipe.Writer.CompleteAsync();
        await StderrPipe.Writer.CompleteAsync();
        Exit.TrySetResult(code);
    }

    public ExecProcess AsExec() => new Exec(this);

    public Attachment AsAttachment() => new Attach(this);

    private Stream? In => stdin ? StdinPipe.Writer.AsStream() : null;
    private Stream? Out => stdout ? StdoutPipe.Reader.AsStream() : null;
    private Stream? Err => stderr ? StderrPipe.Reader.AsStream() : null;

    private void Resize(ushort columns, ushort rows)
    {
        lock (Resizes)
        {
            Resizes.Add((columns, rows));
        }
    }

    private async Task CloseStdinAsync()
    {
        StdinClosed = true;
        await StdinPipe.Writer.CompleteAsync();
    }

    private sealed class Exec : ExecProcess
    {
        private readonly FakeStdio _owner;

        public Exec(FakeStdio owner)
        {
            (_owner, Stdin, Stdout, Stderr, Terminal) = (owner, owner.In, owner.Out, owner.Err, owner._tty);
        }

        public override Task<int> Exited => _owner.Exit.Task;

        public override void Resize(ushort columns, ushort rows) => _owner.Resize(columns, rows);

        public override Task CloseStdinAsync() => _owner.CloseStdinAsync();

        public override ValueTask DisposeAsync()
        {
            _owner.Disposed.TrySetResult();
            _owner.Exit.TrySetResult(137);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Attach : Attachment
    {
        private readonly FakeStdio _owner;

        public Attach(FakeStdio owner)
        {
            (_owner, Stdin, Stdout, Stderr, StdinOnce) = (owner, owner.In, owner.Out, owner.Err, owner._stdinOnce);
        }

        public override void Resize(ushort columns, ushort rows) => _owner.Resize(columns, rows);

        public override Task CloseStdinAsync() => _owner.CloseStdinAsync();

        public override ValueTask DisposeAsync()
        {
            _owner.Disposed.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }

    private readonly bool _tty = tty;
    private readonly bool _stdinOnce = stdinOnce;
}

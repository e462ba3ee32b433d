using Berth.Api.Shim;

namespace Berth.Shim.Monitor;

/// <summary>
/// The control socket and its connections: the listening descriptor, a fixed set of client slots
/// with the bytes of a frame still arriving, the framing (<see cref="ShimFraming"/>) both ways, and
/// which connection waits for a deferred answer (Wait, ExecSync). Requests are answered in order,
/// one at a time per connection.
/// </summary>
internal sealed class ControlClients
{
    /// <summary>
    /// Connections at once: berthd's shared one and its exit watcher, ExecSync calls, and one per streaming
    /// exec and attacher (<see cref="ExecSessions"/> and <see cref="ContainerOutput"/> cap those well below
    /// this, so sessions never crowd out berthd's own calls).
    /// </summary>
    public const int MaxClients = ExecSessions.Capacity + 16;

    /// <summary>How long a reply may wait for a client that does not read before its connection is closed.</summary>
    private const int SendTimeoutMs = 10_000;

    private readonly ClientSlot[] _slots = new ClientSlot[MaxClients];
    private readonly Action<int> _closed;
    private int _listenFd = -1;

    /// <param name="closed">Called with a slot whose connection is closing: its exec is killed, its attachment ends.</param>
    public ControlClients(Action<int> closed)
    {
        _closed = closed;
        for (int i = 0; i < MaxClients; i++)
        {
            _slots[i] = new ClientSlot();
        }
    }

    /// <summary>Binds and listens on <paramref name="socketPath"/> (the caller removes a stale one first).</summary>
    public void Listen(string socketPath) => _listenFd = Interop.Sys.ListenUnix(socketPath, 32);

    public void AddTo(PollSet set)
    {
        bool freeSlot = false;
        for (int i = 0; i < MaxClients; i++)
        {
            ClientSlot client = _slots[i];
            if (!client.InUse)
            {
                freeSlot = true;
                continue;
            }
            // A connection waiting for its answer is watched only for hang-up.
            set.Add(client.Fd, client.Pending == Pending.None ? Interop.Sys.POLLIN : (short)0, PollSource.Client, i);
        }
        if (freeSlot)
        {
            set.Add(_listenFd, Interop.Sys.POLLIN, PollSource.Listen);
        }
    }

    /// <summary>Takes a pending connection into a free slot (the listener is watched only while one is free).</summary>
    public void Accept()
    {
        int fd = Interop.Sys.Accept(_listenFd);
        if (fd < 0)
        {
            return;
        }
        foreach (ClientSlot slot in _slots)
        {
            if (!slot.InUse)
            {
                slot.Fd = fd;
                slot.Length = 0;
                slot.Pending = Pending.None;
                return;
            }
        }
        Interop.Sys.Close(fd);
    }

    /// <summary>
    /// Reads what connection <paramref name="index"/> sent; false when there is nothing to parse
    /// (it closed, or waits for an answer and only its hang-up counts).
    /// </summary>
    public bool Receive(int index, short revents)
    {
        ClientSlot slot = _slots[index];
        if (slot.Pending != Pending.None)
        {
            if ((revents & (Interop.Sys.POLLHUP | Interop.Sys.POLLERR | Interop.Sys.POLLNVAL)) != 0)
            {
                Close(index);
            }
            return false;
        }
        slot.Reserve(4096);
        int n;
        try
        {
            n = Interop.Sys.Read(slot.Fd, slot.Buffer.AsSpan(slot.Length));
        }
        catch (ErrnoException)
        {
            n = 0;
        }
        if (n < 0)
        {
            return false;
        }
        if (n == 0)
        {
            Close(index);
            return false;
        }
        slot.Length += n;
        return true;
    }

    /// <summary>
    /// The next whole request of connection <paramref name="index"/>, if one has arrived and the
    /// connection is not waiting for an answer; a malformed frame closes the connection.
    /// </summary>
    public bool TryTakeRequest(int index, out Request request)
    {
        request = null!;
        ClientSlot slot = _slots[index];
        if (!slot.InUse || slot.Pending != Pending.None || slot.Length < ShimFraming.HeaderLength)
        {
            return false;
        }
        int length;
        try
        {
            length = ShimFraming.ReadHeader(slot.Buffer);
        }
        catch (InvalidDataException e)
        {
            // ShimFraming's own text: the announced frame length.
            ShimLog.Write($"closing a connection: {e.Message}");
            Close(index);
            return false;
        }
        if (slot.Length < ShimFraming.HeaderLength + length)
        {
            slot.Reserve(ShimFraming.HeaderLength + length - slot.Length);
            return false;
        }
        try
        {
            request = Request.Parser.ParseFrom(slot.Buffer, ShimFraming.HeaderLength, length);
        }
        catch (Exception e)
        {
            ShimLog.Write($"closing a connection: bad request: {FailureText.Describe(e)}");
            Close(index);
            return false;
        }
        int consumed = ShimFraming.HeaderLength + length;
        Buffer.BlockCopy(slot.Buffer, consumed, slot.Buffer, 0, slot.Length - consumed);
        slot.Length -= consumed;
        return true;
    }

    /// <summary>A response refusing or failing a request.</summary>
    public static Response Error(ErrorCode code, string message) => new() { Code = code, Error = message };

    /// <summary>Connection <paramref name="index"/> gets its answer later (<see cref="Send"/> or <see cref="AnswerWaiters"/>).</summary>
    public void Defer(int index, Pending pending) => _slots[index].Pending = pending;

    /// <summary>Writes a framed response; a connection that cannot take it within 10 s is closed.</summary>
    public void Send(int index, Response response) => SendWithDescriptors(index, response, []);

    /// <summary>
    /// Writes a framed response with <paramref name="descriptors"/> riding on its first byte (SCM_RIGHTS;
    /// the receiver gets duplicates, the caller still closes its own); false when the connection was closed instead.
    /// </summary>
    public bool SendWithDescriptors(int index, Response response, ReadOnlySpan<int> descriptors)
    {
        ClientSlot slot = _slots[index];
        if (!slot.InUse)
        {
            return false;
        }
        slot.Pending = Pending.None;
        byte[] frame = ShimFraming.Encode(response);
        ReadOnlySpan<byte> rest = frame;
        bool rightsSent = descriptors.IsEmpty;
        long deadline = Interop.Sys.MonotonicMillis() + SendTimeoutMs;
        while (!rest.IsEmpty)
        {
            int n;
            try
            {
                n = rightsSent ? Interop.Sys.WriteSome(slot.Fd, rest) : Interop.Sys.SendWithRights(slot.Fd, rest, descriptors);
            }
            catch (ErrnoException)
            {
                Close(index);
                return false;
            }
            if (n >= 0)
            {
                rightsSent = true;
                rest = rest[n..];
                continue;
            }
            long left = deadline - Interop.Sys.MonotonicMillis();
            if (left <= 0)
            {
                Close(index);
                return false;
            }
            PollSet.WaitWritable(slot.Fd, (int)left);
        }
        return true;
    }

    /// <summary>Sends <paramref name="response"/> to every connection waiting for the process's exit.</summary>
    public void AnswerWaiters(Response response)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i].InUse && _slots[i].Pending == Pending.Exit)
            {
                Send(i, response);
            }
        }
    }

    private void Close(int index)
    {
        _closed(index);
        _slots[index].Reset();
    }

    /// <summary>Closes every connection and the listener (after Shutdown's answer, and on dispose).</summary>
    public void CloseAll()
    {
        foreach (ClientSlot slot in _slots)
        {
            slot.Reset();
        }
        Interop.Sys.Close(_listenFd);
        _listenFd = -1;
    }
}

namespace Berth.Shim.Monitor;

/// <summary>What a connection waits for when its answer is deferred.</summary>
internal enum Pending
{
    None,
    /// <summary>A WaitRequest: answered when the process exits.</summary>
    Exit,
    /// <summary>An ExecSync or a streaming exec: answered when the command ends.</summary>
    Exec,
}

/// <summary>One control connection: its descriptor and the bytes of a frame still arriving.</summary>
internal sealed class ClientSlot
{
    private const int InitialBuffer = 4096;

    public int Fd = -1;

    /// <summary>Empty until the connection sends something: most slots are never used.</summary>
    public byte[] Buffer = [];
    public int Length;
    public Pending Pending;

    public bool InUse => Fd >= 0;

    /// <summary>Makes room for <paramref name="more"/> bytes (requests are small; only a large one grows the buffer).</summary>
    public void Reserve(int more)
    {
        if (Length + more > Buffer.Length)
        {
            Array.Resize(ref Buffer, Math.Max(Math.Max(Buffer.Length * 2, InitialBuffer), Length + more));
        }
    }

    public void Reset()
    {
        Interop.Sys.Close(Fd);
        Fd = -1;
        Length = 0;
        Pending = Pending.None;
        if (Buffer.Length > 64 * 1024)
        {
            Buffer = new byte[InitialBuffer];
        }
    }
}

namespace Berth.Tests.Unit.Streaming;

/// <summary>
/// Frames recorded from a real session: crictl v1.28.0 (client-go and github.com/moby/spdystream, Go 1.19)
/// running `crictl exec -i CONTAINER cat` with "hi\n" on stdin against berthd, read off its socket with
/// strace. What crictl sent after the HTTP upgrade: SYN_STREAM for the error, stdin, stdout and stderr
/// streams (ids 1, 3, 5, 7; header blocks compressed by Go's zlib with the SPDY dictionary, BestCompression,
/// each ending in a sync flush), DATA "hi\n" on stdin, an empty DATA with FIN on stdin, and RST_STREAM
/// (CANCEL) of stderr once the session ended.
/// </summary>
internal static class RecordedSession
{
    public static readonly byte[] CrictlFrames = Convert.FromHexString(
        "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff800300010000001700000003000000000000c22e555c92929907000000ffff800300010000001900000005000000000000c22ac5565c92925f5a02000000ffff800300010000001500000007000000000000c229975a5404000000ffff000000030000000368690a000000030100000080030003000000080000000700000005");
}

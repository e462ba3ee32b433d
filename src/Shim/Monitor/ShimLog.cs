using System.Text;
using Berth.Shim.Logging;

namespace Berth.Shim.Monitor;

/// <summary>The shim's own diagnostics: one line per event on descriptor 2 (the bundle's shim.log).</summary>
internal static class ShimLog
{
    public static void Write(string message)
    {
        try
        {
            Span<byte> time = stackalloc byte[CriTimestamp.Length];
            CriTimestamp.Format(Interop.Sys.RealtimeNanos(), time);
            byte[] line = Encoding.UTF8.GetBytes($"{Encoding.ASCII.GetString(time)} [{Environment.ProcessId}] {message}\n");
            Interop.Sys.WriteAll(2, line);
        }
        catch (ErrnoException)
        {
            // Nowhere left to report to.
        }
    }
}

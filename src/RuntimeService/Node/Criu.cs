using System.ComponentModel;
using System.Diagnostics;

namespace Berth.RuntimeService.Node;

/// <summary>
/// Whether CRIU can checkpoint on this node: `criu check` (Debian's criu), run once per daemon and kept,
/// as CRI-O's checkpoint support probes it at start.
/// </summary>
public static class Criu
{
    private static readonly Lazy<Task<string?>> Probe = new(ProbeAsync);

    /// <summary>Null when `criu check` passes; else what is missing, in words for an operator.</summary>
    public static Task<string?> WhatIsMissingAsync() => Probe.Value;

    private static async Task<string?> ProbeAsync()
    {
        var start = new ProcessStartInfo("criu", "check") { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                return "`criu check` did not finish in 20 s";
            }
            string last = (await error + await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
            return process.ExitCode == 0 ? null : $"`criu check` fails on this node: {last}";
        }
        catch (Win32Exception)
        {
            return "CRIU is not installed (Debian's criu package)";
        }
    }
}

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

    /// <summary>
    /// What `criu check`'s exit code and output mean for an operator: null when it passed; else its first
    /// "Error" line, the cause (the lines after it are consequences, such as "Could not initialize kernel
    /// features detection"), or its last line when none says Error.
    /// </summary>
    public static string? Explain(int exitCode, string output)
    {
        if (exitCode == 0)
        {
            return null;
        }
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string cause = lines.FirstOrDefault(line => line.StartsWith("Error", StringComparison.Ordinal)) ?? lines.LastOrDefault() ?? $"exit code {exitCode}";
        return $"`criu check` fails on this node: {cause}";
    }

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
            return Explain(process.ExitCode, await error + await output);
        }
        catch (Win32Exception)
        {
            return "CRIU is not installed (Debian's criu package)";
        }
    }
}

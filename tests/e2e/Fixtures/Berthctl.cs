using System.Diagnostics;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>What a berthctl run printed and how it ended.</summary>
public sealed record BerthctlResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}

/// <summary>
/// The built berthctl (BERTHCTL_BIN, else beside the berthd under test), run as an operator runs it, against one
/// daemon's admin socket through BERTH_ADDRESS: with pipes for its output, or under a real pseudo-terminal
/// (util-linux script(1)) to see what a person at a terminal sees.
/// </summary>
public static class Berthctl
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(120);

    public static string ProgramPath()
    {
        var path = Environment.GetEnvironmentVariable("BERTHCTL_BIN") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Path.Combine(Path.GetDirectoryName(BerthDaemon.ProgramPath())!, "berthctl");
        return File.Exists(path) ? path : throw new FileNotFoundException($"No berthctl at {path}: make build, or set BERTHCTL_BIN.", path);
    }

    /// <summary>Runs berthctl with its output on pipes (not a terminal), stdin empty.</summary>
    public static Task<BerthctlResult> RunAsync(BerthDaemon berth, params string[] arguments) =>
        RunProcessAsync(ProgramPath(), arguments, berth, terminal: false);

    /// <summary>
    /// Runs berthctl on a pseudo-terminal (TERM=xterm), through script -q -e -c, and returns everything the
    /// terminal received, escape sequences included (stdout and stderr both go to the terminal).
    /// </summary>
    public static Task<BerthctlResult> RunInTerminalAsync(BerthDaemon berth, params string[] arguments)
    {
        var command = string.Join(' ', new[] { ProgramPath() }.Concat(arguments).Select(Quote));
        return RunProcessAsync("script", ["-q", "-e", "-c", command, "/dev/null"], berth, terminal: true);
    }

    private static string Quote(string argument) => "'" + argument.Replace("'", "'\\''") + "'";

    private static async Task<BerthctlResult> RunProcessAsync(string program, IEnumerable<string> arguments, BerthDaemon berth, bool terminal)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["BERTH_ADDRESS"] = $"unix://{berth.AdminSocketPath}";
        start.Environment["TERM"] = terminal ? "xterm" : "dumb";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(RunLimit);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', start.ArgumentList)} ran over {RunLimit}");
        }
        return new BerthctlResult(process.ExitCode, await output, await error);
    }
}

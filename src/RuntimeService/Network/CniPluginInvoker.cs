using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Core;
using Berth.Core.Errors;

namespace Berth.RuntimeService.Network;

/// <summary>The environment of one plugin call (spec section 2 "Parameters"); empty strings for what a command does not take.</summary>
public sealed record CniInvocation(string Command, string ContainerId = "", string NetnsPath = "", string IfName = "", string Args = "");

/// <summary>
/// Runs CNI plugin binaries as the spec's execution protocol says (libcni's invoke package): the
/// CNI_* parameters in the environment on top of berthd's own, the request configuration on stdin,
/// the result on stdout, an error object on stdout (or text on stderr) with a non-zero exit. Each call
/// is bounded: a plugin still running at the timeout is killed with its children. Process.Start is
/// safe here (the fork happens in the runtime's native code, not in managed code, unlike the shim's case).
/// </summary>
public sealed class CniPluginInvoker(IReadOnlyList<string> binDirs, TimeSpan timeout, ILogger logger)
{
    /// <summary>Output past this is cut: results and errors are small, a plugin that floods is broken.</summary>
    private const int MaxOutputBytes = 4 << 20;

    /// <summary>How long a plugin's output may stay open after it exited before what holds it is killed.</summary>
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(1);

    /// <summary>ETXTBSY: the binary is being written (an upgrade of the plugins); libcni retries it too.</summary>
    private const int TextFileBusy = 26;

    public IReadOnlyList<string> BinDirs => binDirs;

    /// <summary>The plugin's binary: the first <paramref name="type"/> found in the bin dirs that is a file; null when none is.</summary>
    public string? Find(string type) =>
        binDirs.Select(dir => Path.Combine(dir, type)).FirstOrDefault(File.Exists);

    /// <summary>As <see cref="Find"/>; FailedPrecondition naming the directories when the plugin is nowhere.</summary>
    public string Require(string type) =>
        Find(type) ?? throw BerthException.FailedPrecondition($"CNI plugin {type} not found in {string.Join(", ", binDirs)}");

    /// <summary>
    /// Runs the plugin <paramref name="type"/> and returns what it wrote on stdout. Throws
    /// <see cref="CniPluginException"/> when it fails or times out, FailedPrecondition when it is missing.
    /// </summary>
    public async Task<string> InvokeAsync(string type, CniInvocation invocation, JsonObject request, CancellationToken cancellation)
    {
        string path = Require(type);
        byte[] stdin = Encoding.UTF8.GetBytes(request.ToJsonString());
        using var span = Telemetry.Source.StartActivity($"cni.{invocation.Command} {type}");
        var clock = Stopwatch.StartNew();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                var (exitCode, stdout, stderr) = await RunAsync(path, invocation, stdin, type, cancellation);
                Record(invocation.Command, type, exitCode == 0 ? "ok" : "error", clock);
                logger.LogDebug("CNI {Command} {Plugin} for {Container}: exit {Exit} in {Ms} ms", invocation.Command, type, invocation.ContainerId, exitCode, clock.ElapsedMilliseconds);
                if (stderr.Length > 0)
                {
                    logger.LogDebug("CNI {Command} {Plugin} stderr: {Stderr}", invocation.Command, type, stderr);
                }
                return exitCode == 0 ? stdout : throw Failure(type, invocation.Command, exitCode, stdout, stderr);
            }
            catch (Win32Exception error) when (error.NativeErrorCode == TextFileBusy && attempt < 5)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellation);
            }
            catch (CniPluginException error) when (error.Kind == ErrorKind.DeadlineExceeded)
            {
                Record(invocation.Command, type, "timeout", clock);
                throw;
            }
            catch (Win32Exception error)
            {
                throw new CniPluginException(ErrorKind.FailedPrecondition, type, invocation.Command, 0,
                    $"CNI plugin {type} ({invocation.Command}) could not be run from {path}: {error.Message}");
            }
        }
    }

    private static void Record(string command, string type, string outcome, Stopwatch clock) =>
        Telemetry.CniPluginDuration.Record(clock.Elapsed.TotalSeconds,
            new KeyValuePair<string, object?>("command", command), new KeyValuePair<string, object?>("plugin", type), new KeyValuePair<string, object?>("outcome", outcome));

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string path, CniInvocation invocation, byte[] stdin, string type, CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        start.Environment["CNI_COMMAND"] = invocation.Command;
        start.Environment["CNI_CONTAINERID"] = invocation.ContainerId;
        start.Environment["CNI_NETNS"] = invocation.NetnsPath;
        start.Environment["CNI_IFNAME"] = invocation.IfName;
        start.Environment["CNI_ARGS"] = invocation.Args;
        start.Environment["CNI_PATH"] = string.Join(':', binDirs);
        using var process = Process.Start(start) ?? throw new Win32Exception($"{path} did not start");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        var stdout = ReadCappedAsync(process.StandardOutput.BaseStream);
        var stderr = ReadCappedAsync(process.StandardError.BaseStream);
        try
        {
            try
            {
                await process.StandardInput.BaseStream.WriteAsync(stdin, deadline.Token);
            }
            catch (IOException)
            {
                // A plugin may exit without reading its configuration (VERSION); its exit status says how it went.
            }
            finally
            {
                try
                {
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The flush of a pipe the plugin closed first (nothing is buffered: stdin went to the stream);
                    // the writer is closed all the same.
                }
            }
            await process.WaitForExitAsync(deadline.Token);
            var outputs = Task.WhenAll(stdout, stderr);
            try
            {
                await outputs.WaitAsync(OrphanGrace, deadline.Token);
            }
            catch (TimeoutException)
            {
                // A process the plugin left behind holds its output open. Once the plugin is gone nothing
                // else can reach it, so it is killed, and the plugin's exit status and output still count.
                KillPipeHolders(process.StandardOutput.BaseStream, process.StandardError.BaseStream);
                await outputs.WaitAsync(deadline.Token);
            }
            return (process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited meanwhile.
            }
            await process.WaitForExitAsync(CancellationToken.None);
            if (cancellation.IsCancellationRequested)
            {
                throw;
            }
            throw new CniPluginException(ErrorKind.DeadlineExceeded, type, invocation.Command, 0,
                $"CNI plugin {type} ({invocation.Command}) did not finish within {timeout.TotalSeconds:0.#} s and was killed");
        }
    }

    /// <summary>
    /// SIGKILLs every other process holding an end of these pipes (found as /proc/PID/fd links naming the
    /// same pipe inode): a plugin's orphans, reparented away from it, that no process tree reaches.
    /// </summary>
    private static void KillPipeHolders(params Stream[] pipes)
    {
        var names = pipes.OfType<System.IO.Pipes.PipeStream>()
            .Select(pipe => ReadLink($"/proc/self/fd/{pipe.SafePipeHandle.DangerousGetHandle()}"))
            .Where(name => name is not null).ToHashSet(StringComparer.Ordinal);
        foreach (string processDir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(processDir), out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                if (Directory.EnumerateFileSystemEntries(Path.Combine(processDir, "fd")).Any(fd => names.Contains(ReadLink(fd) ?? "")))
                {
                    using var holder = Process.GetProcessById(pid);
                    holder.Kill();
                }
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // It ended meanwhile, or is not ours to look into.
            }
        }
    }

    private static string? ReadLink(string path) => new FileInfo(path).LinkTarget;

    private static async Task<string> ReadCappedAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 << 10];
        int read;
        while ((read = await stream.ReadAsync(chunk)) > 0)
        {
            if (buffer.Length < MaxOutputBytes)
            {
                buffer.Write(chunk, 0, (int)Math.Min(read, MaxOutputBytes - buffer.Length));
            }
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length).Trim();
    }

    /// <summary>libcni's pluginErr: the error object on stdout, else stderr's text, in the plugin's own words.</summary>
    private static CniPluginException Failure(string type, string command, int exitCode, string stdout, string stderr)
    {
        string prefix = $"CNI plugin {type} failed ({command})";
        if (stdout.Length > 0)
        {
            try
            {
                if (JsonNode.Parse(stdout) is JsonObject error)
                {
                    int code = error.TryGetPropertyValue("code", out var codeNode) && codeNode is JsonValue v && v.TryGetValue(out int c) ? c : 0;
                    string msg = Text(error, "msg");
                    string details = Text(error, "details");
                    string words = details.Length > 0 ? $"{msg}; {details}" : msg;
                    return new CniPluginException(ErrorKind.Unavailable, type, command, code,
                        $"{prefix}: {(words.Length > 0 ? words : $"exit status {exitCode}")}{(code != 0 ? $" (CNI error code {code})" : "")}");
                }
            }
            catch (JsonException)
            {
            }
            return new CniPluginException(ErrorKind.Unavailable, type, command, 0, $"{prefix}: exit status {exitCode}, output: {Shorten(stdout)}");
        }
        return new CniPluginException(ErrorKind.Unavailable, type, command, 0,
            stderr.Length > 0 ? $"{prefix}: {Shorten(stderr)} (exit status {exitCode})" : $"{prefix} with no error message (exit status {exitCode})");
    }

    private static string Text(JsonObject error, string key) =>
        error.TryGetPropertyValue(key, out var node) && node is JsonValue value && value.TryGetValue(out string? text) ? text.Trim() : "";

    private static string Shorten(string text) => text.Length <= 2000 ? text : text[..2000] + "...";
}

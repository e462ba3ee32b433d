using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;

using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Daemon;

public sealed class DaemonTests
{
    [Fact]
    public async Task AnswersTheRuntimeInformationCalls()
    {
        await using var berth = await BerthDaemon.StartAsync();

        var version = await berth.Runtime.VersionAsync(new VersionRequest { Version = "v1" });
        Assert.Equal("berth", version.RuntimeName);
        Assert.Equal("v1", version.RuntimeApiVersion);
        Assert.Equal("0.1.0", version.Version);

        var status = await berth.Runtime.StatusAsync(new StatusRequest { Verbose = true });
        Assert.Equal(["RuntimeReady", "NetworkReady"], status.Status.Conditions.Select(condition => condition.Type));
        Assert.True(status.Status.Conditions[0].Status);
        // The daemon's test network is configured and its plugin is installed.
        Assert.True(status.Status.Conditions[1].Status, status.Status.Conditions[1].Message);
        Assert.Contains(berth.Root, status.Info["config"]);
        Assert.Contains(berth.Network.Name, status.Info["cni"]);

        var config = await berth.Runtime.RuntimeConfigAsync(new RuntimeConfigRequest());
        Assert.Equal(CgroupDriver.Cgroupfs, config.Linux.CgroupDriver);
    }

    [Fact]
    public async Task MetricsAreScrapeableAsPrometheusTextOnTheConfiguredLoopbackPort()
    {
        var port = FreePort();
        await using var berth = await BerthDaemon.StartAsync(new { metricsAddress = $"127.0.0.1:{port}" });
        await berth.Runtime.VersionAsync(new VersionRequest());
        using var http = new HttpClient();

        var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");

        Assert.Contains("berth_rpc_duration", text);
        Assert.Contains("Version", text);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ASocketPathAuthorityIsRewrittenAndCountedUnlessSwitchedOff(bool rewrite)
    {
        const int ProtocolError = 1;
        var port = FreePort();
        await using var berth = await BerthDaemon.StartAsync(new { metricsAddress = $"127.0.0.1:{port}", rewriteSocketAuthority = rewrite });
        using var http = new HttpClient();

        var reset = await CallVersionWithAuthorityAsync(berth.SocketPath, authority: berth.SocketPath);

        var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        if (rewrite)
        {
            Assert.Null(reset);
            Assert.Matches(@"(?m)^berth_cri_authority_rewritten_connections_total(\{[^}]*\})? 1( \d+)?$", text);
        }
        else
        {
            Assert.Equal(ProtocolError, reset);
            Assert.DoesNotContain("berth_cri_authority_rewritten_connections", text);
        }
    }

    /// <summary>
    /// One Version call in hand-made h2c frames whose <c>:authority</c> is <paramref name="authority"/>, as Go
    /// clients before kubelet and crictl 1.31 send it: null when answered, else the RST_STREAM error code.
    /// </summary>
    private static async Task<int?> CallVersionWithAuthorityAsync(string socketPath, string authority)
    {
        const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, GoAway = 0x7;
        const byte EndStream = 0x1, EndHeaders = 0x4, Ack = 0x1;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token);
        await using var stream = new NetworkStream(socket);
        // HPACK (RFC 7541): indexed :method POST and :scheme http, then raw literals with incremental indexing
        // (0x40 | static index: :path 4, :authority 1, content-type 31; 0x40 alone: a new name, te).
        static byte[] String(string value) => [(byte)value.Length, .. Encoding.ASCII.GetBytes(value)];
        byte[] block =
        [
            0x83, 0x86,
            0x44, .. String("/runtime.v1.RuntimeService/Version"),
            0x41, .. String(authority),
            0x5f, .. String("application/grpc"),
            0x40, .. String("te"), .. String("trailers"),
        ];
        byte[] opening =
        [
            .. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8,
            .. Frame(Settings, 0, 0, []),
            .. Frame(Headers, EndHeaders, 1, block),
            .. Frame(Data, EndStream, 1, [0, 0, 0, 0, 0]), // an empty VersionRequest
        ];
        await stream.WriteAsync(opening, timeout.Token);
        var answered = false;
        var header = new byte[9];
        while (true)
        {
            await stream.ReadExactlyAsync(header, timeout.Token);
            var payload = new byte[(header[0] << 16) | (header[1] << 8) | header[2]];
            await stream.ReadExactlyAsync(payload, timeout.Token);
            byte type = header[3], flags = header[4];
            var onStream1 = (BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7fffffff) == 1;
            switch (type)
            {
                case Settings when (flags & Ack) == 0:
                    await stream.WriteAsync(Frame(Settings, Ack, 0, []), timeout.Token);
                    break;
                case RstStream when onStream1:
                    return BinaryPrimitives.ReadInt32BigEndian(payload);
                case GoAway:
                    Assert.Fail($"GOAWAY, error {BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4))}");
                    break;
                case Data when onStream1:
                    answered = true;
                    break;
                case Headers when onStream1 && (flags & EndStream) != 0:
                    // A gRPC error comes as trailers alone; a VersionResponse comes as DATA before them.
                    Assert.True(answered, "the call ended without a response message");
                    return null;
            }
        }

        static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
        {
            byte[] frame = [(byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length, type, flags, 0, 0, 0, 0, .. payload];
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
            return frame;
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData("root")]
    [InlineData("state")]
    [InlineData("socket")]
    public async Task ASecondDaemonSharingTheRootTheStateOrTheSocketRefusesToStartAndTouchesNothing(string shared)
    {
        await using var berth = await BerthDaemon.StartAsync();
        var podId = await berth.RunPodAsync(Pods.PodTestSupport.PodConfig(berth));
        string other = Path.Combine(berth.TemporaryDirectory, "other");

        var (exitCode, output) = await RunToEndAsync(BerthDaemon.ProgramPath(),
            "--listen", $"unix://{(shared == "socket" ? berth.SocketPath : other + ".sock")}",
            "--root", shared == "root" ? berth.Root : other + "-root",
            "--state", shared == "state" ? berth.State : other + "-state",
            "--config", berth.ConfigPath);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("another berthd", output);
        Assert.False(File.Exists(other + ".sock"));
        Assert.Equal(PodSandboxState.SandboxReady, (await berth.PodStatusAsync(podId)).State);
        await berth.RemovePodAsync(podId);
    }

    /// <summary>
    /// Layers, bundles (every container's environment) and the state database are root's alone; the root and state
    /// directories may be passed through, not listed, as containerd keeps its own (0711, plugin directories 0700).
    /// </summary>
    [Fact]
    public async Task ItsFilesAreRootsAlone()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.Runtime.VersionAsync(new VersionRequest());

        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Assert.Equal(owner | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute, File.GetUnixFileMode(berth.Root));
        Assert.Equal(owner | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute, File.GetUnixFileMode(berth.State));
        foreach (string directory in new[] { "content", "snapshots", "containers", "network" })
        {
            Assert.Equal(owner, File.GetUnixFileMode(Path.Combine(berth.Root, directory)));
        }
        foreach (string directory in new[] { "sandboxes", "containers", "ns", "s" })
        {
            Assert.Equal(owner, File.GetUnixFileMode(Path.Combine(berth.State, directory)));
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(berth.Root, "berth.db")));
    }

    [Fact]
    public async Task AStaleSocketFromACrashedDaemonIsReplaced()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.KillAsync();
        Assert.True(File.Exists(berth.SocketPath));

        await berth.RestartAsync();

        await berth.Runtime.VersionAsync(new VersionRequest());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
            File.GetUnixFileMode(berth.SocketPath));
    }

    [Fact]
    public async Task SigtermExitsCleanly()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.StopAsync();
        Assert.Equal(0, berth.ExitCode);
        Assert.False(File.Exists(berth.SocketPath));
    }

    [Theory]
    [InlineData("""{"unknownKey": 1}""", "unknownKey")]
    [InlineData("""{"maxConcurrentDownloads": 0}""", "maxConcurrentDownloads")]
    [InlineData("""{"registries": {"r.io": {"mirrors": ["not a url"]}}}""", "registries.r.io.mirrors")]
    [InlineData("""{"registries": null}""", "registries")]
    [InlineData("""{"blockIo": {"weight": 5}}""", "blockIo.weight")]
    [InlineData("""{"shimPath": "/nope/berth-shim"}""", "shimPath")]
    [InlineData("""{"maxConcurrentDownloads": "three"}""", "maxConcurrentDownloads")]
    public async Task ABadConfigIsRefusedAtStartNamingTheKey(string config, string key)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => BerthDaemon.StartAsync(config));
        Assert.Contains(key, error.Message);
    }

    /// <summary>
    /// Under systemd (packaging/berthd.service) berthd's working directory is /. ASP.NET Core's default
    /// appsettings.json reload watched the working directory's whole tree: started in /, berthd walked the
    /// filesystem adding inotify watches (64,000 and 40 s of it here) before its socket served, and woke on
    /// every write anywhere below. Its only watch is the import directory's.
    /// </summary>
    [Fact]
    public async Task StartedInTheRootDirectoryItServesAndWatchesOnlyItsImportDirectory()
    {
        await using var berth = await BerthDaemon.StartAsync(launcher: ["/bin/sh", "-c", "cd / && \"$@\"; exit $?", "sh"]);
        int pid = int.Parse(File.ReadAllText($"/proc/{berth.ProcessId}/task/{berth.ProcessId}/children").Trim());
        Assert.Equal("/", new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget);

        Assert.Equal("berth", (await berth.Runtime.VersionAsync(new VersionRequest())).RuntimeName);

        int Watches() => new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos()
            .Where(fd => fd.LinkTarget == "anon_inode:inotify")
            .Sum(fd => File.ReadLines($"/proc/{pid}/fdinfo/{fd.Name}").Count(line => line.StartsWith("inotify ", StringComparison.Ordinal)));
        // The import directory's watch is set up by a hosted service, just after the socket serves.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Watches() == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(1, Watches());
    }

    private static async Task<(int ExitCode, string Output)> RunToEndAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var output = process.StandardError.ReadToEndAsync(timeout.Token);
        var standardOutput = process.StandardOutput.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output + await standardOutput);
    }
}

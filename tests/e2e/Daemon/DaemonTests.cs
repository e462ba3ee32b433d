using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;

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
        // No CNI yet: the network condition says so instead of claiming readiness.
        Assert.False(status.Status.Conditions[1].Status);
        Assert.NotEmpty(status.Status.Conditions[1].Reason);
        Assert.Contains(berth.Root, status.Info["config"]);

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

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task CallsOfLaterCapabilitiesAreUnimplementedNamingTheCall()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await berth.Runtime.CheckpointContainerAsync(new CheckpointContainerRequest { ContainerId = "x" }));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Contains("CheckpointContainer", error.Status.Detail);
    }

    [Fact]
    public async Task ASecondDaemonOnTheSameRootRefusesToStart()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var otherSocket = Path.Combine(berth.TemporaryDirectory, "other.sock");

        var (exitCode, output) = await RunToEndAsync(BerthDaemon.ProgramPath(),
            "--listen", $"unix://{otherSocket}", "--root", berth.Root, "--state", berth.State + "-other", "--config", berth.ConfigPath);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("another berthd", output);
        Assert.False(File.Exists(otherSocket));
        await berth.Runtime.VersionAsync(new VersionRequest());
    }

    [Fact]
    public async Task ASecondDaemonOnTheSameSocketRefusesToStart()
    {
        await using var berth = await BerthDaemon.StartAsync();

        var (exitCode, output) = await RunToEndAsync(BerthDaemon.ProgramPath(),
            "--listen", $"unix://{berth.SocketPath}", "--root", berth.Root + "-other", "--state", berth.State + "-other", "--config", berth.ConfigPath);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("another berthd", output);
        await berth.Runtime.VersionAsync(new VersionRequest());
        Directory.Delete(berth.Root + "-other", recursive: true);
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
    public async Task ABadConfigIsRefusedAtStartNamingTheKey(string config, string key)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => BerthDaemon.StartAsync(config));
        Assert.Contains(key, error.Message);
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

using System.Text;
using System.Threading.Channels;
using Berth.Api.Cri;
using Berth.Api.Streaming.Client;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Streaming.StreamingTestSupport;

namespace Berth.Tests.E2e.Streaming;

/// <summary>CRI Attach and PortForward through berthd's streaming server.</summary>
public sealed class AttachAndPortForwardTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    [Fact]
    public async Task TwoAttachersSeeAContainerThatPrintsAndReadsAndStdinOnceEndsIt()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "talker", config =>
        {
            config.Stdin = true;
            config.StdinOnce = true;
        }, "sh", "-c", "echo ready; while read line; do echo got $line; echo warn $line >&2; done; echo bye");
        // Attachers see output from when they attach: wait for "ready" to be written first, or a slow start
        // (a loaded machine) shows it to them too.
        string logPath = (await berth.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = pod.ContainerId })).Status.LogPath;
        var readyBy = DateTime.UtcNow + SessionTimeout;
        while (!(File.Exists(logPath) && File.ReadAllText(logPath).Contains("stdout F ready")))
        {
            Assert.True(DateTime.UtcNow < readyBy, "the container did not print ready");
            await Task.Delay(50);
        }

        var watcher = RunSessionAsync(await AttachUrlAsync(berth, pod.ContainerId, stdin: false, tty: false), StreamingTransport.Spdy, null, tty: false);
        await Task.Delay(1000);
        var input = new ScriptedInput();
        var talker = RunSessionAsync(await AttachUrlAsync(berth, pod.ContainerId, stdin: true, tty: false), StreamingTransport.WebSocket, input, tty: false);
        await Task.Delay(1000);
        input.Send("one\n");
        input.Send("two\n");
        input.End();

        foreach (var session in new[] { await watcher.WaitAsync(SessionTimeout), await talker.WaitAsync(SessionTimeout) })
        {
            Assert.Null(session.Result.Status);
            Assert.Equal("got one\ngot two\nbye\n", session.StdoutText);
            Assert.Equal("warn one\nwarn two\n", session.Stderr);
        }
        var status = await berth.WaitForStateAsync(pod.ContainerId, ContainerState.ContainerExited);
        Assert.Equal(0, status.ExitCode);
        var log = File.ReadAllText(status.LogPath);
        Assert.Contains("stdout F got two", log);
        Assert.Contains("stderr F warn one", log);
    }

    [Fact]
    public async Task AnAttachedTerminalOfTheContainersOwnTakesInputAndResizes()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "shell", config =>
        {
            config.Stdin = true;
            config.Tty = true;
        }, "sh");
        var sizes = Channel.CreateUnbounded<TerminalSize>();
        var input = new ScriptedInput();

        var session = RunSessionAsync(await AttachUrlAsync(berth, pod.ContainerId, stdin: true, tty: true), StreamingTransport.Spdy, input, tty: true, sizes.Reader);
        await sizes.Writer.WriteAsync(new TerminalSize(77, 22));
        await Task.Delay(1000);
        input.Send("stty size; t=$(tty) && echo TTY=$t && test -c $t && echo THE-TERMINAL-EXISTS; exit 4\n");
        var output = await session.WaitAsync(SessionTimeout);

        Assert.Contains("22 77", output.StdoutText);
        Assert.Matches(@"TTY=/dev/pts/\d+", output.StdoutText);
        Assert.Contains("THE-TERMINAL-EXISTS", output.StdoutText);
        Assert.Null(output.Result.Status);
        Assert.Equal(4, (await berth.WaitForStateAsync(pod.ContainerId, ContainerState.ContainerExited)).ExitCode);
    }

    [Fact]
    public async Task PortForwardCarriesTwentyParallelConnectionsToHttpdInThePodOverSpdyAndReportsAClosedPort()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await RunHttpdAsync(berth);
        await using var session = await SpdyPortForward.ConnectAsync(await PortForwardUrlAsync(berth, pod.PodId));

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            await using var connection = await session.OpenAsync(8080);
            return (await GetAsync(connection.Data, $"/page{i % 2}.html"), await connection.Error);
        }));

        for (int i = 0; i < responses.Length; i++)
        {
            Assert.StartsWith("HTTP/1.1 200 OK", responses[i].Item1);
            Assert.EndsWith($"page {i % 2}\n", responses[i].Item1);
            Assert.Equal("", responses[i].Item2);
        }
        await using var refused = await session.OpenAsync(8081);
        string error = await refused.Error.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Contains($"error forwarding port 8081 to pod {pod.PodId}", error);
        Assert.Contains("refused", error);
    }

    [Fact]
    public async Task PortForwardOverWebSocketCarriesTheRequestsPorts()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await using var pod = await RunHttpdAsync(berth);
        await using var session = await WebSocketPortForward.ConnectAsync(await PortForwardUrlAsync(berth, pod.PodId, 8080), ports: 1);

        var (port, data, error) = await session.OpenAsync(0);
        string response = await GetAsync(data, "/page1.html").WaitAsync(SessionTimeout);

        Assert.Equal(8080, port);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
        Assert.EndsWith("page 1\n", response);
        Assert.Equal("", await error.WaitAsync(SessionTimeout));
    }

    private async Task<StreamingPod> RunHttpdAsync(BerthDaemon berth) =>
        await berth.RunContainerAsync(registry.Busybox, "httpd", null, "sh", "-c",
            "mkdir -p /www && echo page 0 > /www/page0.html && echo page 1 > /www/page1.html && exec httpd -f -p 8080 -h /www");

    private static async Task<string> GetAsync(Stream connection, string path)
    {
        await connection.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.0\r\n\r\n"));
        using var response = new MemoryStream();
        await connection.CopyToAsync(response);
        return Encoding.ASCII.GetString(response.ToArray());
    }

    private static async Task<Uri> AttachUrlAsync(BerthDaemon berth, string containerId, bool stdin, bool tty) =>
        new((await berth.Runtime.AttachAsync(new AttachRequest { ContainerId = containerId, Stdin = stdin, Stdout = true, Stderr = !tty, Tty = tty })).Url);

    private static async Task<Uri> PortForwardUrlAsync(BerthDaemon berth, string podId, params int[] ports)
    {
        var request = new PortForwardRequest { PodSandboxId = podId };
        request.Port.AddRange(ports);
        // httpd binds when its container starts; the first connection may beat it.
        await Task.Delay(500);
        return new Uri((await berth.Runtime.PortForwardAsync(request)).Url);
    }
}

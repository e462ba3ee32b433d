using Berth.Api.Streaming.Client;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using Grpc.Core;
using static Berth.Tests.E2e.Streaming.StreamingTestSupport;

namespace Berth.Tests.E2e.Streaming;

/// <summary>
/// How many commands a container runs at once (streaming.maxExecsPerContainer, 128 by default): exec
/// sessions may hold all but the 16 kept for ExecSync, one more gets a clear error, the others go on,
/// and the slots come back when sessions end. The test lowers the limit to 20, so 4 sessions fill it.
/// </summary>
public sealed class ExecLimitTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    private const int Limit = 20;
    private const int Sessions = Limit - 16;

    [Fact]
    public async Task OneSessionTooManyGetsAClearErrorWhileTheOthersGoOnAndEndedOnesFreeTheirSlots()
    {
        await using var berth = await BerthDaemon.StartAsync(new { streaming = new { maxExecsPerContainer = Limit } });
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        var inputs = Enumerable.Range(0, Sessions).Select(_ => new ScriptedInput()).ToArray();
        var open = new List<Task<SessionOutput>>();
        foreach (var input in inputs)
        {
            open.Add(RunSessionAsync(await berth.ExecUrlAsync(pod.ContainerId, stdin: true, tty: false, "cat"), StreamingTransport.Spdy, input, tty: false));
        }
        Assert.True(await EventuallyAsync(async () => await berth.CountProcessesAsync(pod.ContainerId, "cat") == Sessions, TimeSpan.FromSeconds(20)),
            $"{Sessions} exec sessions did not all start");

        var excess = await berth.ExecAsync(pod.ContainerId, StreamingTransport.Spdy, null, tty: false, null, "echo", "one too many");
        // apimachinery's too-many-requests status (kubelet would send InternalError): a limit, worth a retry later.
        Assert.Equal((ExecStatus.TooManyRequestsReason, 429), (excess.Result.Status!.Reason, excess.Result.Status.Code));
        Assert.Equal($"error executing command in container: too many exec sessions open in the container at once ({Sessions}; 16 more are kept for ExecSync)",
            excess.Result.Status.Message);
        Assert.Empty(excess.Stdout);
        // ExecSync (kubelet's exec probes) still has its slots.
        Assert.Equal(0, (await berth.ExecAsync(pod.ContainerId, 10, "true")).ExitCode);
        // Once they are taken too, one more ExecSync is RESOURCE_EXHAUSTED (a probe's own `true` may take a sleeper's slot: either way the limit is full).
        var sleepers = Enumerable.Range(0, 16).Select(_ => IgnoreRefusalAsync(berth.ExecAsync(pod.ContainerId, 60, "sleep", "8"))).ToList();
        RpcException? full = null;
        Assert.True(await EventuallyAsync(async () =>
        {
            try
            {
                await berth.ExecAsync(pod.ContainerId, 10, "true");
                return false;
            }
            catch (RpcException refused) when (refused.StatusCode == StatusCode.ResourceExhausted)
            {
                full = refused;
                return true;
            }
        }, TimeSpan.FromSeconds(20)), "no ExecSync was refused with every slot taken");
        Assert.Contains($"too many commands run in the container at once ({Limit})", full!.Status.Detail);
        await Task.WhenAll(sleepers);

        for (int i = 0; i < Sessions; i++)
        {
            inputs[i].Send($"still here {i}\n");
            inputs[i].End();
        }
        var ended = await Task.WhenAll(open).WaitAsync(SessionTimeout);
        for (int i = 0; i < Sessions; i++)
        {
            Assert.Equal($"still here {i}\n", ended[i].StdoutText);
            Assert.Equal(0, ended[i].Result.ExitCode);
        }

        Assert.True(await EventuallyAsync(async () =>
        {
            var again = await berth.ExecAsync(pod.ContainerId, StreamingTransport.Spdy, null, tty: false, null, "echo", "a slot again");
            return again.Result.ExitCode == 0 && again.StdoutText == "a slot again\n";
        }, TimeSpan.FromSeconds(10)), "no session was accepted after the others ended");
    }

    private static async Task IgnoreRefusalAsync(Task call)
    {
        try
        {
            await call;
        }
        catch (RpcException refused) when (refused.StatusCode == StatusCode.ResourceExhausted)
        {
        }
    }
}

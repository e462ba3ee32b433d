using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

public sealed class LogTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    [Fact]
    public async Task A100MegabyteBurstReachesTheLogWithoutLoss()
    {
        const string line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-";
        var lines = (100 << 20) / (line.Length + 1);
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod,
            ContainerConfig(registry.Busybox, "burst", "sh", "-c", $"yes {line} | head -c {100 << 20}"));
        await berth.StartContainerAsync(id);

        var status = await berth.WaitForStateAsync(id, ContainerState.ContainerExited, TimeSpan.FromMinutes(3));

        Assert.Equal(0, status.ExitCode);
        var count = 0;
        foreach (var entry in File.ReadLines(status.LogPath))
        {
            // <timestamp> stdout F <text>: the text is the whole line, never split (it is far below 16 KiB).
            var text = entry.AsSpan(entry.IndexOf(' ') + 1);
            Assert.True(text.StartsWith("stdout F "), entry);
            Assert.True(text["stdout F ".Length..].SequenceEqual(line), entry);
            count++;
        }
        Assert.Equal(lines, count);
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }
}

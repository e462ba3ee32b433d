using System.ComponentModel;
using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.NetworkTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>CheckpointContainer as a user meets it while berth does not checkpoint: a clear UNIMPLEMENTED naming what is missing.</summary>
public sealed class CheckpointTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    [Fact]
    public async Task CheckpointIsUnimplementedAndSaysWhy()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        var id = await berth.CreateContainerAsync(podId, pod, ContainerConfig(registry.Busybox, "app", "sleep", "300"));
        await berth.StartContainerAsync(id);

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await berth.Runtime.CheckpointContainerAsync(
            new CheckpointContainerRequest { ContainerId = id, Location = Path.Combine(berth.TemporaryDirectory, "checkpoint.tar") }));
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await berth.Runtime.CheckpointContainerAsync(
            new CheckpointContainerRequest { ContainerId = "nonexistent", Location = Path.Combine(berth.TemporaryDirectory, "checkpoint.tar") }));

        Assert.Equal(StatusCode.Unimplemented, refused.StatusCode);
        Assert.Contains("CRIU", refused.Status.Detail);
        Assert.Contains("berth does not checkpoint containers yet", refused.Status.Detail);
        // The message names what `criu check` itself says is missing on this node.
        Assert.Contains(await CriuCheckCauseAsync(), refused.Status.Detail);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal(ContainerState.ContainerRunning, (await berth.ContainerStatusAsync(id)).State);   // untouched by the refusal
        await berth.RemoveLeavingNothingAsync(podId, pod);
    }

    /// <summary>The first Error line of `criu check` here; "criu check` passes" when it passes; the package when it is not installed.</summary>
    private static async Task<string> CriuCheckCauseAsync()
    {
        try
        {
            using var check = Process.Start(new ProcessStartInfo("criu", "check") { RedirectStandardError = true, RedirectStandardOutput = true })!;
            string output = await check.StandardError.ReadToEndAsync() + await check.StandardOutput.ReadToEndAsync();
            await check.WaitForExitAsync();
            return check.ExitCode == 0
                ? "CRIU itself passes `criu check`"
                : output.Split('\n').Select(line => line.Trim()).FirstOrDefault(line => line.StartsWith("Error", StringComparison.Ordinal))
                    ?? output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        }
        catch (Win32Exception)
        {
            return "CRIU is not installed";
        }
    }
}

using Berth.Api.Shim;
using Xunit;
using Xunit.Abstractions;

namespace Berth.Shim.Tests.E2e;

/// <summary>Reports (does not assert) the resident footprint of idle shims, the figure DESIGN.md tracks.</summary>
public sealed class ShimFootprintTests : IDisposable
{
    private readonly ShimHarness _harness = new();
    private readonly ITestOutputHelper _output;

    public ShimFootprintTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public void Dispose() => _harness.Dispose();

    private static string Rollup(int pid)
    {
        var fields = File.ReadAllLines($"/proc/{pid}/smaps_rollup")
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2 && p[0] is "Rss" or "Pss" or "Anonymous" or "Private_Dirty")
            .Select(p => $"{p[0]} {long.Parse(p[1].Trim().Split(' ')[0]) / 1024.0:0.0} MB");
        return string.Join(", ", fields);
    }

    [Fact]
    public async Task IdleShimFootprint()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("fp");
        StateResponse pause = await sandbox.Client.CreateAsync();
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "fpc",
            _harness.ContainerSpec(sandbox, "fpc", ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]));
        await container.Client.CreateAsync();
        await container.Client.StartAsync();
        await Task.Delay(2000);
        _output.WriteLine($"sandbox shim:   {Rollup(sandbox.Process.Id)}");
        _output.WriteLine($"reaper (pause): {Rollup(pause.Pid)}");
        _output.WriteLine($"container shim: {Rollup(container.Process.Id)}");
        Assert.True(sandbox.Process.Id > 0);
    }
}

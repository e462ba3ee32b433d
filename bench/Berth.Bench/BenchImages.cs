using System.Security.Cryptography;
using Berth.Tests.E2e.Fixtures;

namespace Berth.Bench;

/// <summary>The names the benchmark pulls: a registry host of its own (".test" never resolves), mirrored to the loopback registry.</summary>
public sealed record BenchImages(string RegistryName, string Busybox, string Pause, string Big, long BigBytes)
{
    public const string Name = "bench.berth.test";

    /// <summary>
    /// Builds and pushes, with the e2e fixtures: busybox (Debian's busybox-static, applets as hard
    /// links); a pause image for containerd's sandbox_image (Debian's static catatonit in pause
    /// mode, as /work/shared/cri-lab makes it; busybox sleep if catatonit is missing); and the
    /// cold-pull image, busybox plus one gzip layer of <paramref name="bigMegabytes"/> MiB of random data.
    /// </summary>
    public static async Task<BenchImages> PushAsync(RegistryServer registry, int bigMegabytes)
    {
        using var builder = new ImageBuilder(registry);
        var busyboxConfig = new ExecutionConfig { Cmd = ["sh"], StopSignal = "SIGTERM" };
        await builder.PushAsync("busybox", "1.0", new ImageSpec { Layers = [LayerBuilder.Busybox()], Config = busyboxConfig }, ManifestFormat.Docker);

        var pause = File.Exists("/usr/bin/catatonit")
            ? new ImageSpec
            {
                Layers = [new LayerBuilder().File("pause", File.ReadAllBytes("/usr/bin/catatonit"), new EntryAttributes { Mode = LayerBuilder.Octal("755") })],
                Config = new ExecutionConfig { Entrypoint = ["/pause", "-P"], User = "65535:65535" },
            }
            : new ImageSpec { Layers = [LayerBuilder.Busybox()], Config = new ExecutionConfig { Entrypoint = ["/bin/sleep", "2147483647"] } };
        await builder.PushAsync("pause", "1.0", pause, ManifestFormat.Docker);

        var random = new byte[bigMegabytes << 20];
        RandomNumberGenerator.Fill(random);
        var big = await builder.PushAsync("big", $"{bigMegabytes}m", new ImageSpec
        {
            Layers = [LayerBuilder.Busybox(), new LayerBuilder().Directory("data").File("data/random.bin", random)],
            Config = busyboxConfig,
        }, ManifestFormat.Docker);
        return new BenchImages(Name, $"{Name}/busybox:1.0", $"{Name}/pause:1.0", $"{Name}/big:{bigMegabytes}m", big.TotalSize);
    }
}

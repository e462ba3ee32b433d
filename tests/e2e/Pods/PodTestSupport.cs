using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using ImageSpec = Berth.Tests.E2e.Fixtures.ImageSpec;
using CriImageSpec = Berth.Api.Cri.ImageSpec;

namespace Berth.Tests.E2e.Pods;

/// <summary>A registry with a busybox image, shared by a test class; each test runs its own daemon.</summary>
public sealed class BusyboxRegistry : IAsyncLifetime
{
    public RegistryServer Server { get; private set; } = null!;
    public PushedImage Busybox { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await RegistryServer.StartAsync();
        using var builder = new ImageBuilder(Server);
        Busybox = await builder.PushAsync("busybox", "1.0", new ImageSpec
        {
            Layers = [LayerBuilder.Busybox()],
            Config = new ExecutionConfig { Cmd = ["sh"], StopSignal = "SIGTERM" },
        });
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

internal static class PodTestSupport
{
    private static int _counter;

    public static PodSandboxConfig PodConfig(BerthDaemon berth, string? name = null)
    {
        name ??= $"pod-{Interlocked.Increment(ref _counter)}";
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Namespace = "e2e", Uid = Guid.NewGuid().ToString(), Attempt = 0 },
            Hostname = name,
            LogDirectory = Path.Combine(berth.TemporaryDirectory, "logs", name),
            // One level that does not exist yet: berth made it, so berth must remove it.
            Linux = new LinuxPodSandboxConfig { CgroupParent = $"/{Path.GetFileName(berth.TemporaryDirectory)}-{name}" },
        };
        config.Labels.Add("app", name);
        return config;
    }

    public static ContainerConfig ContainerConfig(PushedImage image, string name, params string[] command)
    {
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = name },
            Image = new CriImageSpec { Image = image.Reference },
            LogPath = $"{name}.log",
        };
        config.Command.AddRange(command);
        config.Labels.Add("container", name);
        return config;
    }

    public static async Task<string> RunPodAsync(this BerthDaemon berth, PodSandboxConfig config) =>
        (await berth.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config })).PodSandboxId;

    public static async Task<string> CreateContainerAsync(this BerthDaemon berth, string podId, PodSandboxConfig pod, ContainerConfig config) =>
        (await berth.Runtime.CreateContainerAsync(new CreateContainerRequest { PodSandboxId = podId, Config = config, SandboxConfig = pod })).ContainerId;

    public static async Task StartContainerAsync(this BerthDaemon berth, string id) =>
        await berth.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = id });

    public static async Task<ContainerStatus> ContainerStatusAsync(this BerthDaemon berth, string id) =>
        (await berth.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id })).Status;

    public static async Task<PodSandboxStatus> PodStatusAsync(this BerthDaemon berth, string id) =>
        (await berth.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = id })).Status;

    public static async Task<ExecSyncResponse> ExecAsync(this BerthDaemon berth, string id, long timeout, params string[] command)
    {
        var request = new ExecSyncRequest { ContainerId = id, Timeout = timeout };
        request.Cmd.AddRange(command);
        return await berth.Runtime.ExecSyncAsync(request);
    }

    /// <summary>The pid PodSandboxStatus's verbose info names: the sandbox's reaper.</summary>
    public static async Task<int> ReaperPidAsync(this BerthDaemon berth, string podId)
    {
        var response = await berth.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true });
        using var info = System.Text.Json.JsonDocument.Parse(response.Info["info"]);
        return info.RootElement.GetProperty("pid").GetInt32();
    }

    /// <summary>The pid of the shim serving a sandbox or container, from the shim.pid file in its bundle.</summary>
    public static int ShimPid(this BerthDaemon berth, string kind, string id) =>
        int.Parse(File.ReadAllText(Path.Combine(berth.State, kind, id, "shim.pid")).Trim());

    /// <summary>Polls until the sandbox is in <paramref name="state"/>; returns how long that took.</summary>
    public static async Task<TimeSpan> WaitForPodStateAsync(this BerthDaemon berth, string podId, PodSandboxState state, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var status = await berth.PodStatusAsync(podId);
            if (status.State == state)
            {
                return clock.Elapsed;
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"pod sandbox {podId} is {status.State}, not {state}, after {timeout}\n{berth.OutputTail()}");
            }
            await Task.Delay(10);
        }
    }

    public static async Task<ContainerStatus> WaitForStateAsync(this BerthDaemon berth, string id, ContainerState state, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var status = await berth.ContainerStatusAsync(id);
            if (status.State == state)
            {
                return status;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"container {id} is {status.State}, not {state}: {status.Reason} {status.Message}\n{berth.OutputTail()}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// A daemon of its own (with <paramref name="config"/>, as <see cref="BerthDaemon.StartAsync"/> takes it),
    /// <paramref name="image"/> pulled and a pod running: runs <paramref name="test"/> with the daemon, the
    /// pod's config and its ID, then removes the pod, also when the test fails, and checks that nothing
    /// of it is left.
    /// </summary>
    public static async Task InPodAsync(PushedImage image, Func<BerthDaemon, PodSandboxConfig, string, Task> test, object? config = null)
    {
        await using var berth = await BerthDaemon.StartAsync(config);
        await Images.ImageTestSupport.PullAsync(berth, image.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        try
        {
            await test(berth, pod, podId);
        }
        finally
        {
            await berth.RemovePodAsync(podId);
        }
        Assert.Empty(Traces(berth, pod));
    }

    /// <summary>Runs <paramref name="script"/> with sh in the container through ExecSync; its output, stderr merged into stdout.</summary>
    public static async Task<string> ShellAsync(this BerthDaemon berth, string id, string script) =>
        (await berth.ExecAsync(id, 10, "sh", "-c", "exec 2>&1; " + script)).Stdout.ToStringUtf8();

    public static async Task RemovePodAsync(this BerthDaemon berth, string podId)
    {
        await berth.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
        await berth.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId });
    }

    /// <summary>Every trace a removed pod must not leave: shims and their sockets, bundles, namespace pins, cgroups, mounts.</summary>
    public static IReadOnlyList<string> Traces(BerthDaemon berth, PodSandboxConfig pod)
    {
        var traces = new List<string>();
        foreach (var dir in new[] { "sandboxes", "containers", "ns", "s" })
        {
            var path = Path.Combine(berth.State, dir);
            if (Directory.Exists(path))
            {
                traces.AddRange(Directory.EnumerateFileSystemEntries(path));
            }
        }
        var layers = Path.Combine(berth.Root, "containers");
        if (Directory.Exists(layers))
        {
            traces.AddRange(Directory.EnumerateFileSystemEntries(layers));
        }
        traces.AddRange(File.ReadAllLines("/proc/self/mountinfo").Where(line => line.Contains(berth.TemporaryDirectory)));
        traces.AddRange(Fixtures.Leftovers.CgroupDirectories(pod.Linux.CgroupParent).Where(Directory.Exists));
        traces.AddRange(Directory.EnumerateDirectories("/proc").Where(dir => int.TryParse(Path.GetFileName(dir), out _))
            .Where(dir => ReadCommandLine(dir).Contains(berth.TemporaryDirectory) && ReadCommandLine(dir).Contains("berth-shim")));
        return traces;
    }

    private static string ReadCommandLine(string procDir)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procDir, "cmdline")).Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }
}

using Berth.Api.Cri;
using Berth.Core.Storage;
using Berth.ImageService.Store;
using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Tests.Unit.Fakes;

/// <summary>
/// berthd's middle layer, wired as Program.cs wires it, over a pretend runtime, node and image store,
/// with its state database and files under a temporary directory: the managers run without root.
/// </summary>
internal sealed class MiddleLayer : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("berth-middle-");

    public MiddleLayer()
    {
        Paths = new RuntimePaths(Path.Combine(_directory.FullName, "root"), Path.Combine(_directory.FullName, "state"));
        Directory.CreateDirectory(Paths.Root);
        Directory.CreateDirectory(Path.Combine(_directory.FullName, "layer"));
        Node = new FakeNodeOperations();
        Runtime = new FakeShimRuntime(Node);
        Images = new FakeContainerImages(Path.Combine(_directory.FullName, "layer"));
        Network = new FakePodNetwork();
        Rebuild();
    }

    /// <summary>Events a subscriber may have waiting before it is dropped.</summary>
    public const int EventQueueLength = 64;

    public RuntimePaths Paths { get; }
    public FakeNodeOperations Node { get; }
    public FakeShimRuntime Runtime { get; }
    public FakeContainerImages Images { get; }
    public FakePodNetwork Network { get; }
    public PodStore Store { get; private set; } = null!;
    public RuntimeRegistry Registry { get; private set; } = null!;
    public SandboxManager Sandboxes { get; private set; } = null!;
    public ContainerManager Containers { get; private set; } = null!;
    public PodLifecycle Pods { get; private set; } = null!;
    public RuntimeRecovery Recovery { get; private set; } = null!;

    /// <summary>The container events the managers publish; subscribe to see them.</summary>
    public EventBroker<ContainerEventResponse> Events { get; private set; } = null!;

    public string LogDirectory => Path.Combine(_directory.FullName, "logs");

    /// <summary>The daemon's one CDI spec directory (absent until a test writes a spec file there).</summary>
    public string CdiDirectory => Path.Combine(_directory.FullName, "cdi");

    /// <summary>The node's Localhost seccomp profiles, by absolute path.</summary>
    public Dictionary<string, byte[]> SeccompProfiles { get; } = new(StringComparer.Ordinal);

    /// <summary>A new daemon on the same database and node: what a berthd restart gives (call <see cref="RuntimeRecovery.RecoverAsync"/> next).</summary>
    public void Rebuild()
    {
        Store = new PodStore(new StateDatabase(Path.Combine(Paths.Root, "berth.db"), [ImageStore.Schema, PodStore.Schema]));
        Registry = new RuntimeRegistry();
        Events = new EventBroker<ContainerEventResponse>(EventQueueLength);
        var events = new ContainerEvents(Registry, Events);
        var cgroups = new Berth.RuntimeService.Node.CgroupfsDriver(Node);
        var security = NodeSecurity.Plain with { ReadSeccompProfile = path => SeccompProfiles.GetValueOrDefault(path) };
        Sandboxes = new SandboxManager(Store, Registry, Paths, Runtime, Node, Network, cgroups,
            () => new NodeFacts("node-1", "127.0.0.1 localhost node-1\n", "nameserver 10.0.0.10\n"), security, events,
            NullLogger<SandboxManager>.Instance);
        Containers = new ContainerManager(Store, Registry, Paths, Runtime, Node, cgroups, Images, BlockIoDefaults.None, security,
            new StreamingConfig(), events,
            new Berth.RuntimeService.Cdi.CdiRegistry([CdiDirectory], NullLogger<Berth.RuntimeService.Cdi.CdiRegistry>.Instance),
            NullLogger<ContainerManager>.Instance);
        Pods = new PodLifecycle(Registry, Sandboxes, Containers);
        Recovery = new RuntimeRecovery(Store, Paths, Runtime, Sandboxes, Containers, Network, NullLogger<RuntimeRecovery>.Instance);
    }

    public PodSandboxConfig PodConfig(string name = "web", string cgroupParent = "/kubepods/podweb") => new()
    {
        Metadata = new PodSandboxMetadata { Name = name, Namespace = "default", Uid = $"uid-{name}" },
        Hostname = name,
        LogDirectory = Path.Combine(LogDirectory, name),
        Linux = new LinuxPodSandboxConfig { CgroupParent = cgroupParent },
    };

    public static ContainerConfig ContainerConfig(string name = "app") => new()
    {
        Metadata = new ContainerMetadata { Name = name },
        Image = new Berth.Api.Cri.ImageSpec { Image = FakeContainerImages.Name },
        Command = { "sleep", "300" },
        LogPath = $"{name}.log",
    };

    public async Task<Sandbox> RunPodAsync(PodSandboxConfig? config = null) =>
        await Sandboxes.RunAsync(config ?? PodConfig(), "", CancellationToken.None);

    public async Task<Berth.RuntimeService.Containers.Container> CreateAsync(Sandbox sandbox, string name = "app") =>
        await Containers.CreateAsync(sandbox.Id, ContainerConfig(name), CancellationToken.None);

    /// <summary>Files and directories the daemon left under its state and root directories (the database excepted).</summary>
    public IReadOnlyList<string> LeftFiles() =>
        [.. new[] { Paths.State, Path.Combine(Paths.Root, "containers") }
            .Where(Directory.Exists)
            .SelectMany(dir => Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))];

    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (int attempt = 0; attempt < 500 && !condition(); attempt++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition(), what);
    }

    public void Dispose() => _directory.Delete(recursive: true);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api.Cri;
using Grpc.Core;
using Grpc.Net.Client;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// The built berthd, run as a user runs it: its own socket, root, state and config under a
/// temporary directory, reached over the real CRI gRPC API. Dispose stops it and leaves nothing
/// behind: no process, no mount, no file.
/// </summary>
public sealed class BerthDaemon : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private readonly DirectoryInfo _directory;
    private readonly IReadOnlyList<string> _launcher;
    private readonly IReadOnlyDictionary<string, string>? _environment;
    private ChildProcess? _process;
    private GrpcChannel? _channel;
    private GrpcChannel? _adminChannel;

    private BerthDaemon(DirectoryInfo directory, IReadOnlyList<string> launcher, IReadOnlyDictionary<string, string>? environment)
    {
        _environment = environment;
        _directory = directory;
        _launcher = launcher;
    }

    /// <summary>The daemon's own CNI network (bridge, subnet, conf dir), which its config points at unless the test set cni.confDir itself.</summary>
    public TestNetwork Network { get; private set; } = null!;

    /// <summary>The daemon's persistent directory (--root): content store, snapshots, database.</summary>
    public string Root => Path.Combine(_directory.FullName, "root");

    /// <summary>The daemon's runtime directory (--state): bundles, shim sockets, namespace pins.</summary>
    public string State => Path.Combine(_directory.FullName, "state");

    public string SocketPath => Path.Combine(_directory.FullName, "berth.sock");

    /// <summary>The admin API's socket: berthd's default, admin.sock in its state directory.</summary>
    public string AdminSocketPath => Path.Combine(State, "admin.sock");

    public string ConfigPath => Path.Combine(_directory.FullName, "config.json");

    /// <summary>The temporary directory holding everything above; a test may put its own files (log directories) here.</summary>
    public string TemporaryDirectory => _directory.FullName;

    public ImageService.ImageServiceClient Images { get; private set; } = null!;

    public RuntimeService.RuntimeServiceClient Runtime { get; private set; } = null!;

    /// <summary>berth.admin.v1 on the admin socket, as berthctl calls it.</summary>
    public Berth.Api.Admin.Images.ImagesClient Admin { get; private set; } = null!;

    /// <summary>Calls on the daemon's channel that the generated clients do not shape: any method, messages built from descriptors.</summary>
    public CallInvoker CallInvoker => (_channel ?? throw new InvalidOperationException("berthd is not running")).CreateCallInvoker();

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The daemon's pid, while it runs (to count its descriptors and threads).</summary>
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("berthd is not running");

    /// <summary>How the daemon's process ended, once it has.</summary>
    public int? ExitCode => _process?.ExitCode;

    /// <summary>The daemon's output so far (stdout and stderr), for a test's own failure messages.</summary>
    public string OutputTail(int lines = 50) => _process?.Tail(lines) ?? "(the daemon has not been started)";

    /// <summary>
    /// Starts berthd (BERTH_BIN, else out/berthd of the repository) and waits until it answers Version.
    /// <paramref name="config"/> is written to config.json: a string as JSON text, anything else serialised; null means {}.
    /// Every daemon gets a <see cref="TestNetwork"/> of its own, and its config's cni settings point at it
    /// (keys the test sets under "cni" win).
    /// </summary>
    /// <param name="launcher">
    /// A command berthd is run through, e.g. nsenter into another PID namespace (<see cref="TestSystemd.Enter"/>):
    /// it must fork berthd as its only child and exit with it; signals then go to that child.
    /// </param>
    /// <param name="environment">Variables set for berthd beside those it inherits (e.g. BERTH_TRACE_FILE).</param>
    public static async Task<BerthDaemon> StartAsync(object? config = null, bool dualStack = false, IReadOnlyList<string>? launcher = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var daemon = new BerthDaemon(Directory.CreateTempSubdirectory("berth-e2e-daemon-"), launcher ?? [], environment);
        try
        {
            daemon.Network = await TestNetwork.CreateAsync(Path.Combine(daemon.TemporaryDirectory, "network"), dualStack);
            var json = (config switch
            {
                null => new JsonObject(),
                string text => JsonNode.Parse(text),
                _ => JsonNode.Parse(JsonSerializer.Serialize(config)),
            }) as JsonObject ?? throw new ArgumentException("config must be a JSON object", nameof(config));
            var cni = daemon.Network.Settings();
            if (json["cni"] is JsonObject given)
            {
                foreach (var (key, value) in given.ToList())
                {
                    cni[key] = value?.DeepClone();
                }
            }
            json["cni"] = cni;
            File.WriteAllText(daemon.ConfigPath, json.ToJsonString());
            await daemon.LaunchAsync();
            return daemon;
        }
        catch
        {
            await daemon.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL, as a crash: no shutdown code runs. Shims and containers are left as they are.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            await process.KillAsync();
        }

        await CloseChannelAsync();
    }

    /// <summary>SIGTERM, and SIGKILL after 10 s: the way systemd stops it.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            await process.StopAsync(StopGrace);
        }

        await CloseChannelAsync();
    }

    /// <summary>SIGHUP, as <c>systemctl reload berthd</c>: the daemon reads its configuration again.</summary>
    public void Reload() => (_process ?? throw new InvalidOperationException("berthd is not running")).Signal(LibC.SIGHUP);

    /// <summary>Where drop-in files of the daemon's configuration go (config.d beside config.json).</summary>
    public string DropInDirectory => Path.Combine(_directory.FullName, "config.d");

    /// <summary>Stops the daemon if it still runs, then starts it again on the same root, state and config.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await LaunchAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            if (_process is not null)
            {
                await _process.DisposeAsync();
            }

            await Leftovers.KillProcessesUsingAsync(_directory.FullName);
            Leftovers.UnmountEverythingUnder(_directory.FullName);
            Leftovers.RemoveCgroupsNamed(_directory.Name + "-");
            if (Network is not null)
            {
                await Network.DisposeAsync();
            }
            var stillMounted = Leftovers.MountsUnder(_directory.FullName);
            if (stillMounted.Count > 0)
            {
                // Deleting recursively through a mount would delete what it shows: refuse.
                throw new IOException($"Cannot remove {_directory.FullName}: still mounted: {string.Join(", ", stillMounted)}");
            }

            _directory.Delete(recursive: true);
        }
    }

    private async Task LaunchAsync()
    {
        var program = ProgramPath();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        string[] arguments =
        [
            "--listen", $"unix://{SocketPath}",
            "--root", Root,
            "--state", State,
            "--config", ConfigPath,
        ];
        _process = _launcher.Count == 0
            ? ChildProcess.Start(program, arguments, _environment)
            : ChildProcess.Start(_launcher[0], [.. _launcher.Skip(1), program, .. arguments], _environment);
        if (_launcher.Count > 0)
        {
            await _process.SignalChildAsync(StartTimeout);
        }
        _channel = CreateChannel(SocketPath);
        Images = new ImageService.ImageServiceClient(_channel);
        Runtime = new RuntimeService.RuntimeServiceClient(_channel);
        _adminChannel = CreateChannel(AdminSocketPath);
        Admin = new Berth.Api.Admin.Images.ImagesClient(_adminChannel);
        await _process.WaitUntilReadyAsync("berthd", StartTimeout, AnswersVersionAsync);
    }

    private async Task<bool> AnswersVersionAsync(CancellationToken cancellation)
    {
        if (!File.Exists(SocketPath))
        {
            return false;
        }

        await Runtime.VersionAsync(new VersionRequest { Version = "v1" }, deadline: DateTime.UtcNow + ProbeTimeout, cancellationToken: cancellation);
        return true;
    }

    private async Task CloseChannelAsync()
    {
        foreach (var channel in new[] { _channel, _adminChannel }.OfType<GrpcChannel>())
        {
            await channel.ShutdownAsync();
            channel.Dispose();
        }
        _channel = null;
        _adminChannel = null;
    }

    /// <summary>gRPC over the unix socket: HTTP/2 without TLS, every connection dialled to the socket whatever the URL says.</summary>
    public static GrpcChannel CreateChannel(string socketPath) => Berth.Api.Admin.UnixSocketChannel.Create(socketPath);

    /// <summary>The berthd binary under test: BERTH_BIN, else out/berthd of the repository.</summary>
    public static string ProgramPath()
    {
        var path = Environment.GetEnvironmentVariable("BERTH_BIN") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Path.Combine(RepositoryRoot(), "out", "berthd");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"No berthd at {path}: build it into out/ first, or set BERTH_BIN.", path);
    }

    /// <summary>The folder holding Runtime.sln, found upwards from the test assembly.</summary>
    internal static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Runtime.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No Runtime.sln above {AppContext.BaseDirectory}.");
    }
}

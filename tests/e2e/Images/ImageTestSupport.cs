using System.Text.Json;
using Berth.Api.Cri;
using ImageSpec = Berth.Tests.E2e.Fixtures.ImageSpec;
using CriImageSpec = Berth.Api.Cri.ImageSpec;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;

namespace Berth.Tests.E2e.Images;

/// <summary>One plain registry shared by a test class; each test pushes to its own repository names.</summary>
public sealed class SharedRegistry : IAsyncLifetime
{
    public RegistryServer Server { get; private set; } = null!;
    public ImageBuilder Builder { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await RegistryServer.StartAsync();
        Builder = new ImageBuilder(Server);
    }

    public async Task DisposeAsync()
    {
        Builder.Dispose();
        await Server.DisposeAsync();
    }
}

internal static class ImageTestSupport
{
    private static int _counter;

    /// <summary>A repository name no other test in this run uses.</summary>
    public static string UniqueRepository(string stem) => $"{stem}-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";

    public static ImageSpec BusyboxImage(params LayerBuilder[] extraLayers) => new()
    {
        Layers = [LayerBuilder.Busybox(), .. extraLayers],
        Config = new ExecutionConfig { Cmd = ["sh"], User = "1000:1000" },
    };

    public static async Task<PullImageResponse> PullAsync(this BerthDaemon berth, string reference, AuthConfig? auth = null) =>
        await berth.Images.PullImageAsync(new PullImageRequest { Image = new CriImageSpec { Image = reference }, Auth = auth });

    public static async Task<Image?> StatusAsync(this BerthDaemon berth, string reference) =>
        (await berth.Images.ImageStatusAsync(new ImageStatusRequest { Image = new CriImageSpec { Image = reference } })).Image;

    public static async Task<IReadOnlyList<Image>> ListAsync(this BerthDaemon berth) =>
        (await berth.Images.ListImagesAsync(new ListImagesRequest())).Images;

    /// <summary>The snapshot directories of an image's layers, lowest first, as ImageStatus's verbose info gives them.</summary>
    public static async Task<IReadOnlyList<string>> SnapshotsAsync(this BerthDaemon berth, string reference)
    {
        var status = await berth.Images.ImageStatusAsync(new ImageStatusRequest { Image = new CriImageSpec { Image = reference }, Verbose = true });
        using var info = JsonDocument.Parse(status.Info["info"]);
        return info.RootElement.GetProperty("layers").EnumerateArray().Select(layer => layer.GetProperty("snapshot").GetString()!).ToList();
    }

    public static async Task<RpcException> ExpectFailureAsync(Func<Task> call, StatusCode expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(error.StatusCode == expected, $"expected {expected}, got {error.StatusCode}: {error.Status.Detail}");
        return error;
    }

    /// <summary>Every file under the daemon's root that a finished or failed pull must not leave: unpack and download workspaces.</summary>
    public static IReadOnlyList<string> Leftovers(BerthDaemon berth) =>
        new[] { Path.Combine(berth.Root, "snapshots", ".tmp"), Path.Combine(berth.Root, "content", ".tmp") }
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFileSystemEntries)
            .ToList();

    public static IReadOnlyList<string> SnapshotDirectories(BerthDaemon berth) =>
        Directory.Exists(Path.Combine(berth.Root, "snapshots"))
            ? Directory.EnumerateDirectories(Path.Combine(berth.Root, "snapshots")).Where(path => !Path.GetFileName(path).StartsWith('.')).ToList()
            : [];
}

using Berth.Api.Shim;
using Berth.ImageService.Images;
using Berth.ImageService.Store;
using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Shims;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Google.Protobuf;
using Grpc.Core;
using ShimStatus = Berth.Api.Shim.Status;
using Status = Grpc.Core.Status;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Containers;

/// <summary>
/// Creates, starts, stops and removes containers, each owned by its own shim. Create leaves the
/// process set up and waiting (as runc create does); Start lets it exec.
/// </summary>
public sealed class ContainerManager(
    PodStore store, ImageStore images, ImageManager imageManager, RuntimeRegistry registry, RuntimePaths paths,
    ShimLauncher launcher, BerthConfig config, ILogger<ContainerManager> logger)
{
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    public async Task<Container> CreateAsync(string sandboxId, Cri.ContainerConfig containerConfig, CancellationToken daemonStopping)
    {
        var sandbox = registry.RequireSandbox(sandboxId);
        if (!sandbox.Ready)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"pod sandbox {sandbox.Id} is not ready"));
        }
        var metadata = containerConfig.Metadata;
        if (metadata is null || string.IsNullOrEmpty(metadata.Name))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "container config metadata needs a name"));
        }
        var imageName = containerConfig.Image?.Image;
        if (string.IsNullOrEmpty(imageName))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "container config needs an image"));
        }
        var image = imageManager.Find(imageName)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"image {imageName} is not present; pull it first"));
        var imageConfig = ImageConfig.Parse(imageManager.Content.ReadBlob(image.Image.Id));
        var sandboxMetadata = sandbox.Config.Metadata;
        var id = Identifiers.New();
        var logPath = string.IsNullOrEmpty(sandbox.Config.LogDirectory) || string.IsNullOrEmpty(containerConfig.LogPath)
            ? ""
            : Path.Combine(sandbox.Config.LogDirectory, containerConfig.LogPath);
        var record = new ContainerRecord(
            Id: id,
            SandboxId: sandbox.Id,
            Name: $"{metadata.Name}_{sandboxMetadata.Name}_{sandboxMetadata.Namespace}_{sandboxMetadata.Uid}_{metadata.Attempt}",
            Config: containerConfig.ToByteArray(),
            ImageId: image.Image.Id,
            ImageName: imageName,
            CreatedAt: Identifiers.NowNanoseconds(),
            LogPath: logPath);
        if (store.TryAdd(record) is { } existing)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"container name {record.Name} is reserved for {existing}"));
        }
        var container = new Container(record, containerConfig, paths.ContainerBundle(id), paths.ShimSocket(id));
        registry.Add(container);
        try
        {
            images.Hold(id, image.Image.Layers.Select(layer => layer.DiffId));
            await SetUpAsync(container, sandbox, image.Image, imageConfig, daemonStopping);
        }
        catch
        {
            await RemoveAsync(container);
            throw;
        }
        logger.LogInformation("Container {Id} ({Name}) created", id, record.Name);
        return container;
    }

    private async Task SetUpAsync(Container container, Sandbox sandbox, ImageRecord image, ImageConfig imageConfig, CancellationToken ct)
    {
        var layer = paths.ContainerLayer(container.Id);
        var upper = Path.Combine(layer, "upper");
        var work = Path.Combine(layer, "work");
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(container.Bundle);
        var rootfs = Path.Combine(container.Bundle, "rootfs");
        Directory.CreateDirectory(rootfs);
        if (container.Record.LogPath.Length > 0)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(container.Record.LogPath)!);
        }
        var lowerDirs = image.Layers.Select(imageLayer => imageManager.Content.SnapshotPath(imageLayer.DiffId)).Reverse().ToList();

        var built = ContainerSpecBuilder.Build(new ContainerSpecInput(
            container.Config, sandbox.Config, imageConfig, container.Id, sandbox.Id, rootfs,
            ContainerSpecBuilder.ContainerCgroupPath(sandbox.Record.CgroupPath, container.Id),
            SandboxManager.Files(sandbox), sandbox.SharedPidNamespace,
            config.BlockIo, Devices.Resolve, TargetPidNamespace(container.Config)));
        var spec = UserResolver.Resolve(built, lowerDirs);
        OciJson.WriteSpec(BundleLayout.ConfigPath(container.Bundle), spec);
        ShimJson.WriteOptions(BundleLayout.OptionsPath(container.Bundle), new ShimOptions
        {
            Kind = ShimKind.Container,
            Id = container.Id,
            SandboxId = sandbox.Id,
            LogPath = container.Record.LogPath.Length > 0 ? container.Record.LogPath : null,
            Stdin = container.Config.Stdin,
            StdinOnce = container.Config.StdinOnce,
            Tty = container.Config.Tty,
            Rootfs = new RootfsLayers { LowerDirs = lowerDirs, UpperDir = upper, WorkDir = work },
            SocketPath = container.SocketPath,
        });
        container.Shim = await launcher.StartAsync(container.Bundle, container.SocketPath, ct);
        try
        {
            container.Update(await container.Shim.CreateAsync(ct));
        }
        catch (ShimException error) when (error.Code == ErrorCode.CreateFailed)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"container {container.Id} could not be created: {error.Message}"));
        }
        Watch(container);
    }

    /// <summary>TARGET pid mode: the target container's process namespace, through its pid.</summary>
    private string? TargetPidNamespace(Cri.ContainerConfig containerConfig)
    {
        var options = containerConfig.Linux?.SecurityContext?.NamespaceOptions;
        if (options?.Pid != Cri.NamespaceMode.Target)
        {
            return null;
        }
        var target = registry.FindContainer(options.TargetId);
        return target is { State.Status: ShimStatus.Running or ShimStatus.Created }
            ? $"/proc/{target.State.Pid}/ns/pid"
            : throw new RpcException(new Status(StatusCode.NotFound, $"target container {options.TargetId} of the pid namespace is not running"));
    }

    /// <summary>Keeps a long-poll Wait open on the shim so the exit is known the moment it happens.</summary>
    private void Watch(Container container) => _ = Task.Run(async () =>
    {
        try
        {
            using var waiter = await ShimClient.ConnectAsync(container.SocketPath, ShimClient.DefaultTimeout);
            container.Update(await waiter.WaitAsync());
        }
        catch (ShimException)
        {
            MarkGone(container);
        }
    });

    /// <summary>The shim is gone without a word: take its exit record, or report the container lost.</summary>
    private void MarkGone(Container container)
    {
        if (container.State.Status == ShimStatus.Exited)
        {
            return;
        }
        var exit = ShimJson.TryReadExit(Path.Combine(container.Bundle, BundleLayout.ExitFile));
        container.Update(exit is not null
            ? new StateResponse
            {
                Id = container.Id, Status = ShimStatus.Exited, Pid = exit.Pid, ExitCode = exit.ExitCode,
                CreatedAt = container.State.CreatedAt, StartedAt = exit.StartedAt, FinishedAt = exit.FinishedAt,
                Reason = exit.Reason, Message = exit.Message ?? "",
            }
            : new StateResponse
            {
                Id = container.Id, Status = ShimStatus.Exited, ExitCode = 255,
                CreatedAt = container.State.CreatedAt, StartedAt = container.State.StartedAt,
                FinishedAt = Identifiers.NowNanoseconds(), Reason = "Unknown",
                Message = "the container's shim is gone (it was killed, or the node restarted); its real exit status is unknown",
            });
    }

    public async Task StartAsync(Container container, CancellationToken ct)
    {
        await container.Lock.WaitAsync(ct);
        try
        {
            if (container.State.Status != ShimStatus.Created || container.Shim is null)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"container {container.Id} is {container.CriState}, not CONTAINER_CREATED"));
            }
            container.Update(await container.Shim.StartAsync(ct));
        }
        finally
        {
            container.Lock.Release();
        }
    }

    /// <summary>The image's stop signal (or SIGTERM), then SIGKILL after <paramref name="grace"/>. Idempotent.</summary>
    public async Task StopAsync(Container container, TimeSpan grace)
    {
        await container.Lock.WaitAsync();
        try
        {
            // Initial: its Create never succeeded, so no process of it can be running.
            if (container.State.Status is ShimStatus.Exited or ShimStatus.Initial || container.Shim is null)
            {
                return;
            }
            if (grace > TimeSpan.Zero)
            {
                await SignalAsync(container, StopSignal(container), all: false);
                await Task.WhenAny(container.Exited, Task.Delay(grace));
            }
            if (!container.Exited.IsCompleted)
            {
                await SignalAsync(container, 9, all: true);
                if (await Task.WhenAny(container.Exited, Task.Delay(KillWait)) != container.Exited)
                {
                    throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"container {container.Id} did not exit after SIGKILL"));
                }
            }
        }
        finally
        {
            container.Lock.Release();
        }
    }

    private static async Task SignalAsync(Container container, int signal, bool all)
    {
        try
        {
            await container.Shim!.KillAsync(signal, all);
        }
        catch (ShimException error) when (error.Code == ErrorCode.FailedPrecondition)
        {
            // It exited in between.
        }
    }

    private int StopSignal(Container container)
    {
        var imageConfig = imageManager.Content.HasBlob(container.Record.ImageId)
            ? ImageConfig.Parse(imageManager.Content.ReadBlob(container.Record.ImageId))
            : null;
        return Signals.Parse(imageConfig?.StopSignal) ?? 15;
    }

    /// <summary>Kills what still runs and removes every trace: shim, cgroup, bundle, writable layer, record. Idempotent.</summary>
    public async Task RemoveAsync(Container container)
    {
        await StopAsync(container, TimeSpan.Zero);
        await container.Lock.WaitAsync();
        try
        {
            container.Shim ??= await ShimLauncher.TryConnectAsync(container.SocketPath, CancellationToken.None);
            if (container.Shim is { } shim)
            {
                try
                {
                    await shim.ShutdownAsync();
                }
                catch (ShimUnavailableException)
                {
                    // Exited in between: the cgroup cleanup below covers what it left.
                }
                shim.Dispose();
                container.Shim = null;
            }
            if (registry.FindSandbox(container.Record.SandboxId) is { } sandbox)
            {
                await CgroupCleanup.KillAndRemoveAsync(ContainerSpecBuilder.ContainerCgroupPath(sandbox.Record.CgroupPath, container.Id));
            }
            DeleteDirectory(container.Bundle);
            DeleteDirectory(paths.ContainerLayer(container.Id));
            images.Release(container.Id);
            store.RemoveContainer(container.Id);
            registry.Remove(container);
        }
        finally
        {
            container.Lock.Release();
        }
        await imageManager.CollectGarbageAsync();
        logger.LogInformation("Container {Id} removed", container.Id);
    }

    /// <summary>After a daemon restart: ask the shim, or read what it left, or report the container lost.</summary>
    public async Task RecoverAsync(ContainerRecord record)
    {
        var container = new Container(record, Cri.ContainerConfig.Parser.ParseFrom(record.Config), paths.ContainerBundle(record.Id), paths.ShimSocket(record.Id));
        registry.Add(container);
        if (await ShimLauncher.TryConnectAsync(container.SocketPath, CancellationToken.None) is { } shim)
        {
            try
            {
                container.Update(await shim.StateAsync());
                container.Shim = shim;
                Watch(container);
                return;
            }
            catch (ShimException error)
            {
                logger.LogWarning("Container {Id}: its shim did not answer State: {Error}", container.Id, error.Message);
                shim.Dispose();
            }
        }
        MarkGone(container);
    }

    private static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}

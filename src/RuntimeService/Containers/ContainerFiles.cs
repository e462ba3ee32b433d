using System.IO.Compression;
using Berth.Core;
using Berth.Core.Errors;
using Berth.ImageService.Images;
using Berth.ImageService.Layers;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Containers;

/// <summary>What berthctl commit asks for.</summary>
/// <param name="Container">The container, by ID or unique ID prefix.</param>
/// <param name="Reference">The new image's name.</param>
/// <param name="Pause">Whether a running container is frozen while its writable layer is read (docker commit --pause).</param>
public sealed record ContainerCommit(string Container, string Reference, string? Message, string? Author, IReadOnlyList<string> Changes, bool Pause);

/// <summary>A committed image, and what its layer left out (sockets).</summary>
public sealed record CommittedImage(NamedImage Image, IReadOnlyList<string> Skipped);

/// <summary>
/// A container's files as the operator takes them off the node: its writable layer as a new image (docker commit) and
/// its merged root filesystem as a tar (docker export), read from the overlay directories berthd made for it with
/// <see cref="LayerArchiver"/>. A running container is frozen (its cgroup, through its shim) while they are read, so the
/// archive is one consistent state, and thawed whatever happens; the image is then stored by the image store's own
/// one-transaction writer.
/// </summary>
public sealed class ContainerFiles(RuntimeRegistry registry, IShimRuntime runtime, RuntimePaths paths, ImageManager images,
    ILogger<ContainerFiles> logger)
{
    /// <summary>Commits the container's writable layer as a new image on top of its own.</summary>
    /// <exception cref="BerthException">
    /// NotFound for an unknown container; InvalidArgument for a reference or change that does not parse; FailedPrecondition
    /// when the container's pod or image is gone, or it cannot be frozen.
    /// </exception>
    public async Task<CommittedImage> CommitAsync(ContainerCommit request, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("container.commit");
        var name = ImageManager.TagName(request.Reference);
        var changes = ImageChanges.Parse(request.Changes);
        var container = Require(request.Container);
        var baseImage = images.Find(container.Record.ImageId)
            ?? throw BerthException.FailedPrecondition($"container {container.Id}'s image {container.Record.ImageId} is no longer on this node");
        var layerFile = images.Content.NewTemporaryFile();
        ArchiveSummary summary;
        try
        {
            summary = await WhileFrozenAsync(container, request.Pause, async () =>
            {
                await using var file = new FileStream(layerFile, FileMode.CreateNew, FileAccess.Write);
                // Fastest: the container waits, frozen, while this runs.
                await using var gzip = new GZipStream(file, CompressionLevel.Fastest);
                return await LayerArchiver.WriteDiffAsync(UpperDir(container), gzip, ct);
            }, ct);
        }
        catch
        {
            File.Delete(layerFile);
            throw;
        }
        foreach (var skipped in summary.Skipped)
        {
            logger.LogWarning("Commit of {ContainerId}: {Path} is a socket, which a layer cannot carry; left out", container.Id, skipped);
        }
        var command = container.Config.Command.Concat(container.Config.Args).ToList();
        var image = await images.CreateImageAsync(new NewImage(
            Base: baseImage,
            Name: name,
            Changes: changes,
            Comment: request.Message,
            Author: request.Author,
            CreatedBy: command.Count == 0 ? "berthctl commit" : string.Join(' ', command),
            Source: $"commit of container {container.Id}"), layerFile, ct);
        logger.LogInformation("Committed container {ContainerId} as {Name} ({ImageId})", container.Id, name, image.Image.Id);
        return new CommittedImage(image, summary.Skipped);
    }

    /// <summary>Writes the container's merged root filesystem, as a tar, to a new file of the content store's temporary area.</summary>
    /// <returns>The file; the caller sends and deletes it.</returns>
    /// <exception cref="BerthException">NotFound for an unknown container; FailedPrecondition when its pod or image is gone, or it cannot be frozen.</exception>
    public async Task<string> ExportAsync(string containerId, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("container.export");
        var container = Require(containerId);
        var image = images.Find(container.Record.ImageId)
            ?? throw BerthException.FailedPrecondition($"container {container.Id}'s image {container.Record.ImageId} is no longer on this node");
        // Topmost first, as overlayfs stacks them: the writable layer, then the image's layers from the top down.
        var layers = image.Image.Layers.Select(layer => images.Content.SnapshotPath(layer.DiffId)).Reverse().Prepend(UpperDir(container)).ToList();
        var tarFile = images.Content.NewTemporaryFile();
        try
        {
            // Written to a file, then sent: the container is frozen only while its files are read, not while a slow
            // client takes them.
            await WhileFrozenAsync(container, pause: true, async () =>
            {
                await using var file = new FileStream(tarFile, FileMode.CreateNew, FileAccess.Write);
                return await LayerArchiver.WriteMergedAsync(layers, file, ct);
            }, ct);
            return tarFile;
        }
        catch
        {
            File.Delete(tarFile);
            throw;
        }
    }

    private Container Require(string id)
    {
        var container = registry.RequireContainer(id);
        if (registry.FindSandbox(container.Record.SandboxId) is null)
        {
            throw BerthException.FailedPrecondition($"container {container.Id}'s pod sandbox {container.Record.SandboxId} is gone");
        }
        if (container.Removing)
        {
            throw BerthException.FailedPrecondition($"container {container.Id} is being removed");
        }
        return container;
    }

    private string UpperDir(Container container) => Path.Combine(paths.ContainerLayer(container.Id), "upper");

    /// <summary>
    /// Runs <paramref name="read"/> under the container's lock (so it is not removed meanwhile) and, when it runs and
    /// <paramref name="pause"/> says so, with its cgroup frozen; the thaw happens whatever <paramref name="read"/> does.
    /// </summary>
    private async Task<T> WhileFrozenAsync<T>(Container container, bool pause, Func<Task<T>> read, CancellationToken ct)
    {
        await container.Lock.WaitAsync(ct);
        try
        {
            if (container.Removing)
            {
                throw BerthException.FailedPrecondition($"container {container.Id} is being removed");
            }
            var freeze = pause && container.State.Status == ProcessStatus.Running;
            if (!freeze)
            {
                return await read();
            }
            await runtime.FreezeAsync(container.Shim, frozen: true, ct);
            try
            {
                return await read();
            }
            finally
            {
                // Not cancellable: a container must never be left frozen because its caller went away.
                await runtime.FreezeAsync(container.Shim, frozen: false, CancellationToken.None);
            }
        }
        finally
        {
            container.Lock.Release();
        }
    }
}

using Berth.ImageService.Images;
using Berth.ImageService.Store;
using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Containers;

/// <summary><see cref="IContainerImages"/> over the node's image store and snapshots.</summary>
public sealed class ContainerImages(ImageManager images, ImageStore store) : IContainerImages
{
    public ImageForContainer? Find(string image)
    {
        if (images.Find(image) is not { } found)
        {
            return null;
        }
        var record = found.Image;
        var config = ImageConfig.Parse(images.Content.ReadBlob(record.Id));
        // overlayfs takes the topmost layer first.
        var lowerDirs = record.Layers.Select(layer => images.Content.SnapshotPath(layer.DiffId)).Reverse().ToList();
        var accounts = new ImageAccounts(TopmostFile(lowerDirs, "etc/passwd"), TopmostFile(lowerDirs, "etc/group"));
        string imageRef = found.RepoDigests().FirstOrDefault() ?? record.Id;
        return new ImageForContainer(record.Id, imageRef, new ContainerImage(config, lowerDirs, accounts),
            record.Layers.Select(layer => layer.DiffId).ToList());
    }

    public void Hold(string containerId, IEnumerable<string> diffIds) => store.Hold(containerId, diffIds);

    public async Task ReleaseAsync(string containerId)
    {
        store.Release(containerId);
        await images.CollectGarbageAsync();
    }

    /// <summary>The text of a file in the topmost layer that has it; null when none has it or the topmost entry is a whiteout (an overlay 0:0 device).</summary>
    internal static string? TopmostFile(IReadOnlyList<string> lowerDirs, string file)
    {
        if (lowerDirs.Select(dir => Path.Combine(dir, file)).FirstOrDefault(Path.Exists) is not { } path)
        {
            return null;
        }
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

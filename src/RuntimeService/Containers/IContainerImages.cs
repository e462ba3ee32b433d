using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Containers;

/// <summary>An image a container is created from: its ID, what ContainerStatus reports as image_ref, and what spec generation reads of it.</summary>
/// <param name="DiffIds">The layers' diff IDs: the container holds their snapshots until it is removed.</param>
public sealed record ImageForContainer(string Id, string ImageRef, ContainerImage Image, IReadOnlyList<string> DiffIds);

/// <summary>What the container manager needs of the image store, behind an interface so the manager is tested without images on disk.</summary>
public interface IContainerImages
{
    /// <summary>The image a container names (reference, ID or ID prefix), with its config, layers and accounts; null when it is not on the node.</summary>
    ImageForContainer? Find(string image);

    /// <summary>Keeps the image's snapshots while the container exists, even if the image is removed.</summary>
    void Hold(string containerId, IEnumerable<string> diffIds);

    /// <summary>Lets go of what <see cref="Hold"/> kept, and collects snapshots that nothing references any more.</summary>
    Task ReleaseAsync(string containerId);
}

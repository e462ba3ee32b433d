using Berth.ImageService.Images;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Specs;

namespace Berth.Tests.Unit.Fakes;

/// <summary>One pretend image, "busybox", whose layers are empty directories; holds are counted.</summary>
internal sealed class FakeContainerImages(string layerDir) : IContainerImages
{
    public const string Name = "busybox";
    public const string Id = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    public Dictionary<string, int> Holds { get; } = new(StringComparer.Ordinal);

    public ImageForContainer? Find(string image) => image is Name or Id
        ? new ImageForContainer(Id, "registry.test/busybox@sha256:feed", new ContainerImage(
            new ImageConfig([], null, ["PATH=/bin"], [], ["sh"], null, "SIGQUIT", [], new Dictionary<string, string>()),
            [layerDir], ImageAccounts.None), ["sha256:layer"])
        : null;

    public void Hold(string containerId, IEnumerable<string> diffIds)
    {
        lock (Holds)
        {
            Holds[containerId] = diffIds.Count();
        }
    }

    public Task ReleaseAsync(string containerId)
    {
        lock (Holds)
        {
            Holds.Remove(containerId);
        }
        return Task.CompletedTask;
    }
}

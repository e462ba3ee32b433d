using Berth.Core.Errors;
using Berth.RuntimeService.Node;
using Berth.RuntimeService.Specs;
using Cri = Berth.Api.Cri;

namespace Berth.Tests.Unit.Node;

/// <summary>Which mount a host path lives on and how it propagates, from /proc/self/mountinfo; and what a propagating bind needs of it.</summary>
public sealed class MountInfoTests
{
    // The shapes proc(5) shows: a private root, a shared /var/lib/kubelet, a slave /mnt/slave, one with a space
    // in its name, and two mounts stacked on /stacked (the later one is on top).
    private const string Table = """
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
        40 27 0:40 / /var/lib/kubelet rw,relatime shared:12 - tmpfs tmpfs rw
        41 27 0:41 / /mnt/slave rw,relatime master:3 - tmpfs tmpfs rw
        42 27 0:42 / /mnt/both rw,relatime shared:14 master:3 - tmpfs tmpfs rw
        43 27 0:43 / /mnt/with\040space rw,relatime shared:15 - tmpfs tmpfs rw
        44 27 0:44 / /stacked rw,relatime shared:16 - tmpfs tmpfs rw
        45 44 0:45 / /stacked rw,relatime - tmpfs tmpfs rw
        """;

    [Theory]
    [InlineData("/", "/", MountSharing.Private)]
    [InlineData("/var/lib/kubelet/pods/x/volumes/data", "/var/lib/kubelet", MountSharing.Shared)]
    [InlineData("/var/lib/kubeletx/data", "/", MountSharing.Private)]
    [InlineData("/mnt/slave/a", "/mnt/slave", MountSharing.Slave)]
    [InlineData("/mnt/both", "/mnt/both", MountSharing.Shared)]
    [InlineData("/mnt/with space/a", "/mnt/with space", MountSharing.Shared)]
    [InlineData("/stacked/a", "/stacked", MountSharing.Private)]
    public void APathLivesOnTheDeepestTopmostMountCoveringIt(string path, string mountPoint, MountSharing sharing) =>
        Assert.Equal(new SourceMount(mountPoint, sharing), MountInfo.Of(Table, path));

    [Theory]
    [InlineData(Cri.MountPropagation.PropagationHostToContainer, MountSharing.Shared, true)]
    [InlineData(Cri.MountPropagation.PropagationHostToContainer, MountSharing.Slave, true)]
    [InlineData(Cri.MountPropagation.PropagationHostToContainer, MountSharing.Private, false)]
    [InlineData(Cri.MountPropagation.PropagationBidirectional, MountSharing.Shared, true)]
    [InlineData(Cri.MountPropagation.PropagationBidirectional, MountSharing.Slave, false)]
    [InlineData(Cri.MountPropagation.PropagationBidirectional, MountSharing.Private, false)]
    public void PropagationNeedsASharedOrSlaveSourceAsContainerd(Cri.MountPropagation propagation, MountSharing sharing, bool allowed)
    {
        var source = new PropagatedSource("/data/volume", propagation);
        var mount = new SourceMount("/data", sharing);
        if (allowed)
        {
            source.Require("/data/volume", mount);
            return;
        }
        var error = Assert.Throws<BerthException>(() => source.Require("/data/volume", mount));
        Assert.Equal(ErrorKind.FailedPrecondition, error.Kind);
        Assert.Contains("/data/volume", error.Message);
        Assert.Contains("mount /data", error.Message);
        Assert.Contains(propagation == Cri.MountPropagation.PropagationBidirectional ? "needs a shared mount" : "needs a shared or slave mount", error.Message);
    }
}

using Berth.RuntimeService.Specs;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>The node's cgroup driver (config <c>cgroupDriver</c>), which kubelet 1.31+ follows instead of its own flag.</summary>
    public override Task<Cri.RuntimeConfigResponse> RuntimeConfig(Cri.RuntimeConfigRequest request, ServerCallContext context) =>
        Task.FromResult(RuntimeConfigFor(configuration.Current.CgroupDriverKind));

    /// <summary>
    /// The reply for <paramref name="driver"/>. In the CRI enum SYSTEMD is 0, proto3's default, which is never
    /// written: the <c>linux</c> message is always set, so the reply carries it (empty for systemd, 08 01 for
    /// cgroupfs) and kubelet reads the driver from it rather than from a missing message.
    /// </summary>
    public static Cri.RuntimeConfigResponse RuntimeConfigFor(CgroupDriverKind driver) => new()
    {
        Linux = new Cri.LinuxRuntimeConfiguration
        {
            CgroupDriver = driver == CgroupDriverKind.Systemd ? Cri.CgroupDriver.Systemd : Cri.CgroupDriver.Cgroupfs,
        },
    };
}

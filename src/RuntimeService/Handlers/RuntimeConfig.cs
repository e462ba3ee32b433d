using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>berth manages cgroups through the cgroup filesystem; kubelet must use the cgroupfs driver too.</summary>
    public override Task<Cri.RuntimeConfigResponse> RuntimeConfig(Cri.RuntimeConfigRequest request, ServerCallContext context) =>
        Task.FromResult(new Cri.RuntimeConfigResponse
        {
            Linux = new Cri.LinuxRuntimeConfiguration { CgroupDriver = Cri.CgroupDriver.Cgroupfs },
        });
}

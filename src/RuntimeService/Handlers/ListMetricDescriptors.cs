using Berth.RuntimeService.Stats;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ListMetricDescriptorsResponse> ListMetricDescriptors(Cri.ListMetricDescriptorsRequest request, ServerCallContext context) =>
        Task.FromResult(new Cri.ListMetricDescriptorsResponse { Descriptors = { CadvisorMetrics.Descriptors() } });
}

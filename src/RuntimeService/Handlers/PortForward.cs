using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.PortForwardResponse> PortForward(Cri.PortForwardRequest request, ServerCallContext context) =>
        Task.FromResult(new Cri.PortForwardResponse { Url = streaming.PortForwardUrl(request) });
}

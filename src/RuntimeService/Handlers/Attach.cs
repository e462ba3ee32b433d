using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.AttachResponse> Attach(Cri.AttachRequest request, ServerCallContext context) =>
        Task.FromResult(new Cri.AttachResponse { Url = streaming.AttachUrl(request) });
}

using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.VersionResponse> Version(Cri.VersionRequest request, ServerCallContext context) =>
        Task.FromResult(new Cri.VersionResponse
        {
            Version = KubeletApiVersion,
            RuntimeName = RuntimeName,
            RuntimeVersion = RuntimeVersion,
            RuntimeApiVersion = RuntimeApiVersion,
        });
}

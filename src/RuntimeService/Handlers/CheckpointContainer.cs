using Berth.Core.Errors;
using Berth.RuntimeService.Node;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    /// <summary>UNIMPLEMENTED for a container that exists, naming what is missing: CRIU on the node (<see cref="Criu"/>), or berth's checkpointing.</summary>
    public override async Task<Cri.CheckpointContainerResponse> CheckpointContainer(Cri.CheckpointContainerRequest request, ServerCallContext context)
    {
        registry.RequireContainer(request.ContainerId);
        string? missing = await Criu.WhatIsMissingAsync();
        throw BerthException.Unimplemented(missing is null
            ? "berth does not checkpoint containers yet (CRIU itself passes `criu check` on this node)"
            : $"checkpointing needs CRIU, and {missing}; berth does not checkpoint containers yet either");
    }
}

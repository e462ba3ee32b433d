using Berth.Core.Cri;
using Berth.RuntimeService.Containers;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ListContainersResponse> ListContainers(Cri.ListContainersRequest request, ServerCallContext context)
    {
        var response = new Cri.ListContainersResponse();
        response.Containers.AddRange(FilterContainers(request.Filter).Select(ToCri));
        return Task.FromResult(response);
    }

    public override async Task StreamContainers(Cri.StreamContainersRequest request, IServerStreamWriter<Cri.StreamContainersResponse> responseStream, ServerCallContext context)
    {
        await ChunkedStream.WriteAsync(FilterContainers(request.Filter).Select(ToCri),
            chunk => new Cri.StreamContainersResponse { Containers = { chunk } }, responseStream, context.CancellationToken);
    }

    private IEnumerable<Container> FilterContainers(Cri.ContainerFilter? filter)
    {
        IEnumerable<Container> found = registry.Containers;
        if (filter is not null)
        {
            if (filter.Id.Length > 0)
            {
                found = found.Where(container => container.Id.StartsWith(filter.Id, StringComparison.Ordinal));
            }
            if (filter.PodSandboxId.Length > 0)
            {
                found = found.Where(container => container.Record.SandboxId.StartsWith(filter.PodSandboxId, StringComparison.Ordinal));
            }
            if (filter.State is { } state)
            {
                found = found.Where(container => container.CriState == state.State);
            }
            found = found.Where(container => LabelsMatch(filter.LabelSelector, container.Config.Labels));
        }
        return found.OrderBy(container => container.Record.CreatedAt);
    }
}

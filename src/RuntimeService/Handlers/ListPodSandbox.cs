using Berth.Core.Cri;
using Berth.RuntimeService.Pods;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ListPodSandboxResponse> ListPodSandbox(Cri.ListPodSandboxRequest request, ServerCallContext context)
    {
        var response = new Cri.ListPodSandboxResponse();
        response.Items.AddRange(FilterSandboxes(request.Filter).Select(ToCri));
        return Task.FromResult(response);
    }

    public override async Task StreamPodSandboxes(Cri.StreamPodSandboxesRequest request, IServerStreamWriter<Cri.StreamPodSandboxesResponse> responseStream, ServerCallContext context)
    {
        await ChunkedStream.WriteAsync(FilterSandboxes(request.Filter).Select(ToCri),
            chunk => new Cri.StreamPodSandboxesResponse { PodSandboxes = { chunk } }, responseStream, context.CancellationToken);
    }

    private IEnumerable<Sandbox> FilterSandboxes(Cri.PodSandboxFilter? filter)
    {
        IEnumerable<Sandbox> found = registry.Sandboxes;
        if (filter is null)
        {
            return found.OrderBy(sandbox => sandbox.Record.CreatedAt);
        }
        if (filter.Id.Length > 0)
        {
            found = found.Where(sandbox => sandbox.Id.StartsWith(filter.Id, StringComparison.Ordinal));
        }
        if (filter.State is { } state)
        {
            found = found.Where(sandbox => sandbox.CriState == state.State);
        }
        return found.Where(sandbox => LabelsMatch(filter.LabelSelector, sandbox.Config.Labels)).OrderBy(sandbox => sandbox.Record.CreatedAt);
    }
}

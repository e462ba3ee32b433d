using Berth.Core.Cri;
using Grpc.Core;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

public sealed partial class CriRuntimeService
{
    public override Task<Cri.ContainerStatusResponse> ContainerStatus(Cri.ContainerStatusRequest request, ServerCallContext context)
    {
        var container = registry.RequireContainer(request.ContainerId);
        var state = container.State;
        var response = new Cri.ContainerStatusResponse { Status = Pods.CriStatus.Of(container) };
        if (request.Verbose)
        {
            response.Info.Add("info", VerboseJson.Object(writer =>
            {
                writer.WriteNumber("pid", state.Pid);
                writer.WriteString("sandboxID", container.Record.SandboxId);
                writer.WriteString("bundle", container.Shim.Bundle);
                writer.WriteString("imageName", container.Record.ImageName);
            }));
        }
        return Task.FromResult(response);
    }
}

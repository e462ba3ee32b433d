using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    public override Task<AdminApi.ImageDetail> Inspect(AdminApi.InspectRequest request, ServerCallContext context) =>
        Task.FromResult(Detail(FindOrFail(request.Image)));
}

using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    public override Task<AdminApi.ListResponse> List(AdminApi.ListRequest request, ServerCallContext context)
    {
        var response = new AdminApi.ListResponse();
        response.Images.AddRange(images.List().Select(Summary));
        return Task.FromResult(response);
    }
}

using Berth.Core.Errors;
using Berth.ImageService.Registry;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    /// <summary>Checks the credentials at the registry, then keeps them in the login file (nothing is written when refused).</summary>
    public override async Task<AdminApi.LoginResponse> Login(AdminApi.LoginRequest request, ServerCallContext context)
    {
        var host = RegistryLogins.NormalizeHost(Require(request.Registry, "registry", "a registry host"));
        if (request.Username.Length == 0 || request.Password.Length == 0)
        {
            throw BerthException.InvalidArgument("username and password must both be given");
        }
        if (request.Username.Contains(':'))
        {
            // The file keeps base64 of "user:password", as a docker config does: a colon would split it elsewhere.
            throw BerthException.InvalidArgument("a username cannot contain ':'");
        }
        await images.Registry.LoginAsync(host, new RegistryCredentials(request.Username, request.Password, null, null), context.CancellationToken);
        return new AdminApi.LoginResponse { Registry = host };
    }

    public override Task<AdminApi.LogoutResponse> Logout(AdminApi.LogoutRequest request, ServerCallContext context)
    {
        var host = RegistryLogins.NormalizeHost(Require(request.Registry, "registry", "a registry host"));
        var removed = (images.Registry.Logins ?? throw BerthException.FailedPrecondition("berthd keeps no logins")).Remove(host);
        return Task.FromResult(new AdminApi.LogoutResponse { Registry = host, Removed = removed });
    }
}

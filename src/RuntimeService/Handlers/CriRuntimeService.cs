using Berth.RuntimeService.Configuration;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Handlers;

/// <summary>
/// The CRI RuntimeService: one partial file per RPC. RPCs not overridden here answer UNIMPLEMENTED
/// (the generated base does, and the call interceptor names the method).
/// </summary>
public sealed partial class CriRuntimeService(BerthConfig config, ILogger<CriRuntimeService> logger) : Cri.RuntimeService.RuntimeServiceBase
{
    public const string RuntimeName = "berth";
    public const string RuntimeApiVersion = "v1";
    // The CRI version kubelet compares against; "0.1.0" is what every CRI runtime reports here.
    public const string KubeletApiVersion = "0.1.0";

    public static string RuntimeVersion { get; } =
        typeof(CriRuntimeService).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}

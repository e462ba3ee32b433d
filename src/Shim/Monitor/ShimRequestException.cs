using Berth.Api.Shim;

namespace Berth.Shim.Monitor;

/// <summary>A request refused with a protocol error code.</summary>
internal sealed class ShimRequestException : Exception
{
    public ShimRequestException(ErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    public ErrorCode Code { get; }
}

using Berth.Core.Errors;
using Berth.ImageService.Registry;
using Berth.RuntimeService.Hosting;
using Berth.RuntimeService.Specs;
using Grpc.Core;

namespace Berth.Tests.Unit.Hosting;

/// <summary>One row per domain error kind, and the rows for what is not a domain error.</summary>
public sealed class ErrorTableTests
{
    private const string Method = "/runtime.v1.RuntimeService/Version";

    [Theory]
    [InlineData(ErrorKind.InvalidArgument, StatusCode.InvalidArgument)]
    [InlineData(ErrorKind.NotFound, StatusCode.NotFound)]
    [InlineData(ErrorKind.AlreadyExists, StatusCode.AlreadyExists)]
    [InlineData(ErrorKind.FailedPrecondition, StatusCode.FailedPrecondition)]
    [InlineData(ErrorKind.Unavailable, StatusCode.Unavailable)]
    [InlineData(ErrorKind.DeadlineExceeded, StatusCode.DeadlineExceeded)]
    [InlineData(ErrorKind.PermissionDenied, StatusCode.PermissionDenied)]
    [InlineData(ErrorKind.Unauthenticated, StatusCode.Unauthenticated)]
    [InlineData(ErrorKind.DataLoss, StatusCode.DataLoss)]
    [InlineData(ErrorKind.ResourceExhausted, StatusCode.ResourceExhausted)]
    [InlineData(ErrorKind.Internal, StatusCode.Internal)]
    [InlineData(ErrorKind.Unimplemented, StatusCode.Unimplemented)]
    public void EachKindHasItsStatusAndTheMessageAlone(ErrorKind kind, StatusCode code)
    {
        var status = ErrorTable.ToRpcException(new BerthException(kind, "what is wrong, with what"), Method).Status;
        Assert.Equal(code, status.StatusCode);
        Assert.Equal("what is wrong, with what", status.Detail);
    }

    [Fact]
    public void EveryKindIsInTheTable() =>
        Assert.All(Enum.GetValues<ErrorKind>().Where(kind => kind != ErrorKind.Internal),
            kind => Assert.NotEqual(StatusCode.Internal, ErrorTable.CodeOf(kind)));

    [Fact]
    public void DomainSubclassesKeepTheirKind()
    {
        Assert.Equal(StatusCode.InvalidArgument, ErrorTable.ToRpcException(new SpecException("mount container_path \"x\" is not an absolute path"), Method).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, ErrorTable.ToRpcException(new RegistryException(RegistryErrorKind.Unauthorized, "denied"), Method).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, ErrorTable.ToRpcException(new ImageReferenceException("bad"), Method).StatusCode);
    }

    [Fact]
    public void AnythingElseIsInternalWithoutATypeName()
    {
        var status = ErrorTable.ToRpcException(new IOException("disk on fire"), Method).Status;
        Assert.Equal(StatusCode.Internal, status.StatusCode);
        Assert.Equal("internal error: disk on fire", status.Detail);
    }

    [Fact]
    public void UnimplementedNamesTheCallAndCancelledSaysSo()
    {
        Assert.Equal("berth does not implement /runtime.v1.RuntimeService/Version yet",
            ErrorTable.ToRpcException(new RpcException(new Status(StatusCode.Unimplemented, "")), Method).Status.Detail);
        Assert.Equal(StatusCode.Cancelled, ErrorTable.ToRpcException(new OperationCanceledException(), Method).StatusCode);
    }

    [Fact]
    public void ALongMessageIsCut()
    {
        var detail = ErrorTable.ToRpcException(BerthException.NotFound("container " + new string('a', 1 << 20) + " not found"), Method).Status.Detail;
        Assert.True(detail.Length <= ErrorTable.MaxDetailLength + 1);
        Assert.EndsWith("…", detail);
    }
}

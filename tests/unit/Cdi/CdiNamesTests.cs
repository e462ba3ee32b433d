using Berth.Api.Cri;
using Berth.RuntimeService.Cdi;
using Berth.RuntimeService.Specs;

namespace Berth.Tests.Unit.Cdi;

public sealed class CdiNamesTests
{
    [Theory]
    [InlineData("vendor.com/gpu=0")]
    [InlineData("nvidia.com/gpu=GPU-4f7a:1")]
    [InlineData("a/b=c")]
    [InlineData("foo.bar.baz/foo-bar123.B_az=all")]
    public void QualifiedNamesAreAccepted(string name) => Assert.Null(CdiNames.QualifiedNameProblem(name));

    [Theory]
    [InlineData("gpu0", "not a qualified name")]
    [InlineData("vendor.com/gpu", "not a qualified name")]
    [InlineData("vendor.com/gpu=", "not a qualified name")]
    [InlineData("=0", "not a qualified name")]
    [InlineData("/dev/gpu=0", "not a qualified name")]
    [InlineData("vendor.com=0", "not vendor/class")]
    [InlineData("vendor.com/gpu/x=0", "class \"gpu/x\"")]
    [InlineData("1vendor.com/gpu=0", "vendor \"1vendor.com\"")]
    [InlineData("vendor.com/gpu-=0", "class \"gpu-\"")]
    [InlineData("vendor.com/gpu=-0", "device name \"-0\"")]
    [InlineData("vendor.com/gpu=a b", "device name \"a b\"")]
    [InlineData("vendor.com/gpü=0", "class \"gpü\"")]
    public void OtherNamesAreRefusedSayingWhy(string name, string expected) => Assert.Contains(expected, CdiNames.QualifiedNameProblem(name));

    [Fact]
    public void DevicesComeFromTheFieldThenTheContainersAnnotationsEachOnce()
    {
        var config = new ContainerConfig();
        config.CDIDevices.Add(new CDIDevice { Name = "vendor.com/gpu=1" });
        config.CDIDevices.Add(new CDIDevice { Name = "vendor.com/gpu=0" });
        config.Annotations.Add("cdi.k8s.io/plugin_b", "vendor.com/nic=eth1");
        config.Annotations.Add("cdi.k8s.io/plugin_a", "vendor.com/gpu=0,vendor.com/gpu=2");
        config.Annotations.Add("other.io/x", "not=a,device");

        Assert.Equal(["vendor.com/gpu=1", "vendor.com/gpu=0", "vendor.com/gpu=2", "vendor.com/nic=eth1"], CdiNames.Requested(config));
        Assert.Empty(CdiNames.Requested(new ContainerConfig()));
    }

    [Fact]
    public void ABadNameInAnAnnotationNamesTheAnnotation()
    {
        var config = new ContainerConfig();
        config.Annotations.Add("cdi.k8s.io/plugin", "vendor.com/gpu=0,gpu1");

        var error = Assert.Throws<SpecException>(() => CdiNames.Requested(config));

        Assert.Equal("annotation cdi.k8s.io/plugin: CDI device \"gpu1\" is not a qualified name vendor/class=name", error.Message);
    }
}

using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class BlockIoTests
{
    private static LinuxBlockIO? BlockIo(BlockIoDefaults? defaults = null, params (string Key, string Value)[] annotations)
    {
        var pod = Pod();
        foreach (var (key, value) in annotations)
        {
            pod.Annotations[key] = value;
        }
        return Build(Input(pod: pod, blockIo: defaults)).Linux!.Resources!.BlockIO;
    }

    private static SpecException RefusedWith(BlockIoDefaults? defaults = null, params (string Key, string Value)[] annotations)
    {
        var pod = Pod();
        foreach (var (key, value) in annotations)
        {
            pod.Annotations[key] = value;
        }
        return Refused(Input(pod: pod, blockIo: defaults));
    }

    [Fact]
    public void NothingConfiguredMeansNoBlockIo()
    {
        Assert.Null(BlockIo());
    }

    [Fact]
    public void ConfigDefaultsApply()
    {
        var defaults = new BlockIoDefaults
        {
            Weight = 300,
            WeightDevice = [new BlockIoDeviceWeight { Path = "/dev/vda", Weight = 200 }],
            ThrottleReadBpsDevice = [new BlockIoDeviceRate { Path = "/dev/vda", Rate = 1 << 20 }],
            ThrottleWriteBpsDevice = [new BlockIoDeviceRate { Path = "/dev/vdb", Rate = 2 << 20 }],
            ThrottleReadIopsDevice = [new BlockIoDeviceRate { Path = "/dev/vda", Rate = 100 }],
            ThrottleWriteIopsDevice = [new BlockIoDeviceRate { Path = "/dev/vda", Rate = 50 }],
        };
        var blockIo = BlockIo(defaults)!;
        Assert.Equal((ushort)300, blockIo.Weight);
        Assert.Equal([new LinuxWeightDevice { Major = 253, Minor = 0, Weight = 200 }], blockIo.WeightDevice);
        Assert.Equal([new LinuxThrottleDevice { Major = 253, Minor = 0, Rate = 1 << 20 }], blockIo.ThrottleReadBpsDevice);
        Assert.Equal([new LinuxThrottleDevice { Major = 253, Minor = 16, Rate = 2 << 20 }], blockIo.ThrottleWriteBpsDevice);
        Assert.Equal([new LinuxThrottleDevice { Major = 253, Minor = 0, Rate = 100 }], blockIo.ThrottleReadIOPSDevice);
        Assert.Equal([new LinuxThrottleDevice { Major = 253, Minor = 0, Rate = 50 }], blockIo.ThrottleWriteIOPSDevice);
    }

    [Fact]
    public void AnnotationsOverrideDefaultsPerDevice()
    {
        var defaults = new BlockIoDefaults
        {
            Weight = 300,
            ThrottleReadBpsDevice =
            [
                new BlockIoDeviceRate { Path = "/dev/vda", Rate = 1 << 20 },
                new BlockIoDeviceRate { Path = "/dev/vdb", Rate = 1 << 20 },
            ],
        };
        var blockIo = BlockIo(defaults,
            (BlockIoSettings.WeightAnnotation, "700"),
            // The same device by another path, and a new one.
            (BlockIoSettings.ThrottleReadBpsAnnotation, " /dev/disk/by-id/virtio-root=4096 , "),
            (BlockIoSettings.ThrottleWriteIopsAnnotation, "/dev/vda=10,/dev/vdb=20"),
            (BlockIoSettings.WeightDeviceAnnotation, "/dev/vdb=50"))!;
        Assert.Equal((ushort)700, blockIo.Weight);
        Assert.Equal(
            [new LinuxThrottleDevice { Major = 253, Minor = 0, Rate = 4096 }, new LinuxThrottleDevice { Major = 253, Minor = 16, Rate = 1 << 20 }],
            blockIo.ThrottleReadBpsDevice);
        Assert.Equal(
            [new LinuxThrottleDevice { Major = 253, Minor = 0, Rate = 10 }, new LinuxThrottleDevice { Major = 253, Minor = 16, Rate = 20 }],
            blockIo.ThrottleWriteIOPSDevice);
        Assert.Equal([new LinuxWeightDevice { Major = 253, Minor = 16, Weight = 50 }], blockIo.WeightDevice);
    }

    [Fact]
    public void ZeroInAnAnnotationLiftsADefault()
    {
        var defaults = new BlockIoDefaults { ThrottleWriteBpsDevice = [new BlockIoDeviceRate { Path = "/dev/vda", Rate = 1 << 20 }] };
        Assert.Null(BlockIo(defaults, (BlockIoSettings.ThrottleWriteBpsAnnotation, "/dev/vda=0")));
    }

    [Theory]
    [InlineData(BlockIoSettings.WeightAnnotation, "5")]
    [InlineData(BlockIoSettings.WeightAnnotation, "1001")]
    [InlineData(BlockIoSettings.WeightAnnotation, "heavy")]
    [InlineData(BlockIoSettings.WeightDeviceAnnotation, "/dev/vda=2000")]
    [InlineData(BlockIoSettings.ThrottleReadBpsAnnotation, "/dev/vda=1M")]
    [InlineData(BlockIoSettings.ThrottleReadBpsAnnotation, "/dev/vda=-1")]
    [InlineData(BlockIoSettings.ThrottleWriteBpsAnnotation, "/dev/vda")]
    [InlineData(BlockIoSettings.ThrottleReadIopsAnnotation, "dev/vda=10")]
    public void BadValuesAreRefusedNamingTheAnnotation(string key, string value)
    {
        Assert.Contains(key, RefusedWith(null, (key, value)).Message);
    }

    [Fact]
    public void MissingOrNonBlockDevicesAreRefusedNamingTheAnnotation()
    {
        var missing = RefusedWith(null, (BlockIoSettings.ThrottleReadBpsAnnotation, "/dev/sdz=10"));
        Assert.Contains(BlockIoSettings.ThrottleReadBpsAnnotation, missing.Message);
        Assert.Contains("/dev/sdz", missing.Message);
        var character = RefusedWith(null, (BlockIoSettings.ThrottleWriteIopsAnnotation, "/dev/fuse=10"));
        Assert.Contains("not a block device", character.Message);
    }

    [Fact]
    public void BadConfigDefaultsAreRefusedAtStart()
    {
        Assert.Contains("weight 5", Assert.Throws<SpecException>(() => BlockIoSettings.CheckDefaults(new BlockIoDefaults { Weight = 5 })).Message);
        Assert.Contains("\"dev/sda\"", Assert.Throws<SpecException>(() => BlockIoSettings.CheckDefaults(
            new BlockIoDefaults { ThrottleWriteIopsDevice = [new BlockIoDeviceRate { Path = "dev/sda", Rate = 1 }] })).Message);
        BlockIoSettings.CheckDefaults(new BlockIoDefaults { Weight = 500, ThrottleReadBpsDevice = [new BlockIoDeviceRate { Path = "/dev/sdz", Rate = 1 }] });
    }

    [Fact]
    public void AConfiguredDeviceMissingFromTheNodeIsTheNodesFaultNotTheRequests()
    {
        var input = Input() with { BlockIoDefaults = new BlockIoDefaults { ThrottleReadBpsDevice = [new BlockIoDeviceRate { Path = "/dev/sdz", Rate = 1 }] } };
        var error = Assert.Throws<Berth.Core.Errors.BerthException>(() => Build(input));
        Assert.Equal(Berth.Core.Errors.ErrorKind.FailedPrecondition, error.Kind);
        Assert.Contains("config blockIo throttleReadBpsDevice: device /dev/sdz does not exist", error.Message);
    }
}

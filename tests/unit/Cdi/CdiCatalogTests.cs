using Berth.RuntimeService.Cdi;
using Berth.RuntimeService.Specs;

namespace Berth.Tests.Unit.Cdi;

public sealed class CdiCatalogTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("berth-cdi-");
    private readonly List<(string Path, string Problem)> _skipped = [];

    public void Dispose() => _root.Delete(recursive: true);

    private string Dir(string name) => Directory.CreateDirectory(Path.Combine(_root.FullName, name)).FullName;

    private static string Spec(string kind, string device, string env, string common = "") =>
        $$$"""{"cdiVersion": "0.6.0", "kind": "{{{kind}}}", {{{common}}} "devices": [{"name": "{{{device}}}", "containerEdits": {"env": ["{{{env}}}"]}}]}""";

    private CdiCatalog Load(params string[] directories) => CdiCatalog.Load(directories, (path, problem) => _skipped.Add((path, problem)));

    [Fact]
    public void ABrokenFileIsSkippedAndReportedWhileTheOthersServe()
    {
        string etc = Dir("etc");
        File.WriteAllText(Path.Combine(etc, "a-broken.json"), """{"cdiVersion": """);
        File.WriteAllText(Path.Combine(etc, "b-good.yaml"), "cdiVersion: 0.6.0\nkind: vendor.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    env: [GPU=0]\n");
        File.WriteAllText(Path.Combine(etc, "c-ignored.txt"), "not a spec");

        var catalog = Load(etc, Path.Combine(_root.FullName, "missing"));

        Assert.Equal(["vendor.com/gpu=0"], catalog.DeviceNames);
        var (path, problem) = Assert.Single(_skipped);
        Assert.EndsWith("a-broken.json", path);
        Assert.Contains("cannot be parsed", problem);
    }

    [Fact]
    public void ALaterDirectoryWinsAndTwoFilesOfOneDirectoryMakeADeviceUnusable()
    {
        string etc = Dir("etc"), run = Dir("run");
        File.WriteAllText(Path.Combine(etc, "gpu.json"), Spec("vendor.com/gpu", "0", "FROM=etc"));
        File.WriteAllText(Path.Combine(run, "gpu.json"), Spec("vendor.com/gpu", "0", "FROM=run"));
        File.WriteAllText(Path.Combine(etc, "nic1.json"), Spec("vendor.com/nic", "eth0", "NIC=1"));
        File.WriteAllText(Path.Combine(etc, "nic2.json"), Spec("vendor.com/nic", "eth0", "NIC=2"));

        var catalog = Load(etc, run);

        Assert.Equal("FROM=run", Assert.Single(Assert.Single(catalog.Resolve(["vendor.com/gpu=0"])).Edits.Env!));
        var error = Assert.Throws<SpecException>(() => catalog.Resolve(["vendor.com/nic=eth0"]));
        Assert.Contains("CDI device vendor.com/nic=eth0 is defined in both", error.Message);
        Assert.Contains("nic1.json", error.Message);
    }

    [Fact]
    public void SpecEditsComeOnceBeforeTheFirstOfItsDevices()
    {
        string etc = Dir("etc");
        File.WriteAllText(Path.Combine(etc, "gpu.json"), """
            {"cdiVersion": "0.6.0", "kind": "vendor.com/gpu", "containerEdits": {"env": ["COMMON=1"]},
             "devices": [{"name": "0", "containerEdits": {"env": ["GPU=0"]}}, {"name": "1", "containerEdits": {"env": ["GPU=1"]}}]}
            """);

        var edits = Load(etc).Resolve(["vendor.com/gpu=1", "vendor.com/gpu=0"]);

        Assert.Equal(["COMMON=1", "GPU=1", "GPU=0"], edits.Select(edit => Assert.Single(edit.Edits.Env!)));
        Assert.StartsWith("CDI spec ", edits[0].Origin);
        Assert.StartsWith("CDI device vendor.com/gpu=1 (", edits[1].Origin);
    }

    [Fact]
    public void UnknownDevicesAreAllNamed()
    {
        string etc = Dir("etc");
        File.WriteAllText(Path.Combine(etc, "gpu.json"), Spec("vendor.com/gpu", "0", "GPU=0"));

        var error = Assert.Throws<SpecException>(() => Load(etc).Resolve(["vendor.com/gpu=0", "vendor.com/gpu=7", "other.com/x=y"]));

        Assert.Equal($"unresolvable CDI devices vendor.com/gpu=7, other.com/x=y: no valid spec file in {etc} defines them", error.Message);
    }

    [Fact]
    public void AnUnknownDeviceSaysWhichSpecFilesWereSkippedAndWhy()
    {
        string etc = Dir("etc");
        File.WriteAllText(Path.Combine(etc, "gpu.json"), """{"cdiVersion": "0.6.0", "kind": "vendor.com/gpu", "devices": [{"name": "0"}]}""");

        var error = Assert.Throws<SpecException>(() => Load(etc).Resolve(["vendor.com/gpu=0"]));

        var (path, problem) = Assert.Single(_skipped);
        Assert.StartsWith($"unresolvable CDI device vendor.com/gpu=0: no valid spec file in {etc} defines it; skipped as invalid: {path} (", error.Message);
        Assert.Contains(problem, error.Message);
    }
}

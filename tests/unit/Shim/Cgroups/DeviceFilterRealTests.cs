using System.Diagnostics;
using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;
using Berth.Shim.Cgroups.V2;

namespace Berth.Shim.Tests.Unit.Cgroups;

/// <summary>
/// The generated device filter in the real kernel: attached (as the shim attaches it on cgroup v2) to
/// a cgroup2 directory this test makes (the unified tree, or a hybrid node's cgroup2 tree, where BPF
/// device programs act whatever the v1 controllers do), with a shell this test starts moved into it.
/// The shell's own v1 devices cgroup allows everything, so what it is refused, the program refused.
/// Root only, on a node with a cgroup2 tree; the directory and the shells go even when a test fails.
/// </summary>
public sealed class DeviceFilterRealTests : IDisposable
{
    private readonly string? _cgroup2;
    private readonly List<string> _made = [];
    private readonly TestChildren _children = new();
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("berth-devtest-");

    public DeviceFilterRealTests()
    {
        if (geteuid() != 0)
        {
            return;
        }
        try
        {
            var layout = CgroupLayout.Detect(null);
            _cgroup2 = layout.Version == 2 ? layout.Root : layout.HybridUnified;
        }
        catch (NotSupportedException)
        {
            _cgroup2 = null;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    /// <summary>
    /// Runs <paramref name="script"/> in a shell that is moved into a new cgroup2 directory with the
    /// program of <paramref name="rules"/> (the spec's rules, to which runc's defaults are added) attached; its output.
    /// </summary>
    private string RunFiltered(IReadOnlyList<LinuxDeviceCgroup> rules, string script)
    {
        string directory = $"{_cgroup2}/berth-devtest-{Guid.NewGuid():N}"[..(_cgroup2!.Length + 26)];
        Directory.CreateDirectory(directory);
        _made.Add(directory);
        new V2Devices(directory).Apply(new LinuxResources { Devices = rules });

        var start = new ProcessStartInfo("/bin/busybox", ["sh", "-c", "read go; " + script])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = _scratch.FullName,
        };
        var shell = _children.Start(start);
        File.WriteAllText(directory + "/cgroup.procs", shell.Id.ToString());
        shell.StandardInput.WriteLine("go");
        string output = shell.StandardOutput.ReadToEnd();
        shell.StandardError.ReadToEnd();
        Assert.True(shell.WaitForExit(20_000));
        return output;
    }

    /// <summary>"NAME ok" or "NAME denied" for each open of a device node.</summary>
    private static string Try(string name, string command) => $"if ( {command} ) 2>/dev/null; then echo {name} ok; else echo {name} denied; fi; ";

    private static readonly LinuxDeviceCgroup s_denyAll = new() { Allow = false, Access = "rwm" };

    [Fact]
    public void DenyAllWithRuncsDefaultsLetsOnlyTheStandardNodesBeOpened()
    {
        if (_cgroup2 is null)
        {
            return;
        }
        string output = RunFiltered([s_denyAll],
            Try("null", ": < /dev/null") + Try("zero", "head -c1 /dev/zero >/dev/null") + Try("kmsg", ": < /dev/kmsg")
            + Try("mknod-block", "mknod loop0 b 7 0") + Try("open-block", ": < loop0"));
        Assert.Equal("null ok\nzero ok\nkmsg denied\nmknod-block ok\nopen-block denied\n", output);
    }

    [Fact]
    public void AnAllowedAccessIsAllowedAndTheRestOfTheSameDeviceIsNot()
    {
        if (_cgroup2 is null)
        {
            return;
        }
        // /dev/kmsg is c 1:11: read allowed, write not.
        string output = RunFiltered([s_denyAll, new() { Allow = true, Type = "c", Major = 1, Minor = 11, Access = "r" }],
            Try("kmsg-read", ": < /dev/kmsg") + Try("kmsg-write", ": >> /dev/kmsg"));
        Assert.Equal("kmsg-read ok\nkmsg-write denied\n", output);
    }

    /// <summary>
    /// A whole disk of this node, other than a loop device (major 7), that this test may open itself
    /// (some machines forbid their root disk even to root): "MAJOR MINOR".
    /// </summary>
    private static string HostDisk() => Directory.GetDirectories("/sys/dev/block")
        .Where(device => !File.Exists(device + "/partition") && !Path.GetFileName(device).StartsWith("7:", StringComparison.Ordinal))
        .First(device => CanOpen("/dev/" + File.ReadAllLines(device + "/uevent").First(line => line.StartsWith("DEVNAME=", StringComparison.Ordinal))[8..]))
        .Split('/')[^1]
        .Replace(':', ' ');

    private static bool CanOpen(string path)
    {
        try
        {
            File.OpenRead(path).Dispose();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [Fact]
    public void ABlockDeviceRuleWithAWildcardMinorAllowsEveryMinorOfItsMajorAndNoOtherDisk()
    {
        if (_cgroup2 is null)
        {
            return;
        }
        string script = $"mknod loop0 b 7 0; mknod loop1 b 7 1; mknod disk b {HostDisk()}; "
            + Try("loop0", ": < loop0") + Try("loop1", ": < loop1") + Try("disk", ": < disk");
        Assert.Equal("loop0 ok\nloop1 ok\ndisk denied\n", RunFiltered([s_denyAll, new() { Allow = true, Type = "b", Major = 7, Access = "rw" }], script));
        // The same disk opens where the program allows it: the refusal above is the program's.
        Assert.EndsWith("disk ok\n", RunFiltered([new() { Allow = true, Access = "rwm" }], script.Replace("mknod loop0 b 7 0; mknod loop1 b 7 1; ", "")
            .Replace("loop0", "x").Replace("loop1", "y")));
    }

    [Fact]
    public void ALaterDenyWinsAndAPrivilegedAllowAllAllowsEverything()
    {
        if (_cgroup2 is null)
        {
            return;
        }
        string output = RunFiltered(
            [s_denyAll, new() { Allow = true, Type = "c", Major = 1, Minor = 11, Access = "rw" }, new() { Allow = false, Type = "c", Major = 1, Minor = 11, Access = "w" }],
            Try("kmsg-read", ": < /dev/kmsg") + Try("kmsg-write", ": >> /dev/kmsg"));
        Assert.Equal("kmsg-read ok\nkmsg-write denied\n", output);
        Assert.Equal("kmsg ok\n", RunFiltered([new() { Allow = true, Access = "rwm" }], Try("kmsg", ": < /dev/kmsg")));
    }

    public void Dispose()
    {
        _children.Dispose();
        foreach (string directory in _made)
        {
            TestChildren.RemoveTree(directory);
        }
        _scratch.Delete(recursive: true);
    }
}

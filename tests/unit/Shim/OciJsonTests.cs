using System.Text;
using System.Text.Json.Nodes;
using Berth.Api.Shim;
using Berth.Api.Shim.Cgroups;
using Xunit;

namespace Berth.Shim.Tests.Unit;

public sealed class OciJsonTests
{
    // Shaped like the spec containerd's CRI plugin writes for a pod container.
    private const string Sample = """
    {
      "ociVersion": "1.1.0",
      "process": {
        "user": { "uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [1000, 10] },
        "args": ["/bin/sh", "-c", "echo hi"],
        "env": ["PATH=/usr/bin:/bin", "HOSTNAME=pod"],
        "cwd": "/work",
        "capabilities": {
          "bounding": ["CAP_CHOWN", "CAP_KILL"],
          "effective": ["CAP_CHOWN"],
          "permitted": ["CAP_CHOWN", "CAP_KILL"]
        },
        "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1024 }],
        "noNewPrivileges": true,
        "oomScoreAdj": -997,
        "apparmorProfile": "cri-containerd.apparmor.d"
      },
      "root": { "path": "rootfs", "readonly": true },
      "hostname": "pod",
      "mounts": [
        { "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] },
        { "destination": "/etc/hosts", "type": "bind", "source": "/var/lib/hosts", "options": ["rbind", "rprivate", "ro"] }
      ],
      "annotations": { "io.kubernetes.cri.container-type": "container" },
      "hooks": { "prestart": [] },
      "linux": {
        "resources": {
          "devices": [{ "allow": false, "access": "rwm" }, { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" }],
          "memory": { "limit": 104857600, "swap": 104857600, "disableOOMKiller": false },
          "cpu": { "shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0" },
          "pids": { "limit": 100 },
          "blockIO": { "weight": 500, "throttleReadIOPSDevice": [{ "major": 8, "minor": 0, "rate": 600 }] },
          "hugepageLimits": [{ "pageSize": "2MB", "limit": 0 }],
          "unified": { "memory.high": "max" }
        },
        "cgroupsPath": "kubepods/besteffort/pod1/abc",
        "namespaces": [{ "type": "pid" }, { "type": "network", "path": "/run/berth/ns/s1/net" }, { "type": "mount" }],
        "devices": [{ "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 }],
        "sysctl": { "net.ipv4.ip_forward": "1" },
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "rootfsPropagation": "rslave",
        "seccomp": {
          "defaultAction": "SCMP_ACT_ERRNO",
          "architectures": ["SCMP_ARCH_X86_64"],
          "syscalls": [{ "names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ" }] }]
        }
      }
    }
    """;

    [Fact]
    public void ParsesTheFieldsACriRuntimeNeeds()
    {
        OciSpec spec = OciJson.ParseSpec(Encoding.UTF8.GetBytes(Sample));
        Assert.Equal("1.1.0", spec.OciVersion);
        Assert.Equal(1000u, spec.Process!.User.Uid);
        Assert.Equal(18u, spec.Process.User.Umask);
        Assert.Equal([1000u, 10u], spec.Process.User.AdditionalGids!);
        Assert.Equal("/work", spec.Process.Cwd);
        Assert.Equal(["CAP_CHOWN", "CAP_KILL"], spec.Process.Capabilities!.Bounding!);
        Assert.Equal(1048576UL, spec.Process.Rlimits![0].Hard);
        Assert.True(spec.Process.NoNewPrivileges);
        Assert.Equal(-997, spec.Process.OomScoreAdj);
        Assert.True(spec.Root!.Readonly);
        Assert.Equal("bind", spec.Mounts![1].Type);
        LinuxConfig linux = spec.Linux!;
        Assert.Equal(104857600L, linux.Resources!.Memory!.Limit);
        Assert.False(linux.Resources.Memory.DisableOOMKiller);
        Assert.Equal(512UL, linux.Resources.Cpu!.Shares);
        Assert.Equal("0-1", linux.Resources.Cpu.Cpus);
        Assert.Equal(100, linux.Resources.Pids!.Limit);
        Assert.Equal((ushort)500, linux.Resources.BlockIO!.Weight);
        Assert.Equal(600UL, linux.Resources.BlockIO.ThrottleReadIOPSDevice![0].Rate);
        Assert.Equal("2MB", linux.Resources.HugepageLimits![0].PageSize);
        Assert.Equal("max", linux.Resources.Unified!["memory.high"]);
        Assert.Null(linux.Resources.Devices![0].Major);
        Assert.Equal(3L, linux.Resources.Devices[1].Minor);
        Assert.Equal("/run/berth/ns/s1/net", linux.Namespaces![1].Path);
        Assert.Equal(438u, linux.Devices![0].FileMode);
        Assert.Equal("1", linux.Sysctl!["net.ipv4.ip_forward"]);
        Assert.Equal("SCMP_ACT_ERRNO", linux.Seccomp!.DefaultAction);
        Assert.Equal("SCMP_CMP_EQ", linux.Seccomp.Syscalls![0].Args![0].Op);
    }

    [Fact]
    public void RoundTripKeepsSpecNamesAndOmitsNulls()
    {
        OciSpec spec = OciJson.ParseSpec(Encoding.UTF8.GetBytes(Sample));
        byte[] written = OciJson.Serialize(spec);
        JsonNode node = JsonNode.Parse(written)!;
        Assert.Equal(104857600L, (long)node["linux"]!["resources"]!["memory"]!["limit"]!);
        Assert.NotNull(node["linux"]!["resources"]!["memory"]!["disableOOMKiller"]);
        Assert.NotNull(node["linux"]!["resources"]!["blockIO"]!["throttleReadIOPSDevice"]);
        Assert.NotNull(node["linux"]!["cgroupsPath"]);
        Assert.NotNull(node["process"]!["oomScoreAdj"]);
        Assert.NotNull(node["process"]!["user"]!["additionalGids"]);
        // Absent in the input, so absent in the output.
        Assert.Null(node["linux"]!["resources"]!["memory"]!["reservation"]);
        Assert.Null(node["process"]!["selinuxLabel"]);
        Assert.Null(node["domainname"]);

        OciSpec again = OciJson.ParseSpec(written);
        Assert.Equal(spec.Linux!.Resources!.Cpu, again.Linux!.Resources!.Cpu);
        Assert.Equal(spec.Linux.Resources.Memory, again.Linux.Resources.Memory);
        Assert.Equal(spec.Process!.User.Uid, again.Process!.User.Uid);
        Assert.Equal(written, OciJson.Serialize(again));
    }

    [Fact]
    public void ResourcesRoundTrip()
    {
        var resources = new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 1 << 20, Swappiness = 0 },
            Cpu = new LinuxCpu { Quota = -1, Period = 100000 },
        };
        byte[] json = OciJson.Serialize(resources);
        Assert.Equal("""{"memory":{"limit":1048576,"swappiness":0},"cpu":{"quota":-1,"period":100000}}""", Encoding.UTF8.GetString(json));
        Assert.Equal(resources.Memory, OciJson.ParseResources(json).Memory);
    }

    [Fact]
    public void ShimOptionsAndExitRecordRoundTrip()
    {
        string dir = Directory.CreateTempSubdirectory("berth-opts-").FullName;
        try
        {
            var options = new ShimOptions
            {
                Kind = ShimKind.Sandbox,
                Id = "s1",
                SandboxId = "s1",
                NamespaceDir = "/run/berth/ns/s1",
                Rootfs = new RootfsLayers { LowerDirs = ["/l2", "/l1"], UpperDir = "/u", WorkDir = "/w" },
            };
            string path = Path.Combine(dir, BundleLayout.Options);
            ShimJson.WriteOptions(path, options);
            Assert.Contains("\"namespaceDir\"", File.ReadAllText(path));
            ShimOptions read = BundleFiles.ReadOptions(dir);
            Assert.Equal(options.Kind, read.Kind);
            Assert.Equal(["/l2", "/l1"], read.Rootfs!.LowerDirs);
            Assert.Null(read.CgroupMounts);

            // berthd's cgroup mounts ride along, and come back with their controllers (computed, not written).
            var mounts = CgroupMounts.Parse("""
                30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory
                31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
                """);
            ShimJson.WriteOptions(path, options with { CgroupMounts = mounts });
            Assert.DoesNotContain("\"controllers\"", File.ReadAllText(path));
            read = BundleFiles.ReadOptions(dir);
            Assert.Equal(mounts, read.CgroupMounts!, (a, b) => a.MountPoint == b.MountPoint && a.Device == b.Device && a.SuperOptions == b.SuperOptions);
            Assert.Equal(["cpu", "cpuacct"], read.CgroupMounts![1].Controllers);

            Assert.Null(ShimJson.TryReadExit(Path.Combine(dir, "missing.json")));
            AtomicFile.Write(Path.Combine(dir, "exit.json"), ShimJson.Serialize(new ExitRecord { Id = "c", ExitCode = 137, Reason = "OOMKilled" }));
            Assert.Equal("OOMKilled", ShimJson.TryReadExit(Path.Combine(dir, "exit.json"))!.Reason);
            Assert.Equal(2, Directory.GetFiles(dir).Length);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ExecSpecTakesTheSameProcessAndSeccompAsTheWholeSpec()
    {
        var bytes = Encoding.UTF8.GetBytes(Sample);
        var whole = OciJson.ParseSpec(bytes);
        var exec = OciJson.ParseExecSpec(bytes);
        Assert.Equal(
            System.Text.Json.JsonSerializer.Serialize(whole.Process, OciJsonContext.Default.OciProcess),
            System.Text.Json.JsonSerializer.Serialize(exec.Process, OciJsonContext.Default.OciProcess));
        Assert.Equal(
            System.Text.Json.JsonSerializer.Serialize(whole.Linux!.Seccomp, OciJsonContext.Default.LinuxSeccomp),
            System.Text.Json.JsonSerializer.Serialize(exec.Linux!.Seccomp, OciJsonContext.Default.LinuxSeccomp));
        Assert.Equal(["/bin/sh", "-c", "echo hi"], exec.Process!.Args!);
        Assert.Equal("SCMP_ACT_ERRNO", exec.Linux.Seccomp!.DefaultAction);
    }

    [Fact]
    public void ExecSpecOfASpecWithoutLinuxHasNoSeccomp() =>
        Assert.Null(OciJson.ParseExecSpec("""{ "process": { "args": ["true"] } }"""u8).Linux?.Seccomp);
}

using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// Who a container's process is and what it may do, seen from inside as a user would, against
/// containerd's behaviour: capabilities, supplementary groups under both policies, the identity
/// ContainerStatus reports, recursive read-only mounts, and what Status tells kubelet.
/// </summary>
public sealed class IdentityTests(SecurityImages images) : IClassFixture<SecurityImages>
{
    /// <summary>Docker's and containerd's default set as a mask: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP.</summary>
    private const ulong DefaultCaps = 0x00000000a80425fb;

    private const int NetAdmin = 12, Chown = 0;

    /// <summary>The capability sets of the shell ExecSync runs, from its /proc/self/status.</summary>
    private static async Task<Dictionary<string, ulong>> CapsAsync(BerthDaemon berth, string id)
    {
        string status = await berth.ShellAsync(id, "grep ^Cap /proc/self/status");
        return status.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(':'))
            .ToDictionary(fields => fields[0], fields => Convert.ToUInt64(fields[1].Trim(), 16));
    }

    /// <summary>What this machine lets a container have at most: the shim's own bounding set (this one lacks CAP_SYS_RESOURCE).</summary>
    private static ulong HostBounding() => Convert.ToUInt64(
        File.ReadAllLines("/proc/self/status").First(line => line.StartsWith("CapBnd:", StringComparison.Ordinal))[7..].Trim(), 16);

    private static ContainerConfig WithSecurity(PushedImage image, string name, Action<LinuxContainerSecurityContext> change)
    {
        var config = ContainerConfig(image, name, "sleep", "300");
        config.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext() };
        change(config.Linux.SecurityContext);
        return config;
    }

    [Fact]
    public Task CapabilitiesAreContainerdsDefaultAddDropAllAmbientAndANonRootUserEndsWithNone() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        async Task<Dictionary<string, ulong>> Run(string name, Action<LinuxContainerSecurityContext> change)
        {
            var id = await berth.CreateContainerAsync(podId, pod, WithSecurity(images.Image, name, change));
            await berth.StartContainerAsync(id);
            return await CapsAsync(berth, id);
        }

        var plain = await Run("plain", _ => { });
        Assert.Equal((DefaultCaps, DefaultCaps, DefaultCaps, 0ul, 0ul), (plain["CapEff"], plain["CapPrm"], plain["CapBnd"], plain["CapInh"], plain["CapAmb"]));

        var added = await Run("added", security => security.Capabilities = new Capability { AddCapabilities = { "NET_ADMIN" }, DropCapabilities = { "CHOWN" } });
        Assert.Equal((DefaultCaps | 1ul << NetAdmin) & ~(1ul << Chown), added["CapEff"]);

        var all = await Run("all", security => security.Capabilities = new Capability { AddCapabilities = { "ALL" }, DropCapabilities = { "NET_RAW" } });
        Assert.Equal(HostBounding() & ~(1ul << 13), all["CapEff"]);

        var none = await Run("none", security => security.Capabilities = new Capability { DropCapabilities = { "ALL" }, AddCapabilities = { "NET_BIND_SERVICE" } });
        Assert.Equal((1ul << 10, 1ul << 10), (none["CapEff"], none["CapBnd"]));

        // Ambient capabilities asked for are ambient and inheritable, and held beside the default set
        // (containerd's WithAmbientCapabilities; SecurityFaultTests checks a non-root user keeps them).
        var ambient = await Run("ambient", security => security.Capabilities = new Capability { AddAmbientCapabilities = { "NET_ADMIN" } });
        Assert.Equal((1ul << NetAdmin, 1ul << NetAdmin, DefaultCaps | 1ul << NetAdmin), (ambient["CapAmb"], ambient["CapInh"], ambient["CapEff"]));

        // A non-root user keeps the bounding set, but execve leaves it no effective or permitted capability.
        var user = await Run("user", security =>
        {
            security.RunAsUser = new Int64Value { Value = 1000 };
            security.Capabilities = new Capability { AddCapabilities = { "NET_ADMIN" } };
        });
        Assert.Equal((0ul, 0ul, DefaultCaps | 1ul << NetAdmin), (user["CapEff"], user["CapPrm"], user["CapBnd"]));
    });

    [Fact]
    public Task StrictGivesOnlyTheRequestedGroupsMergeAddsTheImagesAndContainerStatusUserIsWhatIdSays() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        async Task<(string Id, string Groups)> Run(string name, SupplementalGroupsPolicy policy)
        {
            var config = WithSecurity(images.Image, name, security =>
            {
                // uid 1000 is "app" in the image, primary group 1000, listed in "extra" (50000).
                security.RunAsUser = new Int64Value { Value = 1000 };
                security.SupplementalGroups.Add(3000);
                security.SupplementalGroupsPolicy = policy;
            });
            var id = await berth.CreateContainerAsync(podId, pod, config);
            await berth.StartContainerAsync(id);
            return (id, (await berth.ShellAsync(id, "id -G")).Trim());
        }

        var (strict, strictGroups) = await Run("strict", SupplementalGroupsPolicy.Strict);
        Assert.Equal("1000 3000", strictGroups);
        var (merge, mergeGroups) = await Run("merge", SupplementalGroupsPolicy.Merge);
        Assert.Equal("1000 3000 50000", mergeGroups);

        foreach (string id in new[] { strict, merge })
        {
            var user = (await berth.ContainerStatusAsync(id)).User.Linux;
            string seen = await berth.ShellAsync(id, "echo $(id -u) $(id -g) $(id -G)");
            Assert.Equal(seen.Trim(), $"{user.Uid} {user.Gid} {string.Join(' ', user.SupplementalGroups)}");
        }

        // An explicit group, and root with the image's default.
        var grouped = await berth.CreateContainerAsync(podId, pod, WithSecurity(images.Image, "grouped", security =>
        {
            security.RunAsUser = new Int64Value { Value = 4242 };
            security.RunAsGroup = new Int64Value { Value = 4343 };
        }));
        await berth.StartContainerAsync(grouped);
        var linux = (await berth.ContainerStatusAsync(grouped)).User.Linux;
        Assert.Equal((4242L, 4343L), (linux.Uid, linux.Gid));
        Assert.Equal([4343L], linux.SupplementalGroups);
        Assert.Equal("uid=4242 gid=4343 groups=4343", (await berth.ShellAsync(grouped, "id")).Trim());
    });

    [Fact]
    public Task ARecursiveReadOnlyMountRefusesWritesInItsSubmountsWherePlainReadOnlyDoesNot() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        string volume = Path.Combine(berth.TemporaryDirectory, "volume");
        string submount = Path.Combine(volume, "sub");
        Directory.CreateDirectory(submount);
        LibC.MountTmpfs(submount);
        try
        {
            var rro = ContainerConfig(images.Image, "rro", "sleep", "300");
            rro.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = volume, Readonly = true, RecursiveReadOnly = true });
            var ro = ContainerConfig(images.Image, "ro", "sleep", "300");
            ro.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = volume, Readonly = true });
            var rroId = await berth.CreateContainerAsync(podId, pod, rro);
            var roId = await berth.CreateContainerAsync(podId, pod, ro);
            await berth.StartContainerAsync(rroId);
            await berth.StartContainerAsync(roId);

            Assert.Contains("touch: /data/sub/x: Read-only file system", await berth.ShellAsync(rroId, "touch /data/sub/x"));
            Assert.Contains("touch: /data/y: Read-only file system", await berth.ShellAsync(rroId, "touch /data/y"));
            // Plain read-only leaves the submount writable, which is why kubelet asks for recursive.
            Assert.Equal("", await berth.ShellAsync(roId, "touch /data/sub/z"));
            Assert.Contains("touch: /data/y: Read-only file system", await berth.ShellAsync(roId, "touch /data/y"));
            Assert.Equal(["z"], Directory.GetFiles(submount).Select(Path.GetFileName));
        }
        finally
        {
            LibC.UnmountDetached(submount);
        }
    });

    [Fact]
    public async Task StatusTellsKubeletTheFeaturesItChecksBeforeAdmittingAPod()
    {
        await using var berth = await BerthDaemon.StartAsync();
        var status = await berth.Runtime.StatusAsync(new StatusRequest());
        var handler = Assert.Single(status.RuntimeHandlers);
        Assert.Equal("", handler.Name);
        Assert.True(handler.Features.RecursiveReadOnlyMounts);
        Assert.False(handler.Features.UserNamespaces);
        Assert.True(status.Features.SupplementalGroupsPolicy);
    }
}

using System.Text;
using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;
using ProfileType = Berth.Api.Cri.SecurityProfile.Types.ProfileType;

namespace Berth.Tests.Unit.Specs;

/// <summary>Which seccomp filter, AppArmor profile and SELinux options a container gets, by containerd's rules and the node's.</summary>
public sealed class SecurityProfileTests
{
    private const string BlockChmod = """
        { "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO" } ] }
        """;

    private static readonly Dictionary<string, string> s_files = new()
    {
        ["/tmp/seccomp-tests/block-chmod.json"] = BlockChmod,
        ["/var/lib/kubelet/seccomp/profiles/block-chmod.json"] = BlockChmod,
        ["/var/lib/kubelet/seccomp/broken.json"] = "{ \"defaultAction\": ",
        ["/var/lib/kubelet/seccomp/notify.json"] = """{ "defaultAction": "SCMP_ACT_NOTIFY" }""",
        ["/var/lib/kubelet/seccomp/no-default.json"] = """{ "syscalls": [] }""",
        ["/var/lib/kubelet/seccomp/bad-arg.json"] =
            """{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [ { "index": 6, "value": 1, "op": "SCMP_CMP_EQ" } ] } ] }""",
    };

    private static readonly NodeSecurity s_node = NodeSecurity.Plain with
    {
        ReadSeccompProfile = path => s_files.TryGetValue(path, out var text) ? Encoding.UTF8.GetBytes(text) : null,
    };

    private static readonly NodeSecurity s_appArmorNode = s_node with
    {
        AppArmorEnabled = true,
        AppArmorProfileLoaded = name => name == "k8s-nginx",
    };

    private static OciSpec BuildWith(Action<LinuxContainerSecurityContext> change, NodeSecurity? node = null, bool privileged = false)
    {
        var container = Container();
        var pod = Pod();
        change(container.Linux.SecurityContext);
        if (privileged)
        {
            container.Linux.SecurityContext.Privileged = true;
            pod.Linux.SecurityContext.Privileged = true;
        }
        return Build(Input(container, pod, security: node ?? s_node));
    }

    private static SpecException RefusedWith(Action<LinuxContainerSecurityContext> change, NodeSecurity? node = null)
    {
        var container = Container();
        change(container.Linux.SecurityContext);
        return Refused(Input(container, security: node ?? s_node));
    }

    private static string Json(LinuxSeccomp profile) => System.Text.Json.JsonSerializer.Serialize(profile, OciJsonContext.Default.LinuxSeccomp);

    private static SecurityProfile Localhost(string reference) => new() { ProfileType = ProfileType.Localhost, LocalhostRef = reference };

    [Fact]
    public void NoSeccompProfileAskedForIsUnconfinedAsKubeletMeansIt()
    {
        Assert.Null(BuildWith(_ => { }).Linux!.Seccomp);
    }

    [Fact]
    public void RuntimeDefaultIsTheDefaultProfileForTheContainersCapabilities()
    {
        var seccomp = BuildWith(security => security.Seccomp = new SecurityProfile { ProfileType = ProfileType.RuntimeDefault }).Linux!.Seccomp!;

        Assert.Equal(Json(RuntimeDefaultSeccomp.For("x64", Capabilities.Default)), Json(seccomp));
        Assert.Equal("SCMP_ACT_ERRNO", seccomp.DefaultAction);
    }

    [Fact]
    public void RuntimeDefaultFollowsTheBoundingSetSoAnAddedSysAdminMayMount()
    {
        var spec = BuildWith(security =>
        {
            security.Seccomp = new SecurityProfile { ProfileType = ProfileType.RuntimeDefault };
            security.Capabilities = new Capability { AddCapabilities = { "SYS_ADMIN" } };
        });

        Assert.Contains(spec.Linux!.Seccomp!.Syscalls!, rule => rule.Names.Contains("mount") && rule.Action == "SCMP_ACT_ALLOW");
    }

    [Theory]
    [InlineData("runtime/default", true)]
    [InlineData("docker/default", true)]
    [InlineData("unconfined", false)]
    public void TheDeprecatedPathIsTheFallback(string path, bool filtered)
    {
#pragma warning disable CS0612
        var spec = BuildWith(security => security.SeccompProfilePath = path);
#pragma warning restore CS0612
        Assert.Equal(filtered, spec.Linux!.Seccomp is not null);
    }

    [Fact]
    public void UnconfinedHasNoFilter()
    {
        Assert.Null(BuildWith(security => security.Seccomp = new SecurityProfile { ProfileType = ProfileType.Unconfined }).Linux!.Seccomp);
    }

    [Fact]
    public void AnAbsoluteLocalhostRefIsReadAsItIsAsCritestAndKubeletSendIt()
    {
        var seccomp = BuildWith(security => security.Seccomp = Localhost("/tmp/seccomp-tests/block-chmod.json")).Linux!.Seccomp!;

        Assert.Equal("SCMP_ACT_ALLOW", seccomp.DefaultAction);
        Assert.Equal(["chmod", "fchmodat"], seccomp.Syscalls![0].Names);
        Assert.Equal("SCMP_ACT_ERRNO", seccomp.Syscalls[0].Action);
    }

    [Theory]
    [InlineData("profiles/block-chmod.json")]
    [InlineData("localhost/profiles/block-chmod.json")]
    [InlineData("profiles/../profiles/./block-chmod.json")]
    public void ARelativeLocalhostRefIsUnderTheProfileRoot(string reference)
    {
        Assert.NotNull(BuildWith(security => security.Seccomp = Localhost(reference)).Linux!.Seccomp);
    }

    [Fact]
    public void TheDeprecatedLocalhostPathIsUnderTheProfileRootToo()
    {
#pragma warning disable CS0612
        var spec = BuildWith(security => security.SeccompProfilePath = "localhost/profiles/block-chmod.json");
#pragma warning restore CS0612
        Assert.NotNull(spec.Linux!.Seccomp);
    }

    [Theory]
    [InlineData("missing.json", "/var/lib/kubelet/seccomp/missing.json does not exist")]
    [InlineData("broken.json", "/var/lib/kubelet/seccomp/broken.json is not an OCI seccomp profile")]
    [InlineData("notify.json", "/var/lib/kubelet/seccomp/notify.json: defaultAction SCMP_ACT_NOTIFY needs a seccomp agent")]
    [InlineData("no-default.json", "/var/lib/kubelet/seccomp/no-default.json: it has no defaultAction")]
    [InlineData("bad-arg.json", "/var/lib/kubelet/seccomp/bad-arg.json: syscalls[0] compares argument 6")]
    public void AMissingOrMalformedLocalhostProfileIsRefusedNamingItsFile(string reference, string expected)
    {
        Assert.Contains(expected, RefusedWith(security => security.Seccomp = Localhost(reference)).Message);
    }

    [Fact]
    public void LocalhostWithoutARefIsRefused()
    {
        Assert.Contains("no localhost_ref", RefusedWith(security => security.Seccomp = new SecurityProfile { ProfileType = ProfileType.Localhost }).Message);
    }

    [Fact]
    public void APrivilegedContainerHasNoFilterEvenWhenOneIsNamedAsContainerdAndCritestHaveIt()
    {
        var spec = BuildWith(security => security.Seccomp = Localhost("/tmp/seccomp-tests/block-chmod.json"), privileged: true);
        Assert.Null(spec.Linux!.Seccomp);
    }

    [Fact]
    public void WhereAppArmorIsOffRuntimeDefaultAndUnconfinedAreNothing()
    {
        Assert.Null(BuildWith(security => security.Apparmor = new SecurityProfile { ProfileType = ProfileType.RuntimeDefault }).Process!.ApparmorProfile);
        Assert.Null(BuildWith(security => security.Apparmor = new SecurityProfile { ProfileType = ProfileType.Unconfined }).Process!.ApparmorProfile);
    }

    [Fact]
    public void WhereAppArmorIsOffALocalhostProfileIsRefused()
    {
        Assert.Contains("AppArmor is not enabled on this node", RefusedWith(security => security.Apparmor = Localhost("k8s-nginx")).Message);
#pragma warning disable CS0612
        Assert.Contains("AppArmor is not enabled", RefusedWith(security => security.ApparmorProfile = "localhost/k8s-nginx").Message);
#pragma warning restore CS0612
    }

    [Fact]
    public void WhereAppArmorIsOnNothingAskedIsBerthsDefaultProfileButNotForAPrivilegedContainer()
    {
        Assert.Equal(SecurityProfiles.AppArmorDefaultName, BuildWith(_ => { }, s_appArmorNode).Process!.ApparmorProfile);
        Assert.Null(BuildWith(_ => { }, s_appArmorNode, privileged: true).Process!.ApparmorProfile);
        Assert.Null(BuildWith(security => security.Apparmor = new SecurityProfile { ProfileType = ProfileType.Unconfined }, s_appArmorNode)
            .Process!.ApparmorProfile);
    }

    [Fact]
    public void WhereAppArmorIsOnALocalhostProfileMustBeLoaded()
    {
        Assert.Equal("k8s-nginx", BuildWith(security => security.Apparmor = Localhost("localhost/k8s-nginx"), s_appArmorNode).Process!.ApparmorProfile);
        Assert.Contains("\"k8s-other\" is not loaded", RefusedWith(security => security.Apparmor = Localhost("k8s-other"), s_appArmorNode).Message);
    }

    [Fact]
    public void TheDefaultAppArmorProfileDeniesMountAndKernelTunablesAndNamesItself()
    {
        string text = AppArmorDefaultProfile.Text(hasTunables: false, hasBaseAbstraction: false);
        Assert.StartsWith("@{PROC}=/proc/", text);
        Assert.Contains($"profile {SecurityProfiles.AppArmorDefaultName} flags=(attach_disconnected,mediate_deleted) {{", text);
        Assert.Contains("  deny mount,\n", text);
        Assert.Contains("  deny @{PROC}/sysrq-trigger rwklx,\n", text);
        Assert.Contains("  deny /sys/kernel/security/** rwklx,\n", text);
        Assert.Contains($"  signal (send,receive) peer={SecurityProfiles.AppArmorDefaultName},\n", text);
        Assert.EndsWith("}\n", text);
        Assert.StartsWith("#include <tunables/global>", AppArmorDefaultProfile.Text(hasTunables: true, hasBaseAbstraction: true));
        Assert.Contains("  #include <abstractions/base>\n", AppArmorDefaultProfile.Text(hasTunables: true, hasBaseAbstraction: true));
    }

    [Theory]
    [InlineData(false, "SELinux is not enabled on this node")]
    [InlineData(true, "Berth does not apply SELinux labels")]
    public void SelinuxOptionsAreRefusedNotIgnored(bool selinux, string expected)
    {
        var node = s_node with { SelinuxEnabled = selinux };
        Assert.Contains(expected, RefusedWith(security => security.SelinuxOptions = new SELinuxOption { Level = "s0:c1,c2" }, node).Message);
        Assert.Null(BuildWith(security => security.SelinuxOptions = new SELinuxOption(), node).Process!.SelinuxLabel);
    }

    [Fact]
    public void APodWithSelinuxOptionsIsRefused()
    {
        var pod = Pod();
        pod.Linux.SecurityContext.SelinuxOptions = new SELinuxOption { Type = "spc_t" };
        var error = Assert.Throws<SpecException>(() => SandboxPlanner.Plan(new SandboxPlanInput(pod, SandboxId,
            new RuntimePaths("/var/lib/berth", "/run/berth"), new NodeFacts("node", "", ""), NodeSecurity.Plain)));
        Assert.Contains("the pod has selinux_options, but SELinux is not enabled", error.Message);
    }

    [Fact]
    public void APodsAppArmorProfileIsCheckedByTheContainersRules()
    {
        SandboxPlan Plan(SecurityProfile profile, NodeSecurity node)
        {
            var pod = Pod();
            pod.Linux.SecurityContext.Apparmor = profile;
            return SandboxPlanner.Plan(new SandboxPlanInput(pod, SandboxId,
                new RuntimePaths("/var/lib/berth", "/run/berth"), new NodeFacts("node", "", ""), node));
        }
        var localhost = new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "foo" };

        var error = Assert.Throws<SpecException>(() => Plan(localhost, NodeSecurity.Plain));
        Assert.Contains("apparmor profile \"foo\" cannot be applied: AppArmor is not enabled on this node", error.Message);
        Assert.Contains("is not loaded on this node", Assert.Throws<SpecException>(() => Plan(localhost, s_appArmorNode with { AppArmorProfileLoaded = _ => false })).Message);
        // What the node can apply is taken; it does not confine the reaper, which is Berth's own code.
        Assert.Null(Plan(new SecurityProfile { ProfileType = ProfileType.RuntimeDefault }, NodeSecurity.Plain).Spec.Process!.ApparmorProfile);
        Assert.Null(Plan(localhost, s_appArmorNode with { AppArmorProfileLoaded = _ => true }).Spec.Process!.ApparmorProfile);
    }

    private static OciSpec PlanPod(Action<LinuxSandboxSecurityContext> change)
    {
        var pod = Pod();
        change(pod.Linux.SecurityContext);
        return SandboxPlanner.Plan(new SandboxPlanInput(pod, SandboxId,
            new RuntimePaths("/var/lib/berth", "/run/berth"), new NodeFacts("node", "", ""), s_node)).Spec;
    }

    [Fact]
    public void APodsMissingLocalhostProfileIsRefusedAtRunPodSandbox()
    {
        var error = Assert.Throws<SpecException>(() => PlanPod(security =>
            security.Seccomp = new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "profiles/missing.json" }));
        Assert.Contains("/var/lib/kubelet/seccomp/profiles/missing.json does not exist", error.Message);
#pragma warning disable CS0612 // the deprecated field kubelet may still send
        Assert.Throws<SpecException>(() => PlanPod(security => security.SeccompProfilePath = "localhost/profiles/missing.json"));
        Assert.Throws<SpecException>(() => PlanPod(security => security.SeccompProfilePath = "nonsense"));
#pragma warning restore CS0612
    }

    [Fact]
    public void APodsSeccompProfileFiltersItsReaperAsContainerdsPauseContainer()
    {
        Assert.Null(PlanPod(_ => { }).Linux!.Seccomp);
        Assert.Null(PlanPod(security => security.Seccomp = new SecurityProfile { ProfileType = ProfileType.Unconfined }).Linux!.Seccomp);
        Assert.Equal("SCMP_ACT_ERRNO", PlanPod(security =>
            security.Seccomp = new SecurityProfile { ProfileType = ProfileType.RuntimeDefault }).Linux!.Seccomp!.DefaultAction);
        var local = PlanPod(security =>
            security.Seccomp = new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "profiles/block-chmod.json" }).Linux!.Seccomp!;
        Assert.Equal("SCMP_ACT_ALLOW", local.DefaultAction);
        Assert.Null(PlanPod(security =>
        {
            security.Privileged = true;
            security.Seccomp = new SecurityProfile { ProfileType = ProfileType.RuntimeDefault };
        }).Linux!.Seccomp);
    }
}

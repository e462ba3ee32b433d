using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Pods.PodTestSupport;
using ProfileType = Berth.Api.Cri.SecurityProfile.Types.ProfileType;

namespace Berth.Tests.E2e.Pods;

/// <summary>Seccomp as a pod meets it: what a profile denies fails with EPERM inside the container, in its process and in ExecSync.</summary>
public sealed class SeccompTests(SecurityImages images) : IClassFixture<SecurityImages>
{
    /// <summary>Creating a user namespace needs no capability, so only a seccomp filter refuses it to a root container.</summary>
    private const string UnshareUser = "unshare -U true && echo unshare-ok || echo unshare-refused";

    private static ContainerConfig WithSeccomp(PushedImage image, string name, SecurityProfile? profile, params string[] command)
    {
        var config = ContainerConfig(image, name, command);
        config.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { Seccomp = profile } };
        return config;
    }

    [Fact]
    public Task RuntimeDefaultDeniesWhatDockersProfileDeniesWithEpermAndUnconfinedDoesNot() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        var filtered = await berth.CreateContainerAsync(podId, pod, WithSeccomp(images.Image, "filtered",
            new SecurityProfile { ProfileType = ProfileType.RuntimeDefault }, "sh", "-c", UnshareUser + "; exec sleep 300"));
        var open = await berth.CreateContainerAsync(podId, pod, WithSeccomp(images.Image, "open",
            new SecurityProfile { ProfileType = ProfileType.Unconfined }, "sh", "-c", UnshareUser + "; exec sleep 300"));
        await berth.StartContainerAsync(filtered);
        await berth.StartContainerAsync(open);

        // The container's own process (its log) and an ExecSync in it are both filtered.
        await EventuallyLogged(berth, pod, "filtered", "unshare-refused");
        await EventuallyLogged(berth, pod, "open", "unshare-ok");
        string exec = await berth.ShellAsync(filtered, "grep Seccomp: /proc/self/status; unshare -U true; " + UnshareUser);
        Assert.Matches(@"Seccomp:\s+2", exec);
        Assert.Contains("unshare: unshare(0x10000000): Operation not permitted", exec);
        Assert.Contains("unshare-refused", exec);
        Assert.Matches(@"Seccomp:\s+0", await berth.ShellAsync(open, "grep Seccomp: /proc/self/status"));
        Assert.Contains("unshare-ok", await berth.ShellAsync(open, UnshareUser));
        // Only the stages that load a filter map libseccomp; the long-lived monitor never does.
        Assert.DoesNotContain("libseccomp", File.ReadAllText($"/proc/{berth.ShimPid("containers", filtered)}/maps"));
    });

    [Fact]
    public async Task ALocalhostProfileUnderTheConfiguredRootDeniesMkdirAndAMissingOneIsInvalidArgumentNamingIt()
    {
        var profiles = Directory.CreateTempSubdirectory("berth-e2e-seccomp-");
        try
        {
            Directory.CreateDirectory(Path.Combine(profiles.FullName, "team"));
            File.WriteAllText(Path.Combine(profiles.FullName, "team", "no-mkdir.json"), """
                { "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
                  "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" } ] }
                """);
            File.WriteAllText(Path.Combine(profiles.FullName, "team", "deny-all.json"), """{ "defaultAction": "SCMP_ACT_ERRNO" }""");
            File.WriteAllText(Path.Combine(profiles.FullName, "team", "broken.json"),
                """{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["mkdir"], "action": "SCMP_ACT_BOGUS" } ] }""");
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(profiles.FullName, "team", "fifo.json")))
            {
                await mkfifo.WaitForExitAsync();
                Assert.Equal(0, mkfifo.ExitCode);
            }
            File.CreateSymbolicLink(Path.Combine(profiles.FullName, "team", "zero.json"), "/dev/zero");
            File.WriteAllText(Path.Combine(profiles.FullName, "team", "huge.json"), new string(' ', 2 << 20) + """{ "defaultAction": "SCMP_ACT_ALLOW" }""");
            await InPodAsync(images.Image, async (berth, pod, podId) =>
            {
                var id = await berth.CreateContainerAsync(podId, pod, WithSeccomp(images.Image, "no-mkdir",
                    new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "team/no-mkdir.json" }, "sleep", "300"));
                await berth.StartContainerAsync(id);
                string output = await berth.ShellAsync(id, "mkdir /tmp/made; echo rc=$?; touch /tmp/file && echo touch-ok");
                Assert.Contains("mkdir: can't create directory '/tmp/made': Operation not permitted", output);
                Assert.Contains("rc=1", output);
                Assert.Contains("touch-ok", output);

                var missing = WithSeccomp(images.Image, "missing", new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "team/nope.json" }, "true");
                var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, missing));
                Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
                Assert.Contains($"seccomp profile {profiles.FullName}/team/nope.json does not exist", error.Status.Detail);
                // A profile that blocks the set-up itself (the report to the shim included) is named as the cause.
                var denyAll = WithSeccomp(images.Image, "deny-all", new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "team/deny-all.json" }, "true");
                error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, denyAll));
                Assert.Contains("before it was ready: the container's seccomp profile blocks a system call its set-up needs", error.Status.Detail);
                var broken = WithSeccomp(images.Image, "broken", new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = "team/broken.json" }, "true");
                error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, broken));
                Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
                Assert.Contains("team/broken.json: syscalls[0] action \"SCMP_ACT_BOGUS\"", error.Status.Detail);
                // Files that would block the create (a FIFO), never end (/dev/zero), overrun the shim's deadline
                // (larger than berth reads) or lie outside the root are refused at once, naming them.
                foreach (var (name, expected) in new[]
                {
                    ("team/fifo.json", "is not a regular file"), ("team/zero.json", "is not a regular file"),
                    ("team/huge.json", "more than the 1048576 berth reads"), ("../outside.json", "must name a file inside seccompProfileRoot"),
                })
                {
                    var hostile = WithSeccomp(images.Image, "hostile", new SecurityProfile { ProfileType = ProfileType.Localhost, LocalhostRef = name }, "true");
                    error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, hostile));
                    Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
                    Assert.Contains(expected, error.Status.Detail);
                }
                Assert.Single((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
            }, new { seccompProfileRoot = profiles.FullName });
        }
        finally
        {
            profiles.Delete(recursive: true);
        }
    }

    [Fact]
    public Task WithNoNewPrivsTheFilterIsLoadedLastAndStillHoldsForANonRootUser() => InPodAsync(images.Image, async (berth, pod, podId) =>
    {
        var config = WithSeccomp(images.Image, "nnp", new SecurityProfile { ProfileType = ProfileType.RuntimeDefault }, "sleep", "300");
        config.Linux.SecurityContext.NoNewPrivs = true;
        config.Linux.SecurityContext.RunAsUser = new Int64Value { Value = 1000 };
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);
        string output = await berth.ShellAsync(id, "grep -E '^(Seccomp|NoNewPrivs|Uid):' /proc/self/status; " + UnshareUser);
        Assert.Matches(@"Seccomp:\s+2", output);
        Assert.Matches(@"NoNewPrivs:\s+1", output);
        Assert.Matches(@"Uid:\s+1000\s+1000", output);
        Assert.Contains("unshare-refused", output);
    });

    private static async Task EventuallyLogged(BerthDaemon berth, PodSandboxConfig pod, string name, string text)
    {
        string path = Path.Combine(pod.LogDirectory, $"{name}.log");
        for (int attempt = 0; attempt < 100; attempt++)
        {
            if (File.Exists(path) && File.ReadAllText(path).Contains(text, StringComparison.Ordinal))
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"{name}'s log does not say {text}: {(File.Exists(path) ? File.ReadAllText(path) : "(no log)")}\n{berth.OutputTail()}");
    }
}

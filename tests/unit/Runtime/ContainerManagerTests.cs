using Berth.Api.Cri;
using Berth.Core.Errors;
using Berth.RuntimeService.Runtime;
using Berth.Tests.Unit.Fakes;
using ContainerStatus = Berth.RuntimeService.Runtime.ProcessStatus;

namespace Berth.Tests.Unit.Runtime;

public sealed class ContainerManagerTests : IDisposable
{
    private readonly MiddleLayer _layer = new();

    public void Dispose() => _layer.Dispose();

    [Theory]
    [InlineData(ContainerStatus.Creating, ContainerStatus.Created, true)]
    [InlineData(ContainerStatus.Created, ContainerStatus.Running, true)]
    [InlineData(ContainerStatus.Running, ContainerStatus.Exited, true)]
    [InlineData(ContainerStatus.Created, ContainerStatus.Exited, true)]
    [InlineData(ContainerStatus.Exited, ContainerStatus.Running, false)]
    [InlineData(ContainerStatus.Running, ContainerStatus.Created, false)]
    [InlineData(ContainerStatus.Exited, ContainerStatus.Exited, false)]
    [InlineData(ContainerStatus.Running, ContainerStatus.Running, false)]
    public void StateMovesOnlyForward(ContainerStatus from, ContainerStatus to, bool allowed) =>
        Assert.Equal(allowed, Berth.RuntimeService.Containers.Container.Transitions.IsForward(from, to));

    [Fact]
    public void TheProcessIdentityOutlivesAnExitReportThatDoesNotCarryIt()
    {
        var container = new Berth.RuntimeService.Containers.Container(
            new Berth.RuntimeService.State.ContainerRecord("c", "p", "n", [], "i", "i", 0, "", "", 15, ""),
            new ContainerConfig(), new ShimTarget("c", "/bundle", "/socket"),
            new Berth.RuntimeService.Events.ContainerEvents(new Berth.RuntimeService.Pods.RuntimeRegistry(), new(16)));
        var user = new ProcessUser(1000, 1000, [1000, 5]);

        container.Advance(new ProcessState(ContainerStatus.Running, Pid: 7, User: user));
        // As the exit record a shim leaves behind reads: no identity in it.
        container.Advance(new ProcessState(ContainerStatus.Exited, Pid: 7, FinishedAt: 2, Reason: "Completed"));

        Assert.Equal(ContainerStatus.Exited, container.State.Status);
        Assert.Same(user, container.State.User);
    }

    [Fact]
    public async Task AnExitSeenBeforeTheStartReplyIsNeverUndoneByIt()
    {
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        // The process exits right after it starts; the watcher reports it before StartContainer's reply comes back.
        _layer.Runtime.BeforeStartReply = async target =>
        {
            _layer.Runtime[target.Id].Exit(0, "Completed");
            await MiddleLayer.EventuallyAsync(() => container.State.Status == ContainerStatus.Exited, "the watcher records the exit");
        };

        await _layer.Containers.StartAsync(container, CancellationToken.None);

        Assert.Equal(ContainerState.ContainerExited, container.CriState);
        Assert.Equal("Completed", container.State.Reason);
    }

    [Fact]
    public async Task ACreatedContainerRecordsWhatStatusAndStopNeedAndItsHostPathsExist()
    {
        var sandbox = await _layer.RunPodAsync();
        var config = MiddleLayer.ContainerConfig();
        config.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = "/srv/volumes/data" });

        var container = await _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None);

        Assert.Equal(ContainerStatus.Created, container.State.Status);
        Assert.Equal("registry.test/busybox@sha256:feed", container.Record.ImageRef);
        Assert.Equal(3, container.Record.StopSignal);
        Assert.Equal(Path.Combine(_layer.LogDirectory, "web", "app.log"), container.Record.LogPath);
        Assert.Equal($"/kubepods/podweb/{container.Id}", container.Record.CgroupPath);
        Assert.Equal(["/srv/volumes/data"], _layer.Node.EnsuredHostPaths);
        Assert.Equal(1, _layer.Images.Holds[container.Id]);
    }

    [Fact]
    public async Task ACdiDeviceAskedForByFieldOrAnnotationReachesTheBundlesSpec()
    {
        Directory.CreateDirectory(_layer.CdiDirectory);
        File.WriteAllText(Path.Combine(_layer.CdiDirectory, "vendor.yaml"), """
            cdiVersion: 0.6.0
            kind: vendor.test/dev
            devices:
            - name: one
              containerEdits:
                deviceNodes: [{path: /dev/vendor-one, hostPath: /dev/null}]
                env: [VENDOR_DEVICE=one]
            """);
        _layer.Node.Devices["/dev/null"] = Berth.RuntimeService.Specs.DeviceLookup.Found(new(1, 3, 'c', FileMode: 0x1B6));
        var sandbox = await _layer.RunPodAsync();
        var byField = MiddleLayer.ContainerConfig("by-field");
        byField.CDIDevices.Add(new CDIDevice { Name = "vendor.test/dev=one" });
        var byAnnotation = MiddleLayer.ContainerConfig("by-annotation");
        byAnnotation.Annotations.Add("cdi.k8s.io/vendor_one", "vendor.test/dev=one");

        foreach (var config in new[] { byField, byAnnotation })
        {
            var container = await _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None);
            var spec = Berth.Api.Shim.OciJson.ParseSpec(File.ReadAllBytes(Berth.Api.Shim.BundleLayout.ConfigPath(container.Shim.Bundle)));
            Assert.Contains(spec.Linux!.Devices!, device => device is { Path: "/dev/vendor-one", Type: "c", Major: 1, Minor: 3 });
            Assert.Contains("VENDOR_DEVICE=one", spec.Process!.Env!);
        }
    }

    [Fact]
    public async Task AnUnknownCdiDeviceIsInvalidArgumentNamingItAndLeavesNothing()
    {
        var sandbox = await _layer.RunPodAsync();
        var config = MiddleLayer.ContainerConfig();
        config.CDIDevices.Add(new CDIDevice { Name = "vendor.test/dev=absent" });

        var error = await Assert.ThrowsAsync<Berth.RuntimeService.Specs.SpecException>(() => _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.StartsWith("unresolvable CDI device vendor.test/dev=absent: no valid spec file in ", error.Message);
        Assert.Empty(_layer.Registry.Containers);
        Assert.Empty(_layer.Store.Containers());
    }

    [Fact]
    public async Task ACreateTheShimRefusesIsFailedPreconditionAndLeavesNothing()
    {
        var sandbox = await _layer.RunPodAsync();
        _layer.Runtime.CreateFailure = BerthException.FailedPrecondition("exec: \"sleep\": executable file not found in $PATH");

        var error = await Assert.ThrowsAsync<BerthException>(() => _layer.CreateAsync(sandbox));

        Assert.Equal(ErrorKind.FailedPrecondition, error.Kind);
        Assert.Matches("^container [0-9a-f]{64} could not be created: exec: \"sleep\": executable file not found", error.Message);
        Assert.Empty(_layer.Registry.Containers);
        Assert.Empty(_layer.Store.Containers());
        Assert.Empty(_layer.Images.Holds);
        Assert.DoesNotContain(_layer.LeftFiles(), file => file.Contains("/containers/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUnknownImageIsNotFoundAndAReusedNameIsAlreadyExists()
    {
        var sandbox = await _layer.RunPodAsync();
        var config = MiddleLayer.ContainerConfig();
        config.Image.Image = "nginx";
        Assert.Equal(ErrorKind.NotFound, (await Assert.ThrowsAsync<BerthException>(() =>
            _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None))).Kind);

        var first = await _layer.CreateAsync(sandbox);
        var again = await Assert.ThrowsAsync<BerthException>(() => _layer.CreateAsync(sandbox));
        Assert.Equal(ErrorKind.AlreadyExists, again.Kind);
        Assert.Contains(first.Id, again.Message);
    }

    [Fact]
    public async Task StartIsRefusedUnlessCreatedAndStopIsIdempotent()
    {
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        await _layer.Containers.StartAsync(container, CancellationToken.None);

        var twice = await Assert.ThrowsAsync<BerthException>(() => _layer.Containers.StartAsync(container, CancellationToken.None));
        Assert.Equal(ErrorKind.FailedPrecondition, twice.Kind);

        await _layer.Containers.StopAsync(container, TimeSpan.FromSeconds(5));
        Assert.Equal(ContainerStatus.Exited, container.State.Status);
        Assert.Equal(128 + 3, container.State.ExitCode);
        await _layer.Containers.StopAsync(container, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task AContainerWhoseShimDiedIsReportedLostAndRemovesCleanly()
    {
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        await _layer.Containers.StartAsync(container, CancellationToken.None);

        _layer.Runtime[container.Id].Die();

        await MiddleLayer.EventuallyAsync(() => container.State.Status == ContainerStatus.Exited, "the watcher notices the shim's death");
        Assert.Equal("Unknown", container.State.Reason);
        Assert.Equal(255, container.State.ExitCode);
        await _layer.Containers.StopAsync(container, TimeSpan.FromSeconds(1));
        await _layer.Containers.RemoveAsync(container);
        Assert.Empty(_layer.Registry.Containers);
        Assert.DoesNotContain(container.Record.CgroupPath, _layer.Node.Cgroups);
        Assert.False(File.Exists(container.Shim.SocketPath));
    }

    [Fact]
    public async Task ExecSyncNeedsARunningContainerAndATimeoutIsDeadlineExceeded()
    {
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        var early = await Assert.ThrowsAsync<BerthException>(() => _layer.Containers.ExecSyncAsync(container, ["true"], 0, CancellationToken.None));
        Assert.Equal(ErrorKind.FailedPrecondition, early.Kind);
        await _layer.Containers.StartAsync(container, CancellationToken.None);

        Assert.Equal("out", System.Text.Encoding.UTF8.GetString((await _layer.Containers.ExecSyncAsync(container, ["echo"], 0, CancellationToken.None)).Stdout.Span));
        _layer.Runtime.ExecResult = new ExecSyncResult(137, default, default, TimedOut: true);
        var late = await Assert.ThrowsAsync<BerthException>(() => _layer.Containers.ExecSyncAsync(container, ["sleep", "9"], 1, CancellationToken.None));
        Assert.Equal(ErrorKind.DeadlineExceeded, late.Kind);
    }

    [Fact]
    public async Task UpdatesAndLogReopensGoToTheShimOnlyInTheirStates()
    {
        var sandbox = await _layer.RunPodAsync();
        var container = await _layer.CreateAsync(sandbox);
        await _layer.Containers.UpdateResourcesAsync(container, new LinuxContainerResources { CpuShares = 512 }, CancellationToken.None);
        Assert.Equal(512UL, _layer.Runtime[container.Id].Resources!.Cpu!.Shares);
        Assert.Equal(ErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<BerthException>(() =>
            _layer.Containers.ReopenLogAsync(container, CancellationToken.None))).Kind);

        await _layer.Containers.StartAsync(container, CancellationToken.None);
        await _layer.Containers.ReopenLogAsync(container, CancellationToken.None);
        Assert.Equal(1, _layer.Runtime[container.Id].LogReopened);
        await _layer.Containers.StopAsync(container, TimeSpan.Zero);
        Assert.Equal(ErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<BerthException>(() =>
            _layer.Containers.UpdateResourcesAsync(container, new LinuxContainerResources(), CancellationToken.None))).Kind);
    }

    [Fact]
    public async Task ALocalhostSeccompProfileIsReadFromTheNodeIntoTheSpecAndAMissingOneLeavesNothing()
    {
        var sandbox = await _layer.RunPodAsync();
        _layer.SeccompProfiles["/var/lib/kubelet/seccomp/audit.json"] = """{ "defaultAction": "SCMP_ACT_LOG" }"""u8.ToArray();
        var config = MiddleLayer.ContainerConfig();
        config.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext
            {
                Seccomp = new SecurityProfile { ProfileType = SecurityProfile.Types.ProfileType.Localhost, LocalhostRef = "audit.json" },
            },
        };

        var container = await _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None);

        var spec = Berth.Api.Shim.OciJson.ParseSpec(File.ReadAllBytes(Berth.Api.Shim.BundleLayout.ConfigPath(container.Shim.Bundle)));
        Assert.Equal("SCMP_ACT_LOG", spec.Linux!.Seccomp!.DefaultAction);

        config.Metadata.Name = "missing";
        config.Linux.SecurityContext.Seccomp.LocalhostRef = "gone.json";
        var error = await Assert.ThrowsAnyAsync<BerthException>(() => _layer.Containers.CreateAsync(sandbox.Id, config, CancellationToken.None));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("/var/lib/kubelet/seccomp/gone.json does not exist", error.Message);
        Assert.Single(_layer.Registry.Containers);
        Assert.Equal(0, _layer.Node.AppArmorDefaultLoads);
    }
}

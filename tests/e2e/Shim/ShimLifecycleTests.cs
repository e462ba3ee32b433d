using System.Text;
using Berth.Api.Shim;
using Xunit;

namespace Berth.Shim.Tests.E2e;

public sealed class ShimLifecycleTests : IDisposable
{
    private readonly ShimHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    private static List<(string Stream, string Tag, string Text)> ReadLog(string path) =>
        File.ReadAllLines(path).Select(line =>
        {
            string[] parts = line.Split(' ', 4);
            Assert.True(DateTimeOffset.TryParse(parts[0], out _), $"bad timestamp in '{line}'");
            return (parts[1], parts[2], parts.Length > 3 ? parts[3] : "");
        }).ToList();

    [Fact]
    public async Task SandboxPinsItsNamespacesAndCleansUp()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb1");
        StateResponse state = await sandbox.Client.CreateAsync();
        Assert.Equal(Status.Running, state.Status);
        Assert.True(state.Pid > 0);
        Assert.Equal("sb1", state.Id);

        string nsDir = sandbox.Options.NamespaceDir!;
        foreach (string name in new[] { "net", "ipc", "uts", "pid" })
        {
            string pinned = new FileInfo($"/proc/{state.Pid}/ns/{name}").LinkTarget!;
            Assert.Contains(Path.Combine(nsDir, name), ShimLeftovers.MountsUnder(_harness.Root));
            Assert.NotEqual(new FileInfo($"/proc/self/ns/{name}").LinkTarget, pinned);
        }
        // The reaper sits in the sandbox's cgroup, with its oom_score_adj clamped rather than refused.
        string memoryCgroup = $"/sys/fs/cgroup/memory/{_harness.CgroupParent}/sb1";
        Assert.Contains(state.Pid.ToString(), File.ReadAllLines(Path.Combine(memoryCgroup, "cgroup.procs")));

        await sandbox.Client.ShutdownAsync();
        Assert.True(sandbox.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Empty(ShimLeftovers.MountsUnder(_harness.Root));
        Assert.False(Directory.Exists(memoryCgroup));
        Assert.False(File.Exists(BundleLayout.SocketPath(sandbox.Bundle)));
        Assert.False(Directory.Exists($"/proc/{state.Pid}"));
        Assert.NotNull(ShimJson.TryReadExit(BundleLayout.ExitPath(sandbox.Bundle, sandbox.Options)));
    }

    [Fact]
    public async Task ContainerCreateWaitsStartRunsLogsAndExits()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb2");
        await sandbox.Client.CreateAsync();
        string script = "echo out-line; echo err-line >&2; hostname; echo $GREETING; cat /proc/self/status | grep NoNewPrivs; "
            + "ls /dev; cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; touch /proc/sys/x 2>/dev/null || echo sys-ro; exit 3";
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c2",
            _harness.ContainerSpec(sandbox, "c2", ["sh", "-c", script]));

        StateResponse created = await container.Client.CreateAsync();
        Assert.Equal(Status.Created, created.Status);
        Assert.True(created.Pid > 0);
        // Fully set up and blocked before exec: still our init stage, and its mounts invisible to the host.
        Assert.Contains("berth-shim", File.ReadAllText($"/proc/{created.Pid}/cmdline"));
        Assert.DoesNotContain(Path.Combine(container.Bundle, "rootfs"), ShimLeftovers.MountsUnder(_harness.Root));
        Assert.False(File.Exists(_harness.LogDir + "/c2.log") && new FileInfo(_harness.LogDir + "/c2.log").Length > 0);

        using ShimClient waiter = await container.ConnectAsync();
        Task<StateResponse> wait = waiter.WaitAsync();
        StateResponse started = await container.Client.StartAsync();
        Assert.Equal(Status.Running, started.Status);
        StateResponse exited = await wait.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(Status.Exited, exited.Status);
        Assert.Equal(3, exited.ExitCode);
        Assert.Equal("Error", exited.Reason);
        Assert.True(exited.FinishedAt >= exited.StartedAt && exited.StartedAt >= exited.CreatedAt && exited.CreatedAt > 0);

        var log = ReadLog(Path.Combine(_harness.LogDir, "c2.log"));
        Assert.Contains(("stdout", "F", "out-line"), log);
        Assert.Contains(("stderr", "F", "err-line"), log);
        Assert.Contains(("stdout", "F", "pod-host"), log);
        Assert.Contains(("stdout", "F", "hello from env"), log);
        Assert.Contains(("stdout", "F", "NoNewPrivs:\t1"), log);
        // Masked: a file reads as /dev/null, a directory as an empty tmpfs.
        Assert.True(log.Count(e => e == ("stdout", "F", "0")) == 2, string.Join("\n", log));
        Assert.Contains(("stdout", "F", "sys-ro"), log);
        foreach (string node in new[] { "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "fd", "stdin", "stdout", "stderr", "shm", "mqueue" })
        {
            Assert.Contains(("stdout", "F", node), log);
        }

        ExitRecord record = ShimJson.TryReadExit(BundleLayout.ExitPath(container.Bundle, container.Options))!;
        Assert.Equal(3, record.ExitCode);
        Assert.Equal(exited.FinishedAt, record.FinishedAt);

        await container.Client.ShutdownAsync();
        Assert.True(container.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/memory/{_harness.CgroupParent}/sb2/c2"));
    }

    [Fact]
    public async Task CreateFailsWithTheInitStagesMessage()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb3");
        await sandbox.Client.CreateAsync();
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c3",
            _harness.ContainerSpec(sandbox, "c3", ["no-such-program", "x"]));
        var error = await Assert.ThrowsAsync<ShimException>(() => container.Client.CreateAsync());
        Assert.Equal(ErrorCode.CreateFailed, error.Code);
        Assert.Contains("no-such-program", error.Message);
        Assert.Contains("not found", error.Message);
        StateResponse state = await container.Client.StateAsync();
        Assert.Equal(Status.Exited, state.Status);
        await container.Client.ShutdownAsync();
        Assert.False(Directory.Exists($"/sys/fs/cgroup/memory/{_harness.CgroupParent}/sb3/c3"));
    }

    /// <summary>
    /// Every OCI hook kind, where runc runs it: createRuntime in the shim's (the host's) mount namespace and
    /// createContainer in the container's, both before pivot_root; startContainer inside the container's root just
    /// before exec; poststart after the start; poststop at Shutdown. A hook past its timeout fails the Create.
    /// </summary>
    [Fact]
    public async Task HooksRunInOrderInTheirNamespacesAndATimedOutOneFailsTheCreate()
    {
        string log = Path.Combine(_harness.Root, "hooks.log");
        OciHook HostHook(string name) => new()
        {
            Path = "/bin/sh",
            Args = ["sh", "-c", $"state=$(cat); echo \"{name} $(readlink /proc/self/ns/mnt) $state\" >> {log}"],
            Env = ["PATH=/usr/bin:/bin"],
        };
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb14");
        await sandbox.Client.CreateAsync();
        OciSpec spec = _harness.ContainerSpec(sandbox, "c14", ["sh", "-c", "cat /start-hook"]) with
        {
            Hooks = new OciHooks
            {
                CreateRuntime = [HostHook("createRuntime")],
                CreateContainer = [HostHook("createContainer")],
                // Resolved in the container's root, and run as the container's process just before its exec.
                StartContainer = [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", "cat > /start-hook"], Timeout = 5 }],
                Poststart = [HostHook("poststart")],
                Poststop = [HostHook("poststop")],
            },
        };
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c14", spec);
        StateResponse created = await container.Client.CreateAsync();
        using ShimClient waiter = await container.ConnectAsync();
        Task<StateResponse> wait = waiter.WaitAsync();
        await container.Client.StartAsync();
        Assert.Equal(0, (await wait.WaitAsync(TimeSpan.FromSeconds(20))).ExitCode);
        await container.Client.ShutdownAsync();
        Assert.True(container.Process.WaitForExit(TimeSpan.FromSeconds(10)));

        string hostMounts = new FileInfo("/proc/self/ns/mnt").LinkTarget!;
        string[] lines = File.ReadAllLines(log);
        Assert.Equal(["createRuntime", "createContainer", "poststart", "poststop"], lines.Select(line => line.Split(' ')[0]));
        Assert.Equal(hostMounts, lines[0].Split(' ')[1]);
        Assert.NotEqual(hostMounts, lines[1].Split(' ')[1]);
        Assert.Equal(hostMounts, lines[2].Split(' ')[1]);
        Assert.Contains("\"id\":\"c14\",\"status\":\"creating\"", lines[0]);
        Assert.Contains($"\"pid\":{created.Pid}", lines[0]);
        Assert.Contains("\"status\":\"running\"", lines[2]);
        Assert.Contains("\"status\":\"stopped\"", lines[3]);
        Assert.DoesNotContain("\"pid\"", lines[3]);
        // The startContainer hook's state went into the container's root, and the container read it there.
        var output = ReadLog(Path.Combine(_harness.LogDir, "c14.log"));
        Assert.Contains(output, entry => entry.Text.Contains("\"id\":\"c14\",\"status\":\"created\""));

        ShimInstance slow = await _harness.StartContainerAsync(sandbox, "c15", _harness.ContainerSpec(sandbox, "c15", ["true"]) with
        {
            Hooks = new OciHooks { CreateRuntime = [new OciHook { Path = "/bin/sleep", Args = ["sleep", "30"], Timeout = 1 }] },
        });
        var error = await Assert.ThrowsAsync<ShimException>(() => slow.Client.CreateAsync());
        Assert.Equal(ErrorCode.CreateFailed, error.Code);
        Assert.Equal("createRuntime hook /bin/sleep did not finish within 1 s and was killed (no output)", error.Message);
        await slow.Client.ShutdownAsync();
        Assert.True(slow.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/memory/{_harness.CgroupParent}/sb14/c15"));
        await sandbox.Client.ShutdownAsync();
    }

    [Fact]
    public async Task AMountOverALinkToTheRootIsRefusedInOurWords()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb9");
        await sandbox.Client.CreateAsync();
        OciSpec spec = _harness.ContainerSpec(sandbox, "c9", ["true"]);
        spec = spec with { Mounts = [.. spec.Mounts!, new OciMount { Destination = "/hostroot", Type = "bind", Source = _harness.Root, Options = ["rbind"] }] };
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c9", spec);
        // The image has /hostroot -> /, so the mount would cover the container's whole root with a host directory.
        Directory.CreateDirectory(container.Options.Rootfs!.UpperDir);
        File.CreateSymbolicLink(Path.Combine(container.Options.Rootfs.UpperDir, "hostroot"), "/");
        var error = await Assert.ThrowsAsync<ShimException>(() => container.Client.CreateAsync());
        Assert.Equal(ErrorCode.CreateFailed, error.Code);
        Assert.Equal("mount destination /hostroot resolves to the container's root directory", error.Message);
        await container.Client.ShutdownAsync();
        Assert.True(container.Process.WaitForExit(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task ABrokenBundleIsReportedInOurWords()
    {
        ShimInstance broken = await _harness.StartWithRawConfigAsync("c10", "{\"process\": {\"args\": \"sh\"}}");
        var error = await Assert.ThrowsAsync<ShimException>(() => broken.Client.CreateAsync());
        Assert.Equal(ErrorCode.InvalidArgument, error.Code);
        Assert.Equal($"reading the bundle {broken.Bundle}: {broken.Bundle}/config.json: not valid JSON, or a value of the wrong type at $.process.args (line 1, byte 25)",
            error.Message);
        await broken.Client.ShutdownAsync();
        Assert.True(broken.Process.WaitForExit(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task ExecSyncRunsInTheContainer()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb4");
        await sandbox.Client.CreateAsync();
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c4",
            _harness.ContainerSpec(sandbox, "c4", ["sh", "-c", "echo ready > /tmp/marker; exec sleep 1000"]));
        await container.Client.CreateAsync();
        await container.Client.StartAsync();

        ExecSyncResponse echo = await container.Client.ExecSyncAsync(new ExecSyncRequest { Args = { "sh", "-c", "cat /tmp/marker; echo oops >&2; hostname" }, TimeoutMs = 10_000 });
        Assert.Equal(0, echo.ExitCode);
        Assert.Equal("ready\npod-host\n", echo.Stdout.ToStringUtf8());
        Assert.Equal("oops\n", echo.Stderr.ToStringUtf8());
        Assert.False(echo.TimedOut);

        ExecSyncResponse code = await container.Client.ExecSyncAsync(new ExecSyncRequest { Args = { "sh", "-c", "exit 7" } });
        Assert.Equal(7, code.ExitCode);

        ExecSyncResponse user = await container.Client.ExecSyncAsync(new ExecSyncRequest { Args = { "id" }, Uid = 65534, Gid = 65534 });
        Assert.StartsWith("uid=65534", user.Stdout.ToStringUtf8());

        ExecSyncResponse capped = await container.Client.ExecSyncAsync(new ExecSyncRequest { Args = { "sh", "-c", "yes | head -c 100000" }, OutputLimit = 1000 });
        Assert.Equal(1000, capped.Stdout.Length);
        Assert.True(capped.StdoutTruncated);

        var started = DateTime.UtcNow;
        ExecSyncResponse slow = await container.Client.ExecSyncAsync(new ExecSyncRequest { Args = { "sleep", "30" }, TimeoutMs = 500 });
        Assert.True(slow.TimedOut);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));

        var missing = await Assert.ThrowsAsync<ShimException>(() => container.Client.ExecSyncAsync(new ExecSyncRequest { Args = { "nope" } }));
        Assert.Equal(ErrorCode.ExecFailed, missing.Code);
        Assert.Contains("nope", missing.Message);

        // Concurrent probes.
        var many = Enumerable.Range(0, 4).Select(async i =>
        {
            using ShimClient client = await container.ConnectAsync();
            return await client.ExecSyncAsync(new ExecSyncRequest { Args = { "echo", i.ToString() }, TimeoutMs = 10_000 });
        }).ToList();
        var results = await Task.WhenAll(many);
        Assert.Equal(["0\n", "1\n", "2\n", "3\n"], results.Select(r => r.Stdout.ToStringUtf8()));

        // Still running after all that; kill it.
        Assert.Equal(Status.Running, (await container.Client.StateAsync()).Status);
        await container.Client.KillAsync(9);
        StateResponse exited = await (await container.ConnectAsync()).WaitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(137, exited.ExitCode);
        Assert.Equal("Error", exited.Reason);
        await Assert.ThrowsAsync<ShimException>(() => container.Client.ExecSyncAsync(new ExecSyncRequest { Args = { "true" } }));
    }

    [Fact]
    public async Task MemoryLimitOomKillIsReported()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb5");
        await sandbox.Client.CreateAsync();
        var resources = new LinuxResources { Memory = new LinuxMemory { Limit = 16 << 20, Swap = 16 << 20 } };
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c5",
            _harness.ContainerSpec(sandbox, "c5", ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], resources, sharePid: false));
        await container.Client.CreateAsync();
        Assert.Equal("16777216", File.ReadAllText($"/sys/fs/cgroup/memory/{_harness.CgroupParent}/sb5/c5/memory.limit_in_bytes").Trim());
        await container.Client.StartAsync();
        StateResponse exited = await container.Client.WaitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(137, exited.ExitCode);
        Assert.Equal("OOMKilled", exited.Reason);
        Assert.Equal("OOMKilled", ShimJson.TryReadExit(BundleLayout.ExitPath(container.Bundle, container.Options))!.Reason);
    }

    [Fact]
    public async Task UpdateKillAndShutdown()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb6");
        await sandbox.Client.CreateAsync();
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c6",
            _harness.ContainerSpec(sandbox, "c6", ["sh", "-c", "trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done"], sharePid: false));
        StateResponse created = await container.Client.CreateAsync();
        await container.Client.StartAsync();

        await container.Client.UpdateResourcesAsync(new LinuxResources { Memory = new LinuxMemory { Limit = 64 << 20 }, Cpu = new LinuxCpu { Shares = 256, Quota = 20000, Period = 100000 }, Pids = new LinuxPids { Limit = 50 } });
        string cg = $"{_harness.CgroupParent}/sb6/c6";
        Assert.Equal("67108864", File.ReadAllText($"/sys/fs/cgroup/memory/{cg}/memory.limit_in_bytes").Trim());
        Assert.Equal("256", File.ReadAllText($"/sys/fs/cgroup/cpu/{cg}/cpu.shares").Trim());
        Assert.Equal("20000", File.ReadAllText($"/sys/fs/cgroup/cpu/{cg}/cpu.cfs_quota_us").Trim());
        Assert.Equal("50", File.ReadAllText($"/sys/fs/cgroup/pids/{cg}/pids.max").Trim());

        await Task.Delay(300);
        await container.Client.KillAsync(15);
        StateResponse exited = await container.Client.WaitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, exited.ExitCode);
        Assert.Equal("Completed", exited.Reason);
        Assert.Contains(("stdout", "F", "got-term"), ReadLog(Path.Combine(_harness.LogDir, "c6.log")));

        await container.Client.ShutdownAsync();
        Assert.True(container.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Empty(ShimLeftovers.CgroupsUnder(cg));
        Assert.False(Directory.Exists($"/proc/{created.Pid}"));
    }

    [Fact]
    public async Task ShutdownKillsARunningContainerAndBurstOutputIsComplete()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb7");
        await sandbox.Client.CreateAsync();
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c7",
            _harness.ContainerSpec(sandbox, "c7", ["sh", "-c", "seq 1 200000; exec sleep 1000"]));
        await container.Client.CreateAsync();
        await container.Client.StartAsync();
        string logPath = Path.Combine(_harness.LogDir, "c7.log");
        for (int i = 0; i < 200 && (!File.Exists(logPath) || !File.ReadAllText(logPath).Contains(" F 200000\n")); i++)
        {
            await Task.Delay(50);
        }
        var log = ReadLog(logPath);
        Assert.Equal(200000, log.Count);
        Assert.Equal(Enumerable.Range(1, 200000).Select(i => i.ToString()), log.Select(e => e.Text));

        await container.Client.ReopenLogAsync();
        await container.Client.ShutdownAsync();
        Assert.True(container.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(137, ShimJson.TryReadExit(BundleLayout.ExitPath(container.Bundle, container.Options))!.ExitCode);
        Assert.Empty(ShimLeftovers.CgroupsUnder($"{_harness.CgroupParent}/sb7/c7"));
    }

    [Fact]
    public async Task TtyOutputIsLoggedAsStdout()
    {
        ShimInstance sandbox = await _harness.StartSandboxAsync("sb8");
        await sandbox.Client.CreateAsync();
        OciSpec spec = _harness.ContainerSpec(sandbox, "c8", ["sh", "-c", "test -t 1 && echo is-a-tty; echo to-stderr >&2"]);
        spec = spec with { Process = spec.Process! with { Terminal = true } };
        ShimInstance container = await _harness.StartContainerAsync(sandbox, "c8", spec, tty: true);
        await container.Client.CreateAsync();
        await container.Client.StartAsync();
        StateResponse exited = await container.Client.WaitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, exited.ExitCode);
        var log = ReadLog(Path.Combine(_harness.LogDir, "c8.log"));
        Assert.Contains(("stdout", "F", "is-a-tty"), log);
        Assert.Contains(("stdout", "F", "to-stderr"), log);
        Assert.DoesNotContain(log, e => e.Stream == "stderr");
        Assert.True(Encoding.UTF8.GetByteCount(File.ReadAllText(Path.Combine(_harness.LogDir, "c8.log"))) > 0);
    }
}

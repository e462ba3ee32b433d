using System.Diagnostics;
using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;

namespace Berth.Tests.E2e.Daemon;

/// <summary>
/// berthd as a node service: what <c>make install</c> puts where, the unit as systemd-analyze reads it, and the
/// installed unit started by a real systemd (Type=notify: started only once the CRI socket serves).
/// </summary>
public sealed class ServiceTests
{
    /// <summary>Where the built programs are: BERTH_BIN's folder, else out/.</summary>
    private static string Out => Path.GetDirectoryName(BerthDaemon.ProgramPath())!;

    [Fact]
    public async Task MakeInstallPutsAVerifiedUnitAndUninstallTakesItAway()
    {
        var prefix = Directory.CreateTempSubdirectory("berth-e2e-install-");
        try
        {
            string[] where = [$"OUT={Out}", $"PREFIX={prefix.FullName}/usr", $"SYSTEMDUNITDIR={prefix.FullName}/units", $"SYSCONFDIR={prefix.FullName}/etc"];
            await RunAsync("make", ["-C", BerthDaemon.RepositoryRoot(), "install", .. where]);
            foreach (string file in new[] { "usr/bin/berthd", "usr/bin/berth-shim", "units/berthd.service", "etc/berth/config.json" })
            {
                Assert.True(File.Exists(Path.Combine(prefix.FullName, file)), file);
            }
            string unit = File.ReadAllText(Path.Combine(prefix.FullName, "units/berthd.service"));
            Assert.Contains($"ExecStart={prefix.FullName}/usr/bin/berthd\n", unit);
            foreach (string line in new[] { "Type=notify", "Delegate=yes", "KillMode=process", "LimitNOFILE=", "OOMScoreAdjust=" })
            {
                Assert.Contains(line, unit);
            }
            // Any complaint (an unknown key or value, a missing program) is written to stderr, even when the exit code is 0.
            var (_, complaints) = await RunAsync("systemd-analyze", ["verify", Path.Combine(prefix.FullName, "units/berthd.service")]);
            Assert.Equal("", complaints);
            // The commented default config is one berthd accepts.
            var (_, dryRun) = await RunAsync(Path.Combine(prefix.FullName, "usr/bin/berthd"),
                ["--config", Path.Combine(prefix.FullName, "etc/berth/config.json"), "--listen", "relative"], expectFailure: true);
            Assert.Contains("listen: 'relative' must be unix://", dryRun);

            await RunAsync("make", ["-C", BerthDaemon.RepositoryRoot(), "uninstall", .. where]);
            Assert.Empty(Directory.EnumerateFiles(prefix.FullName, "*", SearchOption.AllDirectories));
        }
        finally
        {
            prefix.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TheInstalledUnitStartsBerthdUnderSystemdAndCrictlsCallsWork()
    {
        await using var systemd = await TestSystemd.StartAsync();
        var staging = Directory.CreateTempSubdirectory("berth-e2e-destdir-");
        try
        {
            await RunAsync("make", ["-C", BerthDaemon.RepositoryRoot(), "install", $"OUT={Out}", $"DESTDIR={staging.FullName}"]);
            File.Copy(Path.Combine(staging.FullName, "etc/systemd/system/berthd.service"), Path.Combine(systemd.UnitDirectory, "berthd.service"));
            // This machine withholds CAP_SYS_RESOURCE, without which no process may lower an oom_score_adj (the unit's
            // -999 would fail the start with status 214/OOM_ADJUST): a drop-in keeps the value it has, as an operator would.
            Directory.CreateDirectory(Path.Combine(systemd.UnitDirectory, "berthd.service.d"));
            File.WriteAllText(Path.Combine(systemd.UnitDirectory, "berthd.service.d", "oom.conf"), "[Service]\nOOMScoreAdjust=0\n");
            Directory.CreateDirectory(Path.Combine(staging.FullName, "var-lib-berth"));
            // The installed tree, as it would be on the node, inside systemd's mount namespace only.
            foreach (var (source, target) in new[] { ("usr/local/bin", "/usr/local/bin"), ("etc/berth", "/etc/berth"), ("var-lib-berth", "/var/lib/berth") })
            {
                await systemd.RunAsync("mkdir", "-p", target);
                await systemd.RunAsync("mount", "--bind", Path.Combine(staging.FullName, source), target);
            }
            await systemd.RunAsync("systemctl", "daemon-reload");
            // Type=notify: start returns once berthd said READY=1, so the socket answers at once.
            await systemd.RunAsync("systemctl", "start", "berthd.service");
            Assert.True(await systemd.PropertyAsync("berthd.service", "ActiveState") == "active",
                await systemd.RunAsync("systemctl", "status", "--no-pager", "berthd.service"));
            Assert.Equal("notify", await systemd.PropertyAsync("berthd.service", "Type"));
            Assert.StartsWith("serving CRI on unix:///run/berth/berth.sock", await systemd.PropertyAsync("berthd.service", "StatusText"));

            using var channel = BerthDaemon.CreateChannel(systemd.HostPath("/run/berth/berth.sock"));
            var runtime = new RuntimeService.RuntimeServiceClient(channel);
            Assert.Equal("berth", (await runtime.VersionAsync(new VersionRequest { Version = "v1" })).RuntimeName);
            Assert.Equal(CgroupDriver.Cgroupfs, (await runtime.RuntimeConfigAsync(new RuntimeConfigRequest())).Linux.CgroupDriver);

            await systemd.RunAsync("systemctl", "stop", "berthd.service");
            Assert.Equal("inactive", await systemd.PropertyAsync("berthd.service", "ActiveState"));
        }
        finally
        {
            staging.Delete(recursive: true);
        }
    }

    private static async Task<(string Output, string Errors)> RunAsync(string program, string[] arguments, bool expectFailure = false)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(expectFailure ? process.ExitCode != 0 : process.ExitCode == 0,
            $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await output}{await errors}");
        return (await output, await errors);
    }
}

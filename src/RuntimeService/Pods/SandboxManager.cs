using Berth.Api.Shim;
using Berth.ImageService;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Shims;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Google.Protobuf;
using Grpc.Core;
using ShimStatus = Berth.Api.Shim.Status;
using Status = Grpc.Core.Status;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Pods;

/// <summary>
/// Runs, stops and removes pod sandboxes. A sandbox needs no pause image: its shim runs a built-in
/// reaper in the pod's new network, IPC and UTS namespaces (and PID, when the pod shares one) and pins
/// them under the state directory, where the pod's containers join them.
/// </summary>
public sealed class SandboxManager(
    PodStore store, RuntimeRegistry registry, RuntimePaths paths, ShimLauncher launcher, ContainerManager containers,
    ILogger<SandboxManager> logger)
{
    private const string ShmSize = "size=65536k,mode=1777";

    public async Task<Sandbox> RunAsync(Cri.PodSandboxConfig config, string runtimeHandler, CancellationToken daemonStopping)
    {
        var metadata = config.Metadata;
        if (metadata is null || string.IsNullOrEmpty(metadata.Name) || string.IsNullOrEmpty(metadata.Namespace) || string.IsNullOrEmpty(metadata.Uid))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "sandbox config metadata needs a name, a namespace and a uid"));
        }
        if (!string.IsNullOrEmpty(runtimeHandler))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"runtime handler '{runtimeHandler}' is not configured; berth has only the default handler"));
        }
        var id = Identifiers.New();
        var podCgroup = SandboxSpecBuilder.PodCgroupPath(config, id);
        var record = new SandboxRecord(
            Id: id,
            Name: $"{metadata.Name}_{metadata.Namespace}_{metadata.Uid}_{metadata.Attempt}",
            Config: config.ToByteArray(),
            CreatedAt: Identifiers.NowNanoseconds(),
            CgroupPath: podCgroup,
            RuntimeHandler: runtimeHandler,
            // kubelet makes and removes its pod cgroups; one that does not exist yet is ours to remove.
            OwnsCgroupParent: !CgroupCleanup.Directories(podCgroup).Any(Directory.Exists));
        if (store.TryAdd(record) is { } existing)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"pod sandbox name {record.Name} is reserved for {existing}"));
        }
        var sandbox = new Sandbox(record, config, paths);
        registry.Add(sandbox);
        try
        {
            await SetUpAsync(sandbox, daemonStopping);
        }
        catch
        {
            await RemoveAsync(sandbox);
            throw;
        }
        logger.LogInformation("Pod sandbox {Id} ({Name}) is ready", sandbox.Id, record.Name);
        return sandbox;
    }

    private async Task SetUpAsync(Sandbox sandbox, CancellationToken ct)
    {
        Directory.CreateDirectory(sandbox.Bundle);
        Directory.CreateDirectory(sandbox.NamespaceDir);
        var hostname = sandbox.HostNetwork ? Environment.MachineName : sandbox.Config.Hostname;
        File.WriteAllText(sandbox.HostnamePath, hostname + "\n");
        File.WriteAllText(sandbox.HostsPath, SandboxSpecBuilder.HostsFile(sandbox.Config, hostname));
        if (SandboxSpecBuilder.ResolvConf(sandbox.Config.DnsConfig) is { } resolvConf)
        {
            File.WriteAllText(sandbox.ResolvConfPath, resolvConf);
        }
        else
        {
            File.Copy("/etc/resolv.conf", sandbox.ResolvConfPath, overwrite: true);
        }
        Directory.CreateDirectory(sandbox.ShmPath);
        if (!sandbox.HostIpc)
        {
            Interop.Sys.Mount("shm", sandbox.ShmPath, "tmpfs", Interop.Sys.MS_NOSUID | Interop.Sys.MS_NODEV | Interop.Sys.MS_NOEXEC, ShmSize);
        }

        var spec = SandboxSpecBuilder.Build(new SandboxSpecInput(sandbox.Config, sandbox.Id, sandbox.ReaperCgroupPath, Files(sandbox)));
        OciJson.WriteSpec(BundleLayout.ConfigPath(sandbox.Bundle), spec);
        ShimJson.WriteOptions(BundleLayout.OptionsPath(sandbox.Bundle), new ShimOptions
        {
            Kind = ShimKind.Sandbox,
            Id = sandbox.Id,
            SandboxId = sandbox.Id,
            NamespaceDir = sandbox.NamespaceDir,
            SharePidNamespace = sandbox.SharedPidNamespace,
            SocketPath = sandbox.SocketPath,
        });
        sandbox.Shim = await launcher.StartAsync(sandbox.Bundle, sandbox.SocketPath, ct);
        var state = await sandbox.Shim.CreateAsync(ct);
        sandbox.ReaperPid = state.Pid;
        sandbox.Ready = true;
    }

    public static SandboxFiles Files(Sandbox sandbox) =>
        new(sandbox.NamespaceDir, sandbox.HostsPath, sandbox.ResolvConfPath, sandbox.HostnamePath, sandbox.ShmPath);

    /// <summary>
    /// Kills what still runs in the pod, stops the reaper and releases the pod's namespaces. Idempotent.
    /// kubelet has already stopped each container with its own grace period, so anything left is
    /// killed at once, as containerd does.
    /// </summary>
    public async Task StopAsync(Sandbox sandbox)
    {
        await Task.WhenAll(registry.ContainersOf(sandbox.Id).Select(container => containers.StopAsync(container, TimeSpan.Zero)));
        await sandbox.Lock.WaitAsync();
        try
        {
            sandbox.Ready = false;
            sandbox.Shim ??= await ShimLauncher.TryConnectAsync(sandbox.SocketPath, CancellationToken.None);
            if (sandbox.Shim is { } shim)
            {
                try
                {
                    await shim.ShutdownAsync();
                }
                catch (ShimUnavailableException)
                {
                    // It exited between the connect and the call: what it leaves is cleaned below.
                }
                shim.Dispose();
                sandbox.Shim = null;
            }
            foreach (var pin in Directory.Exists(sandbox.NamespaceDir) ? Directory.EnumerateFiles(sandbox.NamespaceDir) : [])
            {
                Interop.Sys.Unmount(pin, Interop.Sys.MNT_DETACH);
                File.Delete(pin);
            }
            await CgroupCleanup.KillAndRemoveAsync(sandbox.ReaperCgroupPath);
            Interop.Sys.Unmount(sandbox.ShmPath, Interop.Sys.MNT_DETACH);
        }
        finally
        {
            sandbox.Lock.Release();
        }
    }

    /// <summary>Stops the sandbox, removes its containers and every trace of it on the node. Idempotent.</summary>
    public async Task RemoveAsync(Sandbox sandbox)
    {
        await StopAsync(sandbox);
        await Task.WhenAll(registry.ContainersOf(sandbox.Id).ToList().Select(containers.RemoveAsync));
        await sandbox.Lock.WaitAsync();
        try
        {
            DeleteDirectory(sandbox.Bundle);
            DeleteDirectory(sandbox.NamespaceDir);
            if (sandbox.Record.OwnsCgroupParent)
            {
                await CgroupCleanup.KillAndRemoveAsync(sandbox.Record.CgroupPath);
            }
            store.RemoveSandbox(sandbox.Id);
            registry.Remove(sandbox);
        }
        finally
        {
            sandbox.Lock.Release();
        }
        logger.LogInformation("Pod sandbox {Id} removed", sandbox.Id);
    }

    /// <summary>After a daemon restart: a sandbox is ready when its shim still answers and its reaper runs.</summary>
    public async Task RecoverAsync(SandboxRecord record)
    {
        var sandbox = new Sandbox(record, Cri.PodSandboxConfig.Parser.ParseFrom(record.Config), paths);
        registry.Add(sandbox);
        if (await ShimLauncher.TryConnectAsync(sandbox.SocketPath, CancellationToken.None) is { } shim)
        {
            try
            {
                var state = await shim.StateAsync();
                sandbox.Shim = shim;
                sandbox.ReaperPid = state.Pid;
                sandbox.Ready = state.Status == ShimStatus.Running;
            }
            catch (ShimException error)
            {
                logger.LogWarning("Pod sandbox {Id}: its shim did not answer State: {Error}", sandbox.Id, error.Message);
                shim.Dispose();
            }
        }
    }

    private static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}

using System.Buffers;
using System.Diagnostics;
using System.Text;
using Berth.Api.Shim.Cgroups;
using Berth.Core.Errors;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.Stats;

namespace Berth.RuntimeService.Node;

/// <summary><see cref="INodeOperations"/> on this node's kernel, cgroup file systems and /dev.</summary>
public sealed class NodeOperations : INodeOperations
{
    private const ulong TmpfsFlags = Interop.Sys.MS_NOSUID | Interop.Sys.MS_NODEV | Interop.Sys.MS_NOEXEC;
    private const int DrainAttempts = 50;

    private readonly Lazy<List<CgroupMount>> _cgroupMounts = new(() => Berth.Api.Shim.Cgroups.CgroupMounts.Parse(File.ReadAllText(Berth.Api.Shim.Cgroups.CgroupMounts.MountInfo)));
    private readonly Lazy<CgroupLayout> _cgroups;
    private readonly object _appArmorGate = new();
    private bool _appArmorLoaded;
    private readonly Lazy<CgroupUsageReader> _usage;

    public NodeOperations()
    {
        _cgroups = new(() => CgroupLayout.Detect(null, _cgroupMounts.Value));
        _usage = new(() => new CgroupUsageReader(_cgroups.Value));
    }

    public IReadOnlyList<CgroupMount> CgroupMounts => _cgroupMounts.Value;

    public void MountTmpfs(string path, string options)
    {
        try
        {
            Interop.Sys.Mount("shm", path, "tmpfs", TmpfsFlags, options);
        }
        catch (ErrnoException error)
        {
            throw BerthException.Internal($"mounting a tmpfs on {path}: {error.Message}", error);
        }
    }

    public void UnmountAll(string path)
    {
        try
        {
            while (Interop.Sys.Unmount(path, Interop.Sys.MNT_DETACH))
            {
            }
        }
        catch (ErrnoException error)
        {
            throw BerthException.Internal($"unmounting {path}: {error.Message}", error);
        }
    }

    public bool CgroupExists(string cgroupPath) => Directories(cgroupPath).Any(Directory.Exists);

    public bool CgroupIsEmpty(string cgroupPath) => Directories(cgroupPath).Where(Directory.Exists).All(directory =>
        !Directory.EnumerateDirectories(directory).Any() && File.ReadAllText(Path.Combine(directory, "cgroup.procs")).Trim().Length == 0);

    public async Task KillCgroupAsync(string cgroupPath)
    {
        foreach (string directory in Directories(cgroupPath).Where(Directory.Exists))
        {
            var tree = Directory.EnumerateDirectories(directory, "*", SearchOption.AllDirectories)
                .OrderByDescending(path => path.Length)
                .Append(directory)
                .ToList();
            foreach (string cgroup in tree)
            {
                await KillAndRemoveAsync(cgroup);
            }
        }
    }

    public bool TryRemoveEmptyCgroup(string cgroupPath)
    {
        bool gone = true;
        foreach (string directory in Directories(cgroupPath))
        {
            // EBUSY or ENOTEMPTY: it still holds a process or another pod's cgroup; ENOENT: already gone.
            gone &= Interop.Sys.TryRmDir(directory) is 0 or Interop.Errno.ENOENT;
        }
        return gone;
    }

    public DeviceLookup LookUpDevice(string hostPath)
    {
        Interop.FileStatus? status;
        try
        {
            status = Interop.Sys.TryStat(hostPath);
        }
        catch (ErrnoException error)
        {
            throw BerthException.FailedPrecondition($"device {hostPath}: {error.Message}", error);
        }
        return status switch
        {
            null => DeviceLookup.Missing,
            { Type: Interop.FileType.CharacterDevice or Interop.FileType.BlockDevice } device => DeviceLookup.Found(DeviceOf(device)),
            _ => DeviceLookup.NotADevice,
        };
    }

    public IReadOnlyList<HostDevice> HostDevices()
    {
        var devices = new List<HostDevice>();
        AddHostDevices("/dev", devices);
        return devices;
    }

    private static void AddHostDevices(string directory, List<HostDevice> devices)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget is not null)
            {
                continue;
            }
            if (entry is DirectoryInfo)
            {
                if (!ContainerDevices.SkippedHostDirectories.Contains(entry.Name))
                {
                    AddHostDevices(entry.FullName, devices);
                }
                continue;
            }
            // Not a link (skipped above), so stat sees the node itself; one that went away meanwhile is skipped, as containerd skips it.
            if (Interop.Sys.TryStat(entry.FullName) is not { Type: Interop.FileType.CharacterDevice or Interop.FileType.BlockDevice } node)
            {
                continue;
            }
            var number = DeviceOf(node);
            if (ContainerDevices.IsHostDevice(directory, entry.Name, number.Type))
            {
                devices.Add(new HostDevice(entry.FullName, number));
            }
        }
    }

    /// <summary>A character or block device node's numbers, type ('c' or 'b'), mode bits and owner.</summary>
    private static DeviceNumber DeviceOf(Interop.FileStatus node) => new(
        node.RDeviceMajor, node.RDeviceMinor, node.Type == Interop.FileType.CharacterDevice ? 'c' : 'b',
        (uint)node.Permissions, node.Uid, node.Gid);

    public void EnsureHostPath(string hostPath)
    {
        if (Path.Exists(hostPath))
        {
            return;
        }
        try
        {
            // mkdir -p with mkdir(2) itself, so a failure reads as errno's words naming the level that failed.
            foreach (string level in SpecPaths.Levels(hostPath))
            {
                Interop.Sys.MkDir(level, 0b111_101_101);
            }
        }
        catch (ErrnoException error)
        {
            throw BerthException.FailedPrecondition($"the mount source {hostPath} does not exist and could not be created: {error.Message}", error);
        }
    }

    public (string ResolvedPath, SourceMount? Mount) FindSourceMount(string hostPath)
    {
        string resolved;
        try
        {
            resolved = RealPath(Path.GetFullPath(hostPath));
        }
        catch (IOException error)
        {
            throw BerthException.FailedPrecondition($"mount source {hostPath} cannot be resolved: {error.Message}", error);
        }
        return (resolved, MountInfo.Of(File.ReadAllText("/proc/self/mountinfo"), resolved));
    }

    /// <summary>realpath(3) of an absolute path: each level's symbolic link followed, from the root down.</summary>
    private static string RealPath(string path)
    {
        string real = "/";
        foreach (string level in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(real, level);
            real = new FileInfo(next).ResolveLinkTarget(returnFinalTarget: true) is { } target ? RealPath(target.FullName) : next;
        }
        return real;
    }

    public System.Net.Sockets.Socket CreateTcpSocket(string? networkNamespace, System.Net.Sockets.AddressFamily family)
    {
        bool ipv6 = family == System.Net.Sockets.AddressFamily.InterNetworkV6;
        if (networkNamespace is null)
        {
            return new System.Net.Sockets.Socket(family, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        }
        int fd = -1;
        OnThreadOfItsOwn("netns socket", () =>
        {
            EnterNetworkNamespace(networkNamespace);
            fd = Interop.Sys.TcpSocket(ipv6);
        }, failure => BerthException.FailedPrecondition($"opening a socket in the pod's network namespace {networkNamespace}: {failure.Message}", failure));
        return new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle(fd, ownsHandle: true));
    }

    public void CreateNetworkNamespace(string pinPath)
    {
        OnThreadOfItsOwn("netns create", () =>
        {
            Interop.Sys.Unshare(Interop.Sys.CLONE_NEWNET);
            Interop.Sys.InterfaceUp("lo");
            Interop.Sys.Close(Interop.Sys.Open(pinPath, Interop.Sys.O_RDONLY | Interop.Sys.O_CREAT | Interop.Sys.O_EXCL | Interop.Sys.O_NOFOLLOW, 0b100_100_100));
            try
            {
                // thread-self: the namespace is this thread's alone, not the process's.
                Interop.Sys.Mount("/proc/thread-self/ns/net", pinPath, null, Interop.Sys.MS_BIND, null);
            }
            catch
            {
                File.Delete(pinPath);
                throw;
            }
        }, failure => BerthException.Internal($"creating the pod's network namespace at {pinPath}: {failure.Message}", failure));
    }

    public CgroupUsage? ReadCgroupUsage(string cgroupPath)
    {
        var reader = _usage.Value;
        // One reader, one buffer: a read takes microseconds, so callers take turns.
        lock (reader)
        {
            return reader.Read(cgroupPath);
        }
    }

    public IReadOnlyList<IReadOnlyList<InterfaceCounters>?> ReadInterfaceCounters(IReadOnlyList<PodNetworkNamespace> networkNamespaces)
    {
        var counters = new IReadOnlyList<InterfaceCounters>?[networkNamespaces.Count];
        var toEnter = new List<int>();
        for (int i = 0; i < networkNamespaces.Count; i++)
        {
            if (ReadThroughMember(networkNamespaces[i]) is { } read)
            {
                counters[i] = read;
            }
            else
            {
                toEnter.Add(i);
            }
        }
        if (toEnter.Count == 0)
        {
            return counters;
        }
        // /proc/thread-self/net is this thread's netns (/proc/net is the process's).
        OnThreadOfItsOwn("netns counters", () =>
        {
            foreach (int i in toEnter)
            {
                try
                {
                    EnterNetworkNamespace(networkNamespaces[i].Pin);
                    counters[i] = InterfaceCounters.ParseNetDev(File.ReadAllText("/proc/thread-self/net/dev"));
                }
                catch (Exception error) when (error is ErrnoException or IOException)
                {
                    counters[i] = null;
                }
            }
        }, failure => BerthException.Internal($"reading the pods' interface counters: {failure.Message}", failure));
        return counters;
    }

    /// <summary>
    /// The counters from /proc/PID/net/dev of the namespace's member (it shows the netns of that process),
    /// when /proc/PID/ns/net is the pinned namespace (same nsfs inode) before and after the read, so a pid
    /// reused by another process is never read; null when it is not, or the member is gone.
    /// </summary>
    private static IReadOnlyList<InterfaceCounters>? ReadThroughMember(PodNetworkNamespace netns)
    {
        if (netns.MemberPid <= 0)
        {
            return null;
        }
        string member = $"/proc/{netns.MemberPid}";
        string memberNetns = member + "/ns/net";
        // net/dev is a line per interface (about 130 bytes): a pod with more than a hundred is read by entering its netns.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(NetDevBytes);
        try
        {
            if (Interop.Sys.TryStat(netns.Pin) is not { } pinned || !SameFile(Interop.Sys.TryStat(memberNetns), pinned))
            {
                return null;
            }
            int read = CgroupText.Read(member + "/net/dev", buffer.AsSpan(0, NetDevBytes));
            return read > 0 && read < NetDevBytes && SameFile(Interop.Sys.TryStat(memberNetns), pinned)
                ? InterfaceCounters.ParseNetDev(Encoding.ASCII.GetString(buffer, 0, read))
                : null;
        }
        catch (ErrnoException)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private const int NetDevBytes = 16 * 1024;

    private static bool SameFile(Interop.FileStatus? status, Interop.FileStatus other) =>
        status is { } found && found.Device == other.Device && found.Inode == other.Inode;

    /// <summary>Moves the calling thread into the network namespace pinned at <paramref name="path"/>; ErrnoException when it cannot.</summary>
    private static void EnterNetworkNamespace(string path)
    {
        int ns = Interop.Sys.Open(path, Interop.Sys.O_RDONLY);
        try
        {
            Interop.Sys.SetNs(ns, Interop.Sys.CLONE_NEWNET, path);
        }
        finally
        {
            Interop.Sys.Close(ns);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> on a thread of its own that ends with it, never a pool thread:
    /// unshare(2) and setns(2) change only the calling thread's namespaces, and that thread must not
    /// run anything else afterwards. What it throws becomes <paramref name="describe"/>'s exception.
    /// </summary>
    private static void OnThreadOfItsOwn(string name, Action body, Func<Exception, BerthException> describe)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception error)
            {
                failure = error;
            }
        }, maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw describe(failure);
        }
    }

    public void EnsureAppArmorDefaultProfile()
    {
        lock (_appArmorGate)
        {
            if (_appArmorLoaded)
            {
                return;
            }
            string text = AppArmorDefaultProfile.Text(
                File.Exists("/etc/apparmor.d/tunables/global"), File.Exists("/etc/apparmor.d/abstractions/base"));
            string file = Path.Combine(Path.GetTempPath(), $"{SecurityProfiles.AppArmorDefaultName}-{Environment.ProcessId}.profile");
            try
            {
                File.WriteAllText(file, text);
                // -K: no cache; -r: replace a loaded profile of the same name (containerd loads it the same way).
                using var parser = Process.Start(new ProcessStartInfo("apparmor_parser", ["-Kr", file])
                {
                    RedirectStandardError = true,
                    UseShellExecute = false,
                }) ?? throw new InvalidOperationException("apparmor_parser did not start");
                string errors = parser.StandardError.ReadToEnd();
                parser.WaitForExit();
                if (parser.ExitCode != 0)
                {
                    throw new InvalidOperationException($"apparmor_parser exited with {parser.ExitCode}: {errors.Trim()}");
                }
                _appArmorLoaded = true;
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidOperationException
                or System.ComponentModel.Win32Exception)
            {
                throw BerthException.FailedPrecondition(
                    $"the AppArmor profile {SecurityProfiles.AppArmorDefaultName} could not be loaded: {error.Message}", error);
            }
            finally
            {
                File.Delete(file);
            }
        }
    }

    private IReadOnlyList<string> Directories(string cgroupPath) => _cgroups.Value.Directories(cgroupPath);

    private static async Task KillAndRemoveAsync(string cgroup)
    {
        string procs = Path.Combine(cgroup, "cgroup.procs");
        for (int attempt = 0; attempt < DrainAttempts; attempt++)
        {
            foreach (int pid in Processes(procs))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                }
                catch (Exception error) when (error is ArgumentException or InvalidOperationException)
                {
                    // Already gone.
                }
            }
            try
            {
                Directory.Delete(cgroup);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException)
            {
                // Busy while the killed processes are reaped.
                await Task.Delay(20);
            }
        }
        throw BerthException.Internal($"cgroup {cgroup} still holds processes after SIGKILL");
    }

    private static IEnumerable<int> Processes(string procs)
    {
        try
        {
            return File.ReadAllLines(procs).Where(line => line.Length > 0).Select(int.Parse).ToList();
        }
        catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
    }
}

using System.Globalization;
using System.Text;
using Berth.Api.Cri;
using Berth.Api.Shim;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The pod sandbox: the spec of the shim's built-in reaper, which creates and holds the pod's
/// namespaces (no pause image), and the contents of the per-pod files its containers share.
/// </summary>
public static class SandboxSpecBuilder
{
    /// <summary>containerd's defaultSandboxOOMAdj: the reaper is the last thing of the pod to kill.</summary>
    public const int SandboxOomScoreAdj = -998;

    /// <summary>containerd's DefaultSandboxCPUshares: the reaper needs next to no CPU.</summary>
    public const ulong SandboxCpuShares = 2;

    public static OciSpec Build(SandboxSpecInput input)
    {
        var config = input.Config;
        var namespaces = PodNamespaces.Of(config);
        var security = config.Linux?.SecurityContext;
        PodNamespaces.RefuseUserNamespace(security?.NamespaceOptions?.UsernsOptions, "the pod");
        if (namespaces.Pid == NamespaceMode.Target)
        {
            throw new SpecException("a pod's pid namespace mode cannot be TARGET");
        }
        return new OciSpec
        {
            Process = new OciProcess
            {
                User = SandboxUser(security),
                Cwd = "/",
                OomScoreAdj = SandboxOomScoreAdj,
            },
            Hostname = namespaces.HostNetwork || config.Hostname.Length == 0 ? null : RequireHostname(config.Hostname),
            Annotations = Annotations(input),
            Linux = new LinuxConfig
            {
                Namespaces = Namespaces(namespaces, input.Files.NamespaceDir),
                Sysctl = config.Linux is { } linux ? PodSysctls.Validate(linux.Sysctls, namespaces) : null,
                CgroupsPath = input.CgroupsPath,
                Resources = new LinuxResources { Cpu = new LinuxCpu { Shares = SandboxCpuShares } },
            },
        };
    }

    /// <summary>
    /// The /etc/hosts of a pod with a network namespace of its own: the loopback names kubelet writes,
    /// then the hostname. The pod's IP is not known before its network is set up, so without
    /// <paramref name="podIps"/> the hostname maps to 127.0.1.1 (Debian's convention for a host without
    /// a fixed address); kubelet mounts its own hosts file over this one. A host-network pod gets the
    /// node's /etc/hosts instead (<see cref="SandboxPlanner"/>), as containerd gives it.
    /// </summary>
    public static string HostsFile(Cri.PodSandboxConfig config, string hostname, IReadOnlyList<string>? podIps = null)
    {
        string name = hostname.Length > 0 ? hostname : config.Hostname;
        var hosts = new StringBuilder()
            .Append("127.0.0.1\tlocalhost\n")
            .Append("::1\tlocalhost ip6-localhost ip6-loopback\n")
            .Append("fe00::0\tip6-localnet\n")
            .Append("fe00::0\tip6-mcastprefix\n")
            .Append("fe00::1\tip6-allnodes\n")
            .Append("fe00::2\tip6-allrouters\n");
        if (name.Length == 0)
        {
            return hosts.ToString();
        }
        RequireHostname(name);
        string names = name.Contains('.') ? $"{name} {name[..name.IndexOf('.')]}" : name;
        if (podIps is { Count: > 0 })
        {
            foreach (string ip in podIps)
            {
                RequireWord(ip, "pod IP");
                hosts.Append(ip).Append('\t').Append(names).Append('\n');
            }
        }
        else
        {
            hosts.Append("127.0.1.1\t").Append(names).Append('\n');
        }
        return hosts.ToString();
    }

    /// <summary>
    /// The pod's /etc/resolv.conf from kubelet's DNS config, in containerd's layout (search, nameserver
    /// lines, options); null when the pod has no DNS config: then the daemon copies the node's file.
    /// </summary>
    public static string? ResolvConf(Cri.DNSConfig? dns)
    {
        if (dns is null)
        {
            return null;
        }
        var resolv = new StringBuilder();
        if (dns.Searches.Count > 0)
        {
            foreach (string search in dns.Searches)
            {
                RequireWord(search, "DNS search domain");
            }
            resolv.Append("search ").AppendJoin(' ', dns.Searches).Append('\n');
        }
        foreach (string server in dns.Servers)
        {
            RequireWord(server, "DNS server");
            resolv.Append("nameserver ").Append(server).Append('\n');
        }
        if (dns.Options.Count > 0)
        {
            foreach (string option in dns.Options)
            {
                RequireWord(option, "DNS option");
            }
            resolv.Append("options ").AppendJoin(' ', dns.Options).Append('\n');
        }
        return resolv.ToString();
    }

    private static OciUser SandboxUser(LinuxSandboxSecurityContext? security)
    {
        if (security is null)
        {
            return new OciUser();
        }
        return new OciUser
        {
            Uid = security.RunAsUser is { } uid ? UserSpec.Id(uid.Value, "run_as_user") : 0,
            Gid = security.RunAsGroup is { } gid ? UserSpec.Id(gid.Value, "run_as_group") : 0,
            AdditionalGids = UserSpec.SupplementalGroups(security.SupplementalGroups),
        };
    }

    private static List<LinuxNamespace> Namespaces(PodNamespaces namespaces, string namespaceDir)
    {
        // The pod's own namespaces. Without a path: the shim creates them and pins them under the
        // namespace directory. The network namespace is berthd's, pinned there before the shim starts,
        // so that CNI ADD runs while the reaper is set up (containerd too makes the netns before ADD).
        var own = new List<LinuxNamespace>();
        if (!namespaces.HostNetwork)
        {
            own.Add(new LinuxNamespace { Type = LinuxNamespaceType.Network, Path = NamespacePins.PathOf(namespaceDir, LinuxNamespaceType.Network) });
            own.Add(new LinuxNamespace { Type = LinuxNamespaceType.Uts });
        }
        if (!namespaces.HostIpc)
        {
            own.Add(new LinuxNamespace { Type = LinuxNamespaceType.Ipc });
        }
        // The reaper has a pid namespace of its own unless the pod uses the host's, as the pause
        // container has in containerd: containers whose pid mode is POD join it, also in a pod whose
        // own mode is CONTAINER (crictl's default), and the reaper is its PID 1.
        if (!namespaces.HostPid)
        {
            own.Add(new LinuxNamespace { Type = LinuxNamespaceType.Pid });
        }
        return own;
    }

    private static Dictionary<string, string> Annotations(SandboxSpecInput input)
    {
        var config = input.Config;
        var annotations = new Dictionary<string, string>(config.Annotations, StringComparer.Ordinal);
        if (config.Linux?.Resources is { } resources)
        {
            annotations[SpecAnnotations.SandboxCpuPeriod] = resources.CpuPeriod.ToString(CultureInfo.InvariantCulture);
            annotations[SpecAnnotations.SandboxCpuQuota] = resources.CpuQuota.ToString(CultureInfo.InvariantCulture);
            annotations[SpecAnnotations.SandboxCpuShares] = resources.CpuShares.ToString(CultureInfo.InvariantCulture);
            annotations[SpecAnnotations.SandboxMemory] = resources.MemoryLimitInBytes.ToString(CultureInfo.InvariantCulture);
        }
        // Written last: the request's own annotations cannot pose as these.
        annotations[SpecAnnotations.SandboxId] = input.SandboxId;
        annotations[SpecAnnotations.SandboxNamespace] = config.Metadata?.Namespace ?? "";
        annotations[SpecAnnotations.SandboxUid] = config.Metadata?.Uid ?? "";
        annotations[SpecAnnotations.SandboxName] = config.Metadata?.Name ?? "";
        annotations[SpecAnnotations.SandboxLogDirectory] = config.LogDirectory;
        annotations[SpecAnnotations.ContainerType] = SpecAnnotations.ContainerTypeSandbox;
        return annotations;
    }

    private static string RequireHostname(string hostname)
    {
        RequireWord(hostname, "hostname");
        if (hostname.Length > 64)
        {
            throw new SpecException($"hostname \"{hostname}\" is longer than 64 characters");
        }
        return hostname;
    }

    /// <summary>Values written into line-based files must be one word: a space or newline would add fields or lines.</summary>
    private static void RequireWord(string value, string what)
    {
        if (value.Length == 0 || value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new SpecException($"{what} \"{value}\" is empty or contains whitespace");
        }
    }
}

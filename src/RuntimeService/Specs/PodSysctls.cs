namespace Berth.RuntimeService.Specs;

/// <summary>
/// Which sysctls a pod may set: only those the kernel keeps per namespace, and only in a namespace
/// the pod owns; runc refuses the same ones (libcontainer's validateSysctl), so a pod that would fail
/// there fails here with a message naming the sysctl.
/// </summary>
internal static class PodSysctls
{
    // The IPC namespace's sysctls (ipc/ipc_sysctl.c and ipc/mq_sysctl.c).
    private static readonly HashSet<string> s_ipc = new(StringComparer.Ordinal)
    {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    };

    /// <summary>The pod's sysctls, checked; keys stay as given (the shim reads both the dotted and the slashed form).</summary>
    public static IReadOnlyDictionary<string, string>? Validate(IDictionary<string, string> sysctls, PodNamespaces namespaces)
    {
        if (sysctls.Count == 0)
        {
            return null;
        }
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in sysctls)
        {
            string name = Dotted(key);
            if (name.Length == 0 || key.Contains("..", StringComparison.Ordinal) || key[0] is '.' or '/' || key[^1] is '.' or '/')
            {
                throw new SpecException($"sysctl \"{key}\" is not a valid name");
            }
            if (value.Contains('\n') || value.Contains('\0'))
            {
                throw new SpecException($"sysctl {key} has a value with a newline or NUL");
            }
            if (s_ipc.Contains(name) || name.StartsWith("fs.mqueue.", StringComparison.Ordinal))
            {
                if (namespaces.HostIpc)
                {
                    throw new SpecException($"sysctl {key} needs the pod's own IPC namespace, but the pod uses the host's");
                }
            }
            else if (name.StartsWith("net.", StringComparison.Ordinal))
            {
                if (namespaces.HostNetwork)
                {
                    throw new SpecException($"sysctl {key} needs the pod's own network namespace, but the pod uses the host's");
                }
            }
            else if (name == "kernel.domainname")
            {
                if (namespaces.HostNetwork)
                {
                    throw new SpecException($"sysctl {key} needs the pod's own UTS namespace, but the pod uses the host's");
                }
            }
            else if (name == "kernel.hostname")
            {
                throw new SpecException("sysctl kernel.hostname is not allowed: it conflicts with the pod's hostname");
            }
            else
            {
                throw new SpecException($"sysctl {key} is not namespaced: setting it in a pod would change the whole node");
            }
            result[key] = value;
        }
        return result;
    }

    /// <summary>
    /// Kubernetes also accepts "/" as the separator (then "." is part of a name, as in an interface
    /// name like eth0.100): swap them to classify, as kubelet's ConvertSysctlVariableToDotsSeparator does.
    /// </summary>
    private static string Dotted(string key)
    {
        int slash = key.IndexOf('/');
        int dot = key.IndexOf('.');
        if (slash < 0 || (dot >= 0 && dot < slash))
        {
            return key;
        }
        return string.Create(key.Length, key, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                span[i] = source[i] switch { '/' => '.', '.' => '/', var c => c };
            }
        });
    }
}

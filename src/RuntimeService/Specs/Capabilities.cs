using Berth.Api.Cri;
using Berth.Api.Shim;

namespace Berth.RuntimeService.Specs;

/// <summary>The process's capability sets, by containerd's rules (pkg/cri/opts WithCapabilities, oci WithPrivileged).</summary>
internal static class Capabilities
{
    /// <summary>containerd's (and Docker's) default set for an unprivileged container.</summary>
    public static readonly IReadOnlyList<string> Default =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    /// <summary>
    /// Every capability up to CAP_CHECKPOINT_RESTORE (Linux 5.9), in number order. containerd gives a
    /// privileged container the daemon's own set; spec generation cannot read it, and the shim drops
    /// names the running kernel does not know (cap_last_cap).
    /// </summary>
    public static IReadOnlyList<string> All => CapabilityNames.All;

    private const string AllKeyword = "ALL";

    /// <summary>
    /// Privileged: all. Otherwise the default set; "ALL" among the added gives all, "ALL" among the
    /// dropped gives none; then the named ones are added, then the named ones dropped (so drop wins
    /// over add, and "drop ALL, add NET_BIND_SERVICE" leaves exactly that one). Bounding, effective and
    /// permitted are the same set. add_ambient_capabilities (not for a privileged container, as
    /// containerd's WithCapabilities is skipped there) become the inheritable and ambient sets, as
    /// containerd's WithAmbientCapabilities makes them, and join the others too: the kernel raises an
    /// ambient capability only when it is permitted and inheritable (prctl PR_CAP_AMBIENT_RAISE), so
    /// that a non-root process really holds it after execve. "ALL" is refused there.
    /// </summary>
    public static OciCapabilities For(Capability? requested, bool privileged)
    {
        List<string> set;
        if (privileged)
        {
            set = [.. All];
        }
        else
        {
            set = [.. Default];
            var add = Names(requested?.AddCapabilities, "add");
            var drop = Names(requested?.DropCapabilities, "drop");
            if (add.Contains(AllKeyword))
            {
                set = [.. All];
            }
            if (drop.Contains(AllKeyword))
            {
                set.Clear();
            }
            foreach (string name in add.Where(name => name != AllKeyword && !set.Contains(name)))
            {
                set.Add(name);
            }
            set.RemoveAll(drop.Contains);
            var ambient = Names(requested?.AddAmbientCapabilities, "add ambient");
            if (ambient.Contains(AllKeyword))
            {
                throw new SpecException("add_ambient_capabilities cannot be ALL: name each capability");
            }
            if (ambient.Count > 0)
            {
                set.AddRange(ambient.Where(name => !set.Contains(name)));
                ambient = [.. ambient.Distinct()];
                return new OciCapabilities { Bounding = set, Effective = set, Permitted = set, Inheritable = ambient, Ambient = ambient };
            }
        }
        return new OciCapabilities { Bounding = set, Effective = set, Permitted = set };
    }

    /// <summary>Kubernetes spells capabilities without the CAP_ prefix, any case; both spellings are taken.</summary>
    private static List<string> Names(IEnumerable<string>? requested, string verb)
    {
        var names = new List<string>();
        foreach (string raw in requested ?? [])
        {
            string upper = raw.Trim().ToUpperInvariant();
            if (upper == AllKeyword)
            {
                names.Add(AllKeyword);
                continue;
            }
            string name = upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper : "CAP_" + upper;
            if (!All.Contains(name))
            {
                throw new SpecException($"cannot {verb} capability \"{raw}\": no such capability");
            }
            names.Add(name);
        }
        return names;
    }
}

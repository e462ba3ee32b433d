namespace Berth.Api.Shim;

/// <summary>
/// Linux capability names as the OCI runtime spec writes them, in the kernel's number order
/// (include/uapi/linux/capability.h, up to CAP_CHECKPOINT_RESTORE of Linux 5.9): berthd writes them
/// into config.json, the shim turns them into bit masks.
/// </summary>
public static class CapabilityNames
{
    /// <summary>Every capability this table knows; the index is the capability's number.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>The number of a capability name, with or without its CAP_ prefix; false for a name this table does not know.</summary>
    public static bool TryParse(string name, out int number)
    {
        string full = name.StartsWith("CAP_", StringComparison.Ordinal) ? name : "CAP_" + name;
        number = -1;
        for (int i = 0; i < All.Count; i++)
        {
            if (All[i] == full)
            {
                number = i;
                return true;
            }
        }
        return false;
    }

    /// <summary>A capability set as a bit mask (bit n = capability n); unknown names are added to <paramref name="unknown"/>.</summary>
    public static ulong ToMask(IReadOnlyList<string>? names, List<string> unknown)
    {
        ulong mask = 0;
        foreach (string name in names ?? [])
        {
            if (TryParse(name.ToUpperInvariant(), out int number))
            {
                mask |= 1UL << number;
            }
            else
            {
                unknown.Add(name);
            }
        }
        return mask;
    }
}

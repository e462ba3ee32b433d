namespace Berth.Shim.Init;

/// <summary>Linux capability names (as the runtime spec writes them) and their numbers.</summary>
internal static class CapabilityNames
{
    private static readonly string[] s_names =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>The highest capability the kernel knows (/proc/sys/kernel/cap_last_cap), or the table's.</summary>
    public static int LastCap()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim());
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return s_names.Length - 1;
        }
    }

    /// <summary>The number of a capability name; false for a name this table does not know.</summary>
    public static bool TryParse(string name, out int number)
    {
        number = Array.IndexOf(s_names, name.StartsWith("CAP_", StringComparison.Ordinal) ? name : "CAP_" + name);
        return number >= 0;
    }

    /// <summary>A capability set as a bit mask; unknown names are reported through <paramref name="unknown"/>.</summary>
    public static ulong ToMask(IReadOnlyList<string>? names, List<string> unknown)
    {
        ulong mask = 0;
        if (names is null)
        {
            return 0;
        }
        foreach (string name in names)
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

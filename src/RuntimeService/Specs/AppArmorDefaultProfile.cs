namespace Berth.RuntimeService.Specs;

/// <summary>
/// The AppArmor profile Berth applies for RuntimeDefault (<see cref="SecurityProfiles.AppArmorDefaultName"/>)
/// where the kernel has AppArmor on: the rules of containerd's and Docker's default profile
/// (containerd contrib/apparmor/template.go): everything a process may do normally, but no mount, no
/// writes to the kernel's tunables under /proc and /sys (its own /proc/PID, /proc/sys/kernel/shm* and
/// the cgroup tree excepted), nothing of /proc/kcore, /proc/sysrq-trigger, firmware, powercap or the
/// security file system, and ptrace and signals only among the profile's own processes (and from
/// unconfined ones, such as the shim). berthd loads it with apparmor_parser before the first container
/// that needs it.
/// </summary>
public static class AppArmorDefaultProfile
{
    /// <summary>
    /// The profile's text. <paramref name="hasTunables"/>: /etc/apparmor.d/tunables/global exists (it
    /// defines @{PROC}; without it the profile defines it itself); <paramref name="hasBaseAbstraction"/>:
    /// /etc/apparmor.d/abstractions/base exists.
    /// </summary>
    public static string Text(bool hasTunables, bool hasBaseAbstraction)
    {
        string name = SecurityProfiles.AppArmorDefaultName;
        string header = hasTunables ? "#include <tunables/global>" : "@{PROC}=/proc/";
        string baseRules = hasBaseAbstraction ? "  #include <abstractions/base>\n" : "";
        return $$"""
            {{header}}

            profile {{name}} flags=(attach_disconnected,mediate_deleted) {
            {{baseRules}}  network,
              capability,
              file,
              umount,
              # Signals from outside the container only from unconfined processes (the shim, kubelet's kills through it).
              signal (receive) peer=unconfined,
              signal (send,receive) peer={{name}},
              ptrace (trace,tracedby,read,readby) peer={{name}},

              deny mount,

              # /proc: no writes to its top-level files, nor below it except under /proc/PID and /proc/sys/kernel/shm*.
              deny @{PROC}/* w,
              deny @{PROC}/{[^1-9/],[^1-9/][^0-9/],[^1-9s/][^0-9y/][^0-9s/],[^1-9/][^0-9/][^0-9/][^0-9/]*}/** w,
              deny @{PROC}/sys/[^k]** w,
              deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
              deny @{PROC}/sysrq-trigger rwklx,
              deny @{PROC}/kcore rwklx,

              # /sys: no writes outside /sys/fs/cgroup; firmware, powercap and the security file system not at all.
              deny /sys/[^f]*/** wklx,
              deny /sys/f[^s]*/** wklx,
              deny /sys/fs/[^c]*/** wklx,
              deny /sys/fs/c[^g]*/** wklx,
              deny /sys/fs/cg[^r]*/** wklx,
              deny /sys/firmware/** rwklx,
              deny /sys/devices/virtual/powercap/** rwklx,
              deny /sys/kernel/security/** rwklx,
            }

            """;
    }
}

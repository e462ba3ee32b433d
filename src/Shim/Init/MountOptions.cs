namespace Berth.Shim.Init;

/// <summary>fstab-style mount options of a config.json mount, split into mount(2) flags, propagation flags and data.</summary>
internal readonly record struct MountOptions(ulong Flags, ulong ClearedFlags, ulong Propagation, string Data, bool Bind, bool Recursive,
    bool RecursiveReadOnly = false)
{
    /// <summary>Flags that a bind mount only takes on a second, remounting call.</summary>
    public const ulong RemountableFlags =
        Interop.Sys.MS_RDONLY | Interop.Sys.MS_NOSUID | Interop.Sys.MS_NODEV | Interop.Sys.MS_NOEXEC |
        Interop.Sys.MS_NOATIME | Interop.Sys.MS_NODIRATIME | Interop.Sys.MS_RELATIME | Interop.Sys.MS_STRICTATIME |
        Interop.Sys.MS_NOSYMFOLLOW;

    /// <summary>The mount_setattr(2) attributes of <paramref name="flags"/> (MS_* bits of <see cref="RemountableFlags"/>); an access-time mode clears the others.</summary>
    public static (Interop.MountAttributes Set, Interop.MountAttributes Clear) Attributes(ulong flags, ulong cleared)
    {
        Interop.MountAttributes set = 0, clear = 0;
        (ulong Flag, Interop.MountAttributes Attribute)[] simple =
        [
            (Interop.Sys.MS_RDONLY, Interop.MountAttributes.ReadOnly), (Interop.Sys.MS_NOSUID, Interop.MountAttributes.NoSuid),
            (Interop.Sys.MS_NODEV, Interop.MountAttributes.NoDev), (Interop.Sys.MS_NOEXEC, Interop.MountAttributes.NoExec),
            (Interop.Sys.MS_NODIRATIME, Interop.MountAttributes.NoDirAtime), (Interop.Sys.MS_NOSYMFOLLOW, Interop.MountAttributes.NoSymFollow),
        ];
        foreach (var (flag, attribute) in simple)
        {
            set |= (flags & flag) != 0 ? attribute : 0;
            clear |= (cleared & flag) != 0 ? attribute : 0;
        }
        Interop.MountAttributes? atime = (flags & Interop.Sys.MS_NOATIME) != 0 ? Interop.MountAttributes.NoAtime
            : (flags & Interop.Sys.MS_STRICTATIME) != 0 ? Interop.MountAttributes.StrictAtime
            : (flags & Interop.Sys.MS_RELATIME) != 0 ? Interop.MountAttributes.None
            : null;
        if (atime is { } mode)
        {
            set |= mode;
            clear |= Interop.MountAttributes.AtimeMask;
        }
        return (set, clear);
    }

    public static MountOptions Parse(IReadOnlyList<string>? options)
    {
        ulong flags = 0, cleared = 0, propagation = 0;
        bool bind = false, recursive = false, recursiveReadOnly = false;
        var data = new List<string>();
        if (options is not null)
        {
            foreach (string option in options)
            {
                switch (option)
                {
                    case "bind": bind = true; break;
                    case "rbind": bind = true; recursive = true; break;
                    case "ro": flags |= Interop.Sys.MS_RDONLY; cleared &= ~Interop.Sys.MS_RDONLY; break;
                    case "rw": flags &= ~Interop.Sys.MS_RDONLY; cleared |= Interop.Sys.MS_RDONLY; break;
                    case "nosuid": flags |= Interop.Sys.MS_NOSUID; break;
                    case "suid": flags &= ~Interop.Sys.MS_NOSUID; cleared |= Interop.Sys.MS_NOSUID; break;
                    case "nodev": flags |= Interop.Sys.MS_NODEV; break;
                    case "dev": flags &= ~Interop.Sys.MS_NODEV; cleared |= Interop.Sys.MS_NODEV; break;
                    case "noexec": flags |= Interop.Sys.MS_NOEXEC; break;
                    case "exec": flags &= ~Interop.Sys.MS_NOEXEC; cleared |= Interop.Sys.MS_NOEXEC; break;
                    case "sync": flags |= Interop.Sys.MS_SYNCHRONOUS; break;
                    case "async": flags &= ~Interop.Sys.MS_SYNCHRONOUS; break;
                    case "dirsync": flags |= Interop.Sys.MS_DIRSYNC; break;
                    case "remount": flags |= Interop.Sys.MS_REMOUNT; break;
                    case "mand": flags |= Interop.Sys.MS_MANDLOCK; break;
                    case "nomand": flags &= ~Interop.Sys.MS_MANDLOCK; break;
                    case "noatime": flags |= Interop.Sys.MS_NOATIME; break;
                    case "atime": flags &= ~Interop.Sys.MS_NOATIME; break;
                    case "nodiratime": flags |= Interop.Sys.MS_NODIRATIME; break;
                    case "diratime": flags &= ~Interop.Sys.MS_NODIRATIME; break;
                    case "relatime": flags |= Interop.Sys.MS_RELATIME; break;
                    case "norelatime": flags &= ~Interop.Sys.MS_RELATIME; break;
                    case "strictatime": flags |= Interop.Sys.MS_STRICTATIME; break;
                    case "nostrictatime": flags &= ~Interop.Sys.MS_STRICTATIME; break;
                    case "lazytime": flags |= Interop.Sys.MS_LAZYTIME; break;
                    case "nosymfollow": flags |= Interop.Sys.MS_NOSYMFOLLOW; break;
                    case "silent": flags |= Interop.Sys.MS_SILENT; break;
                    case "private": propagation = Interop.Sys.MS_PRIVATE; break;
                    case "rprivate": propagation = Interop.Sys.MS_PRIVATE | Interop.Sys.MS_REC; break;
                    case "shared": propagation = Interop.Sys.MS_SHARED; break;
                    case "rshared": propagation = Interop.Sys.MS_SHARED | Interop.Sys.MS_REC; break;
                    case "slave": propagation = Interop.Sys.MS_SLAVE; break;
                    case "rslave": propagation = Interop.Sys.MS_SLAVE | Interop.Sys.MS_REC; break;
                    case "unbindable": propagation = Interop.Sys.MS_UNBINDABLE; break;
                    case "runbindable": propagation = Interop.Sys.MS_UNBINDABLE | Interop.Sys.MS_REC; break;
                    // runc's recursive read-only: mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY) on the bind's whole tree.
                    case "rro": recursiveReadOnly = true; break;
                    // Recognised and left to others: runc's tmpfs copy-up and idmap extensions.
                    case "tmpcopyup" or "idmap" or "ridmap" or "rrw" or "defaults": break;
                    default: data.Add(option); break;
                }
            }
        }
        return new MountOptions(flags, cleared, propagation, string.Join(',', data), bind, recursive, recursiveReadOnly);
    }
}

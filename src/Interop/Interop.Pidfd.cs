using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    /// <summary>How a child ended, as waitid(2) reports it.</summary>
    internal readonly record struct ChildExit(int Pid, bool Signaled, int Status)
    {
        /// <summary>The exit status, or 128 + the signal number, as shells and the CRI report it.</summary>
        public int ExitCode => Signaled ? 128 + Status : Status;
    }

    // pidfd_open, pidfd_send_signal and waitid(P_PIDFD): race-free waits and signals for the
    // processes the shim spawns (glibc 2.36 wraps the first two).
    internal static unsafe partial class Sys
    {
        private const int P_PIDFD = 3;
        private const int WEXITED = 4;
        private const int WNOHANG = 1;
        private const int WNOWAIT = 0x01000000;
        private const int CLD_EXITED = 1;

        [LibraryImport(Libraries.Libc, EntryPoint = "pidfd_open", SetLastError = true)]
        private static partial int pidfd_open(int pid, uint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "pidfd_send_signal", SetLastError = true)]
        private static partial int pidfd_send_signal(int pidfd, int signal, void* info, uint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "waitid", SetLastError = true)]
        private static partial int waitid(int idtype, int id, byte* info, int options);

        [LibraryImport(Libraries.Libc, EntryPoint = "kill", SetLastError = true)]
        private static partial int kill(int pid, int signal);

        /// <summary>A pidfd (close-on-exec: pidfds always are) for a child not yet reaped.</summary>
        internal static int PidfdOpen(int pid)
        {
            int fd = pidfd_open(pid, 0);
            if (fd < 0)
            {
                throw Fail("pidfd_open", pid.ToString());
            }
            return fd;
        }

        /// <summary>Signals the process; false when it has already exited (ESRCH).</summary>
        internal static bool PidfdSignal(int pidfd, int signal)
        {
            if (pidfd_send_signal(pidfd, signal, null, 0) == 0)
            {
                return true;
            }
            if (LastErrno() == Errno.ESRCH)
            {
                return false;
            }
            throw Fail("pidfd_send_signal");
        }

        /// <summary>kill(2); false when there is no such process.</summary>
        internal static bool Kill(int pid, int signal)
        {
            if (kill(pid, signal) == 0)
            {
                return true;
            }
            if (LastErrno() == Errno.ESRCH)
            {
                return false;
            }
            throw Fail("kill", pid.ToString());
        }

        /// <summary>
        /// Reaps the pidfd's process if it has exited (or waits for it when <paramref name="block"/>); null while it runs.
        /// With <paramref name="keep"/> (WNOWAIT) it only reads how the process ended and leaves it to be reaped later.
        /// </summary>
        internal static ChildExit? WaitPidfd(int pidfd, bool block, bool keep = false)
        {
            byte* info = stackalloc byte[128];
            new Span<byte>(info, 128).Clear();
            while (true)
            {
                if (waitid(P_PIDFD, pidfd, info, WEXITED | (block ? 0 : WNOHANG) | (keep ? WNOWAIT : 0)) == 0)
                {
                    break;
                }
                if (LastErrno() != Errno.EINTR)
                {
                    throw Fail("waitid");
                }
            }
            // siginfo_t for SIGCHLD: si_signo, si_errno, si_code (ints at 0, 4, 8), then si_pid (16), si_uid (20), si_status (24).
            int pid = *(int*)(info + 16);
            if (pid == 0)
            {
                return null;
            }
            int code = *(int*)(info + 8);
            int status = *(int*)(info + 24);
            return new ChildExit(pid, code != CLD_EXITED, status);
        }
    }
}

internal static partial class Interop
{
    internal static unsafe partial class Sys
    {
        private const int P_ALL = 0;

        [LibraryImport(Libraries.Libc, EntryPoint = "waitid", SetLastError = true)]
        private static partial int waitid_all(int idtype, int id, byte* info, int options);

        /// <summary>Reaps one exited child of any kind, if there is one; false when none is waiting.</summary>
        internal static bool ReapAny()
        {
            byte* info = stackalloc byte[128];
            new Span<byte>(info, 128).Clear();
            if (waitid_all(P_ALL, 0, info, WEXITED | WNOHANG) != 0)
            {
                return false;
            }
            return *(int*)(info + 16) != 0;
        }
    }
}

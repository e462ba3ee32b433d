using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    // Signal sets, the thread's mask, signalfd and dispositions.
    internal static unsafe partial class Sys
    {
        internal const int SIGHUP = 1;
        internal const int SIGINT = 2;
        internal const int SIGKILL = 9;
        internal const int SIGPIPE = 13;
        internal const int SIGTERM = 15;
        internal const int SIGCHLD = 17;

        private const int SIG_SETMASK = 2;
        private const int SIG_BLOCK = 0;
        private const int SFD_CLOEXEC = 0x80000;
        private const int SFD_NONBLOCK = 0x800;

        [LibraryImport(Libraries.Libc, EntryPoint = "sigemptyset")]
        private static partial int sigemptyset(void* set);

        [LibraryImport(Libraries.Libc, EntryPoint = "sigfillset")]
        private static partial int sigfillset(void* set);

        [LibraryImport(Libraries.Libc, EntryPoint = "sigaddset")]
        private static partial int sigaddset(void* set, int signal);

        [LibraryImport(Libraries.Libc, EntryPoint = "pthread_sigmask")]
        private static partial int pthread_sigmask(int how, void* set, void* old);

        [LibraryImport(Libraries.Libc, EntryPoint = "signalfd", SetLastError = true)]
        private static partial int signalfd(int fd, void* mask, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "sigaction", SetLastError = true)]
        private static partial int sigaction(int signal, void* action, void* old);

        internal static void SigEmpty(byte* set) => sigemptyset(set);
        internal static void SigFill(byte* set) => sigfillset(set);
        internal static void SigAdd(byte* set, int signal) => sigaddset(set, signal);

        /// <summary>Sets the calling thread's signal mask to exactly <paramref name="signals"/>.</summary>
        internal static void SetThreadSignalMask(ReadOnlySpan<int> signals)
        {
            byte* set = stackalloc byte[128];
            sigemptyset(set);
            foreach (int s in signals)
            {
                sigaddset(set, s);
            }
            int result = pthread_sigmask(SIG_SETMASK, set, null);
            if (result != 0)
            {
                throw new ErrnoException((Errno)result, "pthread_sigmask", null);
            }
        }

        /// <summary>Blocks <paramref name="signals"/> in the calling thread and returns a signalfd that reads them.</summary>
        internal static int SignalFd(ReadOnlySpan<int> signals, bool nonBlocking)
        {
            byte* set = stackalloc byte[128];
            sigemptyset(set);
            foreach (int s in signals)
            {
                sigaddset(set, s);
            }
            int result = pthread_sigmask(SIG_BLOCK, set, null);
            if (result != 0)
            {
                throw new ErrnoException((Errno)result, "pthread_sigmask", null);
            }
            int fd = signalfd(-1, set, SFD_CLOEXEC | (nonBlocking ? SFD_NONBLOCK : 0));
            if (fd < 0)
            {
                throw Fail("signalfd");
            }
            return fd;
        }

        /// <summary>
        /// Resets to the default every signal whose disposition is "ignore" (execve keeps ignored
        /// signals ignored, and .NET ignores SIGPIPE), before exec'ing a user's program.
        /// </summary>
        internal static void ResetIgnoredSignals()
        {
            for (int signal = 1; signal < 65; signal++)
            {
                if (signal is SIGKILL or 19 /* SIGSTOP */ or 32 or 33 /* glibc's own */)
                {
                    continue;
                }
                DefaultIfIgnored(signal);
            }
        }

        /// <summary>
        /// Sets <paramref name="signal"/>'s disposition to the default if it is "ignore", as inherited from a
        /// parent such as nohup; true if it was ignored. .NET's PosixSignalRegistration leaves a signal that is
        /// ignored when it registers ignored ("we respect ignored signals", dotnet/runtime pal_signal.c
        /// InstallSignalHandler), so its handler would never run.
        /// </summary>
        internal static bool DefaultIfIgnored(int signal)
        {
            // struct sigaction (x86-64 and arm64 glibc): handler pointer first, 152 bytes in all.
            byte* old = stackalloc byte[256];
            new Span<byte>(old, 256).Clear();
            if (sigaction(signal, null, old) != 0 || *(nint*)old != 1 /* SIG_IGN */)
            {
                return false;
            }
            byte* action = stackalloc byte[256];
            new Span<byte>(action, 256).Clear(); // SIG_DFL is 0
            return sigaction(signal, action, null) == 0;
        }
    }
}

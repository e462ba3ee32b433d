using System.Runtime.InteropServices;

namespace Berth;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const int PR_SET_PDEATHSIG = 1;
        internal const int PR_SET_KEEPCAPS = 8;
        internal const int PR_CAPBSET_READ = 23;
        internal const int PR_CAPBSET_DROP = 24;
        internal const int PR_SET_NO_NEW_PRIVS = 38;
        internal const int PR_CAP_AMBIENT = 47;
        internal const int PR_CAP_AMBIENT_RAISE = 2;
        internal const int PR_CAP_AMBIENT_CLEAR_ALL = 4;

        [LibraryImport(Libraries.Libc, EntryPoint = "prctl", SetLastError = true)]
        private static partial int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

        /// <summary>prctl(2); returns the call's non-negative result.</summary>
        internal static int Prctl(int option, ulong arg2, ulong arg3 = 0, ulong arg4 = 0, ulong arg5 = 0)
        {
            int result = prctl(option, arg2, arg3, arg4, arg5);
            if (result < 0)
            {
                throw Fail("prctl", option.ToString());
            }
            return result;
        }

        /// <summary>prctl(2), or -1 with the errno.</summary>
        internal static int TryPrctl(int option, ulong arg2, out Errno error)
        {
            int result = prctl(option, arg2, 0, 0, 0);
            error = result < 0 ? LastErrno() : 0;
            return result;
        }
    }
}

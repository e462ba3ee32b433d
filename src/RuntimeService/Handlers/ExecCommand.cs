using Berth.Core.Errors;
using Google.Protobuf.Collections;

namespace Berth.RuntimeService.Handlers;

/// <summary>The one check of an Exec's or ExecSync's <c>cmd</c>, so both refuse the same input the same way.</summary>
internal static class ExecCommand
{
    /// <summary>Refuses a command that names no program.</summary>
    /// <exception cref="BerthException">INVALID_ARGUMENT: <paramref name="cmd"/> is empty or its first element (the program) is.</exception>
    public static void Require(RepeatedField<string> cmd)
    {
        if (cmd.Count == 0 || cmd[0].Length == 0)
        {
            throw BerthException.InvalidArgument(cmd.Count == 0 ? "cmd must name a command" : "cmd must name a command: its first element is empty");
        }
    }
}

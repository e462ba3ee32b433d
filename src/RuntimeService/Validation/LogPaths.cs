using System.Text;
using Berth.Core.Errors;

namespace Berth.RuntimeService.Validation;

/// <summary>Where a container's CRI log file goes: always inside its pod's log directory.</summary>
public static class LogPaths
{
    /// <summary>
    /// The log file of a container whose ContainerConfig.log_path is <paramref name="logPath"/> in a pod
    /// whose PodSandboxConfig.log_directory is <paramref name="logDirectory"/>; null when either is
    /// empty (no log is kept, as before). The join is Go's filepath.Join, as containerd's: an absolute
    /// log_path is put under the directory, and the result is cleaned. A log_path whose ".." would climb
    /// out of the directory, or that names the directory itself, is refused, as is a relative directory
    /// (it would be resolved in berthd's working directory) and a result longer than PATH_MAX allows.
    /// </summary>
    /// <exception cref="BerthException">InvalidArgument, naming the field.</exception>
    public static string? Join(string logDirectory, string logPath)
    {
        if (logDirectory.Length == 0 || logPath.Length == 0)
        {
            return null;
        }
        if (logDirectory[0] != '/')
        {
            throw Invalid("log_directory", "must be an absolute path", logDirectory);
        }
        int depth = LexicalPath.Depth(logPath);
        if (depth < 0)
        {
            throw Invalid("log_path", "must stay inside log_directory, but its \"..\" climbs out", logPath);
        }
        if (depth == 0)
        {
            throw Invalid("log_path", "must name a file inside log_directory, not log_directory itself", logPath);
        }
        if (logPath.EndsWith('/'))
        {
            throw Invalid("log_path", "must name a file, not a directory (it ends with \"/\")", logPath);
        }
        string joined = LexicalPath.Clean(logDirectory + "/" + logPath);
        if (Encoding.UTF8.GetByteCount(joined) > Limits.PathMaxBytes)
        {
            throw Invalid("log_path", $"joined to log_directory must be at most {Limits.PathMaxBytes} bytes long", logPath);
        }
        return joined;
    }

    private static BerthException Invalid(string field, string problem, string value) =>
        BerthException.InvalidArgument($"{field} {problem}: {Shown.Quoted(value)}");
}

using Berth.Core.Errors;
using Berth.RuntimeService.Validation;

namespace Berth.Tests.Unit.Validation;

public sealed class LogPathsTests
{
    [Theory]
    [InlineData("/var/log/pods/ns_pod_uid", "web/0.log", "/var/log/pods/ns_pod_uid/web/0.log")]
    [InlineData("/logs/", "a.log", "/logs/a.log")]
    [InlineData("/logs//x/", "./a.log", "/logs/x/a.log")]
    [InlineData("/logs", "a/../b.log", "/logs/b.log")]
    [InlineData("/", "a.log", "/a.log")]
    // containerd's filepath.Join puts an absolute log_path under the directory, never at the root.
    [InlineData("/logs", "/etc/x", "/logs/etc/x")]
    [InlineData("/logs", "//etc/./x", "/logs/etc/x")]
    // ".." in the directory itself is the caller's business: the result is inside the cleaned directory.
    [InlineData("/var/log/../logs", "a.log", "/var/logs/a.log")]
    public void JoinIsGosFilepathJoinInsideTheDirectory(string directory, string logPath, string joined) =>
        Assert.Equal(joined, LogPaths.Join(directory, logPath));

    [Theory]
    [InlineData("", "a.log")]
    [InlineData("/logs", "")]
    [InlineData("", "")]
    public void NoLogWithoutBothADirectoryAndAPath(string directory, string logPath) =>
        Assert.Null(LogPaths.Join(directory, logPath));

    [Theory]
    [InlineData("/logs", "../x", "log_path must stay inside log_directory, but its \"..\" climbs out: \"../x\"")]
    [InlineData("/logs", "a/../../etc/x", "log_path must stay inside log_directory, but its \"..\" climbs out: \"a/../../etc/x\"")]
    [InlineData("/logs", "/../x", "log_path must stay inside log_directory, but its \"..\" climbs out: \"/../x\"")]
    [InlineData("/logs", "..", "log_path must stay inside log_directory, but its \"..\" climbs out: \"..\"")]
    [InlineData("/logs", "a/..", "log_path must name a file inside log_directory, not log_directory itself: \"a/..\"")]
    [InlineData("/logs", ".", "log_path must name a file inside log_directory, not log_directory itself: \".\"")]
    [InlineData("/logs", "/", "log_path must name a file inside log_directory, not log_directory itself: \"/\"")]
    [InlineData("logs", "a.log", "log_directory must be an absolute path: \"logs\"")]
    [InlineData("/logs", "a//b/", "log_path must name a file, not a directory (it ends with \"/\"): \"a//b/\"")]
    public void RefusesWhatWouldNotBeAFileInsideTheDirectory(string directory, string logPath, string message)
    {
        var error = Assert.Throws<BerthException>(() => LogPaths.Join(directory, logPath));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void RefusesAJoinLongerThanPathMax()
    {
        string directory = "/" + new string('d', 4000);
        Assert.Equal(directory + "/" + new string('f', 93), LogPaths.Join(directory, new string('f', 93)));
        var error = Assert.Throws<BerthException>(() => LogPaths.Join(directory, new string('f', 94)));
        Assert.StartsWith("log_path joined to log_directory must be at most 4095 bytes long: \"ffff", error.Message);
    }
}

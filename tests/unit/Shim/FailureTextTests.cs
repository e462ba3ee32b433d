using System.Text.Json;
using Berth.Api.Shim;
using Berth.Shim.Cgroups;
using Berth.Shim.Init;
using Xunit;

namespace Berth.Shim.Tests.Unit;

/// <summary>
/// What the shim sends back for a failure is its own text in every build flavour: the published
/// shim has UseSystemResourceKeys, where a BCL exception's message is a resource key. These
/// exceptions carry such keys as messages; the text must never repeat them.
/// </summary>
public sealed class FailureTextTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("berth-failure-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<Exception, string> BclExceptions => new()
    {
        { new FileNotFoundException("IO_FileNotFound_FileName, /etc/x", "/etc/x"), "/etc/x: no such file" },
        { new FileNotFoundException("IO_FileNotFound"), "no such file or directory" },
        { new DirectoryNotFoundException("IO_PathNotFound_Path, /proc/self/status"), "no such file or directory" },
        { new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path, /x"), "permission denied" },
        { new PathTooLongException("IO_PathTooLong_Path, /x"), "a path is too long" },
        { new IOException("IO_SharingViolation_File, /x", 16), "Device or resource busy (EBUSY)" },
        { new IOException("IO_UnknownError"), "unexpected IOException" },
        { new ArgumentException("Argument_NullCharInPath", "path"), "invalid path" },
        { new InvalidOperationException("InvalidOperation_EnumFailedVersion"), "unexpected InvalidOperationException" },
        { new AggregateException(new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path, /y")), "permission denied" },
    };

    [Theory]
    [MemberData(nameof(BclExceptions))]
    public void BclExceptionsAreDescribedFromTheirTypeNotTheirMessage(Exception e, string text) =>
        Assert.Equal(text, FailureText.Describe(e));

    [Fact]
    public void OurOwnExceptionsKeepTheirText()
    {
        Assert.Equal("mount destination /x resolves to the container's root directory",
            FailureText.Describe(new InvalidSpecException("mount destination /x resolves to the container's root directory")));
        Assert.Equal("no cgroup here", FailureText.Describe(new CgroupUnsupportedException("no cgroup here")));

        // An errno from the shim's own kernel calls: strerror's text with the call and the path.
        string missing = Path.Combine(_directory, "missing", "oom_score_adj");
        Exception errno = Record.Exception(() => ProcFiles.Write(missing, "5"))!;
        Assert.Equal($"open {missing}: No such file or directory (ENOENT)", FailureText.Describe(errno));
    }

    [Theory]
    [InlineData("""{"process": {"args": 5}}""", "not valid JSON, or a value of the wrong type at $.process.args (line 1, byte 22)")]
    [InlineData("{\n  \"ociVersion\": \"1.2.0\",\n  \"root\": [", "not valid JSON, or a value of the wrong type at $.root (line 3, byte 11)")]
    [InlineData("null", "not valid JSON, or a value of the wrong type")]
    public void JsonFailuresSayWhere(string json, string text)
    {
        var e = Assert.ThrowsAny<JsonException>(() => OciJson.ParseSpec(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Equal(text, FailureText.Describe(e));
    }

    [Fact]
    public void BundleFilesNameTheFileAndThePlace()
    {
        Exception missing = Record.Exception(() => BundleFiles.ReadSpec(_directory))!;
        Assert.Equal($"open {_directory}/config.json: No such file or directory (ENOENT)", FailureText.Describe(missing));

        File.WriteAllText(Path.Combine(_directory, BundleLayout.Config), """{"process": {"cwd": ["/"]}}""");
        var invalid = Assert.Throws<InvalidSpecException>(() => BundleFiles.ReadSpec(_directory));
        Assert.StartsWith($"{_directory}/config.json: not valid JSON, or a value of the wrong type at $.process.cwd", invalid.Message);
    }

    [Fact]
    public void FileOperationsNameThePath()
    {
        string nested = Path.Combine(_directory, "a", "b", "c");
        ShimFiles.MakeDirectories(nested);
        ShimFiles.MakeDirectories(nested + "/");
        Assert.True(Directory.Exists(nested));

        string file = Path.Combine(_directory, "a", "file");
        ShimFiles.CreateFile(file);
        ShimFiles.CreateFile(file);
        Assert.True(File.Exists(file));
        Exception notDirectory = Record.Exception(() => ShimFiles.MakeDirectories(file + "/d"))!;
        Assert.Equal($"mkdir {file}/d: Not a directory (ENOTDIR)", FailureText.Describe(notDirectory));

        Exception unreadable = Record.Exception(() => ShimFiles.ReadText(nested))!;
        Assert.Equal($"read {nested}: Is a directory (EISDIR)", FailureText.Describe(unreadable));

        ShimFiles.Delete(file);
        ShimFiles.Delete(file);
        Assert.False(File.Exists(file));
    }
}

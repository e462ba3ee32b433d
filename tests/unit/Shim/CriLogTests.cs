using System.Text;
using Berth.Shim.Logging;
using Xunit;

namespace Berth.Shim.Tests.Unit;

public sealed class CriLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("berth-crilog-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly long s_time = new DateTimeOffset(2024, 2, 29, 23, 59, 58, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1_000_000 + 123_456_789 % 1_000_000;

    private (List<string> Lines, string Raw) Run(Action<CriLogStream, CriLogStream, CriLogFile> feed)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("n") + ".log");
        using (var log = new CriLogFile(path))
        {
            feed(new CriLogStream(stderr: false), new CriLogStream(stderr: true), log);
            log.Flush();
        }
        string raw = File.ReadAllText(path);
        return (raw.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList(), raw);
    }

    private static (string Time, string Stream, string Tag, string Text) Parse(string line)
    {
        string[] parts = line.Split(' ', 4);
        return (parts[0], parts[1], parts[2], parts.Length > 3 ? parts[3] : "");
    }

    [Fact]
    public void TimestampIsRfc3339NanoInUtc()
    {
        Span<byte> buffer = stackalloc byte[CriTimestamp.Length];
        long nanos = new DateTimeOffset(2024, 2, 29, 23, 59, 58, TimeSpan.Zero).ToUnixTimeSeconds() * 1_000_000_000L + 123_456_789;
        CriTimestamp.Format(nanos, buffer);
        Assert.Equal("2024-02-29T23:59:58.123456789Z", Encoding.ASCII.GetString(buffer));

        CriTimestamp.Format(0, buffer);
        Assert.Equal("1970-01-01T00:00:00.000000000Z", Encoding.ASCII.GetString(buffer));

        var random = new Random(7);
        for (int i = 0; i < 1000; i++)
        {
            long seconds = random.NextInt64(0, 4_000_000_000L);
            CriTimestamp.Format(seconds * 1_000_000_000L, buffer);
            string expected = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss") + ".000000000Z";
            Assert.Equal(expected, Encoding.ASCII.GetString(buffer));
        }
    }

    [Fact]
    public void FullLinesBecomeFEntriesPerStream()
    {
        var (lines, _) = Run((stdout, stderr, log) =>
        {
            stdout.Write("hello\nwor"u8, s_time, log);
            stderr.Write("oops\n"u8, s_time, log);
            stdout.Write("ld\n\n"u8, s_time, log);
        });
        Assert.Equal(4, lines.Count);
        Assert.Equal(("stdout", "F", "hello"), Tail(lines[0]));
        Assert.Equal(("stderr", "F", "oops"), Tail(lines[1]));
        Assert.Equal(("stdout", "F", "world"), Tail(lines[2]));
        Assert.Equal(("stdout", "F", ""), Tail(lines[3]));
        Assert.True(DateTimeOffset.TryParse(Parse(lines[0]).Time, out _));
    }

    [Fact]
    public void CarriageReturnBeforeNewlineIsDropped()
    {
        var (lines, _) = Run((stdout, _, log) =>
        {
            stdout.Write("tty line\r\n"u8, s_time, log);
            stdout.Write("split\r"u8, s_time, log);
            stdout.Write("\n"u8, s_time, log);
        });
        Assert.Equal(("stdout", "F", "tty line"), Tail(lines[0]));
        Assert.Equal(("stdout", "F", "split"), Tail(lines[1]));
    }

    [Fact]
    public void LongLinesAreSplitIntoPartialEntries()
    {
        string big = new string('x', CriLogStream.MaxLineLength * 2 + 100);
        var (lines, _) = Run((stdout, _, log) =>
        {
            // Fed in odd-sized chunks, as pipe reads arrive.
            byte[] data = Encoding.ASCII.GetBytes(big + "\nnext\n");
            for (int at = 0; at < data.Length; at += 5000)
            {
                stdout.Write(data.AsSpan(at, Math.Min(5000, data.Length - at)), s_time, log);
            }
        });
        Assert.Equal(4, lines.Count);
        Assert.Equal(("stdout", "P", new string('x', CriLogStream.MaxLineLength)), Tail(lines[0]));
        Assert.Equal(("stdout", "P", new string('x', CriLogStream.MaxLineLength)), Tail(lines[1]));
        Assert.Equal(("stdout", "F", new string('x', 100)), Tail(lines[2]));
        Assert.Equal(("stdout", "F", "next"), Tail(lines[3]));
    }

    [Fact]
    public void ALineOfExactlyTheMaximumIsOneFullEntryAndOneMoreByteSplits()
    {
        var (lines, _) = Run((stdout, _, log) =>
        {
            stdout.Write(Encoding.ASCII.GetBytes(new string('y', CriLogStream.MaxLineLength)), s_time, log);
            stdout.Write("\n"u8, s_time, log);
            stdout.Write(Encoding.ASCII.GetBytes(new string('z', CriLogStream.MaxLineLength + 1) + "\n"), s_time, log);
        });
        Assert.Equal(3, lines.Count);
        Assert.Equal(("stdout", "F", new string('y', CriLogStream.MaxLineLength)), Tail(lines[0]));
        Assert.Equal(("stdout", "P", new string('z', CriLogStream.MaxLineLength)), Tail(lines[1]));
        Assert.Equal(("stdout", "F", "z"), Tail(lines[2]));
    }

    [Fact]
    public void TextWithoutNewlineIsWrittenAsPartialAtEndOfStream()
    {
        var (lines, _) = Run((stdout, _, log) =>
        {
            stdout.Write("no newline"u8, s_time, log);
            stdout.End(s_time, log);
            stdout.End(s_time, log);
        });
        Assert.Single(lines);
        Assert.Equal(("stdout", "P", "no newline"), Tail(lines[0]));
    }

    [Fact]
    public void ManyEntriesSurviveBufferFlushes()
    {
        var (lines, _) = Run((stdout, _, log) =>
        {
            for (int i = 0; i < 20000; i++)
            {
                stdout.Write(Encoding.ASCII.GetBytes($"line {i}\n"), s_time, log);
            }
        });
        Assert.Equal(20000, lines.Count);
        for (int i = 0; i < 20000; i++)
        {
            Assert.Equal($"line {i}", Parse(lines[i]).Text);
        }
    }

    [Fact]
    public void ReopenFollowsARename()
    {
        string path = Path.Combine(_dir, "rotate.log");
        using var log = new CriLogFile(path);
        var stdout = new CriLogStream(stderr: false);
        stdout.Write("before\n"u8, s_time, log);
        log.Flush();
        File.Move(path, path + ".1");
        log.Reopen();
        stdout.Write("after\n"u8, s_time, log);
        log.Flush();
        Assert.EndsWith("stdout F before\n", File.ReadAllText(path + ".1"));
        Assert.EndsWith("stdout F after\n", File.ReadAllText(path));
    }

    [Fact]
    public void MissingDirectoriesBelowThePodLogDirectoryAreMadeAndALinkToThePodLogDirectoryItselfIsFollowed()
    {
        string real = Directory.CreateDirectory(Path.Combine(_dir, "pods", "ns_web_uid")).FullName;
        string linked = Path.Combine(_dir, "linked");
        File.CreateSymbolicLink(linked, real);

        using (var log = new CriLogFile($"{linked}/app/0.log", linked))
        {
            new CriLogStream(stderr: false).Write("hello\n"u8, s_time, log);
            log.Flush();
        }

        Assert.EndsWith("stdout F hello\n", File.ReadAllText(Path.Combine(real, "app", "0.log")));
    }

    [Theory]
    [InlineData("app", "0.log")]
    [InlineData("app/0.log", "")]
    public void NoLinkBelowThePodLogDirectoryIsFollowedNotEvenToCreateTheFile(string linkName, string rest)
    {
        // A pod that can write its own log directory (a hostPath volume) plants a link to a node directory.
        string pod = Directory.CreateDirectory(Path.Combine(_dir, "pod")).FullName;
        string outside = Directory.CreateDirectory(Path.Combine(_dir, "etc")).FullName;
        string target = rest.Length > 0 ? outside : Path.Combine(outside, "shadow");
        Directory.CreateDirectory(Path.Combine(pod, Path.GetDirectoryName(linkName) ?? ""));
        File.CreateSymbolicLink(Path.Combine(pod, linkName), target);
        string path = rest.Length > 0 ? $"{pod}/{linkName}/{rest}" : $"{pod}/{linkName}";

        var error = Assert.Throws<UnsafeLogPathException>(() => new CriLogFile(path, pod));

        Assert.Contains("symbolic link", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    [Fact]
    public void ALogOutsideThePodLogDirectoryIsRefused()
    {
        Assert.Throws<UnsafeLogPathException>(() => new CriLogFile(Path.Combine(_dir, "other", "0.log"), Path.Combine(_dir, "pod")));
    }

    [Fact]
    public void NoPathDropsEverything()
    {
        using var log = new CriLogFile(null);
        var stdout = new CriLogStream(stderr: false);
        stdout.Write("dropped\n"u8, s_time, log);
        log.Flush();
        Assert.Equal(0, log.DroppedBytes);
    }

    private static (string, string, string) Tail(string line)
    {
        var (_, stream, tag, text) = Parse(line);
        return (stream, tag, text);
    }
}

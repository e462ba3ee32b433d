using Berth.Cli.Display;

namespace Berth.Tests.Unit.Cli;

/// <summary>What berthctl prints of names and messages it does not control.</summary>
public sealed class TerminalTextTests
{
    [Theory]
    [InlineData("docker.io/library/busybox:latest", "docker.io/library/busybox:latest")]
    [InlineData("a\u001b]0;title\u0007b", @"a\x1b]0;title\x07b")]
    [InlineData("clear\u001b[2J\rover", @"clear\x1b[2J\x0dover")]
    [InlineData("c1\u009bcsi\u007fdel", @"c1\x9bcsi\x7fdel")]
    [InlineData("bidi\u202eevil\u2066", @"bidi\u202eevil\u2066")]
    [InlineData("lines\nand\ttabs pass", "lines\nand\ttabs pass")]
    [InlineData("ünïcode ✓", "ünïcode ✓")]
    public void ControlAndBidiCharactersArePrintedEscaped(string text, string printed) =>
        Assert.Equal(printed, TerminalText.Safe(text));

    [Fact]
    public void TheWriterMakesEverythingWrittenThroughItSafe()
    {
        var inner = new StringWriter { NewLine = "\n" };
        var writer = new TerminalText.Writer(inner);

        writer.Write('\u001b');
        writer.Write("x\u0007");
        writer.WriteLine("y\u001b[1m");
        writer.Write("chars\u0008".ToCharArray(), 0, 6);

        Assert.Equal("\\x1bx\\x07y\\x1b[1m\nchars\\x08", inner.ToString());
    }
}

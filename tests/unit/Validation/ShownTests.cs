using System.Text;
using Berth.RuntimeService.Validation;

namespace Berth.Tests.Unit.Validation;

public sealed class ShownTests
{
    [Theory]
    [InlineData("/bin/sh", "\"/bin/sh\"")]
    [InlineData("/bin/sh\0x", "\"/bin/sh\\0x\"")]
    [InlineData("a\nb\rc\td", "\"a\\nb\\rc\\td\"")]
    [InlineData("say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\"")]
    [InlineData("\u001b[31mred", "\"\\x1b[31mred\"")]
    [InlineData("\u0085\u009b", "\"\\x85\\x9b\"")]
    // Bidi overrides and line separators could reorder or break the line a reader sees.
    [InlineData("abc\u202Etxt.exe", "\"abc\\u202etxt.exe\"")]
    [InlineData("a\u2028b", "\"a\\u2028b\"")]
    [InlineData("héllo wörld", "\"héllo wörld\"")]
    public void EscapesWhatCouldHideOrSpoof(string value, string shown) => Assert.Equal(shown, Shown.Quoted(value));

    [Fact]
    public void ShowsAShortPrefixOfALongValue()
    {
        Assert.Equal($"\"{new string('a', 32)}\"", Shown.Quoted(new string('a', 32)));
        Assert.Equal($"\"{new string('a', 32)}\"…", Shown.Quoted(new string('a', 10 << 20)));
    }

    [Fact]
    public void KeepsASurrogatePairWhole()
    {
        string value = new string('a', 31) + "😀" + "tail";
        Assert.Equal($"\"{new string('a', 31)}\"…", Shown.Quoted(value));
    }

    [Fact]
    public void ShowsBytesAsUtf8()
    {
        Assert.Equal("\"va\\0lue\"", Shown.Quoted(Encoding.UTF8.GetBytes("va\0lue")));
        Assert.Equal($"\"{new string('b', 32)}\"…", Shown.Quoted(Encoding.UTF8.GetBytes(new string('b', 1000))));
    }
}

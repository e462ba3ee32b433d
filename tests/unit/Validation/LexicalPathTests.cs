using Berth.RuntimeService.Validation;

namespace Berth.Tests.Unit.Validation;

public sealed class LexicalPathTests
{
    // Go's path/filepath TestClean table (cleantests), the semantics containerd's filepath.Join applies.
    [Theory]
    [InlineData("abc", "abc")]
    [InlineData("abc/def", "abc/def")]
    [InlineData(".", ".")]
    [InlineData("..", "..")]
    [InlineData("../..", "../..")]
    [InlineData("../../abc", "../../abc")]
    [InlineData("/abc", "/abc")]
    [InlineData("/", "/")]
    [InlineData("", ".")]
    [InlineData("abc/", "abc")]
    [InlineData("./", ".")]
    [InlineData("../", "..")]
    [InlineData("/abc/", "/abc")]
    [InlineData("abc//def//ghi", "abc/def/ghi")]
    [InlineData("//abc", "/abc")]
    [InlineData("///abc", "/abc")]
    [InlineData("//abc//", "/abc")]
    [InlineData("abc/./def", "abc/def")]
    [InlineData("/./abc/def", "/abc/def")]
    [InlineData("abc/.", "abc")]
    [InlineData("abc/def/ghi/../jkl", "abc/def/jkl")]
    [InlineData("abc/def/../ghi/../jkl", "abc/jkl")]
    [InlineData("abc/def/..", "abc")]
    [InlineData("abc/def/../..", ".")]
    [InlineData("/abc/def/../..", "/")]
    [InlineData("abc/def/../../..", "..")]
    [InlineData("/abc/def/../../..", "/")]
    [InlineData("abc/def/../../../ghi/jkl/../../../mno", "../../mno")]
    [InlineData("/../abc", "/abc")]
    [InlineData("a/../b:/../../c", "../c")]
    [InlineData("abc/./../def", "def")]
    [InlineData("abc//./../def", "def")]
    [InlineData("abc/../../././../def", "../../def")]
    public void CleanIsGosFilepathClean(string path, string clean) => Assert.Equal(clean, LexicalPath.Clean(path));

    [Fact]
    public void CleanHandlesPathsLongerThanItsStackBuffer()
    {
        string deep = string.Concat(Enumerable.Repeat("dir/", 600));
        Assert.Equal("/" + deep.TrimEnd('/'), LexicalPath.Clean("/" + deep + "./x/.."));
    }

    [Theory]
    [InlineData("a", 1)]
    [InlineData("a/b/c", 3)]
    [InlineData("a//./b/", 2)]
    [InlineData("/etc/x", 2)]
    [InlineData("a/../b", 1)]
    [InlineData("a/..", 0)]
    [InlineData(".", 0)]
    [InlineData("/", 0)]
    [InlineData("..", -1)]
    [InlineData("a/../../b", -1)]
    [InlineData("/../x", -1)]
    [InlineData("a/b/../../../c/d/e", -1)]
    public void DepthCountsDirectoriesBelowTheStartAndStopsAtAClimb(string path, int depth) =>
        Assert.Equal(depth, LexicalPath.Depth(path));

    [Theory]
    [InlineData("a/b", false)]
    [InlineData("a..b/..c/d..", false)]
    [InlineData("..", true)]
    [InlineData("a/../b", true)]
    [InlineData("/a/..", true)]
    public void HasParentElementLooksAtWholeElementsOnly(string path, bool expected) =>
        Assert.Equal(expected, LexicalPath.HasParentElement(path));
}

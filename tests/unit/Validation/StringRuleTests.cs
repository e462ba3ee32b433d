using System.Text;
using Berth.RuntimeService.Validation;

namespace Berth.Tests.Unit.Validation;

public sealed class StringRuleTests
{
    private const string Nul = "must not contain a NUL character";

    public static TheoryData<string, Characters, string?> CharacterCases => new()
    {
        { "abc/DEF:1.2_x-y@sha256", Characters.Token, null },
        { "a b", Characters.Token, "must be printable ASCII without spaces" },
        { "a\tb", Characters.Token, "must be printable ASCII without spaces" },
        { "é", Characters.Token, "must be printable ASCII without spaces" },
        { "\u007f", Characters.Token, "must be printable ASCII without spaces" },
        { "a b\u00e9", Characters.SingleLine, null },
        { "a\nb", Characters.SingleLine, "must not contain control characters such as a newline" },
        { "a\rb", Characters.SingleLine, "must not contain control characters such as a newline" },
        { "\u0085", Characters.SingleLine, "must not contain control characters such as a newline" },
        { "\u007f", Characters.SingleLine, "must not contain control characters such as a newline" },
        { "MY VAR.name-1", Characters.EnvironmentName, null },
        { "A=B", Characters.EnvironmentName, "must be printable ASCII without '='" },
        { "Ä", Characters.EnvironmentName, "must be printable ASCII without '='" },
        { "A\nB", Characters.EnvironmentName, "must be printable ASCII without '='" },
        { "rwm", Characters.DeviceAccess, null },
        { "r", Characters.DeviceAccess, null },
        { "rwx", Characters.DeviceAccess, "must be made of the letters r, w and m" },
        { "a\0b", Characters.Any, Nul + " (one is at offset 1)" },
        { "a\0b", Characters.Token, Nul + " (one is at offset 1)" },
        { "\0", Characters.SingleLine, Nul + " (one is at offset 0)" },
    };

    [Theory]
    [MemberData(nameof(CharacterCases))]
    public void CharacterClasses(string value, Characters characters, string? problem) =>
        Assert.Equal(problem, new StringRule(64, characters).Check(value));

    public static TheoryData<string, PathForm, string?> PathCases => new()
    {
        { "/a/b", PathForm.Absolute, null },
        { "a/b", PathForm.Absolute, "must be an absolute path" },
        { "./a", PathForm.Absolute, "must be an absolute path" },
        { "0.log", PathForm.Beneath, null },
        { "c/0.log", PathForm.Beneath, null },
        { "c/../0.log", PathForm.Beneath, null },
        { "/etc/x", PathForm.Beneath, "must be a path relative to the base, not an absolute one" },
        { "../x", PathForm.Beneath, "must stay inside the base, but its \"..\" climbs out" },
        { "c/../../x", PathForm.Beneath, "must stay inside the base, but its \"..\" climbs out" },
        { "c/..", PathForm.Beneath, "must name a file inside the base, not the base itself" },
        { "./", PathForm.Beneath, "must name a file inside the base, not the base itself" },
        { "sub/dir", PathForm.Descending, null },
        { "/sub", PathForm.Descending, "must be a relative path" },
        { "sub/../dir", PathForm.Descending, "must not contain a \"..\" element" },
        { "net.ipv4.ip_forward", PathForm.Descending, null },
        { "net/ipv4/conf/eth0.100/forwarding", PathForm.Descending, null },
        { "/kubepods/burstable/pod1", PathForm.NoParent, null },
        { "kubepods-burstable-pod1.slice", PathForm.NoParent, null },
        { "/kubepods/../../sys", PathForm.NoParent, "must not contain a \"..\" element" },
        { "/a..b/c..", PathForm.NoParent, null },
        { "memory.high", PathForm.FileName, null },
        { "../memory.high", PathForm.FileName, "must be a single file name (no '/', not \".\" or \"..\")" },
        { "..", PathForm.FileName, "must be a single file name (no '/', not \".\" or \"..\")" },
        { ".", PathForm.FileName, "must be a single file name (no '/', not \".\" or \"..\")" },
    };

    [Theory]
    [MemberData(nameof(PathCases))]
    public void PathForms(string value, PathForm form, string? problem) =>
        Assert.Equal(problem, new StringRule(64, Path: form, Base: "the base").Check(value));

    [Theory]
    [InlineData("abcd", 4, null)]
    [InlineData("abcde", 4, "must be at most 4 bytes long, not 5")]
    // Caps count UTF-8 bytes, as the wire, the kernel and Kubernetes do: 3 chars of 2 bytes each.
    [InlineData("ééé", 5, "must be at most 5 bytes long, not 6")]
    [InlineData("ééé", 6, null)]
    // A 4-byte character is a surrogate pair: 2 chars.
    [InlineData("😀😀", 7, "must be at most 7 bytes long, not 8")]
    [InlineData("😀😀", 8, null)]
    public void CapsAreInUtf8Bytes(string value, int maxBytes, string? problem) =>
        Assert.Equal(problem, new StringRule(maxBytes).Check(value));

    [Fact]
    public void LengthIsCheckedBeforeAnythingElseSoAHugeValueIsNotScanned()
    {
        string huge = new string('a', 10 << 20) + "\0 ";
        Assert.Equal($"must be at most 128 bytes long, not {(10 << 20) + 2}", new StringRule(128, Characters.Token).Check(huge));
    }

    [Fact]
    public void EmptyValuesPass()
    {
        Assert.Null(new StringRule(1, Characters.DeviceAccess, PathForm.Absolute).Check(""));
    }

    [Theory]
    [InlineData("value", 16, null)]
    [InlineData("va\0lue", 16, Nul + " (one is at offset 2)")]
    [InlineData("0123456789", 9, "must be at most 9 bytes long, not 10")]
    public void BytesGetLengthAndNulChecks(string value, int maxBytes, string? problem) =>
        Assert.Equal(problem, new StringRule(maxBytes).Check(Encoding.UTF8.GetBytes(value)));
}

using Berth.RuntimeService.Validation;
using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Berth.Tests.Unit.Validation;

/// <summary>
/// Field shapes the generator can meet in a future proto but today's CRI requests lack (the slot tests
/// cover the others): a map whose keys are its only text, a map with keys that are not strings, and a
/// bytes field no rule names text.
/// </summary>
public sealed class FieldPlanTests
{
    [Fact]
    public void TheStringKeysOfAMapWithoutTextValuesAreChecked()
    {
        var map = new MapField<string, long> { ["ok"] = 1, ["bad\0key"] = 2 };

        var violation = FieldPlan.Keys("runtime.v1.Future.limits", "limits").Map(map);

        Assert.Equal("limits keys must not contain a NUL character (one is at offset 3): \"bad\\0key\"", violation?.ToException().Message);
    }

    [Fact]
    public void AValueUnderAKeyThatIsNoStringIsNamedByTheKey()
    {
        var map = new MapField<int, string> { [7] = "a\0" };

        var violation = FieldPlan.Text("runtime.v1.Future.by_number", "by_number").Map(map);

        Assert.Equal("by_number[7] must not contain a NUL character (one is at offset 1): \"a\\0\"", violation?.ToException().Message);
    }

    [Fact]
    public void BytesThatNoRuleNamesTextAreNotChecked()
    {
        var plan = FieldPlan.Bytes("runtime.v1.Future.blob", "blob");

        Assert.Null(plan.Single(ByteString.CopyFrom(0, 0, 0)));
        Assert.Null(plan.Repeated(new RepeatedField<ByteString> { ByteString.CopyFrom(0) }));
    }
}

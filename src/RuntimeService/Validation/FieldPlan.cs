using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Berth.RuntimeService.Validation;

/// <summary>
/// One field of a CRI message that can hold text, as <see cref="CriRequestChecks"/> (written at build time
/// from the descriptors) walks it: its name in an error's path, the check of its values and, for a map,
/// the rule of its string keys. The walk reads the generated properties, so berthd needs no protobuf
/// reflection.
/// </summary>
internal sealed class FieldPlan
{
    private readonly string _name;
    private readonly ValueCheck? _value;
    private readonly StringRule _key;
    private readonly bool _redacted;
    private readonly (string Type, int[] Values)? _enum;

    private FieldPlan(string name, FieldRule? rule, ValueCheck? value, bool redacted, (string, int[])? enumeration = null)
    {
        _name = name;
        _value = value;
        _key = rule?.Key ?? CriFieldRules.General;
        _redacted = redacted;
        _enum = enumeration;
    }

    /// <summary>A string field: its rule in <see cref="CriFieldRules"/>, or <see cref="CriFieldRules.General"/>.</summary>
    /// <param name="fullName">The proto field's full name, e.g. runtime.v1.ContainerConfig.log_path.</param>
    /// <param name="name">The proto field's name.</param>
    /// <param name="redacted">Whether the field is marked debug_redact: its values are never shown.</param>
    public static FieldPlan Text(string fullName, string name, bool redacted = false)
    {
        var rule = RuleOf(fullName);
        return new(name, rule, new TextCheck(rule?.Value ?? CriFieldRules.General), redacted);
    }

    /// <summary>A bytes field: checked as text only when <see cref="CriFieldRules"/> lists it.</summary>
    public static FieldPlan Bytes(string fullName, string name, bool redacted = false)
    {
        var rule = RuleOf(fullName);
        return new(name, rule, rule is null ? null : new BytesCheck(rule.Value), redacted);
    }

    /// <summary>A field of messages that can hold text, checked by <paramref name="check"/>.</summary>
    public static FieldPlan Message<T>(string fullName, string name, Func<T, Violation?> check) where T : class =>
        new(name, RuleOf(fullName), new MessageCheck<T>(check), redacted: false);

    /// <summary>A map whose string keys are its only text.</summary>
    public static FieldPlan Keys(string fullName, string name, bool redacted = false) =>
        new(name, RuleOf(fullName), value: null, redacted);

    /// <summary>
    /// A singular enum field: proto3 enums are open, so a number the CRI does not name arrives as it is;
    /// it is refused rather than read as some default. <paramref name="values"/> are the enum's numbers.
    /// </summary>
    public static FieldPlan Enum(string name, string enumType, int[] values) => new(name, null, null, redacted: false, (enumType, values));

    /// <summary>The refused number of an enum field, with its path from here.</summary>
    public Violation? Enum(int value) =>
        Array.IndexOf(_enum!.Value.Values, value) >= 0 ? null : new Violation($"is not a {_enum.Value.Type} value", $"{value}").Within(_name);

    /// <summary>The refused value of a singular field, with its path from here; null, "" and an unset message pass.</summary>
    public Violation? Single(object? value) =>
        value is null ? null : _value?.Check(value, _redacted)?.Within(_name);

    /// <summary>The first refused element of a repeated field.</summary>
    public Violation? Repeated<T>(RepeatedField<T> values) where T : class
    {
        if (_value is null)
        {
            return null;
        }
        for (int i = 0; i < values.Count; i++)
        {
            if (_value.Check(values[i], _redacted) is { } violation)
            {
                return violation.Within($"{_name}[{i}]");
            }
        }
        return null;
    }

    /// <summary>The first refused key (when keys are strings) or value of a map field.</summary>
    public Violation? Map<TKey, TValue>(MapField<TKey, TValue> map) where TKey : notnull
    {
        // Its enumerator is the one allocation of a walk: none for an empty map.
        if (map.Count == 0)
        {
            return null;
        }
        foreach (var (key, value) in map)
        {
            if (key is string text && _key.Check(text) is { } problem)
            {
                return new Violation(problem, _redacted ? null : Shown.Quoted(text), isKey: true).Within(_name);
            }
            if (_value?.Check(value!, _redacted) is { } violation)
            {
                string shownKey = key is string keyText ? Shown.Quoted(keyText) : $"{key}";
                return violation.Within($"{_name}[{shownKey}]");
            }
        }
        return null;
    }

    private static FieldRule? RuleOf(string fullName) => CriFieldRules.ByField.GetValueOrDefault(fullName);
}

/// <summary>The check of one value of a field: a string, a bytes value that is text, or a nested message.</summary>
internal abstract class ValueCheck
{
    /// <summary>What is refused in <paramref name="value"/> ("" passes); <paramref name="redacted"/> hides the value.</summary>
    public abstract Violation? Check(object value, bool redacted);
}

internal sealed class TextCheck(StringRule rule) : ValueCheck
{
    public override Violation? Check(object value, bool redacted) =>
        rule.Check((string)value) is { } problem ? new Violation(problem, redacted ? null : Shown.Quoted((string)value)) : null;
}

internal sealed class BytesCheck(StringRule rule) : ValueCheck
{
    public override Violation? Check(object value, bool redacted) =>
        rule.Check(((ByteString)value).Span) is { } problem ? new Violation(problem, redacted ? null : Shown.Quoted(((ByteString)value).Span)) : null;
}

internal sealed class MessageCheck<T>(Func<T, Violation?> check) : ValueCheck where T : class
{
    public override Violation? Check(object value, bool redacted) => check((T)value);
}

using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Berth.RuntimeService.Validation;

/// <summary>How a field holds its values.</summary>
internal enum Cardinality
{
    Single,
    Repeated,
    Map,
}

/// <summary>One field of a <see cref="MessagePlan"/>: how to read it, and the check of its values and keys.</summary>
internal sealed class FieldPlan
{
    private readonly string _name;
    private readonly Cardinality _cardinality;
    private readonly IFieldAccessor _accessor;
    private readonly ValueCheck? _value;
    private readonly StringRule? _key;
    private readonly bool _redacted;

    private FieldPlan(FieldDescriptor field, Cardinality cardinality, ValueCheck? value, StringRule? key)
    {
        _name = field.Name;
        _cardinality = cardinality;
        _accessor = field.Accessor;
        _value = value;
        _key = key;
        // Fields marked debug_redact (AuthConfig's secrets) are never shown, not even a prefix.
        _redacted = field.GetOptions()?.DebugRedact ?? false;
    }

    /// <summary>The plan of the field, or null when it cannot hold text; <paramref name="planOf"/> gives a message type's plan, null for one without text.</summary>
    public static FieldPlan? For(FieldDescriptor field, Func<MessageDescriptor, MessagePlan?> planOf)
    {
        var rule = CriFieldRules.ByField.GetValueOrDefault(field.FullName);
        if (field.IsMap)
        {
            var key = MessagePlan.MapKey(field).FieldType == FieldType.String ? rule?.Key ?? CriFieldRules.General : null;
            var value = ValueCheck.For(MessagePlan.MapValue(field), rule?.Value, planOf);
            return key is null && value is null ? null : new FieldPlan(field, Cardinality.Map, value, key);
        }
        var check = ValueCheck.For(field, rule?.Value, planOf);
        return check is null ? null : new FieldPlan(field, field.IsRepeated ? Cardinality.Repeated : Cardinality.Single, check, null);
    }

    /// <summary>The first refused value in this field of <paramref name="message"/>, with its path from here.</summary>
    public Violation? Check(IMessage message)
    {
        object value = _accessor.GetValue(message);
        switch (_cardinality)
        {
            case Cardinality.Single:
                return _value!.Check(value, _redacted)?.Within(_name);
            case Cardinality.Repeated:
                var list = (IList)value;
                for (int i = 0; i < list.Count; i++)
                {
                    if (_value!.Check(list[i], _redacted) is { } violation)
                    {
                        return violation.Within($"{_name}[{i}]");
                    }
                }
                return null;
            default:
                var map = (IDictionary)value;
                if (map.Count == 0)
                {
                    return null;
                }
                // The non-generic enumerator reads Key and Value without boxing an entry per pair.
                var entries = map.GetEnumerator();
                while (entries.MoveNext())
                {
                    if (_key is not null && entries.Key is string key && _key.Check(key) is { } problem)
                    {
                        return new Violation(problem, _redacted ? null : Shown.Quoted(key), isKey: true).Within(_name);
                    }
                    if (_value?.Check(entries.Value, _redacted) is { } violation)
                    {
                        string shownKey = entries.Key is string text ? Shown.Quoted(text) : $"{entries.Key}";
                        return violation.Within($"{_name}[{shownKey}]");
                    }
                }
                return null;
        }
    }
}

/// <summary>The check of one value of a field: a string, a bytes value that is text, or a nested message.</summary>
internal abstract class ValueCheck
{
    /// <summary>What is refused in <paramref name="value"/> (null, "" and unset messages pass).</summary>
    public abstract Violation? Check(object? value, bool redacted);

    /// <summary>The check of <paramref name="field"/>'s values, or null when they cannot hold text.</summary>
    public static ValueCheck? For(FieldDescriptor field, StringRule? rule, Func<MessageDescriptor, MessagePlan?> planOf) => field.FieldType switch
    {
        FieldType.String => new TextCheck(rule ?? CriFieldRules.General),
        FieldType.Bytes when rule is not null => new BytesCheck(rule),
        FieldType.Message when planOf(field.MessageType) is { } plan => new MessageCheck(plan),
        _ => null,
    };
}

internal sealed class TextCheck(StringRule rule) : ValueCheck
{
    public override Violation? Check(object? value, bool redacted) =>
        value is string text && rule.Check(text) is { } problem
            ? new Violation(problem, redacted ? null : Shown.Quoted(text))
            : null;
}

internal sealed class BytesCheck(StringRule rule) : ValueCheck
{
    public override Violation? Check(object? value, bool redacted) =>
        value is ByteString bytes && rule.Check(bytes.Span) is { } problem
            ? new Violation(problem, redacted ? null : Shown.Quoted(bytes.Span))
            : null;
}

internal sealed class MessageCheck(MessagePlan plan) : ValueCheck
{
    public override Violation? Check(object? value, bool redacted) => value is IMessage message ? plan.Check(message) : null;
}

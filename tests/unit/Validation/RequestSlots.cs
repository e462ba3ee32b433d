using System.Collections;
using Berth.Api.Cri;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Berth.Tests.Unit.Validation;

/// <summary>
/// Every place a string (or bytes) value can stand in a request of either CRI service, found from the
/// descriptors alone, and a way to build that request with a chosen value in that one place.
/// </summary>
internal sealed record RequestSlot(MethodDescriptor Method, string Path, bool IsKey, IReadOnlyList<(FieldDescriptor Field, Step Step)> Steps)
{
    /// <summary>A singular enum field's place rather than a string's: <see cref="Build"/> takes its number as text.</summary>
    public bool IsEnum => Steps[^1].Field.FieldType == FieldType.Enum;

    /// <summary>The valid value put beside the one under test (a map's other half).</summary>
    private const string Valid = "k";

    /// <summary>Every string (and bytes) place of every request.</summary>
    public static IEnumerable<RequestSlot> All() => Every().Where(slot => !slot.IsEnum);

    /// <summary>Every singular enum field of every request.</summary>
    public static IEnumerable<RequestSlot> Enums() => Every().Where(slot => slot.IsEnum);

    private static IEnumerable<RequestSlot> Every() =>
        new[] { Api.Cri.RuntimeService.Descriptor, Api.Cri.ImageService.Descriptor }
            .SelectMany(service => service.Methods)
            .SelectMany(method => Slots(method, method.InputType, "", [], [method.InputType]));

    /// <summary>The request with <paramref name="value"/> at this slot and every other field at its default.</summary>
    public IMessage Build(string value)
    {
        var root = New(Method.InputType);
        var current = root;
        for (int i = 0; i < Steps.Count; i++)
        {
            var (field, step) = Steps[i];
            object Value(FieldDescriptor of) => of.FieldType switch
            {
                FieldType.String => value,
                FieldType.Bytes => ByteString.CopyFromUtf8(value),
                FieldType.Enum => Enum.ToObject(of.EnumType.ClrType, int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)),
                _ => throw new InvalidOperationException($"{of.FullName} holds no text"),
            };
            if (i == Steps.Count - 1)
            {
                switch (step)
                {
                    case Step.Single: field.Accessor.SetValue(current, Value(field)); break;
                    case Step.Element: ((IList)field.Accessor.GetValue(current)).Add(Value(field)); break;
                    case Step.MapKey: Map(current, field)[value] = Filler(MapValue(field)); break;
                    case Step.MapValue: Map(current, field)[Valid] = Value(MapValue(field)); break;
                }
                break;
            }
            var child = New(step == Step.MapValue ? MapValue(field).MessageType : field.MessageType);
            switch (step)
            {
                case Step.Single: field.Accessor.SetValue(current, child); break;
                case Step.Element: ((IList)field.Accessor.GetValue(current)).Add(child); break;
                case Step.MapValue: Map(current, field)[Valid] = child; break;
            }
            current = child;
        }
        return root;
    }

    public override string ToString() => $"{Method.Name}: {Path}{(IsKey ? " keys" : "")}";

    private static IEnumerable<RequestSlot> Slots(MethodDescriptor method, MessageDescriptor type, string prefix,
        List<(FieldDescriptor, Step)> steps, List<MessageDescriptor> onPath)
    {
        foreach (var field in type.Fields.InFieldNumberOrder())
        {
            string name = prefix + field.Name;
            if (field.IsMap)
            {
                var value = MapValue(field);
                if (MapKey(field).FieldType == FieldType.String)
                {
                    yield return new(method, name, true, [.. steps, (field, Step.MapKey)]);
                }
                if (value.FieldType is FieldType.String or FieldType.Bytes)
                {
                    yield return new(method, $"{name}[\"{Valid}\"]", false, [.. steps, (field, Step.MapValue)]);
                }
                else if (value.FieldType == FieldType.Message && !onPath.Contains(value.MessageType))
                {
                    foreach (var slot in Slots(method, value.MessageType, $"{name}[\"{Valid}\"].", [.. steps, (field, Step.MapValue)], [.. onPath, value.MessageType]))
                    {
                        yield return slot;
                    }
                }
                continue;
            }
            var step = field.IsRepeated ? Step.Element : Step.Single;
            string here = field.IsRepeated ? name + "[0]" : name;
            if (field.FieldType is FieldType.String or FieldType.Bytes || (field.FieldType == FieldType.Enum && !field.IsRepeated))
            {
                yield return new(method, here, false, [.. steps, (field, step)]);
            }
            else if (field.FieldType == FieldType.Message && !onPath.Contains(field.MessageType))
            {
                foreach (var slot in Slots(method, field.MessageType, here + ".", [.. steps, (field, step)], [.. onPath, field.MessageType]))
                {
                    yield return slot;
                }
            }
        }
    }

    private static IMessage New(MessageDescriptor type) => type.Parser.ParseFrom(ByteString.Empty);

    private static IDictionary Map(IMessage message, FieldDescriptor field) => (IDictionary)field.Accessor.GetValue(message);

    private static object Filler(FieldDescriptor value) => value.FieldType switch
    {
        FieldType.String => Valid,
        FieldType.Bytes => ByteString.CopyFromUtf8(Valid),
        FieldType.Message => New(value.MessageType),
        _ => throw new InvalidOperationException($"no filler for {value.FullName}"),
    };

    private static FieldDescriptor MapKey(FieldDescriptor map) => map.MessageType.FindFieldByNumber(1);

    private static FieldDescriptor MapValue(FieldDescriptor map) => map.MessageType.FindFieldByNumber(2);
}

/// <summary>How a step of a slot's path goes into a field.</summary>
internal enum Step
{
    Single,
    Element,
    MapKey,
    MapValue,
}

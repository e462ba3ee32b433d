using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Berth.RuntimeService.Validation;

/// <summary>
/// What to check in one message type, compiled once from its protobuf descriptor: its fields that can
/// hold text (strings, listed bytes, or messages and maps that lead to some), each with its rule. A
/// field that cannot hold text (numbers, enums, messages of numbers) is left out, so a walk touches only
/// what it must.
/// </summary>
internal sealed class MessagePlan
{
    private FieldPlan[] _fields = [];

    /// <summary>The first refused value of <paramref name="message"/>, or null when all pass.</summary>
    public Violation? Check(IMessage message)
    {
        foreach (var field in _fields)
        {
            if (field.Check(message) is { } violation)
            {
                return violation;
            }
        }
        return null;
    }

    /// <summary>The plan of <paramref name="root"/> and of every message type reachable from it.</summary>
    public static MessagePlan Build(MessageDescriptor root)
    {
        var reachable = new List<MessageDescriptor>();
        var plans = new Dictionary<MessageDescriptor, MessagePlan>();
        var pending = new Stack<MessageDescriptor>([root]);
        while (pending.TryPop(out var message))
        {
            if (plans.TryAdd(message, new MessagePlan()))
            {
                reachable.Add(message);
                foreach (var child in ChildMessages(message))
                {
                    pending.Push(child);
                }
            }
        }

        // Which types can hold text, to a fixpoint so that recursive types come out right.
        var holdsText = reachable.Where(HoldsTextDirectly).ToHashSet();
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var message in reachable)
            {
                if (!holdsText.Contains(message) && ChildMessages(message).Any(holdsText.Contains))
                {
                    changed |= holdsText.Add(message);
                }
            }
        }

        foreach (var message in reachable)
        {
            plans[message]._fields = message.Fields.InFieldNumberOrder()
                .Select(field => FieldPlan.For(field, child => holdsText.Contains(child) ? plans[child] : null))
                .OfType<FieldPlan>()
                .ToArray();
        }
        return plans[root];
    }

    /// <summary>The message types a message's fields hold: singular, repeated, or map values.</summary>
    private static IEnumerable<MessageDescriptor> ChildMessages(MessageDescriptor message) =>
        message.Fields.InFieldNumberOrder().Select(field => field.IsMap ? MapValue(field) : field)
            .Where(field => field.FieldType == FieldType.Message)
            .Select(field => field.MessageType);

    /// <summary>Whether a field of the message holds text of its own (not through another message).</summary>
    private static bool HoldsTextDirectly(MessageDescriptor message) =>
        message.Fields.InFieldNumberOrder().Any(field => FieldPlan.For(field, _ => null) is not null);

    /// <summary>A map field's key, field 1 of its synthesized entry message.</summary>
    internal static FieldDescriptor MapKey(FieldDescriptor map) => map.MessageType.FindFieldByNumber(1);

    /// <summary>A map field's value, field 2 of its synthesized entry message.</summary>
    internal static FieldDescriptor MapValue(FieldDescriptor map) => map.MessageType.FindFieldByNumber(2);
}

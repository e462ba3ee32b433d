using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Api.Shim;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The RuntimeDefault seccomp profile, from the data file embedded beside this code
/// (RuntimeDefaultSeccomp.json, which says where its facts come from): for a node architecture and a
/// container's bounding capabilities, the OCI <c>linux.seccomp</c> containerd's default profile gives.
/// </summary>
public static class RuntimeDefaultSeccomp
{
    private const string ResourceName = "Berth.RuntimeService.Specs.RuntimeDefaultSeccomp.json";

    private static readonly Lazy<ProfileData> s_data = new(Load);

    /// <summary>
    /// The profile for a node of <paramref name="architecture"/> (.NET's name: <c>x64</c>, <c>arm64</c>,
    /// ...; one the data does not list gets its native ABI only) and a container whose bounding set is
    /// <paramref name="bounding"/> (CAP_* names): default action SCMP_ACT_ERRNO with EPERM, then the
    /// rules that apply, in the data's order.
    /// </summary>
    public static LinuxSeccomp For(string architecture, IReadOnlyCollection<string> bounding)
    {
        var data = s_data.Value;
        var syscalls = new List<LinuxSyscall>();
        foreach (RuleData rule in data.Rules)
        {
            if (Applies(rule, architecture, bounding))
            {
                syscalls.Add(rule.ToSyscall());
            }
        }
        return new LinuxSeccomp
        {
            DefaultAction = SeccompRules.ActionErrno,
            DefaultErrnoRet = data.DefaultErrno,
            Architectures = data.Architectures.TryGetValue(architecture, out var arches) ? arches : null,
            Syscalls = syscalls,
        };
    }

    private static bool Applies(RuleData rule, string architecture, IReadOnlyCollection<string> bounding) =>
        (rule.Arches is null || rule.Arches.Contains(architecture))
        && (rule.ExceptArches is null || !rule.ExceptArches.Contains(architecture))
        && (rule.IfCapability is null || bounding.Contains(rule.IfCapability))
        && (rule.UnlessCapability is null || !bounding.Contains(rule.UnlessCapability));

    private static ProfileData Load()
    {
        using var stream = typeof(RuntimeDefaultSeccomp).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{ResourceName} is not embedded in berthd");
        var data = JsonSerializer.Deserialize(stream, RuntimeDefaultSeccompJsonContext.Default.ProfileData)
            ?? throw new InvalidOperationException($"{ResourceName} is empty");
        // The data is ours: a mistake in it is a bug, found by the unit tests, never a user's error.
        var check = new LinuxSeccomp
        {
            DefaultAction = SeccompRules.ActionErrno,
            Syscalls = data.Rules.Select(rule => rule.ToSyscall()).ToList(),
            Architectures = data.Architectures.Values.SelectMany(arches => arches).ToList(),
        };
        string? problem = data.Rules.Any(rule => rule.Action is not ("allow" or "errno"))
            ? "a rule's action is not allow or errno"
            : SeccompRules.Problem(check);
        if (problem is not null)
        {
            throw new InvalidOperationException($"{ResourceName}: {problem}");
        }
        return data;
    }

    internal sealed record ProfileData(uint DefaultErrno, Dictionary<string, List<string>> Architectures, List<RuleData> Rules);

    internal sealed record RuleData(
        string Action,
        List<string> Names,
        uint? Errno = null,
        List<LinuxSeccompArg>? Args = null,
        List<string>? Arches = null,
        List<string>? ExceptArches = null,
        string? IfCapability = null,
        string? UnlessCapability = null)
    {
        public LinuxSyscall ToSyscall() => new()
        {
            Names = Names,
            Action = Action == "errno" ? SeccompRules.ActionErrno : SeccompRules.ActionAllow,
            ErrnoRet = Action == "errno" ? Errno : null,
            Args = Args is { Count: > 0 } ? Args : null,
        };
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(RuntimeDefaultSeccomp.ProfileData))]
internal sealed partial class RuntimeDefaultSeccompJsonContext : JsonSerializerContext;

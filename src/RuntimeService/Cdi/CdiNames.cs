using Berth.RuntimeService.Specs;
using Cri = Berth.Api.Cri;

namespace Berth.RuntimeService.Cdi;

/// <summary>
/// CDI's names (cncf-tags/container-device-interface pkg/parser): a kind is <c>vendor/class</c>, a device is
/// asked for by its qualified name <c>vendor/class=name</c>. Vendor and class start with a letter, end with a
/// letter or digit, and hold letters, digits, '_', '-' and '.'; a device name starts and ends with a letter or
/// digit and may also hold ':'. Letters are ASCII.
/// </summary>
public static class CdiNames
{
    /// <summary>The container annotation prefix device plugins use to ask for CDI devices (its value: qualified names, comma-separated).</summary>
    public const string AnnotationPrefix = "cdi.k8s.io/";

    /// <summary>
    /// The devices a CreateContainer asks for, as containerd's WithCDI collects them: CDI_devices first, then
    /// the qualified names in the container's <c>cdi.k8s.io/</c> annotations (keys in ordinal order), each once.
    /// Throws <see cref="SpecException"/> for a name that is not a qualified device name.
    /// </summary>
    public static IReadOnlyList<string> Requested(Cri.ContainerConfig config)
    {
        var names = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var device in config.CDIDevices)
        {
            Add(device.Name, "CDI_devices");
        }
        foreach (var (key, value) in config.Annotations.Where(pair => pair.Key.StartsWith(AnnotationPrefix, StringComparison.Ordinal))
                     .OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            foreach (string name in value.Split(','))
            {
                Add(name, $"annotation {key}");
            }
        }
        return names;

        void Add(string name, string where)
        {
            if (QualifiedNameProblem(name) is { } problem)
            {
                throw new SpecException($"{where}: CDI device \"{name}\" {problem}");
            }
            if (seen.Add(name))
            {
                names.Add(name);
            }
        }
    }

    /// <summary>What is wrong with <paramref name="device"/> as <c>vendor/class=name</c>; null when nothing.</summary>
    public static string? QualifiedNameProblem(string device)
    {
        int equals = device.IndexOf('=');
        if (equals <= 0 || equals == device.Length - 1 || device.StartsWith('/'))
        {
            return "is not a qualified name vendor/class=name";
        }
        return KindProblem(device[..equals]) ?? DeviceNameProblem(device[(equals + 1)..]);
    }

    /// <summary>What is wrong with <paramref name="kind"/> as <c>vendor/class</c>; null when nothing.</summary>
    public static string? KindProblem(string kind)
    {
        int slash = kind.IndexOf('/');
        if (slash <= 0 || slash == kind.Length - 1)
        {
            return $"has kind \"{kind}\", not vendor/class";
        }
        return VendorOrClassProblem(kind[..slash], "vendor") ?? VendorOrClassProblem(kind[(slash + 1)..], "class");
    }

    /// <summary>What is wrong with a device's own name; null when nothing.</summary>
    public static string? DeviceNameProblem(string name)
    {
        if (name.Length == 0)
        {
            return "has an empty device name";
        }
        if (!IsAlphaNumeric(name[0]) || !IsAlphaNumeric(name[^1]))
        {
            return $"has device name \"{name}\", which must start and end with a letter or digit";
        }
        return name.Any(c => !(IsAlphaNumeric(c) || c is '_' or '-' or '.' or ':'))
            ? $"has device name \"{name}\" with a character other than letters, digits, '_', '-', '.', ':'"
            : null;
    }

    private static string? VendorOrClassProblem(string name, string what)
    {
        if (!IsLetter(name[0]) || !IsAlphaNumeric(name[^1]))
        {
            return $"has {what} \"{name}\", which must start with a letter and end with a letter or digit";
        }
        return name.Any(c => !(IsAlphaNumeric(c) || c is '_' or '-' or '.'))
            ? $"has {what} \"{name}\" with a character other than letters, digits, '_', '-', '.'"
            : null;
    }

    private static bool IsLetter(char c) => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z';

    private static bool IsAlphaNumeric(char c) => IsLetter(c) || c is >= '0' and <= '9';
}

using Berth.RuntimeService.Specs;

namespace Berth.RuntimeService.Cdi;

/// <summary>Edits to apply, and whose they are (for messages): a device's, or its spec file's for all its devices.</summary>
public sealed record CdiEditSet(string Origin, CdiContainerEdits Edits);

/// <summary>
/// The CDI devices the spec directories define, read as the CDI library's cache reads them
/// (cncf-tags/container-device-interface pkg/cdi/cache.go, spec-dirs.go): every <c>*.json</c> and
/// <c>*.yaml</c> file directly in each directory, in order of names; a later directory has the higher
/// priority, so its device of the same qualified name wins; two files of one directory defining the same
/// device make it unusable. A file that cannot be read or parsed is reported and skipped: the other files'
/// devices stay usable.
/// </summary>
public sealed class CdiCatalog
{
    private sealed record Entry(string SpecPath, CdiSpecFile Spec, CdiDevice Device, int Priority);

    private readonly Dictionary<string, Entry> _devices;
    private readonly Dictionary<string, string> _conflicts;
    private readonly IReadOnlyList<string> _directories;
    /// <summary>The files left out as unreadable or invalid, with why: a device asked for may have been in one.</summary>
    private readonly IReadOnlyList<(string Path, string Problem)> _invalid;

    private CdiCatalog(Dictionary<string, Entry> devices, Dictionary<string, string> conflicts, IReadOnlyList<string> directories,
        IReadOnlyList<(string Path, string Problem)> invalid)
    {
        _devices = devices;
        _conflicts = conflicts;
        _directories = directories;
        _invalid = invalid;
    }

    /// <summary>The qualified names of the usable devices.</summary>
    public IEnumerable<string> DeviceNames => _devices.Keys;

    /// <summary>
    /// Reads the spec files in <paramref name="directories"/> (lowest priority first; a missing directory is
    /// skipped). <paramref name="skipped"/> is told of each file left out: its path and why.
    /// </summary>
    public static CdiCatalog Load(IReadOnlyList<string> directories, Action<string, string> skipped)
    {
        var devices = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var conflicts = new Dictionary<string, string>(StringComparer.Ordinal);
        var invalid = new List<(string, string)>();
        for (int priority = 0; priority < directories.Count; priority++)
        {
            if (!Directory.Exists(directories[priority]))
            {
                continue;
            }
            var files = Directory.EnumerateFiles(directories[priority])
                .Where(path => Path.GetExtension(path) is ".json" or ".yaml")
                .Order(StringComparer.Ordinal);
            foreach (string path in files)
            {
                CdiSpecFile spec;
                try
                {
                    spec = CdiSpecParser.Parse(File.ReadAllText(path), yaml: path.EndsWith(".yaml", StringComparison.Ordinal));
                }
                catch (Exception error) when (error is CdiSpecException or IOException or UnauthorizedAccessException)
                {
                    skipped(path, error.Message);
                    invalid.Add((path, error.Message));
                    continue;
                }
                foreach (var device in spec.Devices!)
                {
                    string name = $"{spec.Kind}={device.Name}";
                    if (devices.TryGetValue(name, out var other) && other.Priority == priority)
                    {
                        conflicts[name] = $"{other.SpecPath} and {path}";
                        skipped(path, $"defines CDI device {name}, which {other.SpecPath} defines too: neither is used");
                        continue;
                    }
                    devices[name] = new Entry(path, spec, device, priority);
                    conflicts.Remove(name);
                }
            }
        }
        foreach (string name in conflicts.Keys)
        {
            devices.Remove(name);
        }
        return new CdiCatalog(devices, conflicts, directories, invalid);
    }

    /// <summary>
    /// The edits that bring <paramref name="names"/> (qualified names) into a container, in the library's
    /// order: each spec file's own edits once, before those of its first device asked for, then each device's.
    /// Throws <see cref="SpecException"/> naming every device no file defines (and every spec file that was skipped as
    /// invalid, with why: the device may be meant to come from one), or one defined twice.
    /// </summary>
    public IReadOnlyList<CdiEditSet> Resolve(IReadOnlyList<string> names)
    {
        if (names.FirstOrDefault(_conflicts.ContainsKey) is { } conflicting)
        {
            throw new SpecException($"CDI device {conflicting} is defined in both {_conflicts[conflicting]}");
        }
        var unknown = names.Where(name => !_devices.ContainsKey(name)).ToList();
        if (unknown.Count > 0)
        {
            string skipped = _invalid.Count == 0 ? ""
                : $"; skipped as invalid: {string.Join("; ", _invalid.Select(file => $"{file.Path} ({file.Problem})"))}";
            throw new SpecException($"unresolvable CDI device{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown)}: " +
                $"no valid spec file in {string.Join(", ", _directories)} defines {(unknown.Count > 1 ? "them" : "it")}{skipped}");
        }
        var edits = new List<CdiEditSet>();
        var specs = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            var entry = _devices[name];
            if (specs.Add(entry.SpecPath) && entry.Spec.ContainerEdits is { IsEmpty: false } common)
            {
                edits.Add(new CdiEditSet($"CDI spec {entry.SpecPath}", common));
            }
            edits.Add(new CdiEditSet($"CDI device {name} ({entry.SpecPath})", entry.Device.ContainerEdits!));
        }
        return edits;
    }
}

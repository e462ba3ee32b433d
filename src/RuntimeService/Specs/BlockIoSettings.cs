using System.Globalization;
using Berth.Api.Shim;
using Berth.Core.Errors;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// Block I/O weight and throttles: the node's defaults from config.json, overridden by the pod's
/// annotations. Kubernetes has no block I/O fields, so annotations are the only way a pod can ask.
/// A per-device annotation overrides the default for the same device and keeps the others; a rate
/// or weight of 0 there removes that device's default.
/// </summary>
public static class BlockIoSettings
{
    /// <summary>10..1000, the pod's cgroup blkio/io weight.</summary>
    public const string WeightAnnotation = "blkio.berth.io/weight";

    /// <summary>Comma-separated HOSTPATH=WEIGHT pairs (10..1000), e.g. <c>/dev/vda=200</c>.</summary>
    public const string WeightDeviceAnnotation = "blkio.berth.io/weight-device";

    /// <summary>Comma-separated HOSTPATH=BYTES_PER_SECOND pairs, e.g. <c>/dev/vda=1048576</c>.</summary>
    public const string ThrottleReadBpsAnnotation = "blkio.berth.io/throttle-read-bps-device";

    public const string ThrottleWriteBpsAnnotation = "blkio.berth.io/throttle-write-bps-device";

    /// <summary>Comma-separated HOSTPATH=OPERATIONS_PER_SECOND pairs.</summary>
    public const string ThrottleReadIopsAnnotation = "blkio.berth.io/throttle-read-iops-device";

    public const string ThrottleWriteIopsAnnotation = "blkio.berth.io/throttle-write-iops-device";

    private const ushort MinWeight = 10;
    private const ushort MaxWeight = 1000;

    /// <summary>
    /// Checks the node's defaults when berthd starts, so that a bad config.json is refused then and not
    /// blamed on every CreateContainer: weights in 10..1000 and absolute device paths. Whether the devices
    /// exist is checked at each create (a disk may come and go). Throws <see cref="SpecException"/>.
    /// </summary>
    public static void CheckDefaults(BlockIoDefaults defaults)
    {
        if (defaults.Weight is { } weight)
        {
            CheckWeight(weight, "weight");
        }
        foreach (var device in defaults.WeightDevice)
        {
            CheckWeight(device.Weight, $"weightDevice {device.Path}");
        }
        var paths = defaults.WeightDevice.Select(device => ("weightDevice", device.Path))
            .Concat(defaults.ThrottleReadBpsDevice.Select(device => ("throttleReadBpsDevice", device.Path)))
            .Concat(defaults.ThrottleWriteBpsDevice.Select(device => ("throttleWriteBpsDevice", device.Path)))
            .Concat(defaults.ThrottleReadIopsDevice.Select(device => ("throttleReadIopsDevice", device.Path)))
            .Concat(defaults.ThrottleWriteIopsDevice.Select(device => ("throttleWriteIopsDevice", device.Path)));
        foreach (var (key, path) in paths)
        {
            if (!SpecPaths.IsAbsolute(path ?? ""))
            {
                throw new SpecException($"{key}: device \"{path}\" is not an absolute path");
            }
        }
    }

    /// <summary>The block I/O settings for a container of this pod, or null when there are none.</summary>
    internal static LinuxBlockIO? For(IReadOnlyDictionary<string, string> podAnnotations, BlockIoDefaults defaults, Func<string, DeviceLookup> resolve)
    {
        ushort? weight = defaults.Weight is { } defaultWeight ? CheckWeight(defaultWeight, "config blockIo weight") : null;
        if (podAnnotations.TryGetValue(WeightAnnotation, out string? weightText))
        {
            weight = ParseWeight(weightText.Trim(), WeightAnnotation);
        }

        var weightDevices = Merge(
            defaults.WeightDevice.Select(entry => (entry.Path, (ulong)entry.Weight)), "config blockIo weightDevice",
            podAnnotations, WeightDeviceAnnotation, resolve, isWeight: true);
        var blockIo = new LinuxBlockIO
        {
            Weight = weight,
            WeightDevice = weightDevices?.Select(device =>
                new LinuxWeightDevice { Major = device.Major, Minor = device.Minor, Weight = (ushort)device.Rate }).ToList(),
            ThrottleReadBpsDevice = Merge(defaults.ThrottleReadBpsDevice, "config blockIo throttleReadBpsDevice",
                podAnnotations, ThrottleReadBpsAnnotation, resolve),
            ThrottleWriteBpsDevice = Merge(defaults.ThrottleWriteBpsDevice, "config blockIo throttleWriteBpsDevice",
                podAnnotations, ThrottleWriteBpsAnnotation, resolve),
            ThrottleReadIOPSDevice = Merge(defaults.ThrottleReadIopsDevice, "config blockIo throttleReadIopsDevice",
                podAnnotations, ThrottleReadIopsAnnotation, resolve),
            ThrottleWriteIOPSDevice = Merge(defaults.ThrottleWriteIopsDevice, "config blockIo throttleWriteIopsDevice",
                podAnnotations, ThrottleWriteIopsAnnotation, resolve),
        };
        return blockIo == new LinuxBlockIO() ? null : blockIo;
    }

    private static List<LinuxThrottleDevice>? Merge(List<BlockIoDeviceRate> defaults, string defaultsName,
        IReadOnlyDictionary<string, string> podAnnotations, string annotation, Func<string, DeviceLookup> resolve) =>
        Merge(defaults.Select(entry => (entry.Path, entry.Rate)), defaultsName, podAnnotations, annotation, resolve, isWeight: false);

    /// <summary>Defaults first, then the annotation's pairs; keyed by device number so two paths of one device are one entry.</summary>
    private static List<LinuxThrottleDevice>? Merge(IEnumerable<(string Path, ulong Value)> defaults, string defaultsName,
        IReadOnlyDictionary<string, string> podAnnotations, string annotation, Func<string, DeviceLookup> resolve, bool isWeight)
    {
        var byDevice = new SortedDictionary<(long Major, long Minor), ulong>();
        foreach (var (path, value) in defaults)
        {
            if (isWeight)
            {
                CheckWeight(value, $"{defaultsName} {path}");
            }
            Apply(byDevice, BlockDevice(path, defaultsName, resolve), value);
        }
        if (podAnnotations.TryGetValue(annotation, out string? text))
        {
            foreach (string pair in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                int equals = pair.LastIndexOf('=');
                if (equals <= 0)
                {
                    throw new SpecException($"annotation {annotation}: \"{pair}\" is not HOSTPATH=VALUE");
                }
                string path = pair[..equals].Trim();
                string valueText = pair[(equals + 1)..].Trim();
                ulong value = isWeight
                    ? ParseWeight(valueText, annotation, allowZero: true)
                    : ulong.TryParse(valueText, NumberStyles.None, CultureInfo.InvariantCulture, out ulong rate)
                        ? rate
                        : throw new SpecException($"annotation {annotation}: \"{valueText}\" for {path} is not a whole number");
                Apply(byDevice, BlockDevice(path, $"annotation {annotation}", resolve), value);
            }
        }
        return byDevice.Count == 0
            ? null
            : byDevice.Select(entry => new LinuxThrottleDevice { Major = entry.Key.Major, Minor = entry.Key.Minor, Rate = entry.Value }).ToList();
    }

    private static void Apply(SortedDictionary<(long, long), ulong> byDevice, DeviceNumber device, ulong value)
    {
        if (value == 0)
        {
            byDevice.Remove((device.Major, device.Minor));
        }
        else
        {
            byDevice[(device.Major, device.Minor)] = value;
        }
    }

    private static DeviceNumber BlockDevice(string path, string source, Func<string, DeviceLookup> resolve)
    {
        if (!SpecPaths.IsAbsolute(path))
        {
            throw new SpecException($"{source}: device \"{path}\" is not an absolute path");
        }
        try
        {
            DeviceNumber device = resolve(path).Require($"{source}: device {path}");
            return device.Type == 'b' ? device : throw new SpecException($"{source}: {path} is not a block device");
        }
        catch (SpecException error) when (source.StartsWith("config", StringComparison.Ordinal))
        {
            // The node's own configuration names it: the request is not at fault.
            throw BerthException.FailedPrecondition(error.Message, error);
        }
    }

    private static ushort ParseWeight(string text, string annotation, bool allowZero = false)
    {
        if (!ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ushort weight) ||
            (weight != 0 || !allowZero) && weight is < MinWeight or > MaxWeight)
        {
            throw new SpecException($"annotation {annotation}: weight \"{text}\" is not a whole number in {MinWeight}..{MaxWeight}");
        }
        return weight;
    }

    private static ushort CheckWeight(ulong weight, string source) =>
        weight is >= MinWeight and <= MaxWeight
            ? (ushort)weight
            : throw new SpecException($"{source}: weight {weight} is not in {MinWeight}..{MaxWeight}");
}

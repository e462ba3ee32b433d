using System.Runtime.InteropServices;

namespace Berth.Tests.E2e.Fixtures;

public enum ManifestFormat
{
    /// <summary>OCI image manifest, and OCI image index for several platforms.</summary>
    Oci,

    /// <summary>Docker image manifest schema 2, and Docker manifest list for several platforms.</summary>
    Docker,
}

/// <summary>An os/architecture/variant triple, as in an image config and an index entry.</summary>
public sealed record ImagePlatform(string Os, string Architecture, string? Variant = null)
{
    public static readonly ImagePlatform LinuxAmd64 = new("linux", "amd64");
    public static readonly ImagePlatform LinuxArm64 = new("linux", "arm64", "v8");
    public static readonly ImagePlatform LinuxArmV7 = new("linux", "arm", "v7");

    /// <summary>The platform of this machine, which a runtime on it pulls from an index.</summary>
    public static ImagePlatform Host { get; } = RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => LinuxAmd64,
        System.Runtime.InteropServices.Architecture.Arm64 => LinuxArm64,
        System.Runtime.InteropServices.Architecture.Arm => LinuxArmV7,
        var other => new("linux", other.ToString().ToLowerInvariant()),
    };

    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";
}

/// <summary>The "config" object of an image config: how a container of the image runs unless told otherwise.</summary>
public sealed record ExecutionConfig
{
    public IReadOnlyList<string>? Env { get; init; } = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyList<string>? Cmd { get; init; }

    public string? WorkingDir { get; init; }

    public string? User { get; init; }

    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public string? StopSignal { get; init; }

    /// <summary>"80/tcp", "53/udp".</summary>
    public IReadOnlyList<string>? ExposedPorts { get; init; }

    /// <summary>Paths the image declares as volumes, e.g. "/data".</summary>
    public IReadOnlyList<string>? Volumes { get; init; }
}

public sealed record HistoryEntry(string CreatedBy, bool EmptyLayer = false, string? Comment = null);

/// <summary>One platform's image: its layers (lowest first), its execution config and its platform.</summary>
public sealed record ImageSpec
{
    public ImagePlatform Platform { get; init; } = ImagePlatform.Host;

    public IReadOnlyList<LayerBuilder> Layers { get; init; } = [];

    public ExecutionConfig Config { get; init; } = new();

    /// <summary>Written to the config's "history" when given; the OCI spec makes it optional.</summary>
    public IReadOnlyList<HistoryEntry>? History { get; init; }
}

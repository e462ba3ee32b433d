using System.Runtime.InteropServices;
using CpuArchitecture = System.Runtime.InteropServices.Architecture;

namespace Berth.ImageService.Registry;

/// <summary>An OCI platform: which entry of an image index this node can run.</summary>
public sealed record Platform(string OS, string Architecture, string? Variant = null)
{
    /// <summary>This node: Linux (Berth runs Linux containers) on the process's CPU architecture.</summary>
    public static Platform Current { get; } = new("linux", RuntimeInformation.OSArchitecture switch
    {
        CpuArchitecture.X64 => "amd64",
        CpuArchitecture.Arm64 => "arm64",
        CpuArchitecture.Arm => "arm",
        CpuArchitecture.X86 => "386",
        CpuArchitecture.S390x => "s390x",
        CpuArchitecture.Ppc64le => "ppc64le",
        CpuArchitecture.RiscV64 => "riscv64",
        CpuArchitecture.LoongArch64 => "loong64",
        var other => other.ToString().ToLowerInvariant(),
    }, RuntimeInformation.OSArchitecture switch
    {
        CpuArchitecture.Arm64 => "v8",
        CpuArchitecture.Arm => "v7",
        _ => null,
    });

    public override string ToString() => string.IsNullOrEmpty(Variant) ? $"{OS}/{Architecture}" : $"{OS}/{Architecture}/{Variant}";

    /// <summary>
    /// How well an image built for <paramref name="candidate"/> fits this node: 0 for the same
    /// variant, 1 for an entry that names no variant, 1 + n for a variant n versions older that the
    /// node still runs (arm v6 on an arm v7 node); null when it cannot run here.
    /// </summary>
    internal int? FitOf(Platform candidate)
    {
        var node = Normalize();
        var image = candidate.Normalize();
        if (node.OS != image.OS || node.Architecture != image.Architecture)
        {
            return null;
        }
        if (image.Variant == node.Variant)
        {
            return 0;
        }
        if (image.Variant is null)
        {
            return 1;
        }
        // arm v5..v8 and amd64 v1..v4 are ordered: a node runs the older variants of its architecture.
        return VariantLevel(image.Variant) is int imageLevel && VariantLevel(node.Variant) is int nodeLevel && imageLevel < nodeLevel
            ? 1 + nodeLevel - imageLevel
            : null;
    }

    private static int? VariantLevel(string? variant) =>
        variant is ['v', .. var digits] && int.TryParse(digits, out var level) ? level : null;

    // The same spellings containerd's platforms.Normalize accepts; arm64 without a variant is v8,
    // arm without one is v7, and amd64 v1 is plain amd64.
    private Platform Normalize()
    {
        var os = OS.ToLowerInvariant();
        var architecture = Architecture.ToLowerInvariant();
        var variant = string.IsNullOrEmpty(Variant) ? null : Variant.ToLowerInvariant();
        if (variant is [>= '0' and <= '9', ..])
        {
            variant = "v" + variant;
        }
        (architecture, variant) = (architecture, variant) switch
        {
            ("x86_64" or "x86-64" or "amd64", "v1" or null) => ("amd64", null),
            ("x86_64" or "x86-64", _) => ("amd64", variant),
            ("aarch64" or "arm64", null) => ("arm64", "v8"),
            ("aarch64", _) => ("arm64", variant),
            ("armhf", _) => ("arm", "v7"),
            ("armel", _) => ("arm", "v6"),
            ("arm", null) => ("arm", "v7"),
            ("i386" or "i686", _) => ("386", variant),
            _ => (architecture, variant),
        };
        return new Platform(os, architecture, variant);
    }
}

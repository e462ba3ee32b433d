using System.Buffers;
using System.Security.Cryptography;

namespace Berth.ImageService.Registry;

/// <summary>The only digest algorithm the client verifies with: sha256, as nearly every registry uses.</summary>
internal static class Sha256Digest
{
    private const string Prefix = "sha256:";
    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdef");

    public static string Of(ReadOnlySpan<byte> content) => Prefix + Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Of(IncrementalHash hash) => Prefix + Convert.ToHexStringLower(hash.GetHashAndReset());

    /// <summary>Throws Unsupported for another algorithm and <paramref name="malformedKind"/> for a malformed digest.</summary>
    public static void Require(string digest, string what, RegistryErrorKind malformedKind)
    {
        if (!digest.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw digest.IndexOf(':', StringComparison.Ordinal) > 0
                ? new RegistryException(RegistryErrorKind.Unsupported, $"{what} uses digest \"{digest}\": only sha256 digests are supported")
                : new RegistryException(malformedKind, $"{what} has a malformed digest \"{digest}\"");
        }
        var hex = digest.AsSpan(Prefix.Length);
        if (hex.Length != 64 || hex.ContainsAnyExcept(HexDigits))
        {
            throw new RegistryException(malformedKind, $"{what} has a malformed digest \"{digest}\": sha256 needs 64 lowercase hexadecimal characters");
        }
    }
}

using System.Text.Json;
using Berth.Api.Shim;

namespace Berth.Shim;

/// <summary>
/// Reads what berthd wrote in a bundle (config.json, shim.json) for each of the shim's modes. A
/// file that cannot be read is an <see cref="ErrnoException"/> naming it; one that does not parse
/// is an <see cref="InvalidSpecException"/> naming it and where in it (<see cref="FailureText"/>).
/// </summary>
internal static class BundleFiles
{
    public static OciSpec ReadSpec(string bundle) => Read(BundleLayout.ConfigPath(bundle), bytes => OciJson.ParseSpec(bytes));

    /// <summary>config.json's process and seccomp filter only, for the exec stage.</summary>
    public static OciExecSpec ReadExecSpec(string bundle) => Read(BundleLayout.ConfigPath(bundle), bytes => OciJson.ParseExecSpec(bytes));

    public static ShimOptions ReadOptions(string bundle) => Read(BundleLayout.OptionsPath(bundle), bytes => ShimJson.ParseOptions(bytes));

    private static T Read<T>(string path, Func<byte[], T> parse)
    {
        byte[] bytes = ShimFiles.ReadAll(path);
        try
        {
            return parse(bytes);
        }
        catch (JsonException e)
        {
            throw new InvalidSpecException($"{path}: {FailureText.Describe(e)}");
        }
    }
}

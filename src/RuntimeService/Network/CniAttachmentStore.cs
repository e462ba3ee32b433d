using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Berth.Api.Shim;
using Berth.Core;

namespace Berth.RuntimeService.Network;

/// <summary>
/// A pod's attachment to the network, as berthd must remember it to delete it later whatever happened
/// meanwhile (a restart, a reboot, a lost netns): what libcni caches under /var/lib/cni/results, plus
/// the netns path. Written before ADD runs (with no result yet) and again with the result, so a daemon
/// killed during ADD still knows to DEL. <paramref name="Network"/> is the configuration ADD used, as a
/// list (<see cref="CniNetworkConfig.ToListJson"/>): DEL and CHECK use it even if the conf dir changed since.
/// </summary>
public sealed record CniAttachment(
    string Kind,
    string SandboxId,
    string ContainerId,
    string IfName,
    string NetnsPath,
    string NetworkName,
    JsonObject Network,
    string Args,
    JsonObject CapabilityArgs,
    JsonObject? Result)
{
    public const string CurrentKind = "berthCniAttachmentV1";

    /// <summary>The attachment parameters for a plugin call, with the netns path actually usable now (empty when it is gone).</summary>
    public CniAttachmentParameters Parameters(string netnsPath) => new(ContainerId, netnsPath, IfName, Args, CapabilityArgs);
}

/// <summary>
/// One file per attachment under berthd's root (it must survive a reboot: the IP leases and rules it
/// describes do), named after the sandbox, written atomically (temporary file, fsync, rename).
/// </summary>
public sealed class CniAttachmentStore(string directory)
{
    public string Directory => directory;

    /// <summary>
    /// Writes the attachment. The record made before ADD only has to outlive a crash of berthd during ADD
    /// (the page cache does: <see cref="AtomicFile.Durability.None"/>); the record with the result is
    /// fsynced before its rename (<see cref="AtomicFile.Durability.Content"/>): should a power cut undo the
    /// rename, the record before ADD is still there and DEL still runs, without prevResult as the spec
    /// allows. Each fsync costs tens of milliseconds of RunPodSandbox on a busy disk.
    /// </summary>
    public void Write(CniAttachment attachment)
    {
        using var span = Telemetry.Source.StartActivity("state.cni_attachment");
        System.IO.Directory.CreateDirectory(directory);
        AtomicFile.Write(PathOf(attachment.SandboxId), JsonSerializer.SerializeToUtf8Bytes(attachment, AttachmentJsonContext.Default.CniAttachment),
            attachment.Result is null ? AtomicFile.Durability.None : AtomicFile.Durability.Content);
    }

    /// <summary>The sandbox's attachment; null when it has none or the file cannot be read as one (logged by the caller as missing).</summary>
    public CniAttachment? Read(string sandboxId)
    {
        string path = PathOf(sandboxId);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            var attachment = JsonSerializer.Deserialize(File.ReadAllBytes(path), AttachmentJsonContext.Default.CniAttachment);
            return attachment is { Kind: CniAttachment.CurrentKind } ? attachment : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Delete(string sandboxId) => File.Delete(PathOf(sandboxId));

    /// <summary>The sandbox IDs that have an attachment file.</summary>
    public IReadOnlyList<string> SandboxIds() =>
        System.IO.Directory.Exists(directory)
            ? [.. System.IO.Directory.EnumerateFiles(directory, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>()]
            : [];

    private string PathOf(string sandboxId) => Path.Combine(directory, sandboxId + ".json");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(CniAttachment))]
internal sealed partial class AttachmentJsonContext : JsonSerializerContext;

using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Berth.RuntimeService.Validation;

namespace Berth.Tests.Unit.Validation;

/// <summary>
/// berthd checks requests through C# written at build time, never through Google.Protobuf's reflection:
/// in the NativeAOT berthd, building the CRI's descriptors (the first touch of any message's Descriptor)
/// makes every field's reflection accessor and costs 3 to 5 MB resident for the life of the daemon. This
/// reads berthd's own assemblies and fails on any reference to that reflection. It cannot see a message
/// formatted as text (ToString, a log argument), which reaches the same reflection through JsonFormatter.
/// </summary>
public sealed class NoProtobufReflectionTests
{
    [Fact]
    public void BerthdsAssembliesReferenceNoProtobufReflection()
    {
        var assemblies = new[] { typeof(RequestValidator).Assembly, typeof(Berth.ImageService.Handlers.CriImageService).Assembly, typeof(Berth.Core.Errors.BerthException).Assembly };
        var found = assemblies.SelectMany(assembly => ReflectionReferences(assembly.Location).Select(reference => $"{assembly.GetName().Name}: {reference}")).ToList();
        Assert.True(found.Count == 0, string.Join('\n', found));
    }

    [Fact]
    public void TheScanFindsWhatTheseTestsUse()
    {
        // CriContractTests and RequestSlots read the descriptors, as tests may.
        var found = ReflectionReferences(typeof(NoProtobufReflectionTests).Assembly.Location).ToList();
        Assert.Contains("Google.Protobuf.Reflection.MessageDescriptor", found);
        Assert.Contains("Berth.Api.Cri.PodSandboxConfig.get_Descriptor", found);
    }

    /// <summary>The types of Google.Protobuf.Reflection, its JSON formatter and parser, and the Descriptor properties of messages that an assembly uses.</summary>
    private static IEnumerable<string> ReflectionReferences(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var metadata = pe.GetMetadataReader();
        var types = metadata.TypeReferences.Select(handle => FullName(metadata, metadata.GetTypeReference(handle))).ToList();
        foreach (string type in types.Where(type => type.StartsWith("Google.Protobuf.Reflection.", StringComparison.Ordinal)
            || type is "Google.Protobuf.JsonFormatter" or "Google.Protobuf.JsonParser"))
        {
            yield return type;
        }
        foreach (var handle in metadata.MemberReferences)
        {
            var member = metadata.GetMemberReference(handle);
            if (member.Parent.Kind == HandleKind.TypeReference && metadata.GetString(member.Name) == "get_Descriptor")
            {
                string owner = FullName(metadata, metadata.GetTypeReference((TypeReferenceHandle)member.Parent));
                if (owner.StartsWith("Google.Protobuf.", StringComparison.Ordinal) || owner.StartsWith("Berth.Api.Cri.", StringComparison.Ordinal))
                {
                    yield return owner + ".get_Descriptor";
                }
            }
        }
    }

    private static string FullName(MetadataReader metadata, TypeReference type) =>
        type.ResolutionScope.Kind == HandleKind.TypeReference
            ? FullName(metadata, metadata.GetTypeReference((TypeReferenceHandle)type.ResolutionScope)) + "." + metadata.GetString(type.Name)
            : metadata.GetString(type.Namespace) + "." + metadata.GetString(type.Name);
}

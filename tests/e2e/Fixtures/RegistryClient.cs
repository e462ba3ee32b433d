using System.Net;
using System.Net.Http.Headers;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// The few calls of the distribution API the fixtures make (push a blob, push a manifest, read
/// them back), each checking the registry's answer so that a failed push fails where it happened.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    private static readonly string[] ManifestMediaTypes =
        [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];

    public RegistryClient(RegistryServer registry, bool authenticated = true) => Http = registry.CreateClient(authenticated);

    /// <summary>The underlying client (base address set, CA trusted, credentials sent), for requests of a test's own.</summary>
    public HttpClient Http { get; }

    public async Task<bool> BlobExistsAsync(string repository, string digest)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, $"/v2/{repository}/blobs/{digest}");
        using var response = await Http.SendAsync(request);
        return response.StatusCode switch
        {
            HttpStatusCode.OK => true,
            HttpStatusCode.NotFound => false,
            _ => throw await FailureAsync(response, $"HEAD blob {digest}"),
        };
    }

    /// <summary>Uploads a blob in one piece (POST, then PUT with the digest), unless the registry already has it.</summary>
    public async Task<string> PushBlobAsync(string repository, byte[] content)
    {
        var digest = Digests.Sha256(content);
        if (await BlobExistsAsync(repository, digest))
        {
            return digest;
        }

        using var start = await Http.PostAsync($"/v2/{repository}/blobs/uploads/", content: null);
        await EnsureStatusAsync(start, HttpStatusCode.Accepted, $"start upload of {digest}");
        var location = start.Headers.Location ?? throw new InvalidOperationException("The registry started an upload without a Location.");
        var upload = new Uri(Http.BaseAddress!, location);
        var separator = upload.Query.Length > 0 ? "&" : "?";
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var finish = await Http.PutAsync($"{upload}{separator}digest={Uri.EscapeDataString(digest)}", body);
        await EnsureStatusAsync(finish, HttpStatusCode.Created, $"finish upload of {digest}");
        return digest;
    }

    /// <summary>PUTs a manifest under a tag or its digest and returns its digest, checked against the registry's.</summary>
    public async Task<string> PushManifestAsync(string repository, string reference, string mediaType, byte[] content)
    {
        var digest = Digests.Sha256(content);
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await Http.PutAsync($"/v2/{repository}/manifests/{reference}", body);
        await EnsureStatusAsync(response, HttpStatusCode.Created, $"push manifest {repository}:{reference}");
        var registryDigest = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.Single() : null;
        return registryDigest == digest
            ? digest
            : throw new InvalidOperationException($"The registry stored manifest {repository}:{reference} as {registryDigest}, not {digest}.");
    }

    /// <summary>GETs a manifest, accepting every type the fixtures push; returns its media type and bytes.</summary>
    public async Task<(string MediaType, byte[] Content)> GetManifestAsync(string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repository}/manifests/{reference}");
        foreach (var mediaType in ManifestMediaTypes)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
        }

        using var response = await Http.SendAsync(request);
        await EnsureStatusAsync(response, HttpStatusCode.OK, $"get manifest {repository}:{reference}");
        return (response.Content.Headers.ContentType?.MediaType ?? "", await response.Content.ReadAsByteArrayAsync());
    }

    public async Task<byte[]> GetBlobAsync(string repository, string digest)
    {
        using var response = await Http.GetAsync($"/v2/{repository}/blobs/{digest}");
        await EnsureStatusAsync(response, HttpStatusCode.OK, $"get blob {digest}");
        return await response.Content.ReadAsByteArrayAsync();
    }

    public void Dispose() => Http.Dispose();

    private static async Task EnsureStatusAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        if (response.StatusCode != expected)
        {
            throw await FailureAsync(response, what);
        }
    }

    private static async Task<Exception> FailureAsync(HttpResponseMessage response, string what) =>
        new HttpRequestException(
            $"{what}: {(int)response.StatusCode} {response.ReasonPhrase} {await response.Content.ReadAsStringAsync()}",
            inner: null,
            response.StatusCode);
}

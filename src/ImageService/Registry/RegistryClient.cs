using System.Collections.Concurrent;

namespace Berth.ImageService.Registry;

/// <summary>
/// Pulls from registries that speak the OCI distribution API: resolves a reference to this node's
/// manifest through the host's mirrors and then the host itself, and streams verified blobs from
/// the endpoint that served it; pushes to the registry itself (RegistryClient.Push.cs); checks and keeps
/// logins. Thread-safe; one instance serves the whole daemon.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private volatile IReadOnlyDictionary<string, RegistryHostConfig> hosts;
    private readonly RegistryClientOptions options;
    private readonly RegistryTransport transport;
    private readonly RegistryAuthenticator authenticator;
    private readonly RegistryLogins? logins;
    // Endpoints keep what they learnt (a host that speaks only plain HTTP), so they live as long as the client.
    private readonly ConcurrentDictionary<string, IReadOnlyList<RegistryEndpoint>> endpointsByDomain = new();

    /// <param name="hosts">Per-host settings keyed by registry host[:port] (a reference's Domain, or a mirror's host).</param>
    /// <param name="logins">berthctl login's credentials; none when null.</param>
    public RegistryClient(IReadOnlyDictionary<string, RegistryHostConfig> hosts, RegistryClientOptions options, RegistryLogins? logins = null)
        : this(hosts, options, RegistryTransport.CreateSocketsHandler, logins)
    {
    }

    /// <summary>For tests: <paramref name="createHandler"/> stands for the network.</summary>
    internal RegistryClient(
        IReadOnlyDictionary<string, RegistryHostConfig> hosts, RegistryClientOptions options, Func<RegistryHostConfig?, HttpMessageHandler> createHandler,
        RegistryLogins? logins = null)
    {
        this.logins = logins;
        ArgumentNullException.ThrowIfNull(hosts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        RegistryEndpoint.Validate(hosts);
        this.hosts = hosts;
        this.options = options;
        transport = new RegistryTransport(options, createHandler);
        authenticator = new RegistryAuthenticator(transport);
    }

    /// <summary>
    /// New per-host settings (a configuration reload): pulls that start from now on use them; pulls under way
    /// finish with the endpoints they resolved. Throws as the constructor does for invalid settings.
    /// </summary>
    public void ReplaceHosts(IReadOnlyDictionary<string, RegistryHostConfig> newHosts)
    {
        ArgumentNullException.ThrowIfNull(newHosts);
        RegistryEndpoint.Validate(newHosts);
        hosts = newHosts;
        endpointsByDomain.Clear();
    }

    /// <summary>
    /// Fetches the manifest <paramref name="reference"/> names (by digest when it has one), and when it
    /// is an index, the manifest of this node's platform. Credentials from the call win over the
    /// configured ones of the registry.
    /// </summary>
    public async Task<ResolvedImage> ResolveAsync(ImageReference reference, RegistryCredentials? credentials, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Digest is { } digest)
        {
            Sha256Digest.Require(digest, reference.ToString(), RegistryErrorKind.Unsupported);
        }
        RegistryException? lastFailure = null;
        foreach (var endpoint in EndpointsFor(reference.Domain))
        {
            try
            {
                var image = await ResolveAtAsync(Connect(endpoint, reference, credentials), reference, ct).ConfigureAwait(false);
                return image with { Credentials = credentials };
            }
            catch (RegistryException e)
            {
                lastFailure = e; // a mirror that fails or lacks the image leaves it to the next endpoint
            }
        }
        throw lastFailure!;
    }

    /// <summary>Reads a small blob, such as the image config, whole and verified.</summary>
    public async Task<byte[]> GetBlobBytesAsync(ResolvedImage image, Descriptor blob, long maxBytes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(blob);
        if (blob.Size > maxBytes)
        {
            throw new RegistryException(RegistryErrorKind.Unsupported,
                $"blob {blob.Digest} of {image.Reference} is {blob.Size} bytes, more than the {maxBytes} allowed");
        }
        await using var stream = await OpenBlobAsync(image, blob, ct).ConfigureAwait(false);
        var content = new byte[blob.Size];
        await stream.ReadExactlyAsync(content, ct).ConfigureAwait(false);
        await stream.CopyToAsync(Stream.Null, ct).ConfigureAwait(false); // reaching the end verifies size and digest
        return content;
    }

    /// <summary>
    /// Opens a blob for streaming from the endpoint that served the image's manifest. The stream
    /// verifies size and sha256 as it is read and throws DigestMismatch at its end (or as soon as it
    /// runs long) and Stalled when no byte arrives for the stall timeout: read it to the end before
    /// trusting its content. Dispose it.
    /// </summary>
    public async Task<Stream> OpenBlobAsync(ResolvedImage image, Descriptor blob, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(blob);
        Sha256Digest.Require(blob.Digest, $"blob of {image.Reference}", RegistryErrorKind.InvalidManifest);
        var endpoint = EndpointsFor(image.Reference.Domain).FirstOrDefault(e => e.BaseUri.Authority == image.Source.Authority
                && e.BaseUri.AbsolutePath == image.Source.AbsolutePath)
            ?? throw new RegistryException(RegistryErrorKind.Unavailable,
                $"{image.Source}, which served {image.Reference}, is no longer among its registry's endpoints");
        var connection = Connect(endpoint, image.Reference, image.Credentials);
        var response = await connection.GetAsync($"blobs/{blob.Digest}", [], $"blob {blob.Digest} of {image.Reference}", ct).ConfigureAwait(false);
        try
        {
            if (response.Content.Headers.ContentLength is long length && length != blob.Size)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch,
                    $"{endpoint} announced {length} bytes for blob {blob.Digest} of {image.Reference}, whose descriptor gives {blob.Size}");
            }
            var content = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            return new VerifyingBlobStream(content, blob, options.StallTimeout, response);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose() => transport.Dispose();

    private async Task<ResolvedImage> ResolveAtAsync(RepositoryConnection connection, ImageReference reference, CancellationToken ct)
    {
        var top = await FetchManifestAsync(connection, reference.Digest ?? reference.Tag!, reference.Digest, null,
            $"manifest of {reference}", ct).ConfigureAwait(false);
        var document = ManifestParser.Parse(top.Bytes, top.ContentType, $"manifest of {reference}");
        var platformManifest = top;
        if (document is ImageIndexDocument index)
        {
            var entry = index.SelectFor(options.Platform, reference.ToString()).Descriptor;
            var what = $"manifest {entry.Digest} of {reference} (for {options.Platform})";
            Sha256Digest.Require(entry.Digest, what, RegistryErrorKind.InvalidManifest);
            platformManifest = await FetchManifestAsync(connection, entry.Digest, entry.Digest, entry.Size, what, ct).ConfigureAwait(false);
            document = ManifestParser.Parse(platformManifest.Bytes, platformManifest.ContentType, what);
        }
        if (document is not ImageManifestDocument manifest)
        {
            throw new RegistryException(RegistryErrorKind.Unsupported, $"{reference}: an index inside an index is not supported");
        }
        return new ResolvedImage(reference, top.Digest, platformManifest.Digest, manifest.MediaType, platformManifest.Bytes,
            manifest.Config, manifest.Layers, connection.Endpoint.BaseUri);
    }

    private async Task<FetchedManifest> FetchManifestAsync(
        RepositoryConnection connection, string tagOrDigest, string? expectedDigest, long? expectedSize, string what, CancellationToken ct)
    {
        using var response = await connection.GetAsync($"manifests/{tagOrDigest}", MediaTypes.AcceptedManifests, what, ct).ConfigureAwait(false);
        var bytes = await transport.ReadBodyAsync(response, ManifestParser.MaxManifestBytes, ct).ConfigureAwait(false)
            ?? throw new RegistryException(RegistryErrorKind.InvalidManifest, $"{what} is larger than {ManifestParser.MaxManifestBytes} bytes");
        var digest = Sha256Digest.Of(bytes);
        if ((expectedDigest is not null && digest != expectedDigest) || (expectedSize is long size && bytes.Length != size))
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch,
                $"{what}: {connection.Endpoint} sent {bytes.Length} bytes with digest {digest}");
        }
        return new FetchedManifest(bytes, digest, response.Content.Headers.ContentType?.MediaType);
    }

    private IReadOnlyList<RegistryEndpoint> EndpointsFor(string domain) =>
        endpointsByDomain.GetOrAdd(domain, static (domain, hosts) => RegistryEndpoint.ForDomain(domain, hosts), hosts);

    private RepositoryConnection Connect(RegistryEndpoint endpoint, ImageReference reference, RegistryCredentials? fromCall,
        string actions = AuthScope.Pull, string? mountFrom = null) =>
        new(new AuthScope(endpoint, transport.ClientFor(endpoint.Config), reference.Path, CredentialsFor(endpoint, fromCall), actions, mountFrom),
            transport, authenticator);

    /// <summary>
    /// The credentials a request to <paramref name="endpoint"/> carries. A mirror's own win for it (its login, then its
    /// configuration); the registry's come from the call (CRI AuthConfig, berthctl --user), else its login (berthctl
    /// login), else its configuration: a login is newer and was checked against the registry, and a logout gives
    /// the configured ones back. Like containerd, a mirror without its own gets the call's.
    /// </summary>
    private RegistryCredentials? CredentialsFor(RegistryEndpoint endpoint, RegistryCredentials? fromCall)
    {
        RegistryCredentials? configured;
        try
        {
            configured = logins?.Find(endpoint.Host) ?? RegistryCredentials.FromHostConfig(endpoint.Config);
        }
        catch (FormatException e)
        {
            throw new RegistryException(RegistryErrorKind.Unauthorized, $"the configured credentials for {endpoint.BaseUri.Authority}: {e.Message}", e);
        }
        var call = fromCall is { IsEmpty: false } ? fromCall : null;
        return endpoint.IsMirror ? configured ?? call : call ?? configured;
    }

    private sealed record FetchedManifest(byte[] Bytes, string Digest, string? ContentType);
}

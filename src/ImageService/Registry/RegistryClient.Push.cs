using System.Net;
using System.Net.Http.Headers;

namespace Berth.ImageService.Registry;

public sealed partial class RegistryClient
{
    /// <summary>berthctl login's file, or null when this client keeps no logins.</summary>
    public RegistryLogins? Logins => logins;

    /// <summary>
    /// Checks <paramref name="credentials"/> against the registry <paramref name="host"/> itself (GET /v2/ with its auth
    /// flow, as docker login does: a Bearer challenge is answered at its token service, a Basic one directly), then keeps
    /// them in the login file. Nothing is written when the registry refuses them or cannot be reached.
    /// </summary>
    /// <param name="host">A normalised registry host (<see cref="RegistryLogins.NormalizeHost"/>).</param>
    /// <exception cref="RegistryException">Unauthenticated when refused; Unavailable when the registry did not answer.</exception>
    public async Task LoginAsync(string host, RegistryCredentials credentials, CancellationToken ct)
    {
        var store = logins ?? throw new InvalidOperationException("this registry client keeps no logins");
        var endpoint = EndpointsFor(host)[^1]; // the registry itself, never a mirror
        var connection = new RepositoryConnection(
            new AuthScope(endpoint, transport.ClientFor(endpoint.Config), Repository: "", credentials), transport, authenticator);
        using (await connection.GetAsync("", [], $"the API root of {host}", ct).ConfigureAwait(false))
        {
        }
        store.Save(host, credentials);
    }

    /// <summary>Opens a push to <paramref name="reference"/>'s repository on its registry itself (mirrors are for pulls).</summary>
    internal RegistryPush OpenPush(ImageReference reference, RegistryCredentials? credentials)
    {
        var endpoint = EndpointsFor(reference.Domain)[^1];
        return new RegistryPush(this, endpoint, reference, credentials, options.PushChunkBytes);
    }

    /// <summary>
    /// One push to one repository: blob existence checks, cross-repository mounts, monolithic and chunked uploads, and
    /// the manifest put, following the OCI distribution spec's push section. Each call may run concurrently with others.
    /// </summary>
    internal sealed class RegistryPush(RegistryClient client, RegistryEndpoint endpoint, ImageReference reference, RegistryCredentials? credentials, long chunkBytes)
    {
        private readonly RepositoryConnection _connection = client.Connect(endpoint, reference, credentials, AuthScope.PullPush);

        /// <summary>The registry host[:port] pushed to, for messages.</summary>
        public string Registry => endpoint.BaseUri.Authority;

        /// <summary>HEAD /v2/&lt;name&gt;/blobs/&lt;digest&gt;: whether the repository has the blob already.</summary>
        public async Task<bool> HasBlobAsync(Descriptor blob, CancellationToken ct)
        {
            using var response = await _connection.SendAsync(
                () => new HttpRequestMessage(HttpMethod.Head, _connection.Resolve($"blobs/{blob.Digest}")), retry: true, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
            return response.IsSuccessStatusCode ? true : throw await FailureAsync(_connection, response, $"blob {blob.Digest}", ct).ConfigureAwait(false);
        }

        /// <summary>
        /// POST /v2/&lt;name&gt;/blobs/uploads/, with ?mount=&lt;digest&gt;&amp;from=&lt;repository&gt; when
        /// <paramref name="mountFrom"/> (a path in the same registry) is given. Null when the registry mounted the blob
        /// (201); otherwise the upload session to send it to (202, also a mount the registry declined).
        /// </summary>
        public async Task<Uri?> StartUploadAsync(Descriptor blob, string? mountFrom, CancellationToken ct)
        {
            var connection = mountFrom is null ? _connection : client.Connect(endpoint, reference, credentials, AuthScope.PullPush, mountFrom);
            var resource = mountFrom is null
                ? "blobs/uploads/"
                : $"blobs/uploads/?mount={Uri.EscapeDataString(blob.Digest)}&from={Uri.EscapeDataString(mountFrom)}";
            using var response = await connection.SendAsync(
                () => new HttpRequestMessage(HttpMethod.Post, connection.Resolve(resource)) { Content = new ByteArrayContent([]) },
                retry: true, ct).ConfigureAwait(false);
            if (mountFrom is not null && response.StatusCode == HttpStatusCode.Created)
            {
                return null;
            }
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw await FailureAsync(connection, response, $"an upload of blob {blob.Digest}", ct).ConfigureAwait(false);
            }
            return NextLocation(response, $"the upload of blob {blob.Digest}");
        }

        /// <summary>
        /// Sends the blob in <paramref name="file"/> to the upload <paramref name="session"/>: in one PUT when it is at
        /// most the chunk size, else in PATCH chunks of that size with Content-Range, then a closing PUT; the registry
        /// checks the digest. <paramref name="sent"/> gets the bytes sent so far after each request.
        /// </summary>
        public async Task UploadAsync(Uri session, Descriptor blob, string file, Action<long> sent, CancellationToken ct)
        {
            var what = $"the upload of blob {blob.Digest}";
            var location = session;
            long offset = 0;
            if (blob.Size > chunkBytes)
            {
                while (offset < blob.Size)
                {
                    var start = offset;
                    var length = Math.Min(chunkBytes, blob.Size - offset);
                    var at = location;
                    using var response = await _connection.SendAsync(() =>
                    {
                        var content = new FileSegmentContent(file, start, length);
                        // distribution and the spec take "start-end" (inclusive), without the "bytes " unit.
                        content.Headers.TryAddWithoutValidation("Content-Range", $"{start}-{start + length - 1}");
                        return new HttpRequestMessage(HttpMethod.Patch, at) { Content = content };
                    }, retry: false, ct).ConfigureAwait(false);
                    if (response.StatusCode != HttpStatusCode.Accepted)
                    {
                        throw await FailureAsync(_connection, response, what, ct).ConfigureAwait(false);
                    }
                    location = NextLocation(response, what);
                    offset += length;
                    sent(offset);
                }
            }
            var close = WithQuery(location, "digest", blob.Digest);
            var rest = blob.Size - offset;
            var restStart = offset;
            using (var response = await _connection.SendAsync(() => new HttpRequestMessage(HttpMethod.Put, close)
            {
                Content = new FileSegmentContent(file, restStart, rest),
            }, retry: false, ct).ConfigureAwait(false))
            {
                if (response.StatusCode != HttpStatusCode.Created)
                {
                    throw await FailureAsync(_connection, response, what, ct).ConfigureAwait(false);
                }
                CheckDigest(response, blob.Digest, what);
            }
            sent(blob.Size);
        }

        /// <summary>PUT /v2/&lt;name&gt;/manifests/&lt;tag or digest&gt; with the manifest's exact bytes; returns the digest the registry gave.</summary>
        public async Task<string> PutManifestAsync(string tagOrDigest, string mediaType, byte[] manifest, CancellationToken ct)
        {
            var what = $"the manifest of {reference}";
            using var response = await _connection.SendAsync(() =>
            {
                var content = new ByteArrayContent(manifest);
                content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                return new HttpRequestMessage(HttpMethod.Put, _connection.Resolve($"manifests/{tagOrDigest}")) { Content = content };
            }, retry: true, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw await FailureAsync(_connection, response, what, ct).ConfigureAwait(false);
            }
            var digest = Sha256Digest.Of(manifest);
            CheckDigest(response, digest, what);
            return digest;
        }

        /// <summary>
        /// A push's refusals: 400, 405, 409, 413 and 416 mean the registry will not take this (an invalid or unknown
        /// blob, a read-only registry, too large), not that it is down.
        /// </summary>
        private async Task<RegistryException> FailureAsync(RepositoryConnection connection, HttpResponseMessage response, string what, CancellationToken ct)
        {
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed or HttpStatusCode.Conflict
                or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                return new RegistryException(RegistryErrorKind.Rejected,
                    $"{connection.Endpoint.BaseUri.Authority} refused {what}: {await client.transport.DescribeFailureAsync(response, ct).ConfigureAwait(false)}");
            }
            return await connection.FailureAsync(response, what, ct).ConfigureAwait(false);
        }

        /// <summary>Where the upload goes on: the Location header, relative to the request that got it.</summary>
        private static Uri NextLocation(HttpResponseMessage response, string what) =>
            response.Headers.Location is { } location
                ? new Uri(response.RequestMessage!.RequestUri!, location)
                : throw new RegistryException(RegistryErrorKind.Unavailable, $"{what}: the registry answered {(int)response.StatusCode} without a Location");

        private static Uri WithQuery(Uri uri, string name, string value) => new UriBuilder(uri)
        {
            Query = (string.IsNullOrEmpty(uri.Query) ? "" : uri.Query[1..] + "&") + $"{name}={Uri.EscapeDataString(value)}",
        }.Uri;

        /// <summary>A registry that names another digest than the one sent stored something else: say so rather than report success.</summary>
        private static void CheckDigest(HttpResponseMessage response, string expected, string what)
        {
            if (response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var values)
                && values.FirstOrDefault() is { Length: > 0 } stored && stored != expected)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch, $"{what}: the registry stored {stored}, not {expected}");
            }
        }
    }

    /// <summary>
    /// A byte range of a file as a request body, opened at each send (a retried request sends it again) and streamed,
    /// never held in memory: a chunk may be the whole chunk size.
    /// </summary>
    private sealed class FileSegmentContent : HttpContent
    {
        private readonly string _path;
        private readonly long _offset;
        private readonly long _length;

        public FileSegmentContent(string path, long offset, long length)
        {
            _path = path;
            _offset = offset;
            _length = length;
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, useAsync: true);
            file.Seek(_offset, SeekOrigin.Begin);
            var buffer = new byte[Math.Min(_length, 256 * 1024)];
            var left = _length;
            while (left > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException($"{_path} ended {left} bytes early");
                }
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                left -= read;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }
}

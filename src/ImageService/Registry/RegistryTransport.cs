using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Polly;
using Polly.Retry;

namespace Berth.ImageService.Registry;

/// <summary>
/// The HTTP side of the client: one HttpClient per TLS setting, retries with exponential backoff
/// and jitter on connection errors, 429 and 5xx, and a time limit on every attempt.
/// </summary>
internal sealed class RegistryTransport : IDisposable
{
    private const int MaxErrorBodyBytes = 16 * 1024;

    private readonly RegistryClientOptions options;
    private readonly Func<RegistryHostConfig?, HttpMessageHandler> createHandler;
    private readonly ResiliencePipeline retries;
    private readonly Dictionary<RegistryHostConfig, HttpClient> tlsClients = [];
    private readonly HttpClient defaultClient;

    public RegistryTransport(RegistryClientOptions options, Func<RegistryHostConfig?, HttpMessageHandler> createHandler)
    {
        this.options = options;
        this.createHandler = createHandler;
        retries = options.MaxAttempts == 1
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxAttempts - 1,
                Delay = options.BaseRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = new PredicateBuilder()
                    // A TLS failure will not heal by itself; an HTTP-only host is handled by the caller.
                    .Handle<HttpRequestException>(e => e.HttpRequestError is not HttpRequestError.SecureConnectionError)
                    .Handle<IOException>()
                    .Handle<TimeoutException>()
                    .Handle<TransientStatusException>(),
            }).Build();
        defaultClient = CreateClient(null);
    }

    /// <summary>The client for a host: its own when it has TLS settings (insecure or a CA), else the shared one.</summary>
    public HttpClient ClientFor(RegistryHostConfig? host)
    {
        if (host is not ({ Insecure: true } or { Ca: not null }))
        {
            return defaultClient;
        }
        lock (tlsClients)
        {
            if (!tlsClients.TryGetValue(host, out var client))
            {
                client = CreateClient(host);
                tlsClients.Add(host, client);
            }
            return client;
        }
    }

    /// <summary>
    /// Sends until an answer other than 429 or 5xx arrives (once when <paramref name="retry"/> is false), and returns
    /// it with its headers read; the caller reads and disposes it. Connection failures end in Unavailable.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpClient client, Func<HttpRequestMessage> createRequest, CancellationToken ct, bool retry = true)
    {
        var target = "";
        try
        {
            return await (retry ? retries : ResiliencePipeline.Empty).ExecuteAsync(async token =>
            {
                using var request = createRequest();
                target = $"{request.Method} {request.RequestUri}";
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
                attempt.CancelAfter(options.RequestTimeout);
                HttpResponseMessage response;
                try
                {
                    response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    throw new TimeoutException($"no answer within {options.RequestTimeout.TotalSeconds:0.#} s");
                }
                if (response.StatusCode is HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500)
                {
                    var status = response.StatusCode;
                    response.Dispose();
                    throw new TransientStatusException($"the registry answered {(int)status} {status}");
                }
                return response;
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException or TransientStatusException)
        {
            // HttpClient's messages often say only "see inner exception": tell the cause too.
            var cause = e.GetBaseException() is var root && root != e && !e.Message.Contains(root.Message, StringComparison.Ordinal)
                ? $" ({root.Message})"
                : "";
            throw new RegistryException(RegistryErrorKind.Unavailable, $"{target} failed: {e.Message}{cause}", e);
        }
    }

    /// <summary>Reads a small body within the request time limit; null when it is larger than <paramref name="maxBytes"/>.</summary>
    public async Task<byte[]?> ReadBodyAsync(HttpResponseMessage response, int maxBytes, CancellationToken ct)
    {
        if (response.Content.Headers.ContentLength > maxBytes)
        {
            return null;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var body = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false)) > 0)
            {
                if (body.Length + read > maxBytes)
                {
                    return null;
                }
                body.Write(chunk, 0, read);
            }
            return body.ToArray();
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable,
                $"{response.RequestMessage?.RequestUri}: the answer did not arrive within {options.RequestTimeout.TotalSeconds:0.#} s", e);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable,
                $"{response.RequestMessage?.RequestUri}: reading the answer failed: {e.Message}", e);
        }
    }

    /// <summary>"404 NotFound (MANIFEST_UNKNOWN: manifest unknown)": the status and the registry's own error codes, if it sent any.</summary>
    public async Task<string> DescribeFailureAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = $"{(int)response.StatusCode} {response.StatusCode}";
        try
        {
            var body = await ReadBodyAsync(response, MaxErrorBodyBytes, ct).ConfigureAwait(false);
            var errors = body is null ? null : JsonSerializer.Deserialize(body, RegistryJsonContext.Default.RegistryErrorsJson)?.Errors;
            return errors is { Count: > 0 }
                ? $"{status} ({string.Join("; ", errors.Select(error => $"{error.Code}: {error.Message}"))})"
                : status;
        }
        catch (Exception e) when (e is JsonException or RegistryException)
        {
            return status; // the status says enough when the body is not the spec's error document
        }
    }

    public void Dispose()
    {
        defaultClient.Dispose();
        foreach (var client in tlsClients.Values)
        {
            client.Dispose();
        }
    }

    private HttpClient CreateClient(RegistryHostConfig? host)
    {
        var client = new HttpClient(createHandler(host)) { Timeout = Timeout.InfiniteTimeSpan }; // time limits are per attempt
        client.DefaultRequestHeaders.UserAgent.ParseAdd("berth");
        return client;
    }

    /// <summary>Connections to registries: TLS verified against the system's roots plus the host's CA, or not at all when insecure.</summary>
    public static HttpMessageHandler CreateSocketsHandler(RegistryHostConfig? host)
    {
        var handler = new SocketsHttpHandler
        {
            // Registries and their blob CDNs move; new connections see DNS changes.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            // Redirects (to blob storage) are followed; SocketsHttpHandler drops Authorization when it follows one.
            AllowAutoRedirect = true,
        };
        if (host is { Insecure: true })
        {
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (host is { Ca: { } caFile })
        {
            var roots = LoadCertificates(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, presented, errors) =>
                errors == SslPolicyErrors.None
                || (errors == SslPolicyErrors.RemoteCertificateChainErrors && certificate is X509Certificate2 leaf && ChainsTo(leaf, presented, roots));
        }
        return handler;
    }

    private static X509Certificate2Collection LoadCertificates(string caFile)
    {
        try
        {
            return RegistryHostConfig.ReadCa(caFile);
        }
        catch (FormatException e)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable, $"the CA file: {e.Message}", e);
        }
    }

    private static bool ChainsTo(X509Certificate2 leaf, X509Chain? presented, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // as SslStream's default
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        return chain.Build(leaf);
    }

    /// <summary>An answer worth retrying (429, 5xx); after the last attempt its message becomes the Unavailable error's.</summary>
    private sealed class TransientStatusException(string message) : Exception(message);
}

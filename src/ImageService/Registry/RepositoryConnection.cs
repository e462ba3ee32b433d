using System.Net;
using System.Net.Http.Headers;

namespace Berth.ImageService.Registry;

/// <summary>
/// Requests for one repository (or, with an empty repository, the registry's /v2/ root) on one endpoint,
/// authorized (a 401 is answered once with the challenge's credentials) and retried; failures become RegistryExceptions.
/// </summary>
internal sealed class RepositoryConnection(AuthScope scope, RegistryTransport transport, RegistryAuthenticator authenticator)
{
    public RegistryEndpoint Endpoint => scope.Endpoint;

    public AuthScope Scope => scope;

    /// <summary>/v2/&lt;repository&gt;/<paramref name="resource"/> on the endpoint as it is now (plain HTTP after a fallback).</summary>
    public Uri Resolve(string resource) =>
        new(Endpoint.BaseUri, scope.Repository.Length == 0 ? $"v2/{resource}" : $"v2/{scope.Repository}/{resource}");

    /// <summary>
    /// GETs /v2/&lt;repository&gt;/<paramref name="resource"/> and returns the successful answer with its headers read.
    /// </summary>
    /// <param name="what">Names the object in errors, e.g. "manifest of docker.io/library/busybox:latest".</param>
    public async Task<HttpResponseMessage> GetAsync(string resource, IReadOnlyList<string> accept, string what, CancellationToken ct)
    {
        var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, Resolve(resource));
            foreach (var mediaType in accept)
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
            }
            return request;
        }, retry: true, ct).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            throw await FailureAsync(response, what, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends the request <paramref name="createRequest"/> makes (called again for each attempt, so that a body can be
    /// sent again), authorized, and returns the answer with its headers read, whatever its status: the caller reads
    /// and disposes it. <paramref name="retry"/> false sends once on transient failures, for requests that are not
    /// idempotent (an upload chunk: a retry after bytes reached the registry would be out of range).
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> createRequest, bool retry, CancellationToken ct)
    {
        var authorization = await authenticator.AuthorizationAsync(scope, ct).ConfigureAwait(false);
        var response = await SendAuthorizedAsync(createRequest, authorization, retry, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            var challenges = response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values)
                ? values.SelectMany(AuthChallenge.Parse).ToList()
                : [];
            response.Dispose();
            var answer = await authenticator.AnswerChallengeAsync(scope, challenges, authorization, ct).ConfigureAwait(false);
            response = await SendAuthorizedAsync(createRequest, answer, retry, ct).ConfigureAwait(false);
        }
        return response;
    }

    /// <summary>The error for an answer that is not a success: refused (401, 403), not found, or any other.</summary>
    public async Task<RegistryException> FailureAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        var failure = await transport.DescribeFailureAsync(response, ct).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => RegistryAuthenticator.Denied(scope, failure),
            HttpStatusCode.Forbidden => RegistryAuthenticator.Denied(scope, failure, forbidden: true),
            HttpStatusCode.NotFound => new RegistryException(RegistryErrorKind.NotFound, $"{what} was not found at {Endpoint}: {failure}"),
            _ => new RegistryException(RegistryErrorKind.Unavailable, $"{what}: {Endpoint} answered {failure}"
                + (Endpoint.PlainHttpReason is { } reason ? $" (plain HTTP was used because HTTPS failed: {reason})" : "")),
        };
    }

    private async Task<HttpResponseMessage> SendAuthorizedAsync(
        Func<HttpRequestMessage> createRequest, AuthenticationHeaderValue? authorization, bool retry, CancellationToken ct)
    {
        var baseUri = Endpoint.BaseUri;
        try
        {
            return await transport.SendAsync(scope.Client, () =>
            {
                var request = createRequest();
                request.Headers.Authorization = authorization;
                return request;
            }, ct, retry).ConfigureAwait(false);
        }
        catch (RegistryException e) when (e.InnerException is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError or HttpRequestError.ConnectionError }
            && Endpoint.TryFallBackToPlainHttp(baseUri, e.Message))
        {
            return await SendAuthorizedAsync(createRequest, authorization, retry, ct).ConfigureAwait(false);
        }
    }
}

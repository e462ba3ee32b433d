using System.Net;
using System.Net.Http.Headers;

namespace Berth.ImageService.Registry;

/// <summary>GET requests for one repository on one endpoint, authorized and retried; failures become RegistryExceptions.</summary>
internal sealed class RepositoryConnection(AuthScope scope, RegistryTransport transport, RegistryAuthenticator authenticator)
{
    public RegistryEndpoint Endpoint => scope.Endpoint;

    /// <summary>
    /// GETs /v2/&lt;repository&gt;/<paramref name="resource"/> and returns the successful answer with its headers read.
    /// </summary>
    /// <param name="what">Names the object in errors, e.g. "manifest of docker.io/library/busybox:latest".</param>
    public async Task<HttpResponseMessage> GetAsync(string resource, IReadOnlyList<string> accept, string what, CancellationToken ct)
    {
        var authorization = await authenticator.AuthorizationAsync(scope, ct).ConfigureAwait(false);
        var response = await SendAsync(resource, accept, authorization, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            var challenges = response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values)
                ? values.SelectMany(AuthChallenge.Parse).ToList()
                : [];
            response.Dispose();
            var retry = await authenticator.AnswerChallengeAsync(scope, challenges, authorization, ct).ConfigureAwait(false);
            response = await SendAsync(resource, accept, retry, ct).ConfigureAwait(false);
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var failure = await transport.DescribeFailureAsync(response, ct).ConfigureAwait(false);
            throw response.StatusCode switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => RegistryAuthenticator.Denied(scope, failure),
                HttpStatusCode.NotFound => new RegistryException(RegistryErrorKind.NotFound, $"{what} was not found at {Endpoint}: {failure}"),
                _ => new RegistryException(RegistryErrorKind.Unavailable, $"{what}: {Endpoint} answered {failure}"
                    + (Endpoint.PlainHttpReason is { } reason ? $" (plain HTTP was used because HTTPS failed: {reason})" : "")),
            };
        }
    }

    private async Task<HttpResponseMessage> SendAsync(
        string resource, IReadOnlyList<string> accept, AuthenticationHeaderValue? authorization, CancellationToken ct)
    {
        var baseUri = Endpoint.BaseUri;
        try
        {
            return await transport.SendAsync(scope.Client, () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, $"v2/{scope.Repository}/{resource}"));
                request.Headers.Authorization = authorization;
                foreach (var mediaType in accept)
                {
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
                }
                return request;
            }, ct).ConfigureAwait(false);
        }
        catch (RegistryException e) when (e.InnerException is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError or HttpRequestError.ConnectionError }
            && Endpoint.TryFallBackToPlainHttp(baseUri, e.Message))
        {
            return await SendAsync(resource, accept, authorization, ct).ConfigureAwait(false);
        }
    }
}

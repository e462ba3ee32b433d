using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Berth.ImageService.Registry;

/// <summary>
/// What a request asks access to on one endpoint, with the caller's credentials: a repository's pull scope, or
/// its pull and push scope with, for a cross-repository mount, pull on the repository mounted from; an empty
/// <see cref="Repository"/> asks for no scope (GET /v2/, what a login checks).
/// </summary>
/// <param name="Actions">"pull", or "pull,push".</param>
/// <param name="MountFrom">The repository a mount reads from, which the token must also grant pull on.</param>
internal sealed record AuthScope(RegistryEndpoint Endpoint, HttpClient Client, string Repository, RegistryCredentials? Credentials,
    string Actions = AuthScope.Pull, string? MountFrom = null)
{
    public const string Pull = "pull";
    public const string PullPush = "pull,push";

    /// <summary>The token scope(s), space-separated as a challenge's scope parameter holds them; null for none.</summary>
    public string? Scope => Repository.Length == 0
        ? null
        : $"repository:{Repository}:{Actions}" + (MountFrom is null ? "" : $" repository:{MountFrom}:pull");

    /// <summary>
    /// The kind of a refusal of who the client is (no credentials, or rejected ones). Pulls keep PERMISSION_DENIED,
    /// which kubelet and existing clients know; push and login say UNAUTHENTICATED as gRPC means it, and keep
    /// PERMISSION_DENIED for a 403 (known, but not allowed).
    /// </summary>
    public RegistryErrorKind RefusalKind => Actions == Pull && Repository.Length > 0 ? RegistryErrorKind.Unauthorized : RegistryErrorKind.Unauthenticated;
}

/// <summary>
/// Answers registry challenges as the Docker token spec describes: anonymous first; on 401 a
/// Bearer token from the challenge's realm (basic auth for a password, an OAuth2 refresh-token
/// POST for an identity token) or Basic credentials. Tokens are cached per host, scope and
/// credentials until they expire, and the host's challenge is remembered so that later requests
/// send a token at once.
/// </summary>
internal sealed class RegistryAuthenticator(RegistryTransport transport)
{
    private const int MaxTokenResponseBytes = 1024 * 1024;
    private const int PruneThreshold = 256;
    // The token spec's default lifetime, and the least a token service may give.
    private static readonly TimeSpan MinimumTokenLifetime = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, AuthChallenge> challengeByHost = new();
    private readonly ConcurrentDictionary<(string Host, string Scope, string Credentials), CachedToken> tokens = new();

    /// <summary>What to send before any challenge: a registry token, or what this host asked for last time.</summary>
    public async ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(AuthScope scope, CancellationToken ct)
    {
        if (scope.Credentials is { RegistryToken: { Length: > 0 } registryToken })
        {
            return new AuthenticationHeaderValue(AuthChallenge.Bearer, registryToken);
        }
        return challengeByHost.TryGetValue(scope.Endpoint.BaseUri.Authority, out var challenge)
            ? await AnswerAsync(scope, challenge, scope.Scope, useCache: true, ct).ConfigureAwait(false)
            : null;
    }

    /// <summary>The authorization to retry with after a 401 that came with <paramref name="challenges"/>.</summary>
    public async Task<AuthenticationHeaderValue> AnswerChallengeAsync(
        AuthScope scope, IReadOnlyList<AuthChallenge> challenges, AuthenticationHeaderValue? rejected, CancellationToken ct)
    {
        var host = scope.Endpoint.BaseUri.Authority;
        var challenge = challenges.FirstOrDefault(c => c.Is(AuthChallenge.Bearer)) ?? challenges.FirstOrDefault(c => c.Is(AuthChallenge.Basic))
            ?? throw new RegistryException(RegistryErrorKind.Unauthorized,
                $"{host} refused access to {scope.Repository} without a Bearer or Basic challenge to answer");
        if (scope.Credentials is { RegistryToken: { Length: > 0 } })
        {
            throw new RegistryException(scope.RefusalKind, $"{host} rejected the registry token for {scope.Repository}");
        }
        if (rejected is not null && challenge.Is(AuthChallenge.Basic))
        {
            throw Denied(scope);
        }
        challengeByHost[host] = challenge;
        // A cached token that was refused may have been revoked: fetch a fresh one.
        return await AnswerAsync(scope, challenge, challenge["scope"] ?? scope.Scope, useCache: rejected is null, ct).ConfigureAwait(false)
            ?? throw new RegistryException(scope.RefusalKind, scope.Repository.Length == 0
                ? $"{host} needs credentials (Basic)"
                : $"{host} needs credentials (Basic) to {(scope.Actions == AuthScope.Pull ? "pull" : "push to")} {scope.Repository}");
    }

    /// <summary>The error for a request refused after it was authorized as well as the client could.</summary>
    /// <param name="forbidden">The registry answered 403: it knew who asked and refused; PERMISSION_DENIED whatever the scope.</param>
    public static RegistryException Denied(AuthScope scope, string? detail = null, bool forbidden = false) =>
        new(forbidden ? RegistryErrorKind.Unauthorized : scope.RefusalKind,
        (scope.Repository.Length == 0
            ? scope.Credentials is null
                ? $"{scope.Endpoint.BaseUri.Authority} needs credentials"
                : $"{scope.Endpoint.BaseUri.Authority} rejected the credentials"
            : scope.Credentials is null
            ? $"{scope.Actions} access to {scope.Repository} on {scope.Endpoint.BaseUri.Authority} was denied: the repository does not exist or needs credentials"
            : $"the credentials for {scope.Endpoint.BaseUri.Authority} were rejected or do not grant {scope.Actions} access to {scope.Repository}")
        + (detail is null ? "" : $" ({detail})"));

    /// <param name="tokenScope">The scope the challenge asked for; a remembered challenge was for another request, so the request's own.</param>
    private async ValueTask<AuthenticationHeaderValue?> AnswerAsync(
        AuthScope scope, AuthChallenge challenge, string? tokenScope, bool useCache, CancellationToken ct)
    {
        if (challenge.Is(AuthChallenge.Basic))
        {
            return scope.Credentials is { HasPassword: true } credentials ? BasicAuthorization(credentials) : null;
        }
        var key = (scope.Endpoint.BaseUri.Authority, tokenScope ?? "", Fingerprint(scope.Credentials));
        if (!useCache || !tokens.TryGetValue(key, out var token) || token.HasExpired)
        {
            token = await FetchTokenAsync(scope, challenge, tokenScope, ct).ConfigureAwait(false);
            Remember(key, token);
        }
        return new AuthenticationHeaderValue(AuthChallenge.Bearer, token.Value);
    }

    private async Task<CachedToken> FetchTokenAsync(AuthScope scope, AuthChallenge challenge, string? tokenScope, CancellationToken ct)
    {
        var host = scope.Endpoint.BaseUri.Authority;
        if (!Uri.TryCreate(challenge["realm"], UriKind.Absolute, out var realm) || realm.Scheme is not ("http" or "https"))
        {
            throw new RegistryException(RegistryErrorKind.Unauthorized, $"{host} named no valid token realm in its Bearer challenge");
        }
        var credentials = scope.Credentials;
        if (credentials is { IdentityToken.Length: > 0 } or { HasPassword: true } && !scope.Endpoint.MaySendSecretsTo(realm))
        {
            throw new RegistryException(RegistryErrorKind.Unauthorized,
                $"refusing to send the credentials for {host} to the token service {realm} over plain HTTP");
        }

        var service = challenge["service"];
        using var response = await transport.SendAsync(scope.Client, () => credentials is { IdentityToken: { Length: > 0 } identityToken }
            ? new HttpRequestMessage(HttpMethod.Post, realm)
            {
                // OAuth2 refresh-token grant, as the Docker token spec describes for identity tokens.
                Content = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "refresh_token",
                    ["refresh_token"] = identityToken,
                    ["service"] = service ?? "",
                    ["scope"] = tokenScope ?? "",
                    ["client_id"] = "berth",
                }),
            }
            // Several scopes (a mount's) go as repeated scope parameters, as the token spec and containerd send them.
            : new HttpRequestMessage(HttpMethod.Get, WithQuery(realm, [("service", service),
                .. (tokenScope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(one => ("scope", (string?)one)),
                ("account", credentials is { HasPassword: true } ? credentials.Username : null)]))
            {
                Headers = { Authorization = credentials is { HasPassword: true } ? BasicAuthorization(credentials) : null },
            }, ct).ConfigureAwait(false);

        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new RegistryException(scope.RefusalKind, credentials is null
                ? $"the token service {realm.Authority} refused anonymous {scope.Actions} access to {scope.Repository} on {host}"
                : $"the token service {realm.Authority} rejected the credentials for {host}: {await transport.DescribeFailureAsync(response, ct).ConfigureAwait(false)}");
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable,
                $"the token service {realm.Authority} for {host} answered {await transport.DescribeFailureAsync(response, ct).ConfigureAwait(false)}");
        }
        var body = await transport.ReadBodyAsync(response, MaxTokenResponseBytes, ct).ConfigureAwait(false);
        TokenResponseJson? answer = null;
        try
        {
            answer = body is null ? null : JsonSerializer.Deserialize(body, RegistryJsonContext.Default.TokenResponseJson);
        }
        catch (JsonException)
        {
            // reported below as giving no token
        }
        var value = answer?.Token is { Length: > 0 } token ? token : answer?.AccessToken;
        if (string.IsNullOrEmpty(value))
        {
            throw new RegistryException(RegistryErrorKind.Unauthorized, $"the token service {realm.Authority} for {host} answered without a token");
        }
        var lifetime = TimeSpan.FromSeconds(Math.Max(MinimumTokenLifetime.TotalSeconds, answer!.ExpiresIn ?? 0));
        return new CachedToken(value, Environment.TickCount64 + (long)(lifetime * 0.9).TotalMilliseconds); // renew before it can expire in flight
    }

    private void Remember((string, string, string) key, CachedToken token)
    {
        tokens[key] = token;
        if (tokens.Count > PruneThreshold)
        {
            foreach (var (staleKey, stale) in tokens)
            {
                if (stale.HasExpired)
                {
                    tokens.TryRemove(staleKey, out _);
                }
            }
        }
    }

    private static AuthenticationHeaderValue BasicAuthorization(RegistryCredentials credentials) =>
        new(AuthChallenge.Basic, Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}")));

    // Tokens obtained with one set of credentials must never serve a request made with another
    // (or with none); the cache key holds a hash so that it holds no secret.
    private static string Fingerprint(RegistryCredentials? credentials) => credentials is null
        ? ""
        : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{credentials.Username}\0{credentials.Password}\0{credentials.IdentityToken}")));

    private static Uri WithQuery(Uri uri, IEnumerable<(string Name, string? Value)> parameters)
    {
        var query = string.Join('&', parameters
            .Where(parameter => !string.IsNullOrEmpty(parameter.Value))
            .Select(parameter => $"{parameter.Name}={Uri.EscapeDataString(parameter.Value!)}"));
        return new UriBuilder(uri) { Query = string.IsNullOrEmpty(uri.Query) ? query : $"{uri.Query[1..]}&{query}" }.Uri;
    }

    private sealed record CachedToken(string Value, long ExpiresAtTickCount)
    {
        public bool HasExpired => Environment.TickCount64 >= ExpiresAtTickCount;
    }
}

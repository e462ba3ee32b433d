namespace Berth.ImageService.Registry;

/// <summary>
/// One place a repository is fetched from: a configured mirror or the upstream registry, with the
/// settings of its own host (TLS and credentials).
/// </summary>
internal sealed class RegistryEndpoint
{
    private const string DockerHubRegistry = "registry-1.docker.io";

    private readonly bool allowsPlainHttp;
    private volatile Uri baseUri;

    private RegistryEndpoint(string host, Uri baseUri, RegistryHostConfig? config, bool isMirror, bool allowsPlainHttp)
    {
        Host = host;
        this.baseUri = baseUri;
        Config = config;
        IsMirror = isMirror;
        this.allowsPlainHttp = allowsPlainHttp;
    }

    /// <summary>The root the /v2/ API hangs under, ending in '/'; plain HTTP once HTTPS failed on a host that allows it.</summary>
    public Uri BaseUri => baseUri;

    /// <summary>The key of its settings and login: the registry's domain ("docker.io"), or the mirror's host[:port].</summary>
    public string Host { get; }

    public RegistryHostConfig? Config { get; }

    public bool IsMirror { get; }

    /// <summary>Why HTTPS was given up for plain HTTP, if it was: worth telling when plain HTTP fails too.</summary>
    public string? PlainHttpReason { get; private set; }

    public override string ToString() => BaseUri.ToString();

    /// <summary>
    /// The configured mirrors of <paramref name="domain"/> in order, then the registry itself (HTTPS,
    /// falling back to plain HTTP for loopback hosts, localhost and 127.0.0.0/8 and ::1, and insecure ones, as Docker does).
    /// </summary>
    public static IReadOnlyList<RegistryEndpoint> ForDomain(string domain, IReadOnlyDictionary<string, RegistryHostConfig> hosts)
    {
        var config = hosts.GetValueOrDefault(domain);
        var endpoints = new List<RegistryEndpoint>();
        foreach (var mirror in config?.Mirrors ?? [])
        {
            var mirrorUri = ParseMirror(domain, mirror);
            // The operator wrote the mirror's scheme, so an http:// mirror is used as written.
            endpoints.Add(new RegistryEndpoint(mirrorUri.Authority, mirrorUri, hosts.GetValueOrDefault(mirrorUri.Authority), isMirror: true, allowsPlainHttp: false));
        }
        var upstream = new Uri($"https://{(domain == ImageReference.DockerHubDomain ? DockerHubRegistry : domain)}/");
        endpoints.Add(new RegistryEndpoint(domain, upstream, config, isMirror: false, allowsPlainHttp: config is { Insecure: true } || upstream.IsLoopback));
        return endpoints;
    }

    /// <summary>Checks every mirror URL of the configuration, so that a typo fails at start-up rather than at a pull.</summary>
    public static void Validate(IReadOnlyDictionary<string, RegistryHostConfig> hosts)
    {
        foreach (var (domain, config) in hosts)
        {
            foreach (var mirror in config.Mirrors)
            {
                ParseMirror(domain, mirror);
            }
        }
    }

    /// <summary>Switches to plain HTTP after HTTPS to <paramref name="failed"/> could not connect; false when that is not allowed.</summary>
    public bool TryFallBackToPlainHttp(Uri failed, string reason)
    {
        if (!allowsPlainHttp || failed.Scheme != Uri.UriSchemeHttps)
        {
            return false;
        }
        PlainHttpReason = reason;
        baseUri = new UriBuilder(failed) { Scheme = Uri.UriSchemeHttp, Port = failed.IsDefaultPort ? -1 : failed.Port }.Uri;
        return true;
    }

    /// <summary>Whether secrets may travel to <paramref name="uri"/>: over HTTPS, or to a host where plain HTTP is allowed.</summary>
    public bool MaySendSecretsTo(Uri uri) =>
        uri.Scheme == Uri.UriSchemeHttps || uri.IsLoopback || Config is { Insecure: true } || BaseUri.Scheme == Uri.UriSchemeHttp;

    private static Uri ParseMirror(string domain, string mirror)
    {
        if (RegistryHostConfig.MirrorProblem(mirror) is { } problem)
        {
            throw new ArgumentException($"mirror \"{mirror}\" of registry \"{domain}\" {problem}");
        }
        var uri = new Uri(mirror, UriKind.Absolute);
        // "https://mirror/prefix", "https://mirror/prefix/" and "https://mirror/prefix/v2" all mean the API at /prefix/v2/.
        var path = uri.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/v2", StringComparison.Ordinal))
        {
            path = path[..^"/v2".Length];
        }
        return new UriBuilder(uri) { Path = path + "/" }.Uri;
    }
}

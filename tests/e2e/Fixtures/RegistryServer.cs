using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>How a <see cref="RegistryServer"/> should guard itself.</summary>
public sealed record RegistryOptions
{
    /// <summary>Serve HTTPS with a certificate from a fresh <see cref="TestCertificateAuthority"/>.</summary>
    public bool Tls { get; init; }

    /// <summary>Require HTTP basic authentication (htpasswd) with this user and password.</summary>
    public RegistryCredentials? Credentials { get; init; }
}

public sealed record RegistryCredentials(string Username, string Password);

/// <summary>One line of the registry's access log.</summary>
public sealed record RegistryRequest(string Method, string Path, int Status);

/// <summary>
/// A real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 and a free port,
/// storing blobs in a temporary directory, optionally behind TLS and htpasswd basic auth.
/// </summary>
public sealed partial class RegistryServer : IAsyncDisposable
{
    private const string Program = "/usr/bin/docker-registry";
    private const int PortAttempts = 5;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan LogFlushTimeout = TimeSpan.FromSeconds(5);

    private readonly DirectoryInfo _directory;
    private ChildProcess? _process;

    private RegistryServer(DirectoryInfo directory, RegistryOptions options, TestCertificateAuthority? authority)
    {
        _directory = directory;
        Options = options;
        CertificateAuthority = authority;
    }

    public RegistryOptions Options { get; }

    /// <summary>The CA whose server certificate the registry serves; null without TLS.</summary>
    public TestCertificateAuthority? CertificateAuthority { get; }

    /// <summary>"127.0.0.1:PORT", as it appears in an image reference.</summary>
    public string Host { get; private set; } = "";

    public Uri BaseUri => new($"{(Options.Tls ? "https" : "http")}://{Host}/");

    public string? Username => Options.Credentials?.Username;

    public string? Password => Options.Credentials?.Password;

    public string? CaCertificatePath => CertificateAuthority?.CaCertificatePath;

    public static async Task<RegistryServer> StartAsync(RegistryOptions? options = null)
    {
        options ??= new RegistryOptions();
        var directory = Directory.CreateTempSubdirectory("berth-e2e-registry-");
        var registry = new RegistryServer(directory, options, options.Tls ? TestCertificateAuthority.Create() : null);
        try
        {
            await registry.StartOnFreePortAsync();
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// An HTTP client for this registry: trusting its CA when it has TLS, and sending its
    /// credentials (pre-emptively, as the registry asks for Basic) unless <paramref name="authenticated"/> is false.
    /// </summary>
    public HttpClient CreateClient(bool authenticated = true)
    {
        var handler = new SocketsHttpHandler();
        if (CertificateAuthority is { } authority)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None
                && authority.Validates(certificate as X509Certificate2);
        }

        var client = new HttpClient(handler) { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        if (authenticated && Options.Credentials is { } credentials)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}"));
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", token);
        }

        return client;
    }

    /// <summary>
    /// Every request the registry has answered so far, from its access log. The log line is
    /// written just after the response, so this first sends a request of its own and waits for
    /// it to be logged: everything a test finished before the call is then counted.
    /// </summary>
    public async Task<IReadOnlyList<RegistryRequest>> RequestsAsync()
    {
        var process = _process ?? throw new InvalidOperationException("The registry is not running.");
        var marker = $"/v2/?berth-e2e-marker={Guid.NewGuid():N}";
        using (var client = CreateClient())
        {
            using var response = await client.GetAsync(marker);
        }

        using var deadline = new CancellationTokenSource(LogFlushTimeout);
        while (true)
        {
            var requests = ParseAccessLog(process.Lines).ToList();
            if (requests.Any(r => r.Path == marker))
            {
                return [.. requests.Where(r => !r.Path.Contains("berth-e2e-marker", StringComparison.Ordinal))];
            }

            if (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"The registry did not log the marker request {marker}.\n{process.Tail()}");
            }

            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>How many requests with this method had a path containing <paramref name="pathContains"/>, e.g. ("GET", "/blobs/sha256:").</summary>
    public async Task<int> CountRequestsAsync(string method, string pathContains) =>
        (await RequestsAsync()).Count(r => r.Method == method && r.Path.Contains(pathContains, StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_process is not null)
            {
                await _process.DisposeAsync();
            }
        }
        finally
        {
            CertificateAuthority?.Dispose();
            _directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Port 0 finds a free port, but it is free again once released: another program may take it
    /// before the registry binds it. That race shows as "address already in use"; try another.
    /// </summary>
    private async Task StartOnFreePortAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            Host = $"127.0.0.1:{FindFreePort()}";
            var configPath = WriteConfig();
            var process = ChildProcess.Start(Program, ["serve", configPath]);
            _process = process;
            try
            {
                await process.WaitUntilReadyAsync($"registry on {Host}", StartTimeout, cancellation => IsAnsweringAsync(process, cancellation));
                return;
            }
            catch (InvalidOperationException) when (attempt < PortAttempts
                && process.Lines.Any(line => line.Contains("address already in use", StringComparison.Ordinal)))
            {
                _process = null;
                await process.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Ready when it has logged that it listens (so that the answer below is not from another
    /// program that took the port first) and /v2/ answers as a registry does.
    /// </summary>
    private async Task<bool> IsAnsweringAsync(ChildProcess process, CancellationToken cancellation)
    {
        var listening = $"listening on {Host}";
        if (!process.Lines.Any(line => line.Contains(listening, StringComparison.Ordinal)))
        {
            return false;
        }

        using var client = CreateClient(authenticated: false);
        using var response = await client.GetAsync("/v2/", cancellation);
        return response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized;
    }

    private static int FindFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Writes config.yml (and the htpasswd file it names); JSON string syntax is valid YAML and escapes any path.</summary>
    private string WriteConfig()
    {
        static string Quote(string value) => JsonSerializer.Serialize(value);

        var config = new StringBuilder($"""
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: {Quote(Path.Combine(_directory.FullName, "storage"))}
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: {Quote(Host)}
              secret: {Quote(Convert.ToHexString(RandomNumberGenerator.GetBytes(16)))}

            """);
        if (CertificateAuthority is { } authority)
        {
            config.Append($"""
                  tls:
                    certificate: {Quote(authority.ServerCertificatePath)}
                    key: {Quote(authority.ServerKeyPath)}

                """);
        }

        if (Options.Credentials is { } credentials)
        {
            var htpasswdPath = Path.Combine(_directory.FullName, "htpasswd");
            File.WriteAllText(htpasswdPath, CreateHtpasswdLine(credentials));
            config.Append($"""
                auth:
                  htpasswd:
                    realm: berth-e2e
                    path: {Quote(htpasswdPath)}

                """);
        }

        var configPath = Path.Combine(_directory.FullName, "config.yml");
        File.WriteAllText(configPath, config.ToString());
        return configPath;
    }

    /// <summary>distribution only accepts bcrypt entries, which .NET cannot make: ask htpasswd.</summary>
    private static string CreateHtpasswdLine(RegistryCredentials credentials)
    {
        using var htpasswd = Process.Start(new ProcessStartInfo("htpasswd", ["-Bbn", credentials.Username, credentials.Password])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var line = htpasswd.StandardOutput.ReadToEnd();
        var error = htpasswd.StandardError.ReadToEnd();
        htpasswd.WaitForExit();
        return htpasswd.ExitCode == 0 ? line : throw new InvalidOperationException($"htpasswd failed: {error}");
    }

    private static IEnumerable<RegistryRequest> ParseAccessLog(IEnumerable<string> lines) =>
        from line in lines
        let match = AccessLogLine().Match(line)
        where match.Success
        select new RegistryRequest(match.Groups["method"].Value, match.Groups["path"].Value, int.Parse(match.Groups["status"].Value));

    /// <summary>Apache combined log format, as gorilla/handlers writes it: ... "GET /v2/ HTTP/1.1" 200 2 ...</summary>
    [GeneratedRegex("""\] "(?<method>[A-Z]+) (?<path>\S+) HTTP/[0-9.]+" (?<status>[0-9]{3}) """)]
    private static partial Regex AccessLogLine();
}

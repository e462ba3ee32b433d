using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Berth.Tests.Unit.Registry;

/// <summary>
/// A real registry (Debian's docker-registry, distribution 2.8) on a loopback port with its storage
/// in a temporary folder, and the push half of the distribution API, done by hand.
/// </summary>
internal sealed class LocalRegistry : IAsyncDisposable
{
    private const string Executable = "/usr/bin/docker-registry";

    private readonly Process process;
    private readonly string directory;
    private readonly StringBuilder log = new();
    // The test's own pushes trust whatever certificate the registry has.
    private readonly HttpClient http = new(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private LocalRegistry(Process process, string directory, int port, bool tls)
    {
        this.process = process;
        this.directory = directory;
        Domain = $"127.0.0.1:{port}";
        Url = new Uri($"{(tls ? "https" : "http")}://{Domain}/");
    }

    /// <summary>host:port, as in an image reference.</summary>
    public string Domain { get; }

    public Uri Url { get; }

    /// <summary>What the registry printed so far, its access log included.</summary>
    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    /// <param name="tls">PEM files of the server's certificate and key, to serve HTTPS only.</param>
    public static async Task<LocalRegistry> StartAsync((string CertificateFile, string KeyFile)? tls = null)
    {
        if (!File.Exists(Executable))
        {
            throw new InvalidOperationException($"{Executable} is missing: apt-get install docker-registry");
        }
        var directory = Directory.CreateTempSubdirectory("berth-registry-").FullName;
        LocalRegistry? registry = null;
        try
        {
            var port = FreeLoopbackPort();
            var config = Path.Combine(directory, "config.yml");
            await File.WriteAllTextAsync(config, $"""
                version: 0.1
                log:
                  level: info
                storage:
                  filesystem:
                    rootdirectory: {Path.Combine(directory, "data")}
                http:
                  addr: 127.0.0.1:{port}
                  secret: berth-test
                {(tls is var (certificate, key) ? $"  tls:\n    certificate: {certificate}\n    key: {key}" : "")}
                """);
            var process = new Process
            {
                StartInfo = new ProcessStartInfo(Executable, ["serve", config])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                },
            };
            registry = new LocalRegistry(process, directory, port, tls is not null);
            process.OutputDataReceived += (_, line) => registry.Append(line.Data);
            process.ErrorDataReceived += (_, line) => registry.Append(line.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await registry.WaitUntilReadyAsync();
            return registry;
        }
        catch
        {
            if (registry is not null)
            {
                await registry.DisposeAsync();
            }
            else
            {
                Directory.Delete(directory, recursive: true);
            }
            throw;
        }
    }

    /// <summary>A loopback port nobody listens on (for a while): for a registry, or for a mirror that refuses connections.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Monolithic upload: POST to open an upload, then PUT the content with its digest.</summary>
    public async Task PushBlobAsync(string repository, byte[] content)
    {
        using var start = await http.PostAsync(new Uri(Url, $"v2/{repository}/blobs/uploads/"), null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = new Uri(Url, start.Headers.Location!);
        var separator = string.IsNullOrEmpty(location.Query) ? "?" : "&";
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await http.PutAsync(new Uri($"{location}{separator}digest={Uri.EscapeDataString(TestImage.DigestOf(content))}"), body);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    public async Task PushManifestAsync(string repository, string reference, byte[] manifest, string mediaType)
    {
        using var body = new ByteArrayContent(manifest);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var put = await http.PutAsync(new Uri(Url, $"v2/{repository}/manifests/{reference}"), body);
        Assert.True(put.StatusCode == HttpStatusCode.Created, $"PUT manifest: {put.StatusCode} {await put.Content.ReadAsStringAsync()}");
    }

    /// <summary>Pushes the image's blobs and its manifest, by digest and, when given, by tag.</summary>
    public async Task PushAsync(string repository, TestImage image, string? tag = null)
    {
        await PushBlobAsync(repository, image.Config);
        await PushBlobAsync(repository, image.Layer);
        await PushManifestAsync(repository, tag ?? image.ManifestDigest, image.Manifest, TestImage.OciManifestType);
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (InvalidOperationException)
        {
            // it never started
        }
        finally
        {
            process.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited with {process.ExitCode}:\n{Log}");
            }
            try
            {
                using var response = await http.GetAsync(new Uri(Url, "v2/"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"docker-registry did not answer on {Url} within 15 s:\n{Log}");
    }
}

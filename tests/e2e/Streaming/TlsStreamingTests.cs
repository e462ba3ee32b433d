using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Berth.Api.Streaming.Client;
using Berth.Api.Streaming.RemoteCommand;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Streaming.StreamingTestSupport;

namespace Berth.Tests.E2e.Streaming;

/// <summary>
/// The streaming server with a certificate (containerd's enable_tls_streaming with x509_key_pair_streaming):
/// URLs are https, sessions run over TLS, and a client speaking plain HTTP to it gets nowhere.
/// </summary>
public sealed class TlsStreamingTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>, IDisposable
{
    private readonly DirectoryInfo _keys = Directory.CreateTempSubdirectory("berth-tls-");

    [Fact]
    public async Task ACertificateMakesTheUrlsHttpsAndSessionsRunOverTls()
    {
        using var certificate = WriteSelfSignedCertificate(out string certFile, out string keyFile);
        await using var berth = await BerthDaemon.StartAsync(new { streaming = new { tlsCertFile = certFile, tlsKeyFile = keyFile } });
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        RemoteCertificateValidationCallback pinned = (_, presented, _, _) =>
            presented is not null && presented.GetCertHashString() == certificate.GetCertHashString();

        foreach (var transport in Transports)
        {
            var url = await berth.ExecUrlAsync(pod.ContainerId, stdin: false, tty: false, "sh", "-c", "echo over-tls; exit 7");
            Assert.Equal(Uri.UriSchemeHttps, url.Scheme);

            var stdout = new MemoryStream();
            var result = await RemoteCommandClient.RunAsync(url, new RemoteCommandStreams { Stdout = stdout, Stderr = new MemoryStream() },
                transport, certificateValidation: pinned).WaitAsync(SessionTimeout);

            Assert.Equal("over-tls\n", System.Text.Encoding.UTF8.GetString(stdout.ToArray()));
            Assert.Equal(7, result.ExitCode);
        }
    }

    [Fact]
    public async Task APlainHttpClientIsRefusedAndTheUrlStaysUnused()
    {
        using var certificate = WriteSelfSignedCertificate(out string certFile, out string keyFile);
        await using var berth = await BerthDaemon.StartAsync(new { streaming = new { tlsCertFile = certFile, tlsKeyFile = keyFile } });
        await using var pod = await berth.RunContainerAsync(registry.Busybox, "target", null, "sleep", "300");
        var url = await berth.ExecUrlAsync(pod.ContainerId, stdin: false, tty: false, "sh", "-c", "echo ran > /ran");
        var plain = new UriBuilder(url) { Scheme = Uri.UriSchemeHttp }.Uri;

        var refused = await Record.ExceptionAsync(() => RemoteCommandClient.RunAsync(plain, new RemoteCommandStreams { Stdout = new MemoryStream(), Stderr = new MemoryStream() },
            StreamingTransport.Spdy).WaitAsync(SessionTimeout));
        // The server ends the connection (or answers an error) instead of upgrading it: nothing ran.
        Assert.IsAssignableFrom<IOException>(refused);
        Assert.Equal("", (await berth.ExecAsync(pod.ContainerId, 10, "cat", "/ran")).Stdout.ToStringUtf8());

        // The token never reached the server, so the same URL still serves one session, over TLS.
        var result = await RemoteCommandClient.RunAsync(url, new RemoteCommandStreams { Stdout = new MemoryStream(), Stderr = new MemoryStream() }, StreamingTransport.Spdy,
            certificateValidation: (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString()).WaitAsync(SessionTimeout);
        Assert.Equal(0, result.ExitCode);
        var ran = await berth.ExecAsync(pod.ContainerId, 10, "cat", "/ran");
        Assert.True(ran.ExitCode == 0, $"cat /ran: {ran.ExitCode} {ran.Stderr.ToStringUtf8()}");
        Assert.Equal("ran\n", ran.Stdout.ToStringUtf8());
    }

    /// <summary>A self-signed P-256 certificate for 127.0.0.1, written as PEM files the daemon's config names.</summary>
    private X509Certificate2 WriteSelfSignedCertificate(out string certFile, out string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=berth streaming test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        certFile = Path.Combine(_keys.FullName, "streaming.crt");
        keyFile = Path.Combine(_keys.FullName, "streaming.key");
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }

    public void Dispose() => _keys.Delete(recursive: true);
}

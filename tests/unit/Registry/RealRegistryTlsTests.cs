using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Berth.ImageService.Registry;

namespace Berth.Tests.Unit.Registry;

/// <summary>A real registry serving HTTPS with a certificate from a CA the system does not know.</summary>
[Trait("Category", "Registry")]
public sealed class RealRegistryTlsTests : IAsyncLifetime
{
    private readonly string directory = Directory.CreateTempSubdirectory("berth-registry-tls-").FullName;
    private LocalRegistry? registry;

    private string CaFile => Path.Combine(directory, "ca.pem");
    private string OtherCaFile => Path.Combine(directory, "other-ca.pem");
    private LocalRegistry Registry => registry ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        try
        {
            using var ca = CreateCa("berth test CA", CaFile);
            using var otherCa = CreateCa("another CA", OtherCaFile);
            using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            using var server = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));
            var certificateFile = Path.Combine(directory, "server.pem");
            var keyFile = Path.Combine(directory, "server.key");
            await File.WriteAllTextAsync(certificateFile, server.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, serverKey.ExportPkcs8PrivateKeyPem());
            registry = await LocalRegistry.StartAsync((certificateFile, keyFile));
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (registry is not null)
            {
                await registry.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static X509Certificate2 CreateCa(string name, string pemFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        File.WriteAllText(pemFile, ca.ExportCertificatePem());
        return ca;
    }

    private async Task<ResolvedImage> ResolveAsync(RegistryHostConfig config)
    {
        using var client = new RegistryClient(new Dictionary<string, RegistryHostConfig> { [Registry.Domain] = config },
            new RegistryClientOptions { Platform = new Platform("linux", "amd64"), BaseRetryDelay = TimeSpan.FromMilliseconds(10) });
        var image = await client.ResolveAsync(ImageReference.Parse($"{Registry.Domain}/team/tls:v1"), null, CancellationToken.None);
        Assert.Equal(image.Config.Size, (await client.GetBlobBytesAsync(image, image.Config, 1024 * 1024, CancellationToken.None)).Length);
        return image;
    }

    [Fact]
    public async Task TrustsTheHostsCaAndOnlyIt()
    {
        await Registry.PushAsync("team/tls", TestImage.Create("amd64"), "v1");

        Assert.Equal(Registry.Url, (await ResolveAsync(new RegistryHostConfig { Ca = CaFile })).Source);
        Assert.Equal(Registry.Url, (await ResolveAsync(new RegistryHostConfig { Insecure = true })).Source);
        // With the wrong CA the TLS handshake fails; plain HTTP, allowed on loopback, gets nothing from an HTTPS server.
        var untrusted = await Assert.ThrowsAsync<RegistryException>(() => ResolveAsync(new RegistryHostConfig { Ca = OtherCaFile }));
        Assert.Equal(RegistryErrorKind.Unavailable, untrusted.Reason);
        Assert.Contains("answered 400 BadRequest (plain HTTP was used because HTTPS failed: GET https://", untrusted.Message);
        var missingCa = await Assert.ThrowsAsync<RegistryException>(() => ResolveAsync(new RegistryHostConfig { Ca = "/nonexistent/ca.pem" }));
        Assert.Contains("the CA file: no such file '/nonexistent/ca.pem'", missingCa.Message);
    }
}

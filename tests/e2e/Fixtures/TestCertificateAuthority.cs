using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Berth.Tests.E2e.Fixtures;

/// <summary>
/// A throw-away certificate authority and one server certificate it signed, valid for
/// 127.0.0.1, ::1 and localhost, written as PEM files for a registry to serve and a client to trust.
/// </summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private readonly DirectoryInfo _directory;

    private TestCertificateAuthority(DirectoryInfo directory, X509Certificate2 caCertificate)
    {
        _directory = directory;
        CaCertificate = caCertificate;
    }

    /// <summary>The CA's certificate; a client that trusts it trusts the server.</summary>
    public X509Certificate2 CaCertificate { get; }

    public string CaCertificatePath => Path.Combine(_directory.FullName, "ca.pem");

    public string ServerCertificatePath => Path.Combine(_directory.FullName, "server.pem");

    public string ServerKeyPath => Path.Combine(_directory.FullName, "server-key.pem");

    public static TestCertificateAuthority Create()
    {
        var notBefore = DateTimeOffset.UtcNow.AddHours(-1);
        var notAfter = DateTimeOffset.UtcNow.AddDays(1);

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Berth e2e test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var caWithKey = caRequest.CreateSelfSigned(notBefore, notAfter);

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(caWithKey, true, false));
        var serialNumber = RandomNumberGenerator.GetBytes(16);
        serialNumber[0] &= 0x7f; // a positive serial number, as RFC 5280 requires
        using var server = serverRequest.Create(caWithKey, notBefore, notAfter, serialNumber);

        var directory = Directory.CreateTempSubdirectory("berth-e2e-ca-");
        var authority = new TestCertificateAuthority(directory, X509CertificateLoader.LoadCertificate(caWithKey.RawData));
        File.WriteAllText(authority.CaCertificatePath, caWithKey.ExportCertificatePem() + "\n");
        File.WriteAllText(authority.ServerCertificatePath, server.ExportCertificatePem() + "\n");
        File.WriteAllText(authority.ServerKeyPath, serverKey.ExportPkcs8PrivateKeyPem() + "\n");
        return authority;
    }

    /// <summary>Accepts exactly the certificates this CA signed, whatever the machine's trust store holds.</summary>
    public bool Validates(X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(CaCertificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    public void Dispose()
    {
        CaCertificate.Dispose();
        _directory.Delete(recursive: true);
    }
}

using System.Text;
using System.Text.Json;
using Berth.Core.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.ImageService.Registry;

/// <summary>
/// The credentials <c>berthctl login</c> kept, one entry per registry host, in a root-only (0600) JSON file shaped as
/// the config file's <c>registries</c> credentials are: <c>{"registries": {"HOST": {"auth": "base64(user:password)"}}}</c>
/// (entries may also hold username/password or identityToken, as the config file takes them). berthd writes it
/// atomically (a 0600 file beside it, then a rename); it reads it again whenever its size or modification time
/// changed, so a login, a logout or an operator's edit counts from the next pull or push, without a restart.
/// Thread-safe.
/// </summary>
public sealed class RegistryLogins(string path, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly object _gate = new();
    private (long Length, DateTime Modified)? _readAt;
    private IReadOnlyDictionary<string, RegistryHostConfig> _entries = new Dictionary<string, RegistryHostConfig>();

    /// <summary>The file's path (config key loginFile; by default auth.json under berthd's root).</summary>
    public string Path { get; } = path;

    /// <summary>The credentials kept for <paramref name="host"/> (a registry domain or a mirror's host[:port]), or null.</summary>
    /// <exception cref="RegistryException">Unauthorized when the file cannot be read or its entry for the host is malformed.</exception>
    public RegistryCredentials? Find(string host)
    {
        var entry = Current().GetValueOrDefault(host);
        try
        {
            return RegistryCredentials.FromHostConfig(entry);
        }
        catch (FormatException e)
        {
            throw new RegistryException(RegistryErrorKind.Unauthorized, $"{Path}: the credentials for {host}: {e.Message}", e);
        }
    }

    /// <summary>Keeps <paramref name="credentials"/> (user and password) for <paramref name="host"/>, replacing any.</summary>
    /// <exception cref="BerthException">FailedPrecondition when the file exists but cannot be read; the file is then left as it was.</exception>
    public void Save(string host, RegistryCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        lock (_gate)
        {
            var entries = new Dictionary<string, RegistryHostConfig>(Read(), StringComparer.Ordinal)
            {
                [host] = new RegistryHostConfig
                {
                    Auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}")),
                },
            };
            Write(entries);
        }
    }

    /// <summary>Forgets <paramref name="host"/>'s credentials; false when the file had none for it (it is then not rewritten).</summary>
    public bool Remove(string host)
    {
        lock (_gate)
        {
            var entries = new Dictionary<string, RegistryHostConfig>(Read(), StringComparer.Ordinal);
            if (!entries.Remove(host))
            {
                return false;
            }
            Write(entries);
            return true;
        }
    }

    /// <summary>
    /// The key a login is kept under, as image references name registries: "https://reg:5000/v2/" is "reg:5000", and
    /// Docker Hub's other names (index.docker.io, registry-1.docker.io) are "docker.io".
    /// </summary>
    /// <exception cref="BerthException">InvalidArgument when the text is no registry host.</exception>
    public static string NormalizeHost(string text)
    {
        var host = text.Trim();
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            host = host[(scheme + 3)..];
        }
        host = host.Split('/')[0].ToLowerInvariant();
        if (host is "index.docker.io" or "registry-1.docker.io")
        {
            return ImageReference.DockerHubDomain;
        }
        // A host is valid when it can be a reference's domain: "HOST/x" must parse with HOST as its domain.
        return host.Length > 0 && ImageReference.TryParse($"{host}/x", out var reference) && reference.Domain == host
            ? host
            : throw BerthException.InvalidArgument($"'{text}' is not a registry host such as registry.example.com or 127.0.0.1:5000");
    }

    private IReadOnlyDictionary<string, RegistryHostConfig> Current()
    {
        lock (_gate)
        {
            var info = new FileInfo(Path);
            (long, DateTime)? now = info.Exists ? (info.Length, info.LastWriteTimeUtc) : null;
            if (now != _readAt)
            {
                try
                {
                    _entries = Read();
                }
                catch (BerthException error)
                {
                    // A broken login file must not stop pulls from every registry (kubelet's included): they go on
                    // without its credentials, and it is said once per change of the file. Login and logout still
                    // refuse to rewrite it (Save, Remove), so nothing an operator may want to fix is lost.
                    _logger.LogError("{Message}; pulls and pushes go on without its credentials", error.Message);
                    _entries = new Dictionary<string, RegistryHostConfig>();
                }
                _readAt = now;
            }
            return _entries;
        }
    }

    private IReadOnlyDictionary<string, RegistryHostConfig> Read()
    {
        try
        {
            using var file = File.OpenRead(Path);
            return JsonSerializer.Deserialize(file, RegistryJsonContext.Default.LoginFileJson)?.Registries
                ?? new Dictionary<string, RegistryHostConfig>();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new Dictionary<string, RegistryHostConfig>();
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw BerthException.FailedPrecondition($"the login file {Path} cannot be read ({e.Message}): fix or remove it", e);
        }
    }

    private void Write(IReadOnlyDictionary<string, RegistryHostConfig> entries)
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(directory);
        var temporary = $"{Path}.{Guid.NewGuid():N}.tmp";
        try
        {
            // Created 0600 from the start, so the secret is never readable by others, not even for a moment.
            using (var file = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = OwnerReadWrite,
            }))
            using (var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteStartObject("registries");
                foreach (var (host, entry) in entries.OrderBy(pair => pair.Key, StringComparer.Ordinal))
                {
                    json.WriteStartObject(host);
                    WriteIfSet(json, "auth", entry.Auth);
                    WriteIfSet(json, "username", entry.Username);
                    WriteIfSet(json, "password", entry.Password);
                    WriteIfSet(json, "identityToken", entry.IdentityToken);
                    json.WriteEndObject();
                }
                json.WriteEndObject();
                json.WriteEndObject();
                json.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw BerthException.FailedPrecondition($"the login file {Path} cannot be written: {e.Message}", e);
        }
        _readAt = null; // read again at the next lookup
    }

    private static void WriteIfSet(Utf8JsonWriter json, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            json.WriteString(name, value);
        }
    }
}

using System.Security.Cryptography;
using Berth.Core.Errors;
using Google.Protobuf;

namespace Berth.RuntimeService.Streaming;

/// <summary>
/// The requests Exec, Attach and PortForward stored for their URL (kubelet's streaming requestCache):
/// each under a random single-use token that expires after <see cref="Lifetime"/>, at most
/// <see cref="Capacity"/> in flight. Taking a token removes it, so a URL serves one session; an unknown,
/// used or expired token finds nothing (404).
/// </summary>
public sealed class StreamingTokens(TimeProvider time)
{
    /// <summary>How long a URL may wait for its client (upstream cacheTTL: one minute).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    /// <summary>Tokens in flight at most (upstream maxInFlight); one more is refused with RESOURCE_EXHAUSTED.</summary>
    public const int Capacity = 1000;

    /// <summary>Random bytes per token: 128 bits, base64url (upstream uses 8 characters; nothing depends on the length).</summary>
    private const int TokenBytes = 16;

    private readonly object _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Queue<Entry> _byAge = new();

    /// <summary>Stores <paramref name="request"/> and returns its token. ResourceExhausted when <see cref="Capacity"/> are in flight.</summary>
    public string Add(IMessage request)
    {
        lock (_gate)
        {
            CollectExpired();
            if (_entries.Count >= Capacity)
            {
                throw new BerthException(ErrorKind.ResourceExhausted, $"maximum number of in-flight streaming requests exceeded ({Capacity})");
            }
            string token;
            do
            {
                token = Base64Url(RandomNumberGenerator.GetBytes(TokenBytes));
            }
            while (_entries.ContainsKey(token));
            var entry = new Entry(token, request, time.GetUtcNow() + Lifetime);
            _entries[token] = entry;
            _byAge.Enqueue(entry);
            return token;
        }
    }

    /// <summary>Takes the request stored under <paramref name="token"/>: null when it is unknown, used or expired.</summary>
    public IMessage? Take(string token)
    {
        lock (_gate)
        {
            if (!_entries.Remove(token, out Entry? entry))
            {
                return null;
            }
            entry.Taken = true;
            return time.GetUtcNow() > entry.Expires ? null : entry.Request;
        }
    }

    /// <summary>Tokens stored and not yet taken or collected.</summary>
    public int InFlight
    {
        get
        {
            lock (_gate)
            {
                CollectExpired();
                return _entries.Count;
            }
        }
    }

    private void CollectExpired()
    {
        DateTimeOffset now = time.GetUtcNow();
        while (_byAge.TryPeek(out Entry? oldest) && (oldest.Taken || now > oldest.Expires))
        {
            _byAge.Dequeue();
            if (!oldest.Taken)
            {
                _entries.Remove(oldest.Token);
            }
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed class Entry(string token, IMessage request, DateTimeOffset expires)
    {
        public string Token { get; } = token;
        public IMessage Request { get; } = request;
        public DateTimeOffset Expires { get; } = expires;
        public bool Taken { get; set; }
    }
}

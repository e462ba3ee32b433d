namespace Berth.ImageService.Registry;

public sealed record RegistryClientOptions
{
    /// <summary>The platform chosen from image indexes; this node's by default.</summary>
    public Platform Platform { get; init; } = Platform.Current;

    /// <summary>Tries of one request, the first included, on connection errors, 429 and 5xx.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>Delay before the first retry; it doubles with each retry, with jitter.</summary>
    public TimeSpan BaseRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A blob download fails when no byte arrives for this long.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest wait for one attempt's response headers, and for a small body (manifest, token) to arrive.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A pushed blob larger than this many bytes goes in PATCH chunks of this size; a smaller one in one PUT. Each
    /// request must finish within <see cref="RequestTimeout"/>.
    /// </summary>
    public long PushChunkBytes { get; init; } = 16 << 20;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(PushChunkBytes, 1);
        ArgumentNullException.ThrowIfNull(Platform);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttempts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(BaseRetryDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StallTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestTimeout, TimeSpan.Zero);
    }
}

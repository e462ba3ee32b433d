using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Berth.Api.Streaming.RemoteCommand;

/// <summary>
/// How an exec or attach session ended, as the server writes it on the error stream: for v4 and v5 a
/// metav1.Status as JSON (kubelet's remotecommand exec.go and attach.go, apimachinery api/errors
/// NewInternalError), for v1 to v3 only the failure's message as text (nothing on success).
/// <list type="bullet">
/// <item>Success: <c>{"metadata":{},"status":"Success"}</c></item>
/// <item>A non-zero exit: status Failure, reason NonZeroExitCode, a cause of reason ExitCode whose message is the code.</item>
/// <item>Too many sessions at once: status Failure, reason TooManyRequests, code 429 (apimachinery NewTooManyRequests).</item>
/// <item>A session closed for idleness: status Failure, reason Timeout, code 504 (apimachinery StatusReasonTimeout).</item>
/// <item>Anything else: status Failure, reason InternalError, code 500, message "Internal error occurred: ..." and the error as the cause.</item>
/// </list>
/// client-go's v4 decoder turns every Failure but NonZeroExitCode into "error executing remote command: MESSAGE",
/// so the message is what a kubectl or crictl user reads.
/// </summary>
public sealed record ExecStatus(string Status, string? Reason, string? Message, int? ExitCode, int? Code, string? CauseMessage)
{
    public const string Success = "Success";
    public const string Failure = "Failure";
    public const string NonZeroExitCodeReason = "NonZeroExitCode";
    public const string ExitCodeCauseType = "ExitCode";
    public const string InternalErrorReason = "InternalError";
    public const string TooManyRequestsReason = "TooManyRequests";
    public const string TimeoutReason = "Timeout";

    public static ExecStatus Succeeded { get; } = new(Success, null, null, null, null, null);

    /// <summary>A command that exited with a non-zero code; <paramref name="command"/> is shown as Go prints a []string.</summary>
    public static ExecStatus Exited(int exitCode, IReadOnlyList<string> command) =>
        new(Failure, NonZeroExitCodeReason,
            $"command terminated with non-zero exit code: error executing command [{string.Join(' ', command)}], exit code {exitCode}",
            exitCode, null, null);

    /// <summary>An internal error: <paramref name="error"/> becomes the cause, and the message says "Internal error occurred: " before it.</summary>
    public static ExecStatus Internal(string error) => new(Failure, InternalErrorReason, $"Internal error occurred: {error}", null, 500, error);

    /// <summary>
    /// A bound on concurrent work refused the session (apimachinery NewTooManyRequests, without a retry time:
    /// when a slot frees is not known). kubelet itself sends only InternalError; this lets a client tell a
    /// limit, worth retrying later, from a fault.
    /// </summary>
    public static ExecStatus TooManyRequests(string message) => new(Failure, TooManyRequestsReason, message, null, 429, null);

    /// <summary>The server closed a session that had no traffic for <paramref name="idleTimeout"/> (containerd and kubelet close it without a word).</summary>
    public static ExecStatus IdleClosed(TimeSpan idleTimeout) =>
        new(Failure, TimeoutReason, $"the session was closed after {GoDuration(idleTimeout)} without traffic (the idle timeout of the streaming server)", null, 504, null);

    /// <summary>A whole-second duration as Go prints one (1h0m0s, 4m30s, 45s).</summary>
    private static string GoDuration(TimeSpan duration)
    {
        long seconds = (long)duration.TotalSeconds;
        return seconds >= 3600 ? $"{seconds / 3600}h{seconds % 3600 / 60}m{seconds % 60}s"
            : seconds >= 60 ? $"{seconds / 60}m{seconds % 60}s"
            : $"{seconds}s";
    }

    /// <summary>The error stream's bytes for <paramref name="protocol"/>: JSON for v4 and v5, the message (or nothing) before.</summary>
    public byte[] Encode(string protocol) =>
        StreamProtocols.WritesStatusJson(protocol) ? ToJson() : Status == Success ? [] : Encoding.UTF8.GetBytes(Message ?? "");

    /// <summary>The metav1.Status JSON, fields in Go's order (metadata, status, message, reason, details, code).</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("metadata");
            writer.WriteEndObject();
            writer.WriteString("status", Status);
            if (Message is not null)
            {
                writer.WriteString("message", Message);
            }
            if (Reason is not null)
            {
                writer.WriteString("reason", Reason);
            }
            if (ExitCode is not null || CauseMessage is not null)
            {
                writer.WriteStartObject("details");
                writer.WriteStartArray("causes");
                writer.WriteStartObject();
                // metav1.StatusCause serialises its Type as "reason".
                if (ExitCode is { } exitCode)
                {
                    writer.WriteString("reason", ExitCodeCauseType);
                    writer.WriteString("message", exitCode.ToString(CultureInfo.InvariantCulture));
                }
                else
                {
                    writer.WriteString("message", CauseMessage);
                }
                writer.WriteEndObject();
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            if (Code is { } code)
            {
                writer.WriteNumber("code", code);
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// What a client makes of the error stream's bytes (client-go's errorDecoderV4 and V2): null for a clean
    /// end; for v4 and v5 the parsed status; before v4 a Failure holding the text.
    /// </summary>
    /// <exception cref="JsonException">A v4 error stream that is not a status.</exception>
    public static ExecStatus? Decode(ReadOnlySpan<byte> bytes, string protocol)
    {
        if (bytes.IsEmpty)
        {
            return null;
        }
        if (!StreamProtocols.WritesStatusJson(protocol))
        {
            return new ExecStatus(Failure, null, Encoding.UTF8.GetString(bytes), null, null, null);
        }
        using var document = JsonDocument.Parse(bytes.ToArray());
        JsonElement root = document.RootElement;
        string status = root.TryGetProperty("status", out var s) ? s.GetString() ?? "" : "";
        string? reason = root.TryGetProperty("reason", out var r) ? r.GetString() : null;
        string? message = root.TryGetProperty("message", out var m) ? m.GetString() : null;
        int? code = root.TryGetProperty("code", out var c) ? c.GetInt32() : null;
        int? exitCode = null;
        string? causeMessage = null;
        if (root.TryGetProperty("details", out var details) && details.TryGetProperty("causes", out var causes))
        {
            foreach (JsonElement cause in causes.EnumerateArray())
            {
                string? text = cause.TryGetProperty("message", out var t) ? t.GetString() : null;
                if (cause.TryGetProperty("reason", out var type) && type.GetString() == ExitCodeCauseType
                    && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed))
                {
                    exitCode = parsed;
                }
                else
                {
                    causeMessage ??= text;
                }
            }
        }
        return status == Success ? null : new ExecStatus(status, reason, message, exitCode, code, causeMessage);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Berth.Tests.Unit.Registry;

/// <summary>Stands for the network in client tests: answers each request with <see cref="Respond"/> and records it.</summary>
internal sealed class FakeNetwork : HttpMessageHandler
{
    public sealed record Request(HttpMethod Method, Uri Uri, AuthenticationHeaderValue? Authorization, string? Body, string Accept, string? ContentRange = null);

    private readonly List<Request> requests = [];

    public required Func<Request, Task<HttpResponseMessage>> Respond { get; init; }

    public IReadOnlyList<Request> Requests
    {
        get
        {
            lock (requests)
            {
                return requests.ToList();
            }
        }
    }

    public IEnumerable<Request> To(string host) => Requests.Where(request => request.Uri.Authority == host);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage message, CancellationToken cancellationToken)
    {
        var request = new Request(message.Method, message.RequestUri!, message.Headers.Authorization,
            message.Content is null ? null : await message.Content.ReadAsStringAsync(cancellationToken),
            string.Join(", ", message.Headers.Accept.Select(accept => accept.MediaType)),
            message.Content?.Headers.TryGetValues("Content-Range", out var range) == true ? range.Single() : null);
        lock (requests)
        {
            requests.Add(request);
        }
        var response = await Respond(request).WaitAsync(cancellationToken);
        response.RequestMessage = message;
        return response;
    }

    public static HttpResponseMessage Answer(HttpStatusCode status, byte[]? body = null, string? contentType = null)
    {
        var response = new HttpResponseMessage(status) { Content = new ByteArrayContent(body ?? []) };
        if (contentType is not null)
        {
            response.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        return response;
    }

    public static HttpResponseMessage Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        Answer(status, Encoding.UTF8.GetBytes(json), "application/json");

    public static HttpResponseMessage Challenge(string challenge)
    {
        var response = Json("""{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}""", HttpStatusCode.Unauthorized);
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", challenge);
        return response;
    }

    public static string Basic(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
}

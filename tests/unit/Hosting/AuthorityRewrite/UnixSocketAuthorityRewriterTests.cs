using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Berth.Core;
using Berth.RuntimeService.Hosting.AuthorityRewrite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using static Berth.Tests.Unit.Hosting.AuthorityRewrite.HpackBlock;

namespace Berth.Tests.Unit.Hosting.AuthorityRewrite;

public sealed class UnixSocketAuthorityRewriterTests
{
    private const string SocketPath = "/tmp/bt/berth.sock";
    private const string Rewritten = "-tmp-bt-berth.sock";

    private static readonly byte[] ClientStart =
        [.. Http2Frames.Preface, .. Http2Frames.Frame(Http2Frames.Settings, 0, 0, [0x0, 0x4, 0x0, 0x40, 0x0, 0x0])];

    // What crictl 1.28 (grpc-go 1.54, golang.org/x/net/http2/hpack) encodes for its first two calls on a
    // connection, the authority being the socket path: the first adds ":authority" to the dynamic table as a
    // Huffman literal (41 8d ...), the second refers to it by index.
    private const string GoFirstRequest =
        "8386459962cb6a49a92afdc2bedb6a49a92ee2d9dcc42b1c4b620c7abf418d6134d6c4696232d899d741c9d75f8b1d75d062"
        + "0d263d4c4d65647a8b9acac8b4c7602bb6f2ecff40027465864d833505b11f40899acac8b24d494f6a7f860befbef01bb7";
    private const string GoSecondRequest = "8386459e62cb6a49a92afdc2bedb6a49a92ee2d9dcc42b19cc84eb3c9b8754919fcfc3c2c1c0bf";

    [Fact]
    public void HuffmanTableMatchesRfc7541AppendixB()
    {
        Assert.Equal(257, HpackHuffman.Codes.Count);
        Assert.Equal(new HuffmanCode(0x18, 6), HpackHuffman.Codes['/']);
        Assert.Equal(new HuffmanCode(0x16, 6), HpackHuffman.Codes['-']);
        Assert.Equal(new HuffmanCode(0x3, 5), HpackHuffman.Codes['a']);
        Assert.Equal(new HuffmanCode(0x5c, 7), HpackHuffman.Codes[':']);
        Assert.Equal(new HuffmanCode(0x1ff8, 13), HpackHuffman.Codes[0]);
        Assert.Equal(new HuffmanCode(0x3ffffee, 26), HpackHuffman.Codes[255]);
        Assert.Equal(new HuffmanCode(0x3fffffff, 30), HpackHuffman.Codes[HpackHuffman.EndOfString]);
        // A complete prefix code: the code space is used exactly once (Kraft sum 1).
        Assert.Equal(1L << 30, HpackHuffman.Codes.Sum(code => 1L << (30 - code.BitLength)));
        // RFC 7541 C.4.1 encodes "www.example.com" so.
        Assert.Equal(Convert.FromHexString("f1e3c2e5f23a6ba0ab90f4ff"), TestHuffman.Encode("www.example.com"));
        Assert.Equal("www.example.com", TestHuffman.Decode(Convert.FromHexString("f1e3c2e5f23a6ba0ab90f4ff")));
    }

    [Fact]
    public async Task CrictlHeaderBlocksGetTheAuthorityRewrittenAndNothingElse()
    {
        byte[] first = Convert.FromHexString(GoFirstRequest);
        byte[] second = Convert.FromHexString(GoSecondRequest);
        byte[] sent =
        [
            .. ClientStart,
            .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, 1, first),
            .. Http2Frames.Frame(Http2Frames.Data, Http2Frames.EndStream, 1, [0, 0, 0, 0, 0]),
            .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, 3, second),
        ];

        byte[] received = await RewriteAsync(sent);

        byte[] expected = Replace(sent, TestHuffman.Encode(SocketPath), TestHuffman.Encode(Rewritten));
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(received));
        var decoder = new HpackTestDecoder();
        Assert.Equal(Rewritten, Authority(decoder.Decode(HeaderPayload(received, ClientStart.Length))));
        int secondAt = ClientStart.Length + 9 + first.Length + 9 + 5;
        List<(string Name, string Value)> secondFields = decoder.Decode(HeaderPayload(received, secondAt));
        Assert.Equal(Rewritten, Authority(secondFields));
        Assert.Contains((":path", "/runtime.v1.RuntimeService/ListPodSandbox"), secondFields);
    }

    [Fact]
    public async Task AConnectionIsCountedOnceInTheMetricsWhenItsAuthorityIsFirstRewritten()
    {
        long counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, meters) =>
        {
            if (instrument == Telemetry.AuthorityRewrittenConnections)
            {
                meters.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref counted, value));
        listener.Start();
        byte[] Request(int streamId, string authority) => Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders,
            streamId, new HpackBlock().Indexed(3).Literal(Indexing.Without, 1, authority).ToArray());

        await RewriteAsync([.. ClientStart, .. Request(1, SocketPath), .. Request(3, SocketPath)]);
        await RewriteAsync([.. ClientStart, .. Request(1, "localhost")]);

        Assert.Equal(1, Interlocked.Read(ref counted));
    }

    [Theory]
    [InlineData("incremental, static name, raw")]
    [InlineData("incremental, static name, Huffman")]
    [InlineData("without indexing, static name, raw")]
    [InlineData("never indexed, static name, Huffman")]
    [InlineData("incremental, new raw name")]
    [InlineData("without indexing, new Huffman name, Huffman")]
    [InlineData("never indexed, new Huffman name, raw")]
    [InlineData("after a table size update")]
    public async Task EveryLiteralAuthorityRepresentationIsRewrittenInPlace(string representation)
    {
        byte[] Block(string value) => AuthorityField(representation, value)
            .Indexed(3)
            .Literal(Indexing.Incremental, 4, "/runtime.v1.RuntimeService/Version", huffman: true)
            .Literal(Indexing.Without, "x-socket", SocketPath)
            .Literal(Indexing.Never, "x-huffman", SocketPath, huffmanValue: true)
            .ToArray();
        byte[] Stream(string value) =>
        [
            .. ClientStart,
            .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, 1, Block(value)),
            .. Http2Frames.Frame(Http2Frames.Data, 0, 1, Encoding.ASCII.GetBytes(SocketPath)),
        ];

        byte[] received = await RewriteAsync(Stream(SocketPath));

        Assert.True(Stream(Rewritten).AsSpan().SequenceEqual(received), representation);
        List<(string Name, string Value)> fields = new HpackTestDecoder().Decode(HeaderPayload(received, ClientStart.Length));
        Assert.Equal(Rewritten, Authority(fields));
        Assert.Contains((":path", "/runtime.v1.RuntimeService/Version"), fields);
        Assert.Contains(("x-socket", SocketPath), fields);
        Assert.Contains(("x-huffman", SocketPath), fields);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task APercentEncodedSocketPathIsRewrittenInPlaceToo(bool huffman)
    {
        // What grpc-go 1.57 and later send for a bare path target without WithAuthority (crictl 1.29 and 1.30).
        const string PercentEncoded = "%2Ftmp%2Fbt%2Fberth.sock";
        byte[] Stream(string value) =>
        [
            .. ClientStart,
            .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, 1, new HpackBlock()
                .Literal(Indexing.Incremental, 1, value, huffman)
                .Literal(Indexing.Without, "x-socket", PercentEncoded, huffmanValue: huffman)
                .ToArray()),
        ];

        byte[] received = await RewriteAsync(Stream(PercentEncoded));

        Assert.Equal(Stream("-2Ftmp-2Fbt-2Fberth.sock"), received);
    }

    private static HpackBlock AuthorityField(string representation, string value) => representation switch
    {
        "incremental, static name, raw" => new HpackBlock().Literal(Indexing.Incremental, 1, value),
        "incremental, static name, Huffman" => new HpackBlock().Literal(Indexing.Incremental, 1, value, huffman: true),
        "without indexing, static name, raw" => new HpackBlock().Literal(Indexing.Without, 1, value),
        "never indexed, static name, Huffman" => new HpackBlock().Literal(Indexing.Never, 1, value, huffman: true),
        "incremental, new raw name" => new HpackBlock().Literal(Indexing.Incremental, ":authority", value),
        "without indexing, new Huffman name, Huffman" =>
            new HpackBlock().Literal(Indexing.Without, ":authority", value, huffmanName: true, huffmanValue: true),
        "never indexed, new Huffman name, raw" => new HpackBlock().Literal(Indexing.Never, ":authority", value, huffmanName: true),
        "after a table size update" => new HpackBlock().SizeUpdate(256).Literal(Indexing.Incremental, 1, value, huffman: true),
        _ => throw new ArgumentOutOfRangeException(nameof(representation)),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ABlockSplitAcrossPaddedHeadersAndContinuationsIsRewrittenAcrossTheSplits(bool huffman)
    {
        byte[] Block(string value) => new HpackBlock()
            .Indexed(3).Indexed(6)
            .Literal(Indexing.Incremental, 1, value, huffman)
            .Literal(Indexing.Without, 31, "application/grpc")
            .ToArray();
        byte[] block = Block(SocketPath);
        // Every cut position, so strings (and, Huffman, single codes) straddle frames somewhere.
        for (int cut = 0; cut <= block.Length; cut++)
        {
            int secondCut = Math.Min(block.Length, cut + 2);
            byte[] Stream(byte[] headerBlock) =>
            [
                .. ClientStart,
                .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.Padded | Http2Frames.Priority, 1,
                    [3, 0, 0, 0, 0, 16, .. headerBlock[..cut], 0xaa, 0xbb, 0xcc]),
                .. Http2Frames.Frame(Http2Frames.Continuation, 0, 1, headerBlock[cut..secondCut]),
                .. Http2Frames.Frame(Http2Frames.Continuation, Http2Frames.EndHeaders, 1, headerBlock[secondCut..]),
                .. Http2Frames.Frame(Http2Frames.Settings, Http2Frames.Ack, 0, []),
            ];

            byte[] received = await RewriteAsync(Stream(block));

            Assert.True(Stream(Block(Rewritten)).AsSpan().SequenceEqual(received), $"cut at {cut}");
        }
    }

    [Fact]
    public async Task BytesArrivingOneByOneGiveTheSameResult()
    {
        byte[] Stream(string value) =>
        [
            .. ClientStart,
            .. Http2Frames.Frame(Http2Frames.WindowUpdate, 0, 0, [0, 0x1, 0, 0]),
            .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.Padded, 1,
                [2, .. new HpackBlock().Indexed(2).Literal(Indexing.Incremental, 1, value, huffman: true).ToArray(), 0, 0]),
            .. Http2Frames.Frame(Http2Frames.Data, Http2Frames.EndStream, 1, Encoding.ASCII.GetBytes(SocketPath)),
            .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, 3, new HpackBlock().Indexed(62).ToArray()),
        ];
        byte[] sent = Stream(SocketPath);

        byte[] received = await RewriteAsync(sent.Select(octet => new[] { octet }).ToArray());

        // The first HEADERS lacks END_HEADERS and the DATA frame breaks the block: forwarded unchanged.
        Assert.Equal(sent, received);

        sent = [.. sent];
        sent[ClientStart.Length + 9 + 4 + 4] |= Http2Frames.EndHeaders;
        byte[] expected = [.. Stream(Rewritten)];
        expected[ClientStart.Length + 9 + 4 + 4] |= Http2Frames.EndHeaders;
        Assert.Equal(expected, await RewriteAsync(sent.Select(octet => new[] { octet }).ToArray()));
    }

    [Theory]
    [InlineData("41 7f")] // a string length running past the block
    [InlineData("41 85 61 62")] // a raw value cut short
    [InlineData("41 81 00")] // Huffman: 8 bits of padding that are not all ones
    [InlineData("41 84 ff ff ff ff")] // Huffman: EOS inside the string
    [InlineData("ff ff ff ff ff 7f")] // an index too large to be real
    public async Task AMalformedBlockIsForwardedUnchanged(string malformedTail)
    {
        byte[] block =
        [
            .. new HpackBlock().Literal(Indexing.Incremental, 1, SocketPath).ToArray(),
            .. Convert.FromHexString(malformedTail.Replace(" ", "")),
        ];
        byte[] sent = [.. ClientStart, .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, 1, block)];

        Assert.Equal(sent, await RewriteAsync(sent));
    }

    [Fact]
    public async Task AnHttp1ConnectionIsForwardedUntouched()
    {
        byte[] request = "GET /tmp/x HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();
        Assert.Equal(request, await RewriteAsync(request));

        // Shorter than the HTTP/2 preface, and the client waits: it must still go through.
        await using var connection = RewriterConnection.Open();
        await connection.SendAsync("GET /\r\n"u8.ToArray());
        await connection.WaitUntilForwardedAsync(7);
    }

    [Fact]
    public async Task AHeaderBlockTooLargeToHoldBackIsForwardedWithoutWaitingForItsEnd()
    {
        await using var connection = RewriterConnection.Open();
        byte[] fragment = new byte[16 * 1024];
        fragment.AsSpan().Fill((byte)'/');
        await connection.SendAsync([.. ClientStart, .. Http2Frames.Frame(Http2Frames.Headers, 0, 1, [0x41, 0x7f, 0xff, 0xff, 0x3f])]);
        int sent = ClientStart.Length + 9 + 5;
        while (sent < Http2FrameForwarder.MaxHeldHeaderBlock + 64 * 1024)
        {
            await connection.SendAsync(Http2Frames.Frame(Http2Frames.Continuation, 0, 1, fragment));
            sent += 9 + fragment.Length;
        }

        await connection.WaitUntilForwardedAsync(sent);
    }

    [Fact]
    public async Task AFailedInputReachesKestrelWithItsError()
    {
        await using var connection = RewriterConnection.Open();
        await connection.SendAsync([.. ClientStart, 0, 0]);
        var reset = new IOException("connection reset by peer");

        await connection.FinishAsync(reset);

        Assert.Same(reset, connection.KestrelInputError);
    }

    [Fact]
    public async Task TheConnectionEndsWhenKestrelEndsItEvenIfTheClientStaysOpen()
    {
        var client = new Pipe();
        var server = new Pipe();
        var connection = new DefaultConnectionContext("c", new DuplexPipe(client.Reader, server.Writer), new DuplexPipe(server.Reader, client.Writer));
        ConnectionDelegate kestrel = async context =>
        {
            ReadResult read = await context.Transport.Input.ReadAsync();
            context.Transport.Input.AdvanceTo(read.Buffer.End);
            await context.Transport.Input.CompleteAsync();
        };
        Task serving = UnixSocketAuthorityRewriter.Middleware(kestrel)(connection);

        await client.Writer.WriteAsync(ClientStart);

        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Same(client.Reader, connection.Transport.Input);
    }

    [Theory]
    [Trait("Category", "Kestrel")]
    [InlineData("/tmp/x.sock", "-tmp-x.sock")]
    [InlineData("%2Ftmp%2Fx.sock", "-2Ftmp-2Fx.sock")]
    public async Task KestrelAnswersARequestWithASocketPathAuthorityOnceRewritten(string authority, string host)
    {
        Http2Outcome outcome = await SendToKestrelAsync(rewrite: true, authority);

        Assert.Equal(new Http2Outcome("200", host, null), outcome);
    }

    [Theory]
    [Trait("Category", "Kestrel")]
    [InlineData("/tmp/x.sock")]
    [InlineData("%2Ftmp%2Fx.sock")] // grpc-go 1.57 and later, dialling a bare path
    public async Task KestrelResetsARequestWithASocketPathAuthorityWithoutTheRewriter(string authority)
    {
        const int ProtocolError = 1;

        Http2Outcome outcome = await SendToKestrelAsync(rewrite: false, authority);

        Assert.Equal(new Http2Outcome(null, null, ProtocolError), outcome);
    }

    private sealed record Http2Outcome(string? Status, string? Body, int? ResetCode);

    /// <summary>
    /// Starts Kestrel on a unix socket (HTTP/2 only, the rewriter on or off) answering with the Host it saw,
    /// sends one GET over hand-written h2c frames, and reports the response or the stream reset.
    /// </summary>
    private static async Task<Http2Outcome> SendToKestrelAsync(bool rewrite, string authority)
    {
        string socketPath = Path.Combine(Path.GetTempPath(), $"berth-authority-{Guid.NewGuid():N}.sock");
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(socketPath, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            if (rewrite)
            {
                listen.Use(UnixSocketAuthorityRewriter.Middleware);
            }
        }));
        await using WebApplication app = builder.Build();
        app.Run(context => context.Response.WriteAsync(context.Request.Host.Value ?? ""));
        await app.StartAsync();
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
            await using var stream = new NetworkStream(socket);
            byte[] request = new HpackBlock()
                .Indexed(2) // :method GET
                .Indexed(6) // :scheme http
                .Indexed(4) // :path /
                .Literal(Indexing.Incremental, 1, authority)
                .ToArray();
            byte[] opening =
            [
                .. Http2Frames.Preface,
                .. Http2Frames.Frame(Http2Frames.Settings, 0, 0, []),
                .. Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders | Http2Frames.EndStream, 1, request),
            ];
            await stream.WriteAsync(opening);
            return await ReadResponseAsync(stream);
        }
        finally
        {
            await app.StopAsync();
            File.Delete(socketPath);
        }
    }

    private static async Task<Http2Outcome> ReadResponseAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var decoder = new HpackTestDecoder();
        string? status = null;
        var body = new StringBuilder();
        byte[] header = new byte[9];
        while (true)
        {
            await stream.ReadExactlyAsync(header, timeout.Token);
            int length = (header[0] << 16) | (header[1] << 8) | header[2];
            byte type = header[3];
            byte flags = header[4];
            int streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7fffffff;
            byte[] payload = new byte[length];
            await stream.ReadExactlyAsync(payload, timeout.Token);
            switch (type)
            {
                case Http2Frames.Settings when (flags & Http2Frames.Ack) == 0:
                    await stream.WriteAsync(Http2Frames.Frame(Http2Frames.Settings, Http2Frames.Ack, 0, []), timeout.Token);
                    break;
                case Http2Frames.Headers when streamId == 1:
                    Assert.True((flags & Http2Frames.EndHeaders) != 0, "Kestrel sent CONTINUATION frames");
                    status = decoder.Decode(payload).Single(field => field.Name == ":status").Value;
                    break;
                case Http2Frames.Data when streamId == 1:
                    body.Append(Encoding.ASCII.GetString(payload));
                    break;
                case Http2Frames.RstStream when streamId == 1:
                    return new Http2Outcome(status, null, BinaryPrimitives.ReadInt32BigEndian(payload));
                case Http2Frames.GoAway:
                    Assert.Fail($"GOAWAY, error {BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4))}");
                    break;
            }
            if (streamId == 1 && (flags & Http2Frames.EndStream) != 0 && type is Http2Frames.Headers or Http2Frames.Data)
            {
                return new Http2Outcome(status, body.ToString(), null);
            }
        }
    }

    private static Task<byte[]> RewriteAsync(byte[] sent) => RewriteAsync([sent]);

    /// <summary>Sends each chunk as its own write (the loop handles it before the next) and returns what Kestrel got.</summary>
    private static async Task<byte[]> RewriteAsync(byte[][] chunks)
    {
        await using var connection = RewriterConnection.Open();
        foreach (byte[] chunk in chunks)
        {
            await connection.SendAsync(chunk);
        }
        byte[] received = await connection.FinishAsync();
        Assert.Null(connection.KestrelInputError);
        return received;
    }

    private static string Authority(List<(string Name, string Value)> fields) =>
        fields.Single(field => field.Name == ":authority").Value;

    private static byte[] HeaderPayload(byte[] stream, int frameStart)
    {
        int length = (stream[frameStart] << 16) | (stream[frameStart + 1] << 8) | stream[frameStart + 2];
        Assert.Equal(Http2Frames.Headers, stream[frameStart + 3]);
        return stream[(frameStart + 9)..(frameStart + 9 + length)];
    }

    private static byte[] Replace(byte[] bytes, byte[] from, byte[] to)
    {
        byte[] result = [.. bytes];
        int at = result.AsSpan().IndexOf(from);
        Assert.True(at >= 0);
        to.CopyTo(result, at);
        return result;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>
    /// The middleware between a client pipe and a stand-in for Kestrel that records what it reads. The client
    /// pipe schedules its reader inline, so the rewriter handles every write before the write returns, and it
    /// stops taking bytes at 1 MiB unread, like Kestrel's socket transport.
    /// </summary>
    private sealed class RewriterConnection : IAsyncDisposable
    {
        private readonly Pipe _client = new(new PipeOptions(
            readerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024));
        private readonly ArrayBufferWriter<byte> _forwarded = new();
        private Task _serving = Task.CompletedTask;

        public Exception? KestrelInputError { get; private set; }

        public static RewriterConnection Open()
        {
            var connection = new RewriterConnection();
            var server = new Pipe();
            var context = new DefaultConnectionContext("test",
                new DuplexPipe(connection._client.Reader, server.Writer), new DuplexPipe(server.Reader, connection._client.Writer));
            connection._serving = UnixSocketAuthorityRewriter.Middleware(connection.ReadLikeKestrelAsync)(context);
            return connection;
        }

        public async Task SendAsync(byte[] bytes) => await _client.Writer.WriteAsync(bytes);

        public async Task<byte[]> FinishAsync(Exception? error = null)
        {
            await _client.Writer.CompleteAsync(error);
            await _serving.WaitAsync(TimeSpan.FromSeconds(10));
            lock (_forwarded)
            {
                return _forwarded.WrittenSpan.ToArray();
            }
        }

        public async Task WaitUntilForwardedAsync(int count)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (Forwarded < count)
            {
                await Task.Delay(10, timeout.Token);
            }
            Assert.Equal(count, Forwarded);
        }

        public async ValueTask DisposeAsync()
        {
            await _client.Writer.CompleteAsync();
            await _serving.WaitAsync(TimeSpan.FromSeconds(10));
        }

        private int Forwarded
        {
            get
            {
                lock (_forwarded)
                {
                    return _forwarded.WrittenCount;
                }
            }
        }

        private async Task ReadLikeKestrelAsync(ConnectionContext context)
        {
            PipeReader input = context.Transport.Input;
            try
            {
                while (true)
                {
                    ReadResult read = await input.ReadAsync();
                    lock (_forwarded)
                    {
                        foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                        {
                            _forwarded.Write(segment.Span);
                        }
                    }
                    input.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (IOException error)
            {
                KestrelInputError = error;
            }
            await input.CompleteAsync();
        }
    }
}

using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.Unit.Validation;
using Google.Protobuf;
using Grpc.Core;
using Xunit.Abstractions;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// Strings that berthd used to cut at a NUL, echo back whole, or use as paths outside where they belong
/// (issue 7, fault 6): each is refused at the edge with INVALID_ARGUMENT naming the field, and nothing
/// is made on the node.
/// </summary>
public sealed class BadStringTests(BusyboxRegistry registry, ITestOutputHelper output) : IClassFixture<BusyboxRegistry>
{
    private static async Task<Status> RefusedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        return error.Status;
    }

    [Fact]
    public async Task ARelativeLogDirectoryIsRefusedAndMakesNoDirectory()
    {
        await using var berth = await BerthDaemon.StartAsync();
        string relative = $"berth-e2e-{Guid.NewGuid():N}"[..18];
        var pod = PodConfig(berth);
        pod.LogDirectory = $"{relative}/logs";

        var status = await RefusedAsync(() => berth.RunPodAsync(pod));

        Assert.Equal($"config.log_directory must be an absolute path: \"{relative}/logs\"", status.Detail);
        Assert.False(Directory.Exists(Path.Combine(WorkingDirectory(berth), relative)));
        Assert.False(Directory.Exists(Path.Combine("/", relative)));
        Assert.Empty((await berth.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest())).Items);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task BadCommandsAndLogPathsAreRefusedAndMakeNoContainer()
    {
        await using var berth = await BerthDaemon.StartAsync();
        await berth.PullAsync(registry.Busybox.Reference);
        var pod = PodConfig(berth);
        var podId = await berth.RunPodAsync(pod);
        string outside = $"/etc/berth-e2e-{Guid.NewGuid():N}";

        var nulCommand = ContainerConfig(registry.Busybox, "nul-command", "/bin/sh\0x", "-c", "echo ran");
        var nulLogPath = ContainerConfig(registry.Busybox, "nul-log", "true");
        nulLogPath.LogPath = "a.log\0b";
        var absoluteLogPath = ContainerConfig(registry.Busybox, "absolute-log", "true");
        absoluteLogPath.LogPath = outside;
        var climbingLogPath = ContainerConfig(registry.Busybox, "climbing-log", "true");
        climbingLogPath.LogPath = $"../../../../../../..{outside}";

        Assert.Equal("config.command[0] must not contain a NUL character (one is at offset 7): \"/bin/sh\\0x\"",
            (await RefusedAsync(() => berth.CreateContainerAsync(podId, pod, nulCommand))).Detail);
        Assert.Equal("config.log_path must not contain a NUL character (one is at offset 5): \"a.log\\0b\"",
            (await RefusedAsync(() => berth.CreateContainerAsync(podId, pod, nulLogPath))).Detail);
        Assert.Equal($"config.log_path must be a path relative to log_directory, not an absolute one: \"{outside[..32]}\"…",
            (await RefusedAsync(() => berth.CreateContainerAsync(podId, pod, absoluteLogPath))).Detail);
        Assert.StartsWith("config.log_path must stay inside log_directory, but its \"..\" climbs out: \"../../",
            (await RefusedAsync(() => berth.CreateContainerAsync(podId, pod, climbingLogPath))).Detail);

        Assert.False(File.Exists(outside));
        Assert.Empty((await berth.Runtime.ListContainersAsync(new ListContainersRequest())).Containers);
        Assert.False(Directory.Exists(pod.LogDirectory) && Directory.EnumerateFileSystemEntries(pod.LogDirectory).Any());
        var containers = Path.Combine(berth.State, "containers");
        Assert.False(Directory.Exists(containers) && Directory.EnumerateFileSystemEntries(containers).Any());
        await berth.RemovePodAsync(podId);
        Assert.Empty(Traces(berth, pod));
    }

    [Fact]
    public async Task ATenMebibyteContainerIdIsRefusedCheaplyWithAShortMessage()
    {
        await using var berth = await BerthDaemon.StartAsync();
        int pid = DaemonProcessId(berth);
        await berth.Runtime.VersionAsync(new VersionRequest { Version = "v1" });
        int outputBefore = berth.OutputTail(int.MaxValue).Length;
        string rssBefore = ResidentSet(pid);
        long cpuBefore = CpuTicks(pid);

        var status = await RefusedAsync(() => berth.ContainerStatusAsync(new string('a', 10 << 20)));

        long cpuTicks = CpuTicks(pid) - cpuBefore;
        int logged = berth.OutputTail(int.MaxValue).Length - outputBefore;
        output.WriteLine($"berthd CPU for the call: {cpuTicks * 10} ms; log written: {logged} characters; "
            + $"RSS {rssBefore} before, {ResidentSet(pid)} after; detail: {status.Detail}");
        Assert.Equal($"container_id must be at most 128 bytes long, not {10 << 20}: \"{new string('a', 32)}\"…", status.Detail);
        // Before the edge check: 1.5 s of CPU and 40 MB of log. Receiving and decoding 10 MiB is what remains.
        Assert.True(cpuTicks < 50, $"berthd used {cpuTicks * 10} ms of CPU");
        // ASP.NET Core's own request lines are about 4 KB a call at Information; the id is never in them.
        Assert.True(logged < 16 << 10, $"berthd logged {logged} characters");
        Assert.DoesNotContain(new string('a', 33), berth.OutputTail(20));
        Assert.True(berth.IsRunning);
    }

    [Fact]
    public async Task EveryStringOfEveryRequestIsCheckedByThePublishedBerthd()
    {
        // The NativeAOT binary walks requests through the checks written at build time from the
        // descriptors: a NUL in each string of each request of both services must come back naming its path.
        await using var berth = await BerthDaemon.StartAsync();
        var wrong = new List<string>();
        int calls = 0;
        foreach (var slot in RequestSlot.All())
        {
            var method = slot.Method;
            var call = new Method<IMessage, IMessage>(method.IsServerStreaming ? MethodType.ServerStreaming : MethodType.Unary,
                method.Service.FullName, method.Name,
                Marshallers.Create<IMessage>(message => message.ToByteArray(), method.InputType.Parser.ParseFrom),
                Marshallers.Create<IMessage>(message => message.ToByteArray(), method.OutputType.Parser.ParseFrom));
            string expected = $"{slot.Path}{(slot.IsKey ? " keys" : "")} must not contain a NUL character";
            try
            {
                var request = slot.Build("a\0b");
                if (method.IsServerStreaming)
                {
                    using var stream = berth.CallInvoker.AsyncServerStreamingCall(call, null, new CallOptions(), request);
                    await stream.ResponseStream.MoveNext(CancellationToken.None);
                }
                else
                {
                    await berth.CallInvoker.AsyncUnaryCall(call, null, new CallOptions(), request);
                }
                wrong.Add($"{slot}: accepted");
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.InvalidArgument && error.Status.Detail.StartsWith(expected, StringComparison.Ordinal))
            {
            }
            catch (RpcException error)
            {
                wrong.Add($"{slot}: {error.StatusCode} {error.Status.Detail}");
            }
            calls++;
        }
        output.WriteLine($"{calls} requests refused");
        Assert.True(wrong.Count == 0, string.Join('\n', wrong) + "\n" + berth.OutputTail());
        Assert.True(berth.IsRunning);
    }

    /// <summary>berthd's pid, found by its socket on its command line.</summary>
    private static int DaemonProcessId(BerthDaemon berth) =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => int.TryParse(name, out _))
            .Select(name => int.Parse(name!))
            .Single(pid => CommandLine(pid) is { } line && line.Contains("berthd") && line.Contains(berth.SocketPath));

    private static string? CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string WorkingDirectory(BerthDaemon berth) =>
        new DirectoryInfo($"/proc/{DaemonProcessId(berth)}/cwd").LinkTarget ?? throw new IOException("berthd has no working directory");

    private static string ResidentSet(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Single(line => line.StartsWith("VmRSS:"))["VmRSS:".Length..].Trim();

    /// <summary>User plus system CPU time of the process, in clock ticks (1/100 s on Linux).</summary>
    private static long CpuTicks(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11]) + long.Parse(fields[12]);
    }
}

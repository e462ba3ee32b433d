using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Images;
using Berth.Tests.E2e.Pods;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Admin;

/// <summary>
/// berthctl commit, export and import as an operator uses them, on real containers (overlayfs, cgroup freezer) of images
/// from the docker-registry fixture, with the results run again through CRI.
/// </summary>
public sealed class CommitExportImportTests(SharedRegistry registry) : IClassFixture<SharedRegistry>
{
    /// <summary>The image's own files: one to delete, one to keep, and a directory to replace (an opaque one in overlay).</summary>
    private static LayerBuilder DataLayer() => new LayerBuilder()
        .Directory("data")
        .File("data/old.txt", "from the image, deleted by the container")
        .File("data/keep.txt", "from the image, kept")
        .Directory("replaced")
        .File("replaced/a.txt", "hidden by the container's new directory");

    private const string ChangeScript =
        "echo written > /data/new.txt && rm /data/old.txt && rm -rf /replaced && mkdir /replaced && echo b > /replaced/b.txt";

    [Fact]
    public async Task AFrozenContainerDoesNotRunAndRunsAgainOnceThawed()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("freeze"), "v1", BusyboxImage());
        await PodTestSupport.InPodAsync(pushed, async (berth, pod, podId) =>
        {
            var (id, counter) = await StartCounterAsync(berth, podId, pod, pushed.Reference, prelude: "");
            using var shim = await ShimClient.ConnectAsync(Path.Combine(berth.State, "s", id[..24] + ".sock"), TimeSpan.FromSeconds(5));

            await shim.FreezeAsync(true);
            long frozenAt;
            try
            {
                frozenAt = Count(counter);
                await Task.Delay(500);
                Assert.Equal(frozenAt, Count(counter));
                Assert.Equal("FROZEN", FreezerState(pod, id));
            }
            finally
            {
                // Also when an assertion failed: a frozen task cannot die, so the pod could not be removed.
                await shim.FreezeAsync(false);
            }
            await WaitUntilAsync(() => Count(counter) > frozenAt + 2);
            Assert.Equal("THAWED", FreezerState(pod, id));
        });
    }

    [Fact]
    public async Task ACommittedImageHoldsTheContainersWritesAndDeletionsAndItsChanges()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("commit"), "v1", BusyboxImage(DataLayer()));
        await PodTestSupport.InPodAsync(pushed, async (berth, pod, podId) =>
        {
            var id = await StartAsRootAsync(berth, podId, pod, pushed.Reference, "source", "sleep", "3600");
            Assert.Equal("", await berth.ShellAsync(id, ChangeScript));

            var commit = await Berthctl.RunAsync(berth, "commit", id[..12], "local/committed:v1", "-m", "the container's changes",
                "--author", "Operator <op@example.test>", "--change", "CMD [\"cat\", \"/data/new.txt\"]", "-c", "ENV MODE=committed");

            Assert.True(commit.ExitCode == 0, commit.ToString());
            var imageId = commit.Output.Trim();
            Assert.StartsWith("sha256:", imageId);
            // Thawed: the container still answers.
            Assert.Equal("written\n", await berth.ShellAsync(id, "cat /data/new.txt"));
            var inspect = await Berthctl.RunAsync(berth, "inspect", "local/committed:v1");
            using (var json = JsonDocument.Parse(inspect.Output))
            {
                var image = json.RootElement[0];
                Assert.Equal(imageId, image.GetProperty("Id").GetString());
                Assert.Equal(3, image.GetProperty("Layers").GetArrayLength());
                var config = image.GetProperty("Config");
                Assert.Equal(["cat", "/data/new.txt"], config.GetProperty("config").GetProperty("Cmd").EnumerateArray().Select(item => item.GetString()));
                Assert.Contains("MODE=committed", config.GetProperty("config").GetProperty("Env").EnumerateArray().Select(item => item.GetString()));
                Assert.Equal("1000:1000", config.GetProperty("config").GetProperty("User").GetString());
                Assert.Equal("Operator <op@example.test>", config.GetProperty("author").GetString());
                var history = config.GetProperty("history").EnumerateArray().Last();
                Assert.Equal("the container's changes", history.GetProperty("comment").GetString());
                Assert.Equal("sleep 3600", history.GetProperty("created_by").GetString());
            }

            // The new image's CMD runs as the committed change says, and its container sees both changes.
            var cmdId = await berth.CreateContainerAsync(podId, pod, AsRoot("local/committed:v1", "cmd"));
            await berth.StartContainerAsync(cmdId);
            var exited = await berth.WaitForStateAsync(cmdId, ContainerState.ContainerExited);
            Assert.Equal(0, exited.ExitCode);
            Assert.Contains("written", await File.ReadAllTextAsync(exited.LogPath));

            var viewer = await StartAsRootAsync(berth, podId, pod, "local/committed:v1", "viewer", "sleep", "3600");
            Assert.Equal("keep.txt\nnew.txt\n", await berth.ShellAsync(viewer, "ls /data"));
            Assert.Equal("b.txt\n", await berth.ShellAsync(viewer, "ls /replaced"));
            Assert.Equal("committed\n", await berth.ShellAsync(viewer, "echo $MODE"));
        });
    }

    [Fact]
    public async Task ACommitOfAContainerThatChangedNothingAddsTheEmptyLayerAsDockerCommitDoes()
    {
        // What berthd mounts over (/proc, /dev, /sys, hosts, hostname, resolv.conf) is in the image, so it makes nothing in
        // the writable layer.
        var mountPoints = new LayerBuilder().Directory("proc").Directory("dev").Directory("sys")
            .File("etc/hosts", "").File("etc/hostname", "").File("etc/resolv.conf", "");
        var pushed = await registry.Builder.PushAsync(UniqueRepository("unchanged"), "v1", BusyboxImage(DataLayer(), mountPoints));
        await PodTestSupport.InPodAsync(pushed, async (berth, pod, podId) =>
        {
            // Created, never started: its writable layer is empty.
            var id = await berth.CreateContainerAsync(podId, pod, AsRoot(pushed.Reference, "unchanged", "sleep", "3600"));
            var upper = Path.Combine(berth.Root, "containers", id, "upper");
            Assert.Empty(Directory.EnumerateFileSystemEntries(upper, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(upper, path)));

            var commit = await Berthctl.RunAsync(berth, "commit", id, "local/unchanged:v1");

            Assert.True(commit.ExitCode == 0, commit.ToString());
            var inspect = await Berthctl.RunAsync(berth, "inspect", "local/unchanged:v1");
            using (var json = JsonDocument.Parse(inspect.Output))
            {
                var diffIds = json.RootElement[0].GetProperty("Config").GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(item => item.GetString()).ToList();
                Assert.Equal(4, diffIds.Count);
                // The two zero blocks of a tar with no entry, as docker commit's layer of an unchanged container.
                Assert.Equal("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", diffIds[3]);
            }
            var viewer = await StartAsRootAsync(berth, podId, pod, "local/unchanged:v1", "viewer", "sleep", "3600");
            Assert.Equal("keep.txt\nold.txt\n", await berth.ShellAsync(viewer, "ls /data"));
        });
    }

    [Fact]
    public async Task ACommitThatFailsWhileTheContainerIsFrozenThawsIt()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("thawed"), "v1", BusyboxImage());
        await PodTestSupport.InPodAsync(pushed, async (berth, pod, podId) =>
        {
            // 4 MiB that gzip cannot shrink, and a counter that only a running container moves.
            var (id, counter) = await StartCounterAsync(berth, podId, pod, pushed.Reference, prelude: "head -c 4194304 /dev/urandom > /big; ");
            // The commit writes its layer where the content store stages files: a 1 MiB tmpfs there fills up mid-write.
            var staging = Path.Combine(berth.Root, "content", ".tmp");
            LibC.MountTmpfs(staging);
            BerthctlResult commit;
            try
            {
                commit = await Berthctl.RunAsync(berth, "commit", id, "local/never:v1");
            }
            finally
            {
                LibC.UnmountDetached(staging);
            }

            Assert.True(commit.ExitCode == 1, commit.ToString());
            Assert.StartsWith("berthctl: ", commit.Error);
            Assert.Single(commit.Error.TrimEnd('\n').Split('\n'));
            // Thawed: the counter moves again and the freezer says so.
            var afterFailure = Count(counter);
            await WaitUntilAsync(() => Count(counter) > afterFailure + 2);
            Assert.Equal("THAWED", FreezerState(pod, id));
            Assert.Equal("alive\n", await berth.ShellAsync(id, "echo alive"));
            Assert.Null(await berth.StatusAsync("local/never:v1"));
        });
    }

    [Fact]
    public async Task AnExportImportedAgainRunsWithTheSameFiles()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("export"), "v1", BusyboxImage(DataLayer()));
        await PodTestSupport.InPodAsync(pushed, async (berth, pod, podId) =>
        {
            var id = await StartAsRootAsync(berth, podId, pod, pushed.Reference, "source", "sleep", "3600");
            Assert.Equal("", await berth.ShellAsync(id, ChangeScript + " && ln -s /etc/passwd /data/link"));
            var file = Path.Combine(berth.TemporaryDirectory, "rootfs.tar");

            var export = await Berthctl.RunAsync(berth, "export", id, "-o", file);

            Assert.True(export.ExitCode == 0, export.ToString());
            var names = await EntryNamesAsync(file);
            Assert.Contains("data/new.txt", names);
            Assert.Contains("data/keep.txt", names);
            Assert.Contains("bin/busybox", names);
            Assert.Contains("replaced/b.txt", names);
            Assert.DoesNotContain("data/old.txt", names);
            Assert.DoesNotContain("replaced/a.txt", names);
            Assert.DoesNotContain(names, name => name.Contains(".wh.", StringComparison.Ordinal));

            // Gzip-compressed, as archives are often handed around.
            var gzipped = file + ".gz";
            await using (var source = File.OpenRead(file))
            await using (var target = new GZipStream(File.Create(gzipped), CompressionLevel.Fastest))
            {
                await source.CopyToAsync(target);
            }
            var import = await Berthctl.RunAsync(berth, "import", gzipped, "local/imported:v1", "--change", "CMD [\"sleep\", \"3600\"]", "-m", "imported");

            Assert.True(import.ExitCode == 0, import.ToString());
            var imported = await berth.StatusAsync("local/imported:v1");
            Assert.Equal(import.Output.Trim(), imported?.Id);
            var copyId = await berth.CreateContainerAsync(podId, pod, AsRoot("local/imported:v1", "copy"));
            await berth.StartContainerAsync(copyId);
            Assert.Equal("keep.txt\nlink\nnew.txt\n", await berth.ShellAsync(copyId, "ls /data"));
            Assert.Equal("written\n", await berth.ShellAsync(copyId, "cat /data/new.txt"));
            Assert.Equal("/etc/passwd\n", await berth.ShellAsync(copyId, "readlink /data/link"));
            Assert.Equal("b.txt\n", await berth.ShellAsync(copyId, "ls /replaced"));

            // From an http URL, which berthctl fetches: the same layer, so the same diff ID on top of nothing.
            var served = ServeOnce(await File.ReadAllBytesAsync(file));
            var fromUrl = await Berthctl.RunAsync(berth, "import", served.Url, "local/fromurl:v1");
            Assert.True(fromUrl.ExitCode == 0, fromUrl.ToString());
            await served.Done;
            var layers = await Berthctl.RunAsync(berth, "inspect", "local/fromurl:v1", "local/imported:v1");
            using var json = JsonDocument.Parse(layers.Output);
            var diffIds = json.RootElement.EnumerateArray()
                .Select(image => image.GetProperty("Layers").EnumerateArray().Single().GetProperty("DiffID").GetString()).ToList();
            Assert.Equal(diffIds[0], diffIds[1]);
        });
    }

    [Fact]
    public async Task BadImportsAndCommitsAreRefusedAndChangeNothing()
    {
        var pushed = await registry.Builder.PushAsync(UniqueRepository("refused"), "v1", BusyboxImage(DataLayer()));
        await PodTestSupport.InPodAsync(pushed, async (berth, pod, podId) =>
        {
            var id = await StartAsRootAsync(berth, podId, pod, pushed.Reference, "source", "sleep", "3600");
            var file = Path.Combine(berth.TemporaryDirectory, "rootfs.tar");
            Assert.Equal(0, (await Berthctl.RunAsync(berth, "export", id, "-o", file)).ExitCode);
            var before = await berth.ListAsync();
            var snapshots = SnapshotDirectories(berth);

            var whole = await File.ReadAllBytesAsync(file);
            var truncated = Path.Combine(berth.TemporaryDirectory, "truncated.tar");
            await File.WriteAllBytesAsync(truncated, whole[..(whole.Length / 2 + 100)]);
            var notTar = Path.Combine(berth.TemporaryDirectory, "not.tar");
            await File.WriteAllTextAsync(notTar, new string('x', 4000));
            var escaping = Path.Combine(berth.TemporaryDirectory, "escaping.tar");
            await using (var stream = File.Create(escaping))
            await using (var tar = new TarWriter(stream, TarEntryFormat.Pax))
            {
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "../../escaped.txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes("out")) });
            }

            foreach (var (arguments, message) in new (string[], string)[]
            {
                (["import", truncated, "local/truncated:v1"], "berthctl: the layer is refused: layer (application/vnd.oci.image.layer.v1.tar) is corrupt"),
                (["import", notTar, "local/nottar:v1"], "berthctl: the layer is refused: layer (application/vnd.oci.image.layer.v1.tar) is corrupt"),
                (["import", escaping, "local/escaping:v1"], "berthctl: the layer is refused:"),
                (["import", "-", "local/empty:v1"], "berthctl: the layer is refused: layer (application/vnd.oci.image.layer.v1.tar) is corrupt"),
                (["import", file, "Bad Reference"], "berthctl: invalid image reference \"Bad Reference\""),
                (["import", file, "local/x:v1", "--change", "RUN rm -rf /"], "berthctl: --change 'RUN rm -rf /': RUN cannot be changed"),
                (["commit", "nothing", "local/none:v1"], "berthctl: container nothing not found"),
                (["commit", id, "Bad Reference"], "berthctl: invalid image reference \"Bad Reference\""),
                (["commit", id, "local/x:v1", "-c", "CMD [\"unclosed\""], "berthctl: --change 'CMD [\"unclosed\"': the exec form must be a JSON array"),
                (["export", "nothing", "-o", Path.Combine(berth.TemporaryDirectory, "none.tar")], "berthctl: container nothing not found"),
            })
            {
                var result = await Berthctl.RunAsync(berth, arguments);
                Assert.True(result.ExitCode == 1, $"{string.Join(' ', arguments)}: {result}");
                Assert.StartsWith(message, result.Error);
            }

            Assert.Equal(before.Select(image => image.Id), (await berth.ListAsync()).Select(image => image.Id));
            Assert.Equal(snapshots, SnapshotDirectories(berth));
            Assert.Empty(Leftovers(berth));
            Assert.False(File.Exists(Path.Combine(berth.TemporaryDirectory, "none.tar")));
            Assert.False(File.Exists(Path.Combine(berth.Root, "escaped.txt")));
            // The container that a refused commit named was never left frozen.
            Assert.Equal("alive\n", await berth.ShellAsync(id, "echo alive"));
        });
    }

    /// <summary>Serves <paramref name="content"/> once over http on a loopback port; Done completes when it was sent.</summary>
    private static (string Url, Task Done) ServeOnce(byte[] content)
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var listener = new System.Net.HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        async Task ServeAsync()
        {
            try
            {
                var context = await listener.GetContextAsync().WaitAsync(TimeSpan.FromSeconds(60));
                context.Response.ContentLength64 = content.Length;
                await context.Response.OutputStream.WriteAsync(content);
                context.Response.Close();
            }
            finally
            {
                listener.Close();
            }
        }
        return ($"http://127.0.0.1:{port}/rootfs.tar", ServeAsync());
    }

    private static LinuxContainerConfig RootUser() =>
        new() { SecurityContext = new LinuxContainerSecurityContext { RunAsUser = new Int64Value { Value = 0 } } };

    /// <summary>A container of <paramref name="image"/> (a reference) running as root, so it may write anywhere in its root filesystem.</summary>
    private static ContainerConfig AsRoot(string image, string name, params string[] command)
    {
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = name },
            Image = new Api.Cri.ImageSpec { Image = image },
            LogPath = $"{name}.log",
            Linux = RootUser(),
        };
        config.Command.AddRange(command);
        return config;
    }

    private static async Task<string> StartAsRootAsync(BerthDaemon berth, string podId, PodSandboxConfig pod, string image, string name, params string[] command)
    {
        var config = AsRoot(image, name, command);
        var id = await berth.CreateContainerAsync(podId, pod, config);
        await berth.StartContainerAsync(id);
        return id;
    }

    /// <summary>A root container that runs <paramref name="prelude"/>, then counts in /tmp/counter every 20 ms; returns once it counts.</summary>
    /// <returns>Its ID, and the counter file in its writable layer, which moves only while it runs.</returns>
    private static async Task<(string Id, string Counter)> StartCounterAsync(BerthDaemon berth, string podId, PodSandboxConfig pod, string image, string prelude)
    {
        var id = await StartAsRootAsync(berth, podId, pod, image, "counter",
            "sh", "-c", prelude + "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.02; done");
        var counter = Path.Combine(berth.Root, "containers", id, "upper", "tmp", "counter");
        await WaitUntilAsync(() => Count(counter) > 2);
        return (id, counter);
    }

    private static long Count(string file)
    {
        try
        {
            return long.TryParse(File.ReadAllText(file).Trim(), out var value) ? value : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not become true within 20 s");
            await Task.Delay(20);
        }
    }

    /// <summary>The container's freezer state, v1 (freezer.state) or v2 (cgroup.events' frozen key as FROZEN/THAWED).</summary>
    private static string FreezerState(PodSandboxConfig pod, string id)
    {
        var v1 = Directory.EnumerateFiles("/sys/fs/cgroup/freezer" + pod.Linux.CgroupParent, "freezer.state", SearchOption.AllDirectories)
            .FirstOrDefault(path => path.Contains(id, StringComparison.Ordinal));
        if (v1 is not null)
        {
            return File.ReadAllText(v1).Trim();
        }
        var v2 = Directory.EnumerateFiles("/sys/fs/cgroup" + pod.Linux.CgroupParent, "cgroup.events", SearchOption.AllDirectories)
            .First(path => path.Contains(id, StringComparison.Ordinal));
        return File.ReadAllText(v2).Contains("frozen 1") ? "FROZEN" : "THAWED";
    }

    private static async Task<List<string>> EntryNamesAsync(string file)
    {
        var names = new List<string>();
        await using var stream = File.OpenRead(file);
        await using var reader = new TarReader(stream);
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            names.Add(entry.Name);
        }
        return names;
    }
}

using System.Text;
using System.Text.Json;
using Berth.Api.Admin;
using Berth.Tests.E2e.Fixtures;
using Berth.Tests.E2e.Images;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;

namespace Berth.Tests.E2e.Admin;

/// <summary>A registry behind TLS (a CA made for the test) and htpasswd basic auth, shared by the push tests.</summary>
public sealed class PrivateRegistry : IAsyncLifetime
{
    public const string User = "pusher";
    public const string Password = "pu$h-S3cret";

    public RegistryServer Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await RegistryServer.StartAsync(new RegistryOptions { Tls = true, Credentials = new(User, Password) });

    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>berthd's registries entry for it: its CA, and its credentials when asked.</summary>
    public Dictionary<string, object> RegistriesConfig(bool withCredentials = false) => new()
    {
        [Server.Host] = withCredentials
            ? new { ca = Server.CaCertificatePath, username = User, password = Password }
            : new { ca = Server.CaCertificatePath },
    };
}

/// <summary>berthctl push, login and logout against a real registry with TLS and auth, the way an operator uses them.</summary>
public sealed class PushTests(SharedRegistry source, PrivateRegistry target) : IClassFixture<SharedRegistry>, IClassFixture<PrivateRegistry>
{
    [Fact]
    public async Task AWrongLoginSavesNothingTheRightOnePushesInChunksAFreshBerthdPullsTheSameDigestAndLogoutRefusesThePush()
    {
        var image = await source.Builder.PushAsync(UniqueRepository("to-push"), "v1", BusyboxImage(new LayerBuilder().File("pushed.txt", "pushed")));
        // A chunk far smaller than busybox's layer forces PATCH chunks for it; the config and the small layer go in one PUT.
        await using var berth = await BerthDaemon.StartAsync(new { registries = target.RegistriesConfig(), pushChunkBytes = 65536 });
        await berth.PullAsync(image.Reference);
        var name = $"{target.Server.Host}/{UniqueRepository("pushed")}:v1";
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "tag", image.Reference, name)).ExitCode);
        var loginFile = Path.Combine(berth.Root, "auth.json");

        var refused = await Berthctl.RunAsync(berth, "push", name);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains(target.Server.Host, refused.Error);
        await ExpectPushFailureAsync(berth, name, StatusCode.Unauthenticated);

        var wrong = await Berthctl.RunAsync(berth, "login", target.Server.Host, "-u", PrivateRegistry.User, "-p", "wrong-Secret");
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains(target.Server.Host, wrong.Error);
        Assert.DoesNotContain("wrong-Secret", wrong.Error + berth.OutputTail(500));
        Assert.False(File.Exists(loginFile));
        var wrongStatus = await Assert.ThrowsAsync<RpcException>(() => berth.Admin.LoginAsync(
            new LoginRequest { Registry = target.Server.Host, Username = PrivateRegistry.User, Password = "wrong-Secret" }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, wrongStatus.StatusCode);
        Assert.False(File.Exists(loginFile));

        var login = await Berthctl.RunAsync(berth, "login", $"https://{target.Server.Host}/", "-u", PrivateRegistry.User, "-p", PrivateRegistry.Password);
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Equal($"Login Succeeded ({target.Server.Host})\n", login.Output);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(loginFile));
        using (var saved = JsonDocument.Parse(File.ReadAllBytes(loginFile)))
        {
            Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{PrivateRegistry.User}:{PrivateRegistry.Password}")),
                saved.RootElement.GetProperty("registries").GetProperty(target.Server.Host).GetProperty("auth").GetString());
        }
        var patchesBefore = await target.Server.CountRequestsAsync("PATCH", "/blobs/uploads/");

        var push = await Berthctl.RunAsync(berth, "push", name);

        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Contains($"Pushing {name} (3 blobs)", push.Output);
        Assert.Contains($"Digest: {image.ManifestDigest}", push.Output);
        Assert.EndsWith($"{name[..name.LastIndexOf(':')]}@{image.ManifestDigest}\n", push.Output);
        Assert.Equal(3, CountLines(push.Output, ": Pushed")); // two layers and the config
        var busyboxSize = (await berth.Admin.InspectAsync(new InspectRequest { Image = name })).Layers[0].Size;
        var busyboxChunks = (busyboxSize + 65535) / 65536;
        Assert.True(busyboxChunks > 1, $"busybox's layer is only {busyboxSize} bytes");
        Assert.Equal(busyboxChunks, await target.Server.CountRequestsAsync("PATCH", "/blobs/uploads/") - patchesBefore);
        var pushedName = Assert.Single(await berth.ListAsync(), listed => listed.RepoTags.Contains(name));
        Assert.Contains($"{name[..name.LastIndexOf(':')]}@{image.ManifestDigest}", pushedName.RepoDigests);

        // Its credentials come from a login too: pulls use them, from the next call on.
        await using (var fresh = await BerthDaemon.StartAsync(new { registries = target.RegistriesConfig() }))
        {
            await ExpectFailureAsync(() => fresh.PullAsync(name), StatusCode.PermissionDenied);
            var freshLogin = await Berthctl.RunAsync(fresh, "login", target.Server.Host, "-u", PrivateRegistry.User, "-p", PrivateRegistry.Password);
            Assert.True(freshLogin.ExitCode == 0, freshLogin.ToString());
            var pulled = await fresh.PullAsync(name);
            Assert.Equal(image.ConfigDigest, pulled.ImageRef);
            var status = await fresh.StatusAsync(name);
            Assert.Equal([$"{name[..name.LastIndexOf(':')]}@{image.ManifestDigest}"], status!.RepoDigests);
        }

        var again = await Berthctl.RunAsync(berth, "push", name);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(3, CountLines(again.Output, ": Already exists"));

        var logout = await Berthctl.RunAsync(berth, "logout", target.Server.Host);
        Assert.Equal($"Removed login credentials for {target.Server.Host}\n", logout.Output);
        Assert.DoesNotContain(target.Server.Host, File.ReadAllText(loginFile));
        await ExpectPushFailureAsync(berth, name, StatusCode.Unauthenticated);
        Assert.Empty(Leftovers(berth));
    }

    [Fact]
    public async Task AnImagePulledThroughAnIndexIsPushedAsItsOnePlatformManifest()
    {
        var pushed = await source.Builder.PushIndexAsync(UniqueRepository("multi"), "v1",
        [
            BusyboxImage() with { Platform = ImagePlatform.LinuxArm64 },
            BusyboxImage(new LayerBuilder().File("host.txt", "host")) with { Platform = ImagePlatform.Host },
        ]);
        await using var berth = await BerthDaemon.StartAsync(new { registries = target.RegistriesConfig(withCredentials: true) });
        await berth.PullAsync(pushed.Reference);
        var name = $"{target.Server.Host}/{UniqueRepository("multi-pushed")}:v1";
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "tag", pushed.Reference, name)).ExitCode);

        var push = await Berthctl.RunAsync(berth, "push", name);

        // berthd keeps this node's platform manifest, not the index: that manifest is what goes, its digest unchanged.
        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Contains($"Digest: {pushed.ManifestDigest}", push.Output);
        Assert.DoesNotContain(pushed.IndexDigest!, push.Output);
        var repository = name[(target.Server.Host.Length + 1)..^3];
        using var client = new RegistryClient(target.Server);
        var (mediaType, _) = await client.GetManifestAsync(repository, "v1");
        Assert.Equal(Fixtures.MediaTypes.OciManifest, mediaType);
        await using var fresh = await BerthDaemon.StartAsync(new { registries = target.RegistriesConfig(withCredentials: true) });
        await fresh.PullAsync(name);
        Assert.Equal(pushed.ConfigDigest, Assert.Single(await fresh.ListAsync()).Id);
    }

    [Fact]
    public async Task ABlobTheRegistryHasInAnotherRepositoryIsMountedNotUploaded()
    {
        var image = await source.Builder.PushAsync(UniqueRepository("mount-src"), "v1", BusyboxImage(new LayerBuilder().File("mount.txt", "mount")));
        await using var berth = await BerthDaemon.StartAsync(new { registries = target.RegistriesConfig(withCredentials: true) });
        await berth.PullAsync(image.Reference);
        var first = $"{target.Server.Host}/{UniqueRepository("mount-a")}:v1";
        var second = $"{target.Server.Host}/{UniqueRepository("mount-b")}:v1";
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "tag", image.Reference, first)).ExitCode);
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "push", first)).ExitCode);
        Assert.Equal(0, (await Berthctl.RunAsync(berth, "tag", image.Reference, second)).ExitCode);
        var before = (await target.Server.RequestsAsync()).Count;

        var push = await Berthctl.RunAsync(berth, "push", second);

        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Equal(3, CountLines(push.Output, ": Mounted"));
        var requests = (await target.Server.RequestsAsync()).Skip(before).ToList();
        var mounts = requests.Where(request => request.Method == "POST" && request.Path.Contains("mount=", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, mounts.Count);
        Assert.All(mounts, mount => Assert.Equal(201, mount.Status));
        Assert.DoesNotContain(requests, request => request.Method is "PATCH" || (request.Method == "PUT" && request.Path.Contains("/blobs/", StringComparison.Ordinal)));
        using var client = target.Server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Head, $"/v2/{second[(target.Server.Host.Length + 1)..^3]}/manifests/v1");
        request.Headers.Accept.ParseAdd(Fixtures.MediaTypes.OciManifest);
        using var manifest = await client.SendAsync(request);
        Assert.True(manifest.IsSuccessStatusCode, manifest.ToString());
        Assert.Equal(image.ManifestDigest, manifest.Headers.GetValues("Docker-Content-Digest").Single());
    }

    [Fact]
    public async Task BadReferencesAndUnknownImagesAreRefusedBeforeAnythingIsSent()
    {
        await using var berth = await BerthDaemon.StartAsync(new { registries = target.RegistriesConfig(withCredentials: true) });
        var before = (await target.Server.RequestsAsync()).Count;

        var unparsable = await Berthctl.RunAsync(berth, "push", "Not A/Reference");
        Assert.Equal(1, unparsable.ExitCode);
        Assert.Contains("invalid image reference", unparsable.Error);
        await ExpectPushFailureAsync(berth, "repo:two:tags", StatusCode.InvalidArgument);
        var unknown = await Berthctl.RunAsync(berth, "push", $"{target.Server.Host}/absent:v1");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains($"no image {target.Server.Host}/absent:v1 on this node", unknown.Error);
        await ExpectPushFailureAsync(berth, $"{target.Server.Host}/absent:v1", StatusCode.NotFound);
        var badHost = await Berthctl.RunAsync(berth, "login", "not a host", "-u", "u", "-p", "p");
        Assert.Equal(1, badHost.ExitCode);
        Assert.Contains("is not a registry host", badHost.Error);

        Assert.Equal(before, (await target.Server.RequestsAsync()).Count);
        Assert.Empty(await berth.ListAsync());
        Assert.False(File.Exists(Path.Combine(berth.Root, "auth.json")));
    }

    private static int CountLines(string output, string containing) =>
        output.Split('\n').Count(line => line.Contains(containing, StringComparison.Ordinal));

    private static async Task ExpectPushFailureAsync(BerthDaemon berth, string reference, StatusCode expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = berth.Admin.Push(new PushRequest { Reference = reference });
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
            }
        });
        Assert.True(error.StatusCode == expected, $"expected {expected}, got {error.StatusCode}: {error.Status.Detail}");
    }
}

using Berth.Tests.E2e.Fixtures;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// A registry with busybox and an image for the security tests, shared by a test class: busybox with
/// an account "app" (uid 1000, gid 1000) that /etc/group also lists in "extra" (50000), and the links a
/// hostile image would carry: /kernel → /proc/sys/kernel, /etc-link → /etc, /data-link → /data.
/// </summary>
public sealed class SecurityImages : IAsyncLifetime
{
    public RegistryServer Server { get; private set; } = null!;

    public PushedImage Image { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await RegistryServer.StartAsync();
        using var builder = new ImageBuilder(Server);
        var extras = new LayerBuilder()
            .File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
            .File("etc/group", "root:x:0:\napp:x:1000:\nextra:x:50000:app\nnobody:x:65534:\n")
            .Symlink("kernel", "/proc/sys/kernel")
            .Symlink("etc-link", "/etc")
            .Symlink("data-link", "/data");
        Image = await builder.PushAsync("security", "1.0", new ImageSpec
        {
            Layers = [LayerBuilder.Busybox(), extras],
            Config = new ExecutionConfig { Cmd = ["sh"] },
        });
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

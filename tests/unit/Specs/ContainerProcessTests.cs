using Berth.Api.Cri;
using Berth.RuntimeService.Specs;
using static Berth.Tests.Unit.Specs.SpecFixture;

namespace Berth.Tests.Unit.Specs;

public sealed class ContainerProcessTests
{
    // kubelet's table: command replaces ENTRYPOINT (and drops CMD unless args are given); args replace CMD.
    [Theory]
    [InlineData("", "", "/entry|e1", "c1|c2", "/entry|e1|c1|c2")]
    [InlineData("/cmd", "", "/entry", "c1", "/cmd")]
    [InlineData("/cmd|x", "a1|a2", "/entry", "c1", "/cmd|x|a1|a2")]
    [InlineData("", "a1|a2", "/entry|e1", "c1", "/entry|e1|a1|a2")]
    [InlineData("", "", "", "c1|c2", "c1|c2")]
    [InlineData("", "a1", "", "c1", "a1")]
    [InlineData("", "", "/entry", "", "/entry")]
    public void CommandArgsEntrypointAndCmdMergeAsKubeletExpects(string command, string args, string entrypoint, string cmd, string expected)
    {
        var container = Container();
        container.Command.AddRange(Split(command));
        container.Args.AddRange(Split(args));
        var spec = Build(Input(container, image: Image(entrypoint: Split(entrypoint), cmd: Split(cmd))));
        Assert.Equal(Split(expected), spec.Process!.Args);
    }

    [Fact]
    public void AnEmptyStringEntrypointMeansNone()
    {
        var spec = Build(Input(image: Image(entrypoint: [""], cmd: ["/bin/sh"])));
        Assert.Equal(["/bin/sh"], spec.Process!.Args);
    }

    [Fact]
    public void NoCommandAnywhereIsRefused()
    {
        var error = Refused(Input(image: Image(entrypoint: [], cmd: [])));
        Assert.Contains("no command specified", error.Message);
    }

    [Fact]
    public void EnvironmentIsDefaultPathThenHostnameThenImageThenContainerWithOverridesInPlace()
    {
        var container = Container();
        container.Envs.Add(Env("NGINX_VERSION", "1.28"));
        container.Envs.Add(Env("EXTRA", "a=b"));
        container.Envs.Add(Env("EXTRA", "last"));
        var spec = Build(Input(container));
        Assert.Equal(
            ["PATH=/usr/local/bin:/usr/bin:/bin", "HOSTNAME=web-0", "NGINX_VERSION=1.28", "EXTRA=last"],
            spec.Process!.Env);
    }

    [Fact]
    public void PathDefaultsWhenTheImageSetsNone()
    {
        var spec = Build(Input(image: Image(env: ["A=1"])));
        Assert.Equal([ContainerSpecBuilder.DefaultPath, "HOSTNAME=web-0", "A=1"], spec.Process!.Env);
    }

    [Fact]
    public void EnvironmentNameWithEqualsIsRefused()
    {
        var container = Container();
        container.Envs.Add(Env("A=B", "c"));
        Assert.Contains("A=B", Refused(Input(container)).Message);
    }

    [Theory]
    [InlineData("/srv", "/image", "/srv")]
    [InlineData("", "/image", "/image")]
    [InlineData("", null, "/")]
    [InlineData("/a//b/", null, "/a/b")]
    public void WorkingDirectoryIsTheConfigsThenTheImagesThenRoot(string configured, string? image, string expected)
    {
        var container = Container();
        container.WorkingDir = configured;
        Assert.Equal(expected, Build(Input(container, image: Image(workingDir: image))).Process!.Cwd);
    }

    [Fact]
    public void RelativeWorkingDirectoryIsRefused()
    {
        var container = Container();
        container.WorkingDir = "srv";
        Assert.Contains("working_dir", Refused(Input(container)).Message);
    }

    [Fact]
    public void TtySetsTerminal()
    {
        var container = Container();
        container.Tty = true;
        Assert.True(Build(container).Process!.Terminal);
        Assert.False(Build(Container()).Process!.Terminal);
    }

    [Fact]
    public void NoNewPrivilegesFollowsTheSecurityContext()
    {
        var container = Container();
        Assert.False(Build(container).Process!.NoNewPrivileges);
        container.Linux.SecurityContext.NoNewPrivs = true;
        Assert.True(Build(container).Process!.NoNewPrivileges);
    }

    [Fact]
    public void NoRlimitsAreSetSoTheHostsApply()
    {
        Assert.Null(Build(Container()).Process!.Rlimits);
    }

    [Fact]
    public void ReadonlyRootfsMakesTheRootReadOnly()
    {
        var container = Container();
        Assert.False(Build(container).Root!.Readonly);
        container.Linux.SecurityContext.ReadonlyRootfs = true;
        var spec = Build(container);
        Assert.True(spec.Root!.Readonly);
        Assert.Equal("/var/lib/berth/containers/container4567/rootfs", spec.Root.Path);
    }

    [Fact]
    public void HostnameIsThePodsUnlessOnTheHostNetwork()
    {
        Assert.Equal("web-0", Build(Container()).Hostname);
        var pod = Pod();
        pod.Linux.SecurityContext.NamespaceOptions.Network = NamespaceMode.Node;
        Assert.Null(Build(Input(pod: pod)).Hostname);
    }

    private static string[] Split(string list) => list.Length == 0 ? [] : list.Split('|');
}

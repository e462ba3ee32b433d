using Berth.Api.Cri;
using Berth.Tests.E2e.Fixtures;
using Grpc.Core;
using static Berth.Tests.E2e.Images.ImageTestSupport;
using static Berth.Tests.E2e.Pods.PodTestSupport;

namespace Berth.Tests.E2e.Pods;

/// <summary>
/// CDI devices as a device plugin or DRA driver hands them over: spec files in the configured directories,
/// asked for by CDI_devices or a cdi.k8s.io/ annotation, appear in the container with their device node,
/// environment and mount.
/// </summary>
public sealed class CdiDeviceTests(BusyboxRegistry registry) : IClassFixture<BusyboxRegistry>
{
    [Fact]
    public async Task ACdiDeviceAppearsInTheContainerByFieldAndByAnnotation()
    {
        var specs = Directory.CreateTempSubdirectory("berth-e2e-cdi-");
        try
        {
            string data = Directory.CreateDirectory(Path.Combine(specs.FullName, "vendor-data")).FullName;
            File.WriteAllText(Path.Combine(data, "hello"), "from the host\n");
            string specDir = Directory.CreateDirectory(Path.Combine(specs.FullName, "cdi")).FullName;
            // YAML, with a spec-wide edit and the host's /dev/null under a path of its own.
            File.WriteAllText(Path.Combine(specDir, "vendor.yaml"), $"""
                cdiVersion: 0.6.0
                kind: berth.test/null
                containerEdits:
                  env: [VENDOR_LIB=/opt/vendor]
                devices:
                - name: first
                  containerEdits:
                    deviceNodes:
                    - path: /dev/cdi-null
                      hostPath: /dev/null
                    env: [CDI_DEVICE=first]
                    mounts:
                    - hostPath: {data}
                      containerPath: /cdi-data
                      options: [ro, nosuid, nodev, bind]
                """);
            // JSON, beside a file that cannot be parsed: that one is skipped, the others serve.
            File.WriteAllText(Path.Combine(specDir, "other.json"),
                """{"cdiVersion": "0.5.0", "kind": "berth.test/loop", "devices": [{"name": "control", "containerEdits": {"deviceNodes": [{"path": "/dev/cdi-loop", "hostPath": "/dev/loop-control", "permissions": "r"}], "env": ["CDI_DEVICE=loop"]}}]}""");
            File.WriteAllText(Path.Combine(specDir, "broken.json"), """{"cdiVersion": "0.6.0", "kind": """);

            await using var berth = await BerthDaemon.StartAsync(new { cdiSpecDirs = new[] { Path.Combine(specs.FullName, "absent"), specDir } });
            await berth.PullAsync(registry.Busybox.Reference);
            var pod = PodConfig(berth);
            var podId = await berth.RunPodAsync(pod);

            var byField = ContainerConfig(registry.Busybox, "by-field", "sleep", "300");
            byField.CDIDevices.Add(new CDIDevice { Name = "berth.test/null=first" });
            string first = await berth.CreateContainerAsync(podId, pod, byField);
            await berth.StartContainerAsync(first);
            var byAnnotation = ContainerConfig(registry.Busybox, "by-annotation", "sleep", "300");
            byAnnotation.Annotations.Add("cdi.k8s.io/test_loop", "berth.test/loop=control");
            string second = await berth.CreateContainerAsync(podId, pod, byAnnotation);
            await berth.StartContainerAsync(second);

            Assert.Equal(
                "character special file 1:3\nfirst /opt/vendor\nfrom the host\nwritten\nread-only\n",
                await ShAsync(berth, first, """
                    stat -c '%F %t:%T' /dev/cdi-null; echo "$CDI_DEVICE $VENDOR_LIB"; cat /cdi-data/hello
                    echo x > /dev/cdi-null && echo written; touch /cdi-data/new 2>/dev/null || echo read-only
                    """));
            // Permissions "r" on a device no default rule allows (10:237): the device cgroup lets it be opened
            // for reading only.
            Assert.Equal(
                "character special file a:ed\nloop\nreadable\nnot writable\n",
                await ShAsync(berth, second, """
                    stat -c '%F %t:%T' /dev/cdi-loop; echo "$CDI_DEVICE$VENDOR_LIB"
                    (: < /dev/cdi-loop) 2>/dev/null && echo readable; (: > /dev/cdi-loop) 2>/dev/null || echo not writable
                    """));
            Assert.Contains("broken.json is skipped", berth.OutputTail(400));

            var unknown = ContainerConfig(registry.Busybox, "unknown", "sleep", "300");
            unknown.Annotations.Add("cdi.k8s.io/test_unknown", "berth.test/null=second");
            var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, unknown));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("CDI device berth.test/null=second", error.Status.Detail);

            await berth.RemovePodAsync(podId);
            Assert.Empty(Traces(berth, pod));
        }
        finally
        {
            specs.Delete(recursive: true);
        }
    }

    /// <summary>
    /// CDI hooks as NVIDIA's specs use them: a createContainer hook runs in the container's namespaces before its root
    /// is pivoted (so it writes into the container's root through the bundle's rootfs), with the state JSON on stdin
    /// and exactly its own args and env; a poststop hook runs on the host when the container is removed. A hook that
    /// fails fails CreateContainer with its own words and leaves nothing; one that is not there is INVALID_ARGUMENT.
    /// </summary>
    [Fact]
    public async Task CdiHooksRunWhereRuncRunsThemAndAFailingOneFailsTheCreate()
    {
        var specs = Directory.CreateTempSubdirectory("berth-e2e-cdi-hooks-");
        try
        {
            string hooks = Directory.CreateDirectory(Path.Combine(specs.FullName, "hooks")).FullName;
            string create = Script(hooks, "create-hook", """
                #!/bin/sh
                state=$(cat)
                bundle=$(printf '%s' "$state" | sed -n 's/.*"bundle":"\([^"]*\)".*/\1/p')
                printf '%s\n' "$state" > "$bundle/rootfs/hook-state"
                printf '%s %s %s\n' "$0" "$1" "$HOOK_ENV" > "$bundle/rootfs/hook-args"
                """);
            string poststopMark = Path.Combine(specs.FullName, "poststop-ran");
            string poststop = Script(hooks, "poststop-hook", """
                #!/bin/sh
                cat > "$1"
                """);
            string failing = Script(hooks, "failing-hook", """
                #!/bin/sh
                echo "no GPU here" >&2
                exit 3
                """);
            string specDir = Directory.CreateDirectory(Path.Combine(specs.FullName, "cdi")).FullName;
            File.WriteAllText(Path.Combine(specDir, "hooks.json"), $$$"""
                {"cdiVersion": "0.6.0", "kind": "berth.test/hooked", "devices": [
                  {"name": "good", "containerEdits": {"env": ["HOOKED=1"], "hooks": [
                    {"hookName": "createContainer", "path": "{{{create}}}", "args": ["vendor-hook", "create-symlinks"], "env": ["PATH=/usr/bin:/bin", "HOOK_ENV=from-cdi"], "timeout": 10},
                    {"hookName": "poststop", "path": "{{{poststop}}}", "args": ["poststop-hook", "{{{poststopMark}}}"], "env": ["PATH=/usr/bin:/bin"]}]}},
                  {"name": "failing", "containerEdits": {"hooks": [{"hookName": "createContainer", "path": "{{{failing}}}", "env": ["PATH=/usr/bin:/bin"]}]}},
                  {"name": "absent", "containerEdits": {"hooks": [{"hookName": "createContainer", "path": "{{{hooks}}}/not-there"}]}}]}
                """);

            await using var berth = await BerthDaemon.StartAsync(new { cdiSpecDirs = new[] { specDir } });
            await berth.PullAsync(registry.Busybox.Reference);
            var pod = PodConfig(berth);
            var podId = await berth.RunPodAsync(pod);

            var good = ContainerConfig(registry.Busybox, "hooked", "sleep", "300");
            good.CDIDevices.Add(new CDIDevice { Name = "berth.test/hooked=good" });
            string id = await berth.CreateContainerAsync(podId, pod, good);
            await berth.StartContainerAsync(id);
            string state = await ShAsync(berth, id, "cat /hook-state");
            Assert.Contains($"\"id\":\"{id}\"", state);
            Assert.Contains("\"status\":\"creating\"", state);
            Assert.Contains("\"bundle\":\"/", state);
            // args are the whole argv ("vendor-hook" is argv[0], which the kernel replaces by the script's path for a #! file).
            Assert.Equal($"{create} create-symlinks from-cdi\n", await ShAsync(berth, id, "cat /hook-args"));
            Assert.False(File.Exists(poststopMark));

            await berth.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 0 });
            await berth.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id });
            string stopped = File.ReadAllText(poststopMark);
            Assert.Contains($"\"id\":\"{id}\"", stopped);
            Assert.Contains("\"status\":\"stopped\"", stopped);

            var bad = ContainerConfig(registry.Busybox, "bad-hook", "sleep", "300");
            bad.CDIDevices.Add(new CDIDevice { Name = "berth.test/hooked=failing" });
            var error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, bad));
            Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
            Assert.Contains($"createContainer hook {failing} exited with status 3: no GPU here", error.Status.Detail);

            var absent = ContainerConfig(registry.Busybox, "absent-hook", "sleep", "300");
            absent.CDIDevices.Add(new CDIDevice { Name = "berth.test/hooked=absent" });
            error = await Assert.ThrowsAsync<RpcException>(() => berth.CreateContainerAsync(podId, pod, absent));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains($"CDI device berth.test/hooked=absent ({specDir}/hooks.json): createContainer hook {hooks}/not-there does not exist on this node",
                error.Status.Detail);

            var listed = await berth.Runtime.ListContainersAsync(new ListContainersRequest());
            Assert.Empty(listed.Containers);
            await berth.RemovePodAsync(podId);
            Assert.Empty(Traces(berth, pod));
        }
        finally
        {
            specs.Delete(recursive: true);
        }
    }

    private static string Script(string directory, string name, string text)
    {
        string path = Path.Combine(directory, name);
        File.WriteAllText(path, text + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static async Task<string> ShAsync(BerthDaemon berth, string id, string script)
    {
        var result = await berth.ExecAsync(id, 10, "sh", "-c", "exec 2>&1; " + script);
        return result.Stdout.ToStringUtf8();
    }
}

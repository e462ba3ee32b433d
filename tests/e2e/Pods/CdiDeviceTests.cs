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

    private static async Task<string> ShAsync(BerthDaemon berth, string id, string script)
    {
        var result = await berth.ExecAsync(id, 10, "sh", "-c", "exec 2>&1; " + script);
        return result.Stdout.ToStringUtf8();
    }
}

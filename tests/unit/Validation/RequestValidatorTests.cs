using Berth.Api.Cri;
using Berth.Core.Errors;
using Berth.RuntimeService.Validation;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Berth.Tests.Unit.Validation;

public sealed class RequestValidatorTests
{
    private static BerthException Refused(IMessage request)
    {
        var error = Assert.Throws<BerthException>(() => RequestValidator.Validate(request));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        return error;
    }

    [Fact]
    public void ANulInEveryStringOfEveryRequestIsRefusedNamingItsPath()
    {
        var slots = RequestSlot.All().ToList();
        var wrong = new List<string>();
        foreach (var slot in slots)
        {
            var request = slot.Build("a\0b");
            string expected = $"{slot.Path}{(slot.IsKey ? " keys" : "")} must not contain a NUL character";
            try
            {
                RequestValidator.Validate(request);
                wrong.Add($"{slot}: accepted");
            }
            catch (BerthException error) when (error.Kind == ErrorKind.InvalidArgument && error.Message.StartsWith(expected, StringComparison.Ordinal))
            {
            }
            catch (Exception error)
            {
                wrong.Add($"{slot}: {error.GetType().Name}: {error.Message}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
        // The walk reaches deep and wide: a sanity check that the slots are the request's real ones.
        var names = slots.Select(slot => slot.ToString()).ToHashSet();
        Assert.Contains("CreateContainer: config.command[0]", names);
        Assert.Contains("CreateContainer: config.envs[0].value", names);
        Assert.Contains("CreateContainer: config.linux.security_context.namespace_options.target_id", names);
        Assert.Contains("CreateContainer: sandbox_config.linux.sysctls keys", names);
        Assert.Contains("CreateContainer: config.mounts[0].image.annotations[\"k\"]", names);
        Assert.Contains("PullImage: auth.password", names);
        Assert.Contains("RestorePod: container_configs[0].log_path", names);
        Assert.Contains("StreamContainers: filter.label_selector keys", names);
        Assert.True(slots.Count > 300, $"only {slots.Count} slots");
    }

    [Fact]
    public void ANumberNoEnumNamesIsRefusedInEveryEnumFieldOfEveryRequest()
    {
        // proto3 enums are open: an unknown number arrives as it is, and would otherwise be read as some default.
        var slots = RequestSlot.Enums().ToList();
        var wrong = new List<string>();
        foreach (var slot in slots)
        {
            try
            {
                RequestValidator.Validate(slot.Build("999"));
                wrong.Add($"{slot}: accepted");
            }
            catch (BerthException error) when (error.Kind == ErrorKind.InvalidArgument && error.Message.StartsWith($"{slot.Path} is not a ", StringComparison.Ordinal)
                && error.Message.EndsWith(": 999", StringComparison.Ordinal))
            {
            }
            catch (Exception error)
            {
                wrong.Add($"{slot}: {error.GetType().Name}: {error.Message}");
            }
            // And every number the enum names passes.
            foreach (var value in slot.Steps[^1].Field.EnumType.Values)
            {
                RequestValidator.Validate(slot.Build(value.Number.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
        var names = slots.Select(slot => slot.ToString()).ToHashSet();
        Assert.Contains("RunPodSandbox: config.linux.security_context.namespace_options.network", names);
        Assert.Contains("CreateContainer: config.mounts[0].propagation", names);
        Assert.Contains("RunPodSandbox: config.port_mappings[0].protocol", names);
    }

    [Fact]
    public void KubeletsOrdinaryRequestsPass()
    {
        RequestValidator.Validate(KubeletRequests.CreateContainer());
        RequestValidator.Validate(new RunPodSandboxRequest { Config = KubeletRequests.Pod() });
        RequestValidator.Validate(new PullImageRequest
        {
            Image = new ImageSpec { Image = "registry.k8s.io/pause:3.10@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a" },
            Auth = new AuthConfig { Username = "puller", Password = "s3cr3t with spaces", ServerAddress = "registry.example.com:5000" },
        });
        RequestValidator.Validate(new ExecSyncRequest { ContainerId = "0c5d2f", Cmd = { "sh", "-c", "echo 'multi\nline'" }, Timeout = 1 });
        RequestValidator.Validate(new ListContainersRequest());
        RequestValidator.Validate(new VersionRequest { Version = "v1" });
    }

    public static TheoryData<string, IMessage, string> Faults
    {
        get
        {
            var nulCommand = KubeletRequests.CreateContainer();
            nulCommand.Config.Command[0] = "/bin/sh\0x";
            var nulLogPath = KubeletRequests.CreateContainer();
            nulLogPath.Config.LogPath = "a.log\0b";
            var absoluteLogPath = KubeletRequests.CreateContainer();
            absoluteLogPath.Config.LogPath = "/etc/x";
            var climbingLogPath = KubeletRequests.CreateContainer();
            climbingLogPath.Config.LogPath = "web/../../../../etc/x";
            var relativeLogDirectory = new RunPodSandboxRequest { Config = KubeletRequests.Pod() };
            relativeLogDirectory.Config.LogDirectory = "logs/pod";
            var relativeHostPath = KubeletRequests.CreateContainer();
            relativeHostPath.Config.Mounts[2].HostPath = "relative/x";
            var nulEnvironment = KubeletRequests.CreateContainer();
            nulEnvironment.Config.Envs[3].Value = ByteString.CopyFromUtf8("tcp://x\0injected");
            var newlineResolver = new RunPodSandboxRequest { Config = KubeletRequests.Pod() };
            newlineResolver.Config.DnsConfig.Searches[1] = "svc\nnameserver 6.6.6.6";
            var climbingCgroup = new RunPodSandboxRequest { Config = KubeletRequests.Pod() };
            climbingCgroup.Config.Linux.CgroupParent = "/kubepods/../../../sys/fs";
            var badLabelKey = KubeletRequests.CreateContainer();
            badLabelKey.Config.Labels.Add("bad key", "v");
            var nulAnnotation = KubeletRequests.CreateContainer();
            nulAnnotation.SandboxConfig.Annotations["kubernetes.io/config.source"] = "api\0";
            var unifiedPath = new UpdateContainerResourcesRequest { ContainerId = "abc", Linux = new LinuxContainerResources { Unified = { ["../../cgroup.procs"] = "1" } } };
            return new()
            {
                { "command", nulCommand, "config.command[0] must not contain a NUL character (one is at offset 7): \"/bin/sh\\0x\"" },
                { "log_path NUL", nulLogPath, "config.log_path must not contain a NUL character (one is at offset 5): \"a.log\\0b\"" },
                { "log_path absolute", absoluteLogPath, "config.log_path must be a path relative to log_directory, not an absolute one: \"/etc/x\"" },
                { "log_path climbing", climbingLogPath, "config.log_path must stay inside log_directory, but its \"..\" climbs out: \"web/../../../../etc/x\"" },
                { "log_directory", relativeLogDirectory, "config.log_directory must be an absolute path: \"logs/pod\"" },
                { "host_path", relativeHostPath, "config.mounts[2].host_path must be an absolute path: \"relative/x\"" },
                { "env", nulEnvironment, "config.envs[3].value must not contain a NUL character (one is at offset 7): \"tcp://x\\0injected\"" },
                { "resolv.conf", newlineResolver, "config.dns_config.searches[1] must be printable ASCII without spaces: \"svc\\nnameserver 6.6.6.6\"" },
                { "cgroup_parent", climbingCgroup, "config.linux.cgroup_parent must not contain a \"..\" element: \"/kubepods/../../../sys/fs\"" },
                { "label key", badLabelKey, "config.labels keys must be printable ASCII without spaces: \"bad key\"" },
                { "annotation", nulAnnotation, "sandbox_config.annotations[\"kubernetes.io/config.source\"] must not contain a NUL character (one is at offset 3): \"api\\0\"" },
                { "unified", unifiedPath, "linux.unified keys must be a single file name (no '/', not \".\" or \"..\"): \"../../cgroup.procs\"" },
            };
        }
    }

    [Theory]
    [MemberData(nameof(Faults))]
    public void BadStringsAreRefusedNamingTheFieldAndShowingAnEscapedPrefix(string fault, IMessage request, string message)
    {
        Assert.NotEmpty(fault);
        Assert.Equal(message, Refused(request).Message);
    }

    [Fact]
    public void ATenMebibyteIdIsRefusedForItsLengthWithAShortMessageAndLittleAllocation()
    {
        var request = new ContainerStatusRequest { ContainerId = new string('a', 10 << 20) + "\0", Verbose = true };
        Refused(new ContainerStatusRequest { ContainerId = "x\0" }); // the plan is built once per type: not part of the count

        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Refused(request);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal($"container_id must be at most 128 bytes long, not {(10 << 20) + 1}: \"{new string('a', 32)}\"…", error.Message);
        // The exception, its message and the path: a few KiB at most, nothing in proportion to the id.
        Assert.True(allocated < 8 << 10, $"allocated {allocated} bytes");
    }

    [Fact]
    public void ValidatingAllocatesNothingPerStringSoItsCostDoesNotGrowWithTheRequest()
    {
        var small = KubeletRequests.CreateContainer(environment: 10, labels: 4);
        var large = KubeletRequests.CreateContainer(environment: 2000, labels: 400);
        RequestValidator.Validate(small);

        long small1 = Allocated(small);
        long large1 = Allocated(large);

        // Only the enumerator of each non-empty map (labels, annotations, sysctls): the same count for both.
        Assert.Equal(small1, large1);
        Assert.True(small1 <= 512, $"allocated {small1} bytes");
    }

    private static long Allocated(IMessage request)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        RequestValidator.Validate(request);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void SecretsAreNeverShown()
    {
        var error = Refused(new PullImageRequest { Image = new ImageSpec { Image = "busybox" }, Auth = new AuthConfig { Password = "hunter2\0" } });
        Assert.Equal("auth.password must not contain a NUL character (one is at offset 7) (value not shown)", error.Message);
        Assert.DoesNotContain("hunter", error.Message);
    }

    [Fact]
    public void AnUnsetMessageAndEmptyStringsPass()
    {
        RequestValidator.Validate(new CreateContainerRequest());
        RequestValidator.Validate(new CreateContainerRequest { Config = new ContainerConfig { Mounts = { new Mount() } } });
    }

    [Fact]
    public void AMessageThatIsNoCriRequestIsNotPassedUnchecked()
    {
        // The checks are written for the services' requests; anything else would go through unread.
        var error = Assert.Throws<InvalidOperationException>(() => RequestValidator.Validate(new ContainerConfig { Command = { "a\0b" } }));
        Assert.Contains("ContainerConfig is no request of a CRI service", error.Message);
    }

    [Fact]
    public void EveryListedFieldIsAStringOrBytesFieldOfSomeRequestAndKeyRulesAreOnMapsWithStringKeys()
    {
        var leaves = RequestSlot.All().Select(slot => slot.Steps[^1].Field).DistinctBy(field => field.FullName).ToDictionary(field => field.FullName);
        foreach (var (name, rule) in CriFieldRules.ByField)
        {
            Assert.True(leaves.TryGetValue(name, out var field), $"{name} is no string field of a request");
            Assert.True(rule.Key is null || field.IsMap, $"{name} has a key rule but is no map");
        }
    }

    [Fact]
    public void EveryBytesFieldOfARequestIsListedSinceBytesAreCheckedOnlyWhenTheyAreText()
    {
        var bytes = RequestSlot.All().Select(slot => slot.Steps[^1].Field)
            .Where(field => (field.IsMap ? field.MessageType.FindFieldByNumber(2) : field).FieldType == FieldType.Bytes)
            .Select(field => field.FullName).Distinct();
        Assert.All(bytes, name => Assert.True(CriFieldRules.ByField.ContainsKey(name), $"{name} is bytes and has no rule: decide whether it is text"));
    }
}

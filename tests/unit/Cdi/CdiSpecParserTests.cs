using Berth.RuntimeService.Cdi;

namespace Berth.Tests.Unit.Cdi;

public sealed class CdiSpecParserTests
{
    // The shape nvidia-ctk and the CDI repository's examples write, in YAML.
    private const string Yaml = """
        ---
        cdiVersion: 0.7.0
        kind: example.com/gpu
        annotations:
          owner: test
        containerEdits:
          env:
          - VENDOR_LIBS=/usr/lib/vendor
        devices:
        - name: "0"
          containerEdits:
            deviceNodes:
            - path: /dev/gpu0
              hostPath: /dev/nvidia0
              type: c
              major: 195
              minor: 0
              fileMode: 0666
              permissions: rw
            mounts:
            - hostPath: /usr/lib/vendor
              containerPath: /usr/lib/vendor
              options: [ro, nosuid, nodev, bind]
            additionalGids: [44]
        - name: all
          containerEdits:
            env: ["GPU=all"]
        """;

    [Fact]
    public void YamlAndJsonReadTheSame()
    {
        var yaml = CdiSpecParser.Parse(Yaml, yaml: true);
        var json = CdiSpecParser.Parse("""
            {"cdiVersion": "0.7.0", "kind": "example.com/gpu", "annotations": {"owner": "test"},
             "containerEdits": {"env": ["VENDOR_LIBS=/usr/lib/vendor"]},
             "devices": [
               {"name": "0", "containerEdits": {
                  "deviceNodes": [{"path": "/dev/gpu0", "hostPath": "/dev/nvidia0", "type": "c", "major": 195, "minor": 0, "fileMode": 438, "permissions": "rw"}],
                  "mounts": [{"hostPath": "/usr/lib/vendor", "containerPath": "/usr/lib/vendor", "options": ["ro", "nosuid", "nodev", "bind"]}],
                  "additionalGids": [44]}},
               {"name": "all", "containerEdits": {"env": ["GPU=all"]}}]}
            """, yaml: false);

        var node = Assert.Single(yaml.Devices![0].ContainerEdits!.DeviceNodes!);
        Assert.Equal(438u, node.FileMode); // YAML 1.1 octal, as the CDI library's YAML decoding reads it
        Assert.Equal(195, node.Major);
        Assert.Equal("0", yaml.Devices[0].Name);
        Assert.Equal([44u], yaml.Devices[0].ContainerEdits!.AdditionalGids!);
        Assert.Equal(json.Devices![0].ContainerEdits!.DeviceNodes![0], node);
        Assert.Equal(json.Devices[0].ContainerEdits!.Mounts![0].Options, yaml.Devices[0].ContainerEdits!.Mounts![0].Options);
        Assert.Equal(json.ContainerEdits!.Env, yaml.ContainerEdits!.Env);
        Assert.Equal("GPU=all", Assert.Single(yaml.Devices[1].ContainerEdits!.Env!));
    }

    [Fact]
    public void AnUnquotedNumberReadsAsTheStringItSpells() =>
        Assert.Equal("1", CdiSpecParser.Parse("cdiVersion: 0.5.0\nkind: a.com/b\ndevices:\n- name: 1\n  containerEdits: {env: [A=1]}\n", yaml: true).Devices![0].Name);

    [Theory]
    [InlineData("""{"cdiVersion": "0.9.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"env": ["A=1"]}}]}""", "cdiVersion \"0.9.0\"")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"additionalGids": [5]}}]}""", "needs at least 0.7.0")]
    [InlineData("""{"cdiVersion": "0.4.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"deviceNodes": [{"path": "/dev/x", "hostPath": "/dev/y"}]}}]}""", "needs at least 0.5.0")]
    [InlineData("""{"cdiVersion": "0.5.0", "kind": "a.com/b.c", "devices": [{"name": "x", "containerEdits": {"env": ["A=1"]}}]}""", "needs at least 0.6.0")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "gpu", "devices": [{"name": "x", "containerEdits": {"env": ["A=1"]}}]}""", "not vendor/class")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "1vendor.com/gpu", "devices": [{"name": "x", "containerEdits": {"env": ["A=1"]}}]}""", "must start with a letter")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": []}""", "lists no devices")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {}}]}""", "has no containerEdits")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"env": ["A=1"]}}, {"name": "x", "containerEdits": {"env": ["A=1"]}}]}""", "twice")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x/y", "containerEdits": {"env": ["A=1"]}}]}""", "other than letters")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"env": ["=1"]}}]}""", "not NAME=VALUE")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"deviceNodes": [{"path": "/dev/x", "type": "z"}]}}]}""", "type \"z\"")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"deviceNodes": [{"path": "/dev/x", "permissions": "rx"}]}}]}""", "permissions \"rx\"")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"hooks": [{"hookName": "preStart", "path": "/bin/true"}]}}]}""", "hook name \"preStart\"")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"mounts": [{"hostPath": "/a"}]}}]}""", "lacks its hostPath or containerPath")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"env": ["A=1"], "unknownEdit": 1}}]}""", "cannot be parsed")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": null, "containerEdits": {"env": ["A=1"]}}]}""", "cannot be parsed")]
    [InlineData("""{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [""", "cannot be parsed")]
    public void AMalformedSpecIsRefusedSayingWhy(string json, string expected) =>
        Assert.Contains(expected, Assert.Throws<CdiSpecException>(() => CdiSpecParser.Parse(json, yaml: false)).Message);

    [Theory]
    [InlineData("cdiVersion: 0.6.0\nkind: a.com/b\nkind: a.com/c\n", "cannot be parsed")]
    [InlineData("cdiVersion: 0.6.0\nkind: [a\n", "cannot be parsed")]
    [InlineData("- just\n- a list\n", "cannot be parsed")]
    [InlineData("", "holds no spec")]
    public void AMalformedYamlFileIsRefusedSayingWhy(string yaml, string expected) =>
        Assert.Contains(expected, Assert.Throws<CdiSpecException>(() => CdiSpecParser.Parse(yaml, yaml: true)).Message);

    [Fact]
    public void AYamlAliasBombIsRefusedBeforeItExpands()
    {
        // Nine levels of ten aliases each: a billion strings from a few hundred bytes.
        var yaml = new System.Text.StringBuilder("cdiVersion: 0.6.0\nkind: bomb.com/b\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int level = 1; level <= 9; level++)
        {
            string previous = $"*a{level - 1}";
            yaml.Append($"a{level}: &a{level} [{string.Join(", ", Enumerable.Repeat(previous, 10))}]\n");
        }
        yaml.Append("devices: [{name: d, containerEdits: {env: [A=1]}}]\n");

        var error = Assert.Throws<CdiSpecException>(() => CdiSpecParser.Parse(yaml.ToString(), yaml: true));

        Assert.Contains("expands to more than 100000 nodes", error.Message);
    }
}

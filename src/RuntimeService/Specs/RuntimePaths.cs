namespace Berth.RuntimeService.Specs;

/// <summary>Where each sandbox's and container's files live on the node, under berthd's root and state directories.</summary>
public sealed record RuntimePaths(string Root, string State)
{
    /// <summary>A sandbox's bundle and its pod-wide files (hosts, resolv.conf, hostname, shm); cleared by a reboot.</summary>
    public string SandboxBundle(string id) => Path.Combine(State, "sandboxes", id);

    /// <summary>Bind mounts that keep a pod's namespaces alive while its containers come and go.</summary>
    public string NamespaceDir(string id) => Path.Combine(State, "ns", id);

    /// <summary>
    /// A shim's control socket: short and flat, since a unix socket path must fit in 107 bytes; 96 random
    /// bits of the ID keep it unique.
    /// </summary>
    public string ShimSocket(string id) => Path.Combine(ShimSocketDir, id[..Math.Min(24, id.Length)] + ".sock");

    /// <summary>The directory of every shim's control socket.</summary>
    public string ShimSocketDir => Path.Combine(State, "s");

    public string ContainerBundle(string id) => Path.Combine(State, "containers", id);

    /// <summary>A container's writable layer (overlay upper and work dirs): it survives a reboot, like the container's record.</summary>
    public string ContainerLayer(string id) => Path.Combine(Root, "containers", id);

    /// <summary>The files a sandbox prepares for its containers to bind-mount.</summary>
    public SandboxFiles SandboxFiles(string sandboxId)
    {
        string bundle = SandboxBundle(sandboxId);
        return new SandboxFiles(NamespaceDir(sandboxId), Path.Combine(bundle, "hosts"), Path.Combine(bundle, "resolv.conf"),
            Path.Combine(bundle, "hostname"), Path.Combine(bundle, "shm"));
    }
}

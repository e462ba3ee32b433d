namespace Berth.RuntimeService.Hosting;

/// <summary>
/// Who may reach berthd's files on the host. Image layers and writable layers hold whatever images and containers put
/// there (device nodes, setuid binaries), bundles and the state database hold every container's environment (secrets
/// included): none of it is for the host's other users. As containerd keeps /var/lib/containerd and /run/containerd
/// (0711, with each plugin's directory 0700): the root and state directories may be passed through (the CRI socket
/// is in the state directory, and its group may connect) but not listed, and what is in them is root's alone.
/// Applied at every start, so a node set up by an older berthd is mended too.
/// </summary>
internal static class PrivateDirectories
{
    private const UnixFileMode PassThrough = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Makes <paramref name="root"/> and <paramref name="state"/> 0711 and their directories of layers, bundles,
    /// namespaces and sockets 0700, creating what is missing; the state database 0600.
    /// </summary>
    /// <param name="databasePath">The SQLite file: made empty and 0600 when missing, so SQLite (which gives its -wal and -shm files the database's mode) never makes it readable.</param>
    /// <exception cref="IOException">A directory cannot be made or its mode set.</exception>
    public static void Apply(string root, string state, string databasePath)
    {
        foreach (string top in new[] { root, state })
        {
            Directory.CreateDirectory(top);
            File.SetUnixFileMode(top, PassThrough);
        }
        foreach (string directory in new[]
                 {
                     Path.Combine(root, "content"), Path.Combine(root, "snapshots"), Path.Combine(root, "containers"),
                     Path.Combine(root, "network"), Path.Combine(state, "sandboxes"), Path.Combine(state, "containers"),
                     Path.Combine(state, "ns"), Path.Combine(state, "s"),
                 })
        {
            Directory.CreateDirectory(directory);
            File.SetUnixFileMode(directory, OwnerOnly);
        }
        if (!File.Exists(databasePath))
        {
            using (File.Create(databasePath))
            {
            }
        }
        foreach (string file in new[] { databasePath, databasePath + "-wal", databasePath + "-shm" })
        {
            if (File.Exists(file))
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
    }
}

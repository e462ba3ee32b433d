namespace Berth.Shim.Spawn;

/// <summary>A namespace to enter (an open namespace file) before spawning.</summary>
internal readonly record struct NamespaceJoin(int Fd, int CloneFlag, string Name);

/// <summary>
/// What <see cref="NamespaceSpawner"/> starts: <see cref="Program"/> (this same program, for its
/// stages) with <see cref="Arguments"/>, in the namespaces joined and created, with exactly the
/// descriptors of <see cref="Descriptors"/>.
/// </summary>
internal sealed record SpawnPlan
{
    /// <summary>The executable: /proc/self/exe, except for bench/SpawnFloor, which starts berth-shim.</summary>
    public string Program { get; init; } = "/proc/self/exe";

    public required string[] Arguments { get; init; }
    public string[] Environment { get; init; } = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    /// <summary>(descriptor number in the child, descriptor in the shim).</summary>
    public required (int Child, int Parent)[] Descriptors { get; init; }

    public IReadOnlyList<NamespaceJoin> Join { get; init; } = [];

    /// <summary>CLONE_NEW* flags of the namespaces to create.</summary>
    public int Unshare { get; init; }

    /// <summary>Signals blocked in the child from its first instruction (the reaper wants SIGCHLD, SIGTERM, SIGINT).</summary>
    public int[] BlockedSignals { get; init; } = [];
}

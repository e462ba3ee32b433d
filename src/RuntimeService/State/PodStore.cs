using Berth.Core;
using Berth.Core.Storage;
using Berth.ImageService.Store;
using Microsoft.Data.Sqlite;

namespace Berth.RuntimeService.State;

/// <summary>What the daemon must remember of a pod sandbox; its live state belongs to its shim.</summary>
/// <param name="Name">kubelet's reservation key (name_namespace_uid_attempt), unique among sandboxes.</param>
/// <param name="Config">kubelet's PodSandboxConfig, serialised.</param>
/// <param name="CreatedAt">Unix nanoseconds.</param>
/// <param name="CgroupPath">The pod's cgroup (cgroupfs path).</param>
public sealed record SandboxRecord(string Id, string Name, byte[] Config, long CreatedAt, string CgroupPath, string RuntimeHandler);

/// <summary>What the daemon must remember of a container; its live state belongs to its shim.</summary>
/// <param name="Name">kubelet's reservation key (container_pod_namespace_uid_attempt), unique among containers.</param>
/// <param name="CreatedAt">Unix nanoseconds.</param>
/// <param name="LogPath">The CRI log file; empty when there is none.</param>
/// <param name="ImageRef">What ContainerStatus reports as image_ref: repo@digest of the image when created, else its ID.</param>
/// <param name="StopSignal">The signal StopContainer sends first: the image's STOPSIGNAL, else SIGTERM.</param>
/// <param name="CgroupPath">The container's cgroup (cgroupfs path).</param>
/// <param name="Resources">
/// The container's resources as ContainerStatus reports them (a serialised CRI LinuxContainerResources): as
/// created, then as last updated. Null in rows written before it was kept.
/// </param>
public sealed record ContainerRecord(
    string Id, string SandboxId, string Name, byte[] Config, string ImageId, string ImageName, long CreatedAt, string LogPath,
    string ImageRef, int StopSignal, string CgroupPath, byte[]? Resources = null);

/// <summary>
/// Sandbox and container metadata. A row is written before anything is made on the node, so a
/// daemon killed half way through RunPodSandbox or CreateContainer finds the row at restart and can
/// list, stop and remove whatever was made; the unique name column is kubelet's name reservation.
/// </summary>
public sealed class PodStore(StateDatabase database)
{
    /// <summary>The span of one write transaction (a commit, with its WAL sync), in berthd's trace.</summary>
    private const string WriteSpan = "state.sqlite_write";

    public static SchemaMigration Schema { get; } = new("pods",
    [
        """
        CREATE TABLE sandboxes (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            config BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            cgroup_path TEXT NOT NULL,
            runtime_handler TEXT NOT NULL,
            owns_cgroup_parent INTEGER NOT NULL);
        CREATE TABLE containers (
            id TEXT PRIMARY KEY,
            sandbox_id TEXT NOT NULL,
            name TEXT NOT NULL UNIQUE,
            config BLOB NOT NULL,
            image_id TEXT NOT NULL,
            image_name TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            log_path TEXT NOT NULL);
        """,
        // Which pod cgroup levels berth made (rather than kubelet), so that berth removes them once no
        // pod is left below them, whichever pod goes last; ownership no longer rides on one sandbox.
        """
        CREATE TABLE created_cgroups (path TEXT PRIMARY KEY);
        INSERT OR IGNORE INTO created_cgroups(path) SELECT cgroup_path FROM sandboxes WHERE owns_cgroup_parent = 1;
        ALTER TABLE sandboxes DROP COLUMN owns_cgroup_parent;
        """,
        // Facts of the image taken when the container is created, so status and stop never read the image store.
        """
        ALTER TABLE containers ADD COLUMN image_ref TEXT NOT NULL DEFAULT '';
        ALTER TABLE containers ADD COLUMN stop_signal INTEGER NOT NULL DEFAULT 15;
        ALTER TABLE containers ADD COLUMN cgroup_path TEXT NOT NULL DEFAULT '';
        UPDATE containers SET cgroup_path = (SELECT s.cgroup_path || '/' || containers.id FROM sandboxes s WHERE s.id = containers.sandbox_id)
            WHERE EXISTS (SELECT 1 FROM sandboxes s WHERE s.id = containers.sandbox_id);
        """,
        // The resources a container runs with, which UpdateContainerResources changes, for ContainerStatus.
        """
        ALTER TABLE containers ADD COLUMN resources BLOB;
        """,
    ]);

    /// <summary>Reserves the sandbox's name; returns the ID already holding it, or null when the reservation is ours.</summary>
    public string? TryAdd(SandboxRecord sandbox) => TryInsert(
        "SELECT id FROM sandboxes WHERE name = $name", sandbox.Name,
        "INSERT INTO sandboxes(id, name, config, created_at, cgroup_path, runtime_handler) VALUES ($id, $name, $config, $created, $cgroup, $handler)",
        ("$id", sandbox.Id), ("$name", sandbox.Name), ("$config", sandbox.Config), ("$created", sandbox.CreatedAt),
        ("$cgroup", sandbox.CgroupPath), ("$handler", sandbox.RuntimeHandler));

    /// <summary>Reserves the container's name; returns the ID already holding it, or null when the reservation is ours.</summary>
    public string? TryAdd(ContainerRecord container) => TryInsert(
        "SELECT id FROM containers WHERE name = $name", container.Name,
        "INSERT INTO containers(id, sandbox_id, name, config, image_id, image_name, created_at, log_path, image_ref, stop_signal, cgroup_path, resources) VALUES ($id, $sandbox, $name, $config, $image, $imageName, $created, $log, $ref, $signal, $cgroup, $resources)",
        ("$id", container.Id), ("$sandbox", container.SandboxId), ("$name", container.Name), ("$config", container.Config),
        ("$image", container.ImageId), ("$imageName", container.ImageName), ("$created", container.CreatedAt), ("$log", container.LogPath),
        ("$ref", container.ImageRef), ("$signal", container.StopSignal), ("$cgroup", container.CgroupPath),
        ("$resources", (object?)container.Resources ?? DBNull.Value));

    /// <summary>Records the resources a container was updated to (a serialised CRI LinuxContainerResources).</summary>
    public void SetContainerResources(string id, byte[] resources)
    {
        using var connection = database.Open();
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE containers SET resources = $resources WHERE id = $id";
        update.Parameters.AddWithValue("$id", id);
        update.Parameters.AddWithValue("$resources", resources);
        update.ExecuteNonQuery();
    }

    public void RemoveSandbox(string id) => Execute("DELETE FROM sandboxes WHERE id = $id", id);

    public void RemoveContainer(string id) => Execute("DELETE FROM containers WHERE id = $id", id);

    public IReadOnlyList<SandboxRecord> Sandboxes() => Read("SELECT id, name, config, created_at, cgroup_path, runtime_handler FROM sandboxes",
        reader => new SandboxRecord(reader.GetString(0), reader.GetString(1), (byte[])reader[2], reader.GetInt64(3), reader.GetString(4), reader.GetString(5)));

    /// <summary>Records cgroup levels (cgroupfs paths) that berth made for pods; already recorded ones are kept.</summary>
    public void AddCreatedCgroups(IEnumerable<string> paths)
    {
        using var span = Telemetry.Source.StartActivity(WriteSpan);
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        foreach (string path in paths)
        {
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT OR IGNORE INTO created_cgroups(path) VALUES ($id)";
            insert.Parameters.AddWithValue("$id", path);
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    /// <summary>The cgroup levels berth made and has not removed yet.</summary>
    public IReadOnlyList<string> CreatedCgroups() => Read("SELECT path FROM created_cgroups", reader => reader.GetString(0));

    public void RemoveCreatedCgroup(string path) => Execute("DELETE FROM created_cgroups WHERE path = $id", path);

    public IReadOnlyList<ContainerRecord> Containers() => Read("SELECT id, sandbox_id, name, config, image_id, image_name, created_at, log_path, image_ref, stop_signal, cgroup_path, resources FROM containers",
        reader => new ContainerRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), (byte[])reader[3], reader.GetString(4), reader.GetString(5),
            reader.GetInt64(6), reader.GetString(7), reader.GetString(8), reader.GetInt32(9), reader.GetString(10), reader.IsDBNull(11) ? null : (byte[])reader[11]));

    private string? TryInsert(string findSql, string name, string insertSql, params (string Name, object Value)[] parameters)
    {
        using var span = Telemetry.Source.StartActivity(WriteSpan);
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        using (var find = connection.CreateCommand())
        {
            find.Transaction = transaction;
            find.CommandText = findSql;
            find.Parameters.AddWithValue("$name", name);
            if (find.ExecuteScalar() is string existing)
            {
                return existing;
            }
        }
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = insertSql;
            foreach (var (parameter, value) in parameters)
            {
                insert.Parameters.AddWithValue(parameter, value);
            }
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
        return null;
    }

    private void Execute(string sql, string id)
    {
        using var span = Telemetry.Source.StartActivity(WriteSpan);
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$id", id);
        command.ExecuteNonQuery();
    }

    private List<T> Read<T>(string sql, Func<SqliteDataReader, T> map)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var result = new List<T>();
        while (reader.Read())
        {
            result.Add(map(reader));
        }
        return result;
    }
}

using Berth.Core.Storage;
using Berth.ImageService.Store;
using Microsoft.Data.Sqlite;

namespace Berth.RuntimeService.State;

/// <summary>What the daemon must remember of a pod sandbox; its live state belongs to its shim.</summary>
public sealed record SandboxRecord(string Id, string Name, byte[] Config, long CreatedAt, string CgroupPath, string RuntimeHandler, bool OwnsCgroupParent);

/// <summary>What the daemon must remember of a container; its live state belongs to its shim.</summary>
public sealed record ContainerRecord(string Id, string SandboxId, string Name, byte[] Config, string ImageId, string ImageName, long CreatedAt, string LogPath);

/// <summary>
/// Sandbox and container metadata. A row is written before anything is made on the node, so a
/// daemon killed half way through RunPodSandbox or CreateContainer finds the row at restart and can
/// list, stop and remove whatever was made; the unique name column is kubelet's name reservation.
/// </summary>
public sealed class PodStore(StateDatabase database)
{
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
    ]);

    /// <summary>Reserves the sandbox's name; returns the ID already holding it, or null when the reservation is ours.</summary>
    public string? TryAdd(SandboxRecord sandbox) => TryInsert(
        "SELECT id FROM sandboxes WHERE name = $name", sandbox.Name,
        "INSERT INTO sandboxes(id, name, config, created_at, cgroup_path, runtime_handler, owns_cgroup_parent) VALUES ($id, $name, $config, $created, $cgroup, $handler, $owns)",
        ("$id", sandbox.Id), ("$name", sandbox.Name), ("$config", sandbox.Config), ("$created", sandbox.CreatedAt),
        ("$cgroup", sandbox.CgroupPath), ("$handler", sandbox.RuntimeHandler), ("$owns", sandbox.OwnsCgroupParent ? 1 : 0));

    /// <summary>Reserves the container's name; returns the ID already holding it, or null when the reservation is ours.</summary>
    public string? TryAdd(ContainerRecord container) => TryInsert(
        "SELECT id FROM containers WHERE name = $name", container.Name,
        "INSERT INTO containers(id, sandbox_id, name, config, image_id, image_name, created_at, log_path) VALUES ($id, $sandbox, $name, $config, $image, $imageName, $created, $log)",
        ("$id", container.Id), ("$sandbox", container.SandboxId), ("$name", container.Name), ("$config", container.Config),
        ("$image", container.ImageId), ("$imageName", container.ImageName), ("$created", container.CreatedAt), ("$log", container.LogPath));

    public void RemoveSandbox(string id) => Execute("DELETE FROM sandboxes WHERE id = $id", id);

    public void RemoveContainer(string id) => Execute("DELETE FROM containers WHERE id = $id", id);

    public IReadOnlyList<SandboxRecord> Sandboxes() => Read("SELECT id, name, config, created_at, cgroup_path, runtime_handler, owns_cgroup_parent FROM sandboxes",
        reader => new SandboxRecord(reader.GetString(0), reader.GetString(1), (byte[])reader[2], reader.GetInt64(3), reader.GetString(4), reader.GetString(5), reader.GetInt64(6) != 0));

    public IReadOnlyList<ContainerRecord> Containers() => Read("SELECT id, sandbox_id, name, config, image_id, image_name, created_at, log_path FROM containers",
        reader => new ContainerRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), (byte[])reader[3], reader.GetString(4), reader.GetString(5), reader.GetInt64(6), reader.GetString(7)));

    private string? TryInsert(string findSql, string name, string insertSql, params (string Name, object Value)[] parameters)
    {
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

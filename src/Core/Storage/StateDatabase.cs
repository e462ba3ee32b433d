using Microsoft.Data.Sqlite;

namespace Berth.Core.Storage;

/// <summary>
/// The daemon's metadata database (SQLite in WAL mode, synchronous=NORMAL): every write is a transaction,
/// so a kill -9 at any instant leaves either the old or the new state, and a power cut an earlier one (see
/// <see cref="Open"/>). Content itself lives in plain files by digest.
/// </summary>
public sealed class StateDatabase
{
    private readonly string _connectionString;

    public StateDatabase(string path, IEnumerable<SchemaMigration> migrations)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        using var connection = Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        Migrate(connection, migrations);
    }

    public string Path => new SqliteConnectionStringBuilder(_connectionString).DataSource;

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // NORMAL in WAL mode: a commit appends to the WAL without fsync; the WAL is synced at each checkpoint
        // (every 1000 pages by default). A crash of berthd (kill -9, OOM) loses nothing committed: the WAL is in
        // the page cache and SQLite replays it at the next open. An OS crash or power cut may lose the last
        // commits since a checkpoint, never a torn state: the WAL's cumulative checksums keep a prefix of the
        // transactions in their order. That is the one case a reboot follows, which ends every shim and pod
        // anyway (kubelet recreates them); what a lost tail can leave is a pulled image to pull again and the
        // directories of a container whose row is gone. FULL cost an fsync per commit, three per pod start
        // (the sandbox, the container, its snapshot holds): 1 to 2 ms each of the call (README, Performance).
        Execute(connection, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;");
        return connection;
    }

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    /// <summary>Applies each owner's schema steps in order; user_version records how far the file has come.</summary>
    private static void Migrate(SqliteConnection connection, IEnumerable<SchemaMigration> migrations)
    {
        using var transaction = connection.BeginTransaction();
        foreach (var migration in migrations)
        {
            Execute(connection, "CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL);", transaction);
            using var read = connection.CreateCommand();
            read.Transaction = transaction;
            read.CommandText = "SELECT version FROM schema_versions WHERE owner = $owner";
            read.Parameters.AddWithValue("$owner", migration.Owner);
            var current = read.ExecuteScalar() is long version ? (int)version : 0;
            for (var step = current; step < migration.Steps.Count; step++)
            {
                Execute(connection, migration.Steps[step], transaction);
            }
            using var write = connection.CreateCommand();
            write.Transaction = transaction;
            write.CommandText = "INSERT INTO schema_versions(owner, version) VALUES ($owner, $version) ON CONFLICT(owner) DO UPDATE SET version = $version";
            write.Parameters.AddWithValue("$owner", migration.Owner);
            write.Parameters.AddWithValue("$version", migration.Steps.Count);
            write.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}

/// <summary>The ordered schema steps of one owner of tables; steps are only ever appended.</summary>
public sealed record SchemaMigration(string Owner, IReadOnlyList<string> Steps);

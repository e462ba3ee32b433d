using Microsoft.Data.Sqlite;

namespace Berth.Core.Storage;

/// <summary>
/// The daemon's metadata database (SQLite in WAL mode): every write is a transaction, so a kill -9 at
/// any instant leaves either the old or the new state. Content itself lives in plain files by digest.
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
        // FULL: a committed pull or container survives power loss too, not only a crash of berthd.
        Execute(connection, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;");
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

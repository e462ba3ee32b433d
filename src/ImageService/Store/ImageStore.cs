using Berth.Core.Storage;
using Berth.ImageService.Images;
using Microsoft.Data.Sqlite;

namespace Berth.ImageService.Store;

/// <summary>Image metadata: images, their layers, the names pointing at them, and unpacked snapshots.</summary>
public sealed class ImageStore(StateDatabase database)
{
    private long _snapshotGeneration;

    /// <summary>Goes up after every snapshot recorded or forgotten: what was computed from <see cref="Snapshots"/> at a lower one is stale.</summary>
    public long SnapshotGeneration => Interlocked.Read(ref _snapshotGeneration);

    public static SchemaMigration Schema { get; } = new("images",
    [
        """
        CREATE TABLE images (
            id TEXT PRIMARY KEY,
            manifest_digest TEXT NOT NULL,
            manifest_media_type TEXT NOT NULL,
            user TEXT,
            size INTEGER NOT NULL,
            source TEXT NOT NULL,
            pulled_at INTEGER NOT NULL);
        CREATE TABLE image_layers (
            image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            digest TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            diff_id TEXT NOT NULL,
            PRIMARY KEY (image_id, position));
        CREATE TABLE image_names (
            name TEXT PRIMARY KEY,
            image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            repo_digest TEXT NOT NULL);
        CREATE TABLE snapshots (
            diff_id TEXT PRIMARY KEY,
            bytes INTEGER NOT NULL,
            inodes INTEGER NOT NULL);
        CREATE TABLE snapshot_holds (
            holder TEXT NOT NULL,
            diff_id TEXT NOT NULL,
            PRIMARY KEY (holder, diff_id));
        """,
        // Archives of the import directory already taken (or refused), by name, size and modification time.
        """
        CREATE TABLE imported_archives (
            name TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            modified INTEGER NOT NULL,
            result TEXT NOT NULL);
        """,
    ]);

    /// <summary>Whether the import directory's <paramref name="name"/> was taken (or refused) at this size and modification time.</summary>
    public bool WasImported(string name, long size, long modified)
    {
        using var connection = database.Open();
        return Scalar(connection, null, "SELECT count(*) FROM imported_archives WHERE name = $n AND size = $s AND modified = $m",
            ("$n", name), ("$s", size), ("$m", modified)) > 0;
    }

    /// <summary>Records what became of an archive of the import directory, so it is not taken again.</summary>
    public void RecordImport(string name, long size, long modified, string result)
    {
        using var connection = database.Open();
        Run(connection, null, "INSERT OR REPLACE INTO imported_archives(name, size, modified, result) VALUES ($n, $s, $m, $r)",
            ("$n", name), ("$s", size), ("$m", modified), ("$r", result));
    }

    public IReadOnlyList<NamedImage> List() => Query("SELECT * FROM images ORDER BY pulled_at", null);

    public NamedImage? FindById(string id) => Query("SELECT * FROM images WHERE id = $arg", id).FirstOrDefault();

    public IReadOnlyList<NamedImage> FindByIdPrefix(string prefix) =>
        Query("SELECT * FROM images WHERE substr(id, 1, length($arg)) = $arg", prefix);

    public NamedImage? FindByName(string name) =>
        Query("SELECT images.* FROM images JOIN image_names ON image_names.image_id = images.id WHERE image_names.name = $arg", name).FirstOrDefault();

    /// <summary>Records a fully unpacked image with its layers; recording it again changes nothing.</summary>
    public void CommitImage(ImageRecord image)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        Run(connection, transaction,
            "INSERT OR IGNORE INTO images(id, manifest_digest, manifest_media_type, user, size, source, pulled_at) VALUES ($id, $m, $mt, $u, $s, $src, $t)",
            ("$id", image.Id), ("$m", image.ManifestDigest), ("$mt", image.ManifestMediaType), ("$u", (object?)image.User ?? DBNull.Value), ("$s", image.Size),
            ("$src", image.Source), ("$t", image.PulledAt.ToUnixTimeMilliseconds()));
        for (var position = 0; position < image.Layers.Count; position++)
        {
            var layer = image.Layers[position];
            Run(connection, transaction,
                "INSERT OR IGNORE INTO image_layers(image_id, position, digest, media_type, size, diff_id) VALUES ($id, $p, $d, $mt, $s, $diff)",
                ("$id", image.Id), ("$p", position), ("$d", layer.Digest), ("$mt", layer.MediaType), ("$s", layer.Size), ("$diff", layer.DiffId));
        }
        transaction.Commit();
    }

    /// <summary>Points <paramref name="name"/> at an image, taking it from any image it named before.</summary>
    public void SetName(string name, string imageId, string repoDigest)
    {
        using var connection = database.Open();
        Run(connection, null,
            "INSERT INTO image_names(name, image_id, repo_digest) VALUES ($n, $id, $rd) ON CONFLICT(name) DO UPDATE SET image_id = $id, repo_digest = $rd",
            ("$n", name), ("$id", imageId), ("$rd", repoDigest));
    }

    public void RecordSnapshot(string diffId, long bytes, long inodes)
    {
        using var connection = database.Open();
        Run(connection, null, "INSERT OR REPLACE INTO snapshots(diff_id, bytes, inodes) VALUES ($d, $b, $i)",
            ("$d", diffId), ("$b", bytes), ("$i", inodes));
        Interlocked.Increment(ref _snapshotGeneration);
    }

    /// <summary>Removes one name; the image goes with its last name. Returns whether the image went too.</summary>
    public bool RemoveName(string name, string imageId)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        Run(connection, transaction, "DELETE FROM image_names WHERE name = $n", ("$n", name));
        var remaining = Scalar(connection, transaction, "SELECT count(*) FROM image_names WHERE image_id = $id", ("$id", imageId));
        if (remaining == 0)
        {
            Run(connection, transaction, "DELETE FROM images WHERE id = $id", ("$id", imageId));
        }
        transaction.Commit();
        return remaining == 0;
    }

    public void Remove(string imageId)
    {
        using var connection = database.Open();
        Run(connection, null, "DELETE FROM images WHERE id = $id", ("$id", imageId));
    }

    /// <summary>Marks snapshots as used by <paramref name="holder"/> (a container), so garbage collection keeps them after their image goes.</summary>
    public void Hold(string holder, IEnumerable<string> diffIds)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        foreach (var diffId in diffIds)
        {
            Run(connection, transaction, "INSERT OR IGNORE INTO snapshot_holds(holder, diff_id) VALUES ($h, $d)", ("$h", holder), ("$d", diffId));
        }
        transaction.Commit();
    }

    public void Release(string holder)
    {
        using var connection = database.Open();
        Run(connection, null, "DELETE FROM snapshot_holds WHERE holder = $h", ("$h", holder));
    }

    public bool HasSnapshot(string diffId)
    {
        using var connection = database.Open();
        return Scalar(connection, null, "SELECT count(*) FROM snapshots WHERE diff_id = $d", ("$d", diffId)) > 0;
    }

    /// <summary>Whether a snapshot is in place for the layer blob <paramref name="digest"/> of some stored image.</summary>
    public bool HasSnapshotOfBlob(string digest)
    {
        using var connection = database.Open();
        return Scalar(connection, null,
            "SELECT count(*) FROM image_layers JOIN snapshots ON snapshots.diff_id = image_layers.diff_id WHERE image_layers.digest = $d",
            ("$d", digest)) > 0;
    }

    public IReadOnlyList<(string DiffId, long Bytes, long Inodes)> Snapshots()
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT diff_id, bytes, inodes FROM snapshots";
        using var reader = command.ExecuteReader();
        var result = new List<(string, long, long)>();
        while (reader.Read())
        {
            result.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        return result;
    }

    /// <summary>Snapshots that no image and no holder needs any more.</summary>
    public IReadOnlyList<string> UnreferencedSnapshots() => Strings(
        """
        SELECT diff_id FROM snapshots
        WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)
          AND diff_id NOT IN (SELECT diff_id FROM snapshot_holds)
        """);

    /// <summary>Digests of the blobs (manifests, configs and layers as pulled or loaded) that images still need.</summary>
    public IReadOnlySet<string> ReferencedBlobs() =>
        Strings("SELECT id FROM images UNION SELECT manifest_digest FROM images UNION SELECT digest FROM image_layers").ToHashSet(StringComparer.Ordinal);

    public void ForgetSnapshot(string diffId)
    {
        using var connection = database.Open();
        Run(connection, null, "DELETE FROM snapshots WHERE diff_id = $d", ("$d", diffId));
        Interlocked.Increment(ref _snapshotGeneration);
    }

    private IReadOnlyList<string> Strings(string sql)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var result = new List<string>();
        while (reader.Read())
        {
            result.Add(reader.GetString(0));
        }
        return result;
    }

    private IReadOnlyList<NamedImage> Query(string sql, string? argument)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        var images = new List<ImageRecord>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = sql;
            if (argument is not null)
            {
                command.Parameters.AddWithValue("$arg", argument);
            }
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                images.Add(new ImageRecord(
                    Id: reader.GetString(reader.GetOrdinal("id")),
                    ManifestDigest: reader.GetString(reader.GetOrdinal("manifest_digest")),
                    ManifestMediaType: reader.GetString(reader.GetOrdinal("manifest_media_type")),
                    Layers: [],
                    User: reader.IsDBNull(reader.GetOrdinal("user")) ? null : reader.GetString(reader.GetOrdinal("user")),
                    Size: reader.GetInt64(reader.GetOrdinal("size")),
                    Source: reader.GetString(reader.GetOrdinal("source")),
                    PulledAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(reader.GetOrdinal("pulled_at")))));
            }
        }
        return images.Select(image => new NamedImage(
            image with { Layers = ReadLayers(connection, transaction, image.Id) },
            ReadNames(connection, transaction, image.Id))).ToList();
    }

    private static List<LayerRecord> ReadLayers(SqliteConnection connection, SqliteTransaction transaction, string imageId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT digest, media_type, size, diff_id FROM image_layers WHERE image_id = $id ORDER BY position";
        command.Parameters.AddWithValue("$id", imageId);
        using var reader = command.ExecuteReader();
        var layers = new List<LayerRecord>();
        while (reader.Read())
        {
            layers.Add(new LayerRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3)));
        }
        return layers;
    }

    private static List<ImageName> ReadNames(SqliteConnection connection, SqliteTransaction transaction, string imageId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT name, repo_digest FROM image_names WHERE image_id = $id ORDER BY name";
        command.Parameters.AddWithValue("$id", imageId);
        using var reader = command.ExecuteReader();
        var names = new List<ImageName>();
        while (reader.Read())
        {
            names.Add(new ImageName(reader.GetString(0), imageId, reader.GetString(1)));
        }
        return names;
    }

    private static void Run(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Prepare(connection, transaction, sql, parameters);
        command.ExecuteNonQuery();
    }

    private static long Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Prepare(connection, transaction, sql, parameters);
        return (long)command.ExecuteScalar()!;
    }

    private static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction? transaction, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return command;
    }
}

using Berth.Core.Errors;
using Berth.ImageService.Store;
using Microsoft.Extensions.Logging;
using static Berth.Interop;

namespace Berth.ImageService.Images;

/// <summary>
/// The air-gapped node's way in, as k3s's agent/images: image archives (anything <see cref="ImageManager.LoadAsync"/>
/// reads) dropped in a directory are loaded at start and when they appear, then recorded by name, size and
/// modification time so they are never loaded twice (a file replaced by another is taken again). The directory
/// is watched (inotify, through FileSystemWatcher) and read again one interval after a change, then each interval
/// while a file is still changing: a file is taken once its size and time held still for one interval, so a copy
/// in progress is not read half written (a rename into the directory is taken one interval later). With nothing
/// arriving nothing runs: a one-second poll woke the daemon ten times per stats period on an idle node. An archive
/// that cannot be loaded is logged and recorded too, so it is not retried until it changes. Only regular files are read: a
/// symbolic link, FIFO, socket or device dropped there is logged and skipped (recorded like a refused archive), never
/// followed or opened in a way that could wait, so neither the watcher nor berthd's shutdown is held by one.
/// </summary>
public sealed class ImportDirectory(string path, ImageManager images, ImageStore store, ILogger<ImportDirectory> logger)
{
    /// <summary>How long after a change the directory is read, and how long a file must hold still to be taken.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, (long Size, long Modified)> _seen = new(StringComparer.Ordinal);

    public string Path { get; } = path;

    /// <summary>Loads what is there at start (without waiting for files to hold still: nothing writes them before berthd runs), then watches until <paramref name="ct"/>.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        // The host's start goes on while the first scan reads archives.
        await Task.Yield();
        Directory.CreateDirectory(Path);
        using var changed = new SemaphoreSlim(0, 1);
        void Wake()
        {
            // Many events before the next read ask for one read.
            try
            {
                changed.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
        using var watcher = new FileSystemWatcher(Path)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.LastWrite,
        };
        watcher.Created += (_, _) => Wake();
        watcher.Changed += (_, _) => Wake();
        watcher.Renamed += (_, _) => Wake();
        // A lost event (queue overflow): read the directory as if something changed.
        watcher.Error += (_, _) => Wake();
        watcher.EnableRaisingEvents = true;
        // Started after the watch, so nothing that arrives in between is missed.
        bool settling = await ScanAsync(requireStable: false, ct);
        while (true)
        {
            if (!settling)
            {
                await changed.WaitAsync(ct);
            }
            await Task.Delay(PollInterval, ct);
            settling = await ScanAsync(requireStable: true, ct);
        }
    }

    /// <summary>Imports what is new and has held still; true when a file is left that has not held still yet (or could not be read), so the directory must be read again.</summary>
    private async Task<bool> ScanAsync(bool requireStable, CancellationToken ct)
    {
        IEnumerable<FileInfo> files;
        try
        {
            files = new DirectoryInfo(Path).EnumerateFiles().Where(file => !file.Name.StartsWith('.')).OrderBy(file => file.Name, StringComparer.Ordinal).ToList();
        }
        catch (IOException error)
        {
            logger.LogWarning("Cannot read the import directory {Path}: {Message}", Path, error.Message);
            return true;
        }
        bool settling = false;
        foreach (var file in files)
        {
            var state = (file.Length, file.LastWriteTimeUtc.Ticks);
            var stable = _seen.TryGetValue(file.Name, out var before) && before == state;
            _seen[file.Name] = state;
            if (store.WasImported(file.Name, state.Length, state.Ticks))
            {
                continue;
            }
            if (requireStable && !stable)
            {
                settling = true;
                continue;
            }
            await ImportAsync(file, state, ct);
        }
        return settling;
    }

    private async Task ImportAsync(FileInfo file, (long Size, long Modified) state, CancellationToken ct)
    {
        string result;
        try
        {
            await using var archive = OpenRegularFile(file.FullName);
            var loaded = await images.LoadAsync(archive, ct);
            result = "loaded " + string.Join(", ", loaded.Select(image => image.Image.Id));
            logger.LogInformation("Imported {File}: {Images}", file.FullName,
                string.Join(", ", loaded.Select(image => image.Names.Count == 0 ? image.Image.Id : string.Join(" ", image.Names.Select(name => name.Name)))));
        }
        catch (NotAnArchiveFileException error)
        {
            result = "skipped: " + error.Message;
            logger.LogWarning("Skipping {File} in the import directory: {Message}", file.FullName, error.Message);
        }
        catch (Exception error) when (error is BerthException or IOException or UnauthorizedAccessException)
        {
            result = "refused: " + error.Message;
            logger.LogError("Cannot import {File}: {Message}", file.FullName, error.Message);
        }
        store.RecordImport(file.Name, state.Size, state.Modified, result);
    }

    /// <summary>
    /// Opens <paramref name="path"/> only if it is a regular file: checked with lstat first (so no device is ever opened,
    /// which can have effects), then opened O_NOFOLLOW | O_NONBLOCK (a symlink fails, a FIFO swapped in meanwhile opens
    /// without waiting for a writer) and checked again with fstat on what was opened.
    /// </summary>
    /// <exception cref="NotAnArchiveFileException">It is a symbolic link, directory, FIFO, socket or device.</exception>
    private static FileStream OpenRegularFile(string path)
    {
        try
        {
            RequireRegular(Sys.LStat(path));
            var handle = Sys.Open(path, OpenFlags.ReadOnly | OpenFlags.NoFollow | OpenFlags.NonBlocking | OpenFlags.CloseOnExec);
            try
            {
                RequireRegular(Sys.FStat(handle, path));
                return new FileStream(handle, FileAccess.Read);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
        catch (ErrnoException error) when (error.Error == Errno.ELOOP)
        {
            throw new NotAnArchiveFileException("it is a symbolic link, which the import directory does not follow");
        }
        catch (ErrnoException error)
        {
            throw new IOException($"cannot open it: {error.Message}", error);
        }
    }

    private static void RequireRegular(FileStatus status)
    {
        if (status.Type != FileType.RegularFile)
        {
            throw new NotAnArchiveFileException(status.Type switch
            {
                FileType.SymbolicLink => "it is a symbolic link, which the import directory does not follow",
                FileType.Fifo => "it is a FIFO, not a regular file",
                FileType.Socket => "it is a socket, not a regular file",
                FileType.CharacterDevice or FileType.BlockDevice => "it is a device, not a regular file",
                _ => $"it is not a regular file ({status.Type})",
            });
        }
    }

    /// <summary>Something in the import directory that is not a regular file, and so is not read.</summary>
    private sealed class NotAnArchiveFileException(string message) : Exception(message);
}

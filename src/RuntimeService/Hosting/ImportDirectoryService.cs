using Berth.ImageService.Images;

namespace Berth.RuntimeService.Hosting;

/// <summary>Runs the <see cref="ImportDirectory"/>'s watch for the daemon's life, from after recovery (hosted services start when berthd serves).</summary>
public sealed class ImportDirectoryService(ImportDirectory directory, ILogger<ImportDirectoryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await directory.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception error)
        {
            // The CRI does not depend on it: berthd goes on serving without the import directory.
            logger.LogError(error, "The import directory {Path} stopped being watched", directory.Path);
        }
    }
}

namespace Berth.RuntimeService.Cdi;

/// <summary>
/// berthd's view of the CDI spec directories (config <c>cdiSpecDirs</c>). The files are read again at each
/// create that asks for CDI devices, so a device plugin's or DRA driver's new file counts at once (the CDI
/// library's auto-refresh, without a watch); a file left out is logged with why.
/// </summary>
public sealed class CdiRegistry(IReadOnlyList<string> directories, ILogger<CdiRegistry> logger)
{
    /// <summary>The edits that bring the devices <paramref name="names"/> (qualified names); see <see cref="CdiCatalog.Resolve"/>.</summary>
    public IReadOnlyList<CdiEditSet> Resolve(IReadOnlyList<string> names) =>
        CdiCatalog.Load(directories, (path, problem) => logger.LogWarning("CDI spec file {Path} is skipped: {Problem}", path, problem))
            .Resolve(names);
}

using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.ImageService.Registry;
using Berth.RuntimeService.Network;

namespace Berth.RuntimeService.Configuration;

/// <summary>The level the structured log writes from, changed by a reload.</summary>
public sealed class LogLevelSwitch(LogLevel level)
{
    private volatile int _level = (int)level;

    public LogLevel Level
    {
        get => (LogLevel)_level;
        set => _level = (int)value;
    }
}

/// <summary>
/// SIGHUP: reads the configuration again (file, drop-ins, flags) and applies what can change in a running
/// berthd: <c>registries</c> (mirrors, TLS, credentials: the next pull uses them), <c>cni</c> (conf dir, plugin
/// directories, timeout, template: the next RunPodSandbox uses them; running pods keep their attachment) and
/// <c>logLevel</c>. Every other changed key is named in the log as needing a restart. A file that is invalid keeps the running
/// configuration, and the log says why.
/// </summary>
public sealed class ConfigReload(string[] args, BerthConfig initial, RegistryClient registries, CniPodNetwork network, LogLevelSwitch logLevel,
    ILogger<ConfigReload> logger)
    : IDisposable
{
    /// <summary>The keys a reload applies; the rest need a restart.</summary>
    public static readonly IReadOnlySet<string> Reloadable = new HashSet<string>(StringComparer.Ordinal) { "registries", "cni", "logLevel" };

    private readonly object _gate = new();
    private BerthConfig _current = initial;
    private PosixSignalRegistration? _registration;

    /// <summary>The configuration in force.</summary>
    public BerthConfig Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>
    /// Handles SIGHUP from now on (instead of the default, which would end berthd), even when berthd was
    /// started with SIGHUP ignored (under nohup, or by a parent that ignores it): .NET would otherwise keep
    /// an inherited "ignore" and never call the handler, and systemd's ExecReload would do nothing.
    /// </summary>
    public void Listen()
    {
        if (Interop.Sys.DefaultIfIgnored(Interop.Sys.SIGHUP))
        {
            logger.LogInformation("SIGHUP was ignored when berthd started (nohup?); berthd takes it to reload its configuration");
        }
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Reload();
        });
    }

    /// <summary>Reads and applies the configuration once; what a SIGHUP does.</summary>
    public void Reload()
    {
        lock (_gate)
        {
            BerthConfig next;
            try
            {
                next = ConfigLoader.Load(args);
            }
            catch (Exception error) when (error is ConfigException or IOException or UnauthorizedAccessException)
            {
                logger.LogError("Configuration reload refused, the running configuration stays: {Error}", error.Message);
                return;
            }
            var (applied, needRestart) = Compare(_current, next);
            if (applied.Any(key => TopLevel(key) == "registries"))
            {
                try
                {
                    registries.ReplaceHosts(next.Registries);
                }
                catch (ArgumentException error)
                {
                    // Settings the registry client refuses (ConfigLoader checks the same rules first): the first
                    // change applied, so refusing here leaves everything as it was. A SIGHUP never ends berthd.
                    logger.LogError("Configuration reload refused, the running configuration stays: {Error}", error.Message);
                    return;
                }
            }
            if (applied.Any(key => TopLevel(key) == "cni"))
            {
                network.Reconfigure(next.Cni);
            }
            if (applied.Contains("logLevel"))
            {
                logLevel.Level = Enum.Parse<LogLevel>(next.LogLevel, ignoreCase: true);
            }
            // What needs a restart keeps its running value until then.
            _current = _current with { Registries = next.Registries, Cni = next.Cni, LogLevel = next.LogLevel };
            logger.LogInformation("Configuration reloaded: applied {Applied}; changed but needing a restart {NeedRestart}",
                applied.Count == 0 ? "nothing" : string.Join(", ", applied), needRestart.Count == 0 ? "nothing" : string.Join(", ", needRestart));
        }
    }

    /// <summary>
    /// The keys that differ between two configurations, split into what a reload applies and what needs a restart
    /// (by their top-level key, <see cref="Reloadable"/>). A changed object is named by its changed members
    /// (<c>cni.confDir</c>, <c>registries.myreg:5443</c>), so the log says what exactly was taken; ordinal order.
    /// </summary>
    public static (IReadOnlyList<string> Applied, IReadOnlyList<string> NeedRestart) Compare(BerthConfig running, BerthConfig next)
    {
        var before = JsonSerializer.SerializeToNode(running, ConfigJsonContext.Default.BerthConfig)!.AsObject();
        var after = JsonSerializer.SerializeToNode(next, ConfigJsonContext.Default.BerthConfig)!.AsObject();
        var changed = Changed(before, after)
            .SelectMany(key => before[key] is JsonObject was && after[key] is JsonObject now ? Changed(was, now).Select(member => $"{key}.{member}") : [key])
            .Order(StringComparer.Ordinal)
            .ToList();
        return (changed.Where(key => Reloadable.Contains(TopLevel(key))).ToList(), changed.Where(key => !Reloadable.Contains(TopLevel(key))).ToList());
    }

    private static IEnumerable<string> Changed(JsonObject before, JsonObject after) =>
        before.Select(pair => pair.Key).Union(after.Select(pair => pair.Key), StringComparer.Ordinal)
            .Where(key => !JsonNode.DeepEquals(before[key], after[key]));

    private static string TopLevel(string key) => key.IndexOf('.') is var dot and > 0 ? key[..dot] : key;

    public void Dispose() => _registration?.Dispose();
}

namespace Berth.Bench;

public sealed record BenchOptions
{
    public int Pods { get; init; } = 200;

    public int Runs { get; init; } = 20;

    public int Warmup { get; init; } = 2;

    public int Parallel { get; init; } = 20;

    public int ParallelRuns { get; init; } = 20;

    public int PullRuns { get; init; } = 20;

    /// <summary>Samples of exec_probe_cpu, each <see cref="Bench.ProbeCalls"/> ExecSync calls.</summary>
    public int ProbeRuns { get; init; } = 3;

    /// <summary>The rows to measure (--only), or null for all: a step runs when it yields one of them.</summary>
    public IReadOnlySet<string>? Only { get; init; }

    public int BigMegabytes { get; init; } = 100;

    public string Berthd { get; init; } = "";

    /// <summary>bench/SpawnFloor's program, which bench/run publishes to out/bench/.</summary>
    public string SpawnFloor { get; init; } = "";

    public string Results { get; init; } = "";

    /// <summary>--trace: berthd writes its spans to a file and the breakdown of its pod starts is printed.</summary>
    public bool Trace { get; init; }

    public const string Usage = """
        usage: Berth.Bench [options]
          --pods N           density: pods with one sleeping container each (default 200)
          --runs N           samples of each latency row, interleaved between the runtimes (default 20)
          --warmup N         unrecorded cycles per runtime before the latency rows (default 2)
          --parallel N       pods started at once in the parallel row (default 20)
          --parallel-runs N  samples of the parallel row (default 20)
          --pull-runs N      cold pulls per runtime (default 20)
          --probe-runs N     samples of exec_probe_cpu, 200 ExecSync calls each (default 3)
          --only ROW,ROW     measure only the steps that yield these rows (e.g. exec_probe_cpu,exec_session)
          --big-mb N         MiB of random data in the cold-pull image (default 100)
          --berthd PATH      berthd to run, berth-shim beside it (default out/berthd of the repository)
          --results DIR      where the JSON goes (default bench/results of the repository)
          --trace            berthd writes its spans (BERTH_TRACE_FILE); print where its pod starts in the
                             latency rows went, span by span (median ms over the recorded samples)
        """;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        var root = RepositoryRoot();
        options = options with
        {
            Berthd = root is null ? "" : Path.Combine(root, "out", "berthd"),
            SpawnFloor = root is null ? "" : Path.Combine(root, "out", "bench", "spawn-floor"),
            Results = root is null ? "bench-results" : Path.Combine(root, "bench", "results"),
        };
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Number(int min)
            {
                var name = args[i];
                var text = Value();
                return int.TryParse(text, out var n) && n >= min ? n : throw new ArgumentException($"{name} wants a whole number >= {min}, not '{text}'");
            }

            options = args[i] switch
            {
                "--pods" => options with { Pods = Number(1) },
                "--runs" => options with { Runs = Number(1) },
                "--warmup" => options with { Warmup = Number(0) },
                "--parallel" => options with { Parallel = Number(1) },
                "--parallel-runs" => options with { ParallelRuns = Number(1) },
                "--pull-runs" => options with { PullRuns = Number(1) },
                "--probe-runs" => options with { ProbeRuns = Number(1) },
                "--only" => options with { Only = Rows(Value()) },
                "--big-mb" => options with { BigMegabytes = Number(1) },
                "--berthd" => options with { Berthd = Path.GetFullPath(Value()) },
                "--results" => options with { Results = Path.GetFullPath(Value()) },
                "--trace" => options with { Trace = true },
                "-h" or "--help" => throw new ArgumentException(""),
                var other => throw new ArgumentException($"unknown option {other}"),
            };
        }

        return options;
    }

    /// <summary>Whether any of <paramref name="rows"/> was asked for (all are, without --only).</summary>
    public bool Wants(params string[] rows) => Only is null || rows.Any(Only.Contains);

    private static HashSet<string> Rows(string list)
    {
        var rows = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        var unknown = rows.Except(Report.RowNames).ToList();
        return unknown.Count == 0 && rows.Count > 0
            ? rows
            : throw new ArgumentException($"--only: unknown row(s) {string.Join(", ", unknown)}; rows are {string.Join(", ", Report.RowNames)}");
    }

    /// <summary>The folder holding Runtime.sln, looked for upwards from the working directory, then from the program.</summary>
    private static string? RepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Runtime.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        return null;
    }
}

namespace Berth.Bench;

/// <summary>min/p50/p90/max of one runtime's samples of one row (percentiles interpolated linearly).</summary>
public sealed record Stats(int N, double Min, double P50, double P90, double Max)
{
    public static Stats? Of(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0)
        {
            return null;
        }

        var sorted = samples.Order().ToArray();
        return new Stats(sorted.Length, sorted[0], Percentile(sorted, 0.5), Percentile(sorted, 0.9), sorted[^1]);
    }

    private static double Percentile(double[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = (int)Math.Ceiling(position);
        return sorted[lower] + ((sorted[upper] - sorted[lower]) * (position - lower));
    }
}

/// <summary>One line of the table: the same measurement of both runtimes.</summary>
public sealed class Row(string key, string unit, string description)
{
    public string Key { get; } = key;

    public string Unit { get; } = unit;

    public string Description { get; } = description;

    public List<double> Berth { get; } = [];

    public List<double> Containerd { get; } = [];

    public List<double> Samples(string runtime) => runtime == "berth" ? Berth : Containerd;

    public double? RatioP50 =>
        Stats.Of(Berth) is { } b && Stats.Of(Containerd) is { P50: > 0 } c ? b.P50 / c.P50 : null;
}

/// <summary>A figure of the machine itself, with no runtime in it: the floor under the rows above.</summary>
public sealed class FloorRow(string key, string unit, string description)
{
    public string Key { get; } = key;

    public string Unit { get; } = unit;

    public string Description { get; } = description;

    public List<double> Samples { get; } = [];
}

using Berth.Api.Admin;

namespace Berth.Cli.Display;

/// <summary>
/// What berthctl pull and push show of a progress stream: <see cref="TerminalPullDisplay"/> redraws one line per
/// layer (or pushed blob) in place, <see cref="PlainPullDisplay"/> writes a line per change of phase for logs and
/// pipes, and <see cref="QuietPullDisplay"/> only the name (docker pull --quiet) or the pushed digest.
/// </summary>
internal abstract class PullDisplay(TextWriter output)
{
    protected TextWriter Output { get; } = output;

    public void Started(PullStarted started) => Begin("Pulling", started.Reference, started.Layers, "layers");

    public void Started(PushStarted started) => Begin("Pushing", started.Reference, started.Blobs, "blobs");

    /// <param name="verb">"Pulling" or "Pushing".</param>
    /// <param name="noun">What the lines are: "layers", or "blobs" (a push's layers and config).</param>
    protected abstract void Begin(string verb, string reference, IReadOnlyList<LayerProgress> layers, string noun);

    public abstract void Layer(LayerProgress layer);

    public virtual void Done(PushDone done)
    {
        Output.WriteLine(TerminalText.Safe($"Digest: {done.ManifestDigest} size: {done.ManifestSize}"));
        Output.WriteLine(TerminalText.Safe(done.RepoDigest));
    }

    public virtual void Done(PullDone done)
    {
        // Output may be the raw terminal (TerminalPullDisplay): what came from berthd is made safe here.
        Output.WriteLine(TerminalText.Safe($"Digest: {done.RepoDigest}"));
        Output.WriteLine(TerminalText.Safe($"Image: {done.ImageId}"));
        Output.WriteLine(TerminalText.Safe(done.Name));
    }

    /// <summary>The short layer name docker shows: 12 hex digits of the blob digest.</summary>
    protected static string ShortDigest(string digest)
    {
        var hex = digest.IndexOf(':') is var colon and >= 0 ? digest[(colon + 1)..] : digest;
        return hex.Length > 12 ? hex[..12] : hex;
    }

    protected static string PhaseText(LayerPhase phase) => phase switch
    {
        LayerPhase.Waiting => "Waiting",
        LayerPhase.Downloading => "Downloading",
        LayerPhase.Extracting => "Extracting",
        LayerPhase.Done => "Pull complete",
        LayerPhase.AlreadyExists => "Already exists",
        LayerPhase.Uploading => "Pushing",
        LayerPhase.Pushed => "Pushed",
        LayerPhase.Mounted => "Mounted",
        _ => phase.ToString(),
    };

    /// <summary>Phases with bytes moving, drawn with a bar.</summary>
    protected static bool IsMoving(LayerPhase phase) => phase is LayerPhase.Downloading or LayerPhase.Extracting or LayerPhase.Uploading;
}

/// <summary>docker pull --quiet: nothing but the image's name at the end.</summary>
internal sealed class QuietPullDisplay(TextWriter output) : PullDisplay(output)
{
    protected override void Begin(string verb, string reference, IReadOnlyList<LayerProgress> layers, string noun)
    {
    }

    public override void Layer(LayerProgress layer)
    {
    }

    public override void Done(PullDone done) => Output.WriteLine(done.Name);

    public override void Done(PushDone done) => Output.WriteLine(done.RepoDigest);
}

/// <summary>A line when a layer changes phase: readable in a log, where redrawing would be noise.</summary>
internal sealed class PlainPullDisplay(TextWriter output) : PullDisplay(output)
{
    private readonly Dictionary<string, LayerPhase> _phases = new(StringComparer.Ordinal);

    protected override void Begin(string verb, string reference, IReadOnlyList<LayerProgress> layers, string noun)
    {
        Output.WriteLine($"{verb} {reference} ({layers.Count} {noun})");
        foreach (var layer in layers)
        {
            Layer(layer);
        }
    }

    public override void Layer(LayerProgress layer)
    {
        if (_phases.TryGetValue(layer.Digest, out var phase) && phase == layer.Phase)
        {
            return;
        }
        _phases[layer.Digest] = layer.Phase;
        var size = layer.Phase is LayerPhase.Waiting or LayerPhase.Downloading or LayerPhase.Uploading or LayerPhase.AlreadyExists
            ? " " + ByteSize.Format(layer.Total)
            : "";
        Output.WriteLine($"{ShortDigest(layer.Digest)}: {PhaseText(layer.Phase)}{size}");
    }
}

/// <summary>
/// One line per layer, redrawn in place at each event with ANSI cursor movement, as docker pull and push draw it:
/// phase, a bar, bytes of total and the rate while downloading or uploading.
/// </summary>
internal sealed class TerminalPullDisplay(TextWriter output, TimeProvider clock) : PullDisplay(output)
{
    private const int BarWidth = 40;
    private readonly List<LayerLine> _lines = [];
    private bool _drawn;

    protected override void Begin(string verb, string reference, IReadOnlyList<LayerProgress> layers, string noun)
    {
        // Output is the raw terminal here: what came from berthd is made safe before the display's own escapes go round it.
        Output.WriteLine(TerminalText.Safe($"{verb} {reference}"));
        foreach (var layer in layers)
        {
            _lines.Add(new LayerLine(layer.Digest) { Progress = layer });
        }
        Redraw();
    }

    public override void Layer(LayerProgress layer)
    {
        foreach (var line in _lines.Where(line => line.Digest == layer.Digest))
        {
            if (layer.Phase is (LayerPhase.Downloading or LayerPhase.Uploading) && line.TransferStarted is null)
            {
                line.TransferStarted = (clock.GetTimestamp(), layer.Bytes);
            }
            line.Progress = layer;
        }
        Redraw();
    }

    private void Redraw()
    {
        if (_drawn && _lines.Count > 0)
        {
            // Back to the first layer line, then each line cleared and written again.
            Output.Write($"\u001b[{_lines.Count}A");
        }
        foreach (var line in _lines)
        {
            Output.Write("\u001b[2K");
            Output.WriteLine(TerminalText.Safe(Render(line)));
        }
        _drawn = true;
        Output.Flush();
    }

    private string Render(LayerLine line)
    {
        var layer = line.Progress;
        var text = $"{ShortDigest(line.Digest)}: {PhaseText(layer.Phase)}";
        if (!IsMoving(layer.Phase))
        {
            return text;
        }
        text = text.PadRight(27);
        var filled = layer.Total > 0 ? (int)(BarWidth * Math.Clamp(layer.Bytes, 0, layer.Total) / layer.Total) : BarWidth;
        var bar = filled >= BarWidth ? new string('=', BarWidth) : new string('=', filled) + ">" + new string(' ', BarWidth - filled - 1);
        text += $" [{bar}] {ByteSize.Format(layer.Bytes)}/{ByteSize.Format(layer.Total)}";
        if (layer.Phase is (LayerPhase.Downloading or LayerPhase.Uploading) && line.TransferStarted is var (since, fromBytes))
        {
            var seconds = clock.GetElapsedTime(since).TotalSeconds;
            if (seconds > 0.2)
            {
                text += $" {ByteSize.Format((layer.Bytes - fromBytes) / seconds)}/s";
            }
        }
        return text;
    }

    private sealed class LayerLine(string digest)
    {
        public string Digest { get; } = digest;
        public required LayerProgress Progress { get; set; }
        public (long Timestamp, long Bytes)? TransferStarted { get; set; }
    }
}

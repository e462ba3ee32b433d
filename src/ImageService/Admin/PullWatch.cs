using Berth.ImageService.Images;
using Berth.ImageService.Registry;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

/// <summary>
/// The progress events of one pull, from the <see cref="PullProgressBoard"/>: a layer's event is sent only
/// when its phase or byte count changed since the last one, and a layer's events only move forward (phase
/// never back, bytes never down). A layer whose download was seen and has left the board is done; every
/// layer is done when the pull has committed (<see cref="Finish"/>), with its bytes equal to its total.
/// </summary>
internal sealed class PullWatch
{
    private readonly IReadOnlyList<Descriptor> _layers;
    private readonly PullProgressBoard _board;
    private readonly AdminApi.LayerProgress[] _sent;
    private readonly bool[] _seen;

    /// <param name="layers">The image's layer blobs, lowest first.</param>
    /// <param name="hasLayer">Whether the node has a layer blob's snapshot already, by digest.</param>
    public PullWatch(IReadOnlyList<Descriptor> layers, Func<string, bool> hasLayer, PullProgressBoard board)
    {
        _layers = layers;
        _board = board;
        _seen = new bool[layers.Count];
        _sent = layers.Select(layer => new AdminApi.LayerProgress
        {
            Digest = layer.Digest,
            Total = layer.Size,
            Phase = hasLayer(layer.Digest) ? AdminApi.LayerPhase.AlreadyExists : AdminApi.LayerPhase.Waiting,
        }).ToArray();
    }

    public AdminApi.PullStarted Started(ResolvedImage resolved)
    {
        var started = new AdminApi.PullStarted { Reference = resolved.Reference.ToString(), ManifestDigest = resolved.ManifestDigest };
        started.Layers.AddRange(_sent.Select(layer => layer.Clone()));
        return started;
    }

    /// <summary>The layers that moved since the last call.</summary>
    public IEnumerable<AdminApi.LayerProgress> Sample()
    {
        for (var index = 0; index < _layers.Count; index++)
        {
            var last = _sent[index];
            if (last.Phase is AdminApi.LayerPhase.AlreadyExists or AdminApi.LayerPhase.Done)
            {
                continue;
            }
            AdminApi.LayerProgress now;
            if (_board.Find(_layers[index].Digest) is { } transfer)
            {
                _seen[index] = true;
                now = new AdminApi.LayerProgress
                {
                    Digest = last.Digest,
                    Total = last.Total,
                    Phase = (AdminApi.LayerPhase)Math.Max((int)last.Phase, (int)PhaseOf(transfer.Stage)),
                    Bytes = Math.Clamp(transfer.Bytes, last.Bytes, last.Total),
                };
            }
            else if (_seen[index])
            {
                now = Completed(last);
            }
            else
            {
                continue;
            }
            if (!now.Equals(last))
            {
                _sent[index] = now;
                yield return now;
            }
        }
    }

    /// <summary>The pull has committed: every layer not already done, done.</summary>
    public IEnumerable<AdminApi.LayerProgress> Finish()
    {
        for (var index = 0; index < _layers.Count; index++)
        {
            if (_sent[index].Phase is not (AdminApi.LayerPhase.AlreadyExists or AdminApi.LayerPhase.Done))
            {
                _sent[index] = Completed(_sent[index]);
                yield return _sent[index];
            }
        }
    }

    private static AdminApi.LayerProgress Completed(AdminApi.LayerProgress last) =>
        new() { Digest = last.Digest, Total = last.Total, Bytes = last.Total, Phase = AdminApi.LayerPhase.Done };

    private static AdminApi.LayerPhase PhaseOf(TransferStage stage) => stage switch
    {
        TransferStage.Waiting => AdminApi.LayerPhase.Waiting,
        TransferStage.Downloading => AdminApi.LayerPhase.Downloading,
        _ => AdminApi.LayerPhase.Extracting,
    };
}

using Berth.ImageService.Images;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    /// <summary>
    /// Plans the push (so a bad reference or an unknown image fails before anything is sent), sends the blobs, then
    /// samples their progress at the pull's rate until the push ends, drawn by berthctl as a pull is.
    /// </summary>
    public override async Task Push(AdminApi.PushRequest request, IServerStreamWriter<AdminApi.PushEvent> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var plan = images.PlanPush(Require(request.Reference, "reference"));
        var sent = plan.Blobs.Select(Progress).ToArray();
        var started = new AdminApi.PushStarted { Reference = plan.Reference.ToString(), ManifestDigest = plan.ManifestDigest };
        started.Blobs.AddRange(sent.Select(blob => blob.Clone()));
        await responseStream.WriteAsync(new AdminApi.PushEvent { Started = started }, ct);

        var push = images.PushAsync(plan, Credentials(request.Auth), ct);
        bool finished;
        do
        {
            finished = await Task.WhenAny(push, Task.Delay(SampleInterval, ct)) == push;
            ct.ThrowIfCancellationRequested();
            // Sampled once more after the end, so every blob's last state is sent before Done.
            for (var index = 0; index < sent.Length; index++)
            {
                var now = Progress(plan.Blobs[index]);
                if (!now.Equals(sent[index]))
                {
                    sent[index] = now;
                    await responseStream.WriteAsync(new AdminApi.PushEvent { Blob = now }, ct);
                }
            }
        }
        while (!finished);
        var pushed = await push;
        await responseStream.WriteAsync(new AdminApi.PushEvent
        {
            Done = new AdminApi.PushDone { ManifestDigest = pushed.ManifestDigest, RepoDigest = pushed.RepoDigest, ManifestSize = pushed.ManifestSize },
        }, ct);
    }

    private static AdminApi.LayerProgress Progress(BlobPush blob) => new()
    {
        Digest = blob.Blob.Digest,
        Total = blob.Blob.Size,
        Bytes = blob.Stage is PushStage.Pushed ? blob.Blob.Size : blob.Bytes,
        Phase = blob.Stage switch
        {
            PushStage.Waiting => AdminApi.LayerPhase.Waiting,
            PushStage.Uploading => AdminApi.LayerPhase.Uploading,
            PushStage.Pushed => AdminApi.LayerPhase.Pushed,
            PushStage.AlreadyExists => AdminApi.LayerPhase.AlreadyExists,
            _ => AdminApi.LayerPhase.Mounted,
        },
    };
}

using Berth.ImageService.Registry;
using Grpc.Core;
using AdminApi = Berth.Api.Admin;

namespace Berth.ImageService.Admin;

public sealed partial class AdminImageService
{
    /// <summary>How often the stream samples the layers' progress: a terminal redraws at this rate.</summary>
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Resolves, sends the layers, then samples their progress on the shared board until the pull ends:
    /// sampling rather than reporting keeps the stream's rate bounded and lets concurrent pulls of one
    /// layer (which share its download) each see it move.
    /// </summary>
    public override async Task Pull(AdminApi.PullRequest request, IServerStreamWriter<AdminApi.PullEvent> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var reference = ImageReference.Parse(Require(request.Reference, "reference"));
        var resolved = await images.ResolveAsync(reference, Credentials(request.Auth), ct);
        var watch = new PullWatch(resolved.Layers, images.HasLayer, images.Progress);
        await responseStream.WriteAsync(new AdminApi.PullEvent { Started = watch.Started(resolved) }, ct);

        var pull = images.PullResolvedAsync(resolved, ct);
        while (await Task.WhenAny(pull, Task.Delay(SampleInterval, ct)) != pull)
        {
            ct.ThrowIfCancellationRequested();
            foreach (var layer in watch.Sample())
            {
                await responseStream.WriteAsync(new AdminApi.PullEvent { Layer = layer }, ct);
            }
        }
        var pulled = await pull;
        foreach (var layer in watch.Finish())
        {
            await responseStream.WriteAsync(new AdminApi.PullEvent { Layer = layer }, ct);
        }
        await responseStream.WriteAsync(new AdminApi.PullEvent
        {
            Done = new AdminApi.PullDone { ImageId = pulled.Image.Image.Id, Name = pulled.Name, RepoDigest = pulled.RepoDigest },
        }, ct);
    }
}

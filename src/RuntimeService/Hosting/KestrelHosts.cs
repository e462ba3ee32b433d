namespace Berth.RuntimeService.Hosting;

/// <summary>The builder of each of berthd's two Kestrel hosts: the CRI and admin sockets (Program.cs), and the streaming server.</summary>
/// <remarks>
/// ASP.NET Core's empty builder, with Kestrel and routing added and no configuration source: berthd reads its
/// settings from its own file. Not <c>WebApplication.CreateSlimBuilder</c>: its appsettings.json sources reload
/// on change, so a FileSystemWatcher watches the content root (the working directory) and every directory
/// below it, one inotify watch each, whether or not the file exists (dotnet/runtime#116713,
/// dotnet/aspnetcore#18836). Under systemd the working directory is "/": measured on a test machine, each
/// host walked the whole tree (63,000 watches each, and a node's tree holds every container's rootfs), berthd
/// took 40 s to serve and idled at 90 MiB RSS instead of 49.
/// </remarks>
internal static class KestrelHosts
{
    /// <summary>A builder with Kestrel (no HTTPS defaults from configuration) and routing, no logging provider, no configuration source.</summary>
    public static WebApplicationBuilder CreateBuilder()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Services.AddRoutingCore();
        return builder;
    }
}

using Berth.Core;
using Berth.Core.Storage;
using Berth.ImageService;
using Berth.ImageService.Admin;
using Berth.RuntimeService.Admin;
using Berth.ImageService.Handlers;
using Berth.ImageService.Images;
using Berth.ImageService.Registry;
using Berth.ImageService.Store;
using Berth.RuntimeService.Cdi;
using Berth.RuntimeService.Configuration;
using Berth.RuntimeService.Handlers;
using Berth.RuntimeService.Containers;
using Berth.RuntimeService.Events;
using Berth.RuntimeService.Hosting;
using Berth.RuntimeService.Hosting.AuthorityRewrite;
using Berth.RuntimeService.Pods;
using Berth.RuntimeService.Network;
using Berth.RuntimeService.Node;
using Berth.RuntimeService.Node.Systemd;
using Berth.RuntimeService.Runtime;
using Berth.RuntimeService.Specs;
using Berth.RuntimeService.State;
using Berth.RuntimeService.Stats;
using Berth.RuntimeService.Streaming;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

BerthConfig config;
try
{
    config = ConfigLoader.Load(args);
}
catch (ConfigException error)
{
    Console.Error.WriteLine($"berthd: {error.Message}");
    return 2;
}

DaemonLock daemonLock;
try
{
    // Root, state and socket each belong to one berthd: a second one sharing any of them would take over
    // (or shut down as strays) the first one's shims.
    daemonLock = new DaemonLock(Path.Combine(config.Root, "berthd.lock"), Path.Combine(config.State, "berthd.lock"), config.SocketPath + ".lock",
        config.AdminSocketPath + ".lock");
}
catch (InvalidOperationException error)
{
    Console.Error.WriteLine($"berthd: {error.Message}");
    return 1;
}

using (daemonLock)
{
    string databasePath = Path.Combine(config.Root, "berth.db");
    try
    {
        PrivateDirectories.Apply(config.Root, config.State, databasePath);
    }
    catch (Exception error) when (error is IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"berthd: cannot prepare the root and state directories ({config.Root}, {config.State}): {error.Message}");
        return 1;
    }
    // The lock is ours, so any socket file left at the path belongs to a berthd that died: replace it.
    File.Delete(config.SocketPath);
    File.Delete(config.AdminSocketPath);

    var builder = KestrelHosts.CreateBuilder();
    builder.Logging.ClearProviders();
    var logLevel = new LogLevelSwitch(Enum.Parse<LogLevel>(config.LogLevel, ignoreCase: true));
    builder.Logging.SetMinimumLevel(LogLevel.Trace);
    // The level is read at each message, so a reload (SIGHUP) changes it.
    builder.Logging.AddFilter((_, level) => level >= logLevel.Level);
    // ASP.NET Core and gRPC log every request at Information (about 3 KB a call); the interceptor logs what matters.
    builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
    builder.Logging.AddFilter("Grpc", LogLevel.Warning);
    builder.Logging.AddJsonConsole(options =>
    {
        options.TimestampFormat = "O";
        options.UseUtcTimestamp = true;
    });
    builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(
        options => options.LogToStandardErrorThreshold = LogLevel.Trace);
    builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(10));

    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        kestrel.ListenUnixSocket(config.SocketPath, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            if (config.RewriteSocketAuthority)
            {
                // Go clients before kubelet and crictl 1.31 send the socket path as :authority, which Kestrel refuses.
                listen.Use(UnixSocketAuthorityRewriter.Middleware);
            }
        });
        kestrel.ListenUnixSocket(config.AdminSocketPath, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.Use(AdminSocket.MarkConnection);
        });
        if (config.MetricsEndPoint is { } metrics)
        {
            kestrel.Listen(metrics, listen => listen.Protocols = HttpProtocols.Http1);
        }
    });

    string? otlpEndpoint = Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT") is { Length: > 0 } endpoint ? endpoint : null;
    string? traceFile = Environment.GetEnvironmentVariable("BERTH_TRACE_FILE") is { Length: > 0 } file ? file : null;
    var openTelemetry = builder.Services.AddOpenTelemetry();
    if (otlpEndpoint is not null || traceFile is not null)
    {
        // Spans only where something takes them: with no listener, StartActivity returns null and a call pays nothing.
        openTelemetry.WithTracing(tracing =>
        {
            tracing.AddSource(Telemetry.Name);
            // Every span of ours is recorded. The default, parent-based sampling, follows ASP.NET Core's request
            // activity, which Kestrel creates unrecorded (for its logs) when nothing listens to its source:
            // every CRI call's span, and all below it, was then dropped before any exporter saw it.
            tracing.SetSampler(new AlwaysOnSampler());
            if (otlpEndpoint is not null)
            {
                tracing.AddOtlpExporter();
            }
            if (traceFile is not null)
            {
                // Batched, off the calls' path: a span costs the call an enqueue, not a write.
                tracing.AddProcessor(new BatchActivityExportProcessor(new SpanFileExporter(traceFile), scheduledDelayMilliseconds: 1000));
            }
        });
    }
    openTelemetry.WithMetrics(metrics =>
    {
        metrics.AddMeter(Telemetry.Name);
        if (otlpEndpoint is not null)
        {
            metrics.AddOtlpExporter();
        }
        if (config.MetricsEndPoint is not null)
        {
            metrics.AddPrometheusExporter();
        }
    });

    builder.Services.AddSingleton(config);
    builder.Services.AddSingleton(logLevel);
    builder.Services.AddSingleton(services => new ConfigReload(args, config, services.GetRequiredService<RegistryClient>(),
        services.GetRequiredService<CniPodNetwork>(), logLevel, services.GetRequiredService<ILogger<ConfigReload>>()));
    builder.Services.AddSingleton(_ => new StateDatabase(databasePath, [ImageStore.Schema, PodStore.Schema]));
    builder.Services.AddSingleton<PodStore>();
    builder.Services.AddSingleton(new RuntimePaths(config.Root, config.State));
    builder.Services.AddSingleton<IShimRuntime>(new ShimRuntime(config.ShimPath));
    var node = new NodeOperations();
    builder.Services.AddSingleton<INodeOperations>(node);
    ICgroupDriver cgroupDriver;
    try
    {
        // systemd must answer now when it is configured: never a silent fallback to cgroupfs.
        cgroupDriver = config.CgroupDriverKind == CgroupDriverKind.Systemd
            ? await SystemdCgroupDriver.StartAsync(config.SystemdBusAddress, node)
            : new CgroupfsDriver(node);
    }
    catch (Berth.Core.Errors.BerthException error)
    {
        Console.Error.WriteLine($"berthd: {error.Message}");
        return 1;
    }
    builder.Services.AddSingleton(cgroupDriver);
    builder.Services.AddSingleton<Func<NodeFacts>>(NodeFiles.Read);
    builder.Services.AddSingleton(NodeFiles.Security(config.SeccompProfileRoot));
    builder.Services.AddSingleton(config.BlockIo);
    builder.Services.AddSingleton(config.Streaming);
    builder.Services.AddSingleton(services => new CdiRegistry(config.CdiSpecDirs, services.GetRequiredService<ILogger<CdiRegistry>>()));
    builder.Services.AddSingleton<IContainerImages, ContainerImages>();
    builder.Services.AddSingleton(services => new CniPodNetwork(
        config.Cni, Path.Combine(config.Root, "network"), services.GetRequiredService<ILogger<CniPodNetwork>>()));
    builder.Services.AddSingleton<IPodNetwork>(services => services.GetRequiredService<CniPodNetwork>());
    builder.Services.AddSingleton<RuntimeRegistry>();
    builder.Services.AddSingleton(new EventBroker<Berth.Api.Cri.ContainerEventResponse>(config.ContainerEventsQueueLength));
    builder.Services.AddSingleton<ContainerEvents>();
    builder.Services.AddSingleton<SandboxManager>();
    builder.Services.AddSingleton<ContainerManager>();
    builder.Services.AddSingleton<PodLifecycle>();
    builder.Services.AddSingleton<ContainerFiles>();
    builder.Services.AddSingleton<AdminContainerService>();
    builder.Services.AddSingleton<RuntimeRecovery>();
    builder.Services.AddSingleton<ImageStore>();
    builder.Services.AddSingleton(_ => new ContentStore(config.Root));
    builder.Services.AddSingleton(services => new RegistryClient(config.Registries, new RegistryClientOptions
    {
        StallTimeout = TimeSpan.FromSeconds(config.PullProgressTimeoutSeconds),
        PushChunkBytes = config.PushChunkBytes,
    }, new RegistryLogins(config.LoginFilePath, services.GetRequiredService<ILogger<RegistryLogins>>())));
    builder.Services.AddSingleton(services => new ImageManager(
        services.GetRequiredService<ImageStore>(),
        services.GetRequiredService<ContentStore>(),
        services.GetRequiredService<RegistryClient>(),
        config.MaxConcurrentDownloads,
        services.GetRequiredService<ILogger<ImageManager>>(),
        services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping));
    builder.Services.AddSingleton(services => new CriImageService(
        services.GetRequiredService<ImageManager>(), services.GetRequiredService<StatsCollector>().WritableLayers));
    builder.Services.AddSingleton(services => new AdminImageService(services.GetRequiredService<ImageManager>()));
    builder.Services.AddSingleton(services => new ImportDirectory(config.ImportDirectoryPath, services.GetRequiredService<ImageManager>(),
        services.GetRequiredService<ImageStore>(), services.GetRequiredService<ILogger<ImportDirectory>>()));
    builder.Services.AddHostedService<ImportDirectoryService>();
    builder.Services.AddHostedService<MemoryTrim>();
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddSingleton<StreamingTokens>();
    builder.Services.AddSingleton<RemoteCommandSessions>();
    builder.Services.AddSingleton<PortForwardSessions>();
    builder.Services.AddSingleton<StreamingServer>();
    builder.Services.AddHostedService(services => services.GetRequiredService<StreamingServer>());
    builder.Services.AddSingleton<StatsCollector>();
    builder.Services.AddHostedService(services => services.GetRequiredService<StatsCollector>());
    builder.Services.AddSingleton<CriRuntimeService>();
    builder.Services.AddGrpc(grpc =>
    {
        grpc.Interceptors.Add<CallInterceptor>();
        grpc.MaxReceiveMessageSize = 16 << 20;
    });

    var app = builder.Build();
    await app.Services.GetRequiredService<ImageManager>().RecoverAsync();
    await app.Services.GetRequiredService<RuntimeRecovery>().RecoverAsync();
    app.Use(AdminSocket.KeepServicesApart);
    app.MapGrpcService<CriImageService>();
    app.MapGrpcService<AdminImageService>();
    app.MapGrpcService<AdminContainerService>();
    app.MapGrpcService<CriRuntimeService>();
    if (config.MetricsEndPoint is not null)
    {
        app.MapPrometheusScrapingEndpoint();
    }
    app.Lifetime.ApplicationStarted.Register(() =>
    {
        // Only root and the socket's group may talk to the runtime.
        File.SetUnixFileMode(config.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        // The admin API changes the node's images outside kubelet's view: root alone.
        File.SetUnixFileMode(config.AdminSocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        app.Logger.LogInformation("berthd {Version} serving CRI on {Listen}, the admin API on {AdminSocket}, root {Root}, state {State}",
            CriRuntimeService.RuntimeVersion, config.Listen, config.AdminSocketPath, config.Root, config.State);
        app.Logger.LogInformation("cgroup driver {Driver}{Detail}", config.CgroupDriver,
            cgroupDriver is SystemdCgroupDriver systemd ? ": " + systemd.Description : "");
        // The socket serves from here on: a Type=notify unit (and kubelet ordered after it) may go on.
        if (SystemdNotify.Send($"READY=1\nSTATUS=serving CRI on {config.Listen}\nMAINPID={Environment.ProcessId}") is { } notifyError)
        {
            app.Logger.LogWarning("{Error}", notifyError);
        }
    });
    app.Lifetime.ApplicationStopping.Register(() => SystemdNotify.Send("STOPPING=1"));
    app.Services.GetRequiredService<ConfigReload>().Listen();
    await app.RunAsync();
    File.Delete(config.SocketPath);
    File.Delete(config.AdminSocketPath);
}
return 0;

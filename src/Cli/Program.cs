using System.CommandLine;
using Berth.Cli;
using Berth.Cli.Commands;

var address = new Option<string?>("--address")
{
    Description = $"berthd's admin socket, unix://PATH (default: ${AdminConnection.AddressVariable}, else {AdminConnection.DefaultAddress})",
    Recursive = true,
};
var root = new RootCommand("berthctl: the node operator's image workflow on a Berth node, over berthd's admin API");
root.Options.Add(address);
foreach (var command in new[]
{
    PullCommand.Create(address),
    ImagesCommand.Create(address),
    InspectCommand.Create(address),
    TagCommand.Create(address),
    RmiCommand.Create(address),
    SaveCommand.Create(address),
    LoadCommand.Create(address),
    CommitCommand.Create(address),
    ExportCommand.Create(address),
    ImportCommand.Create(address),
    PushCommand.Create(address),
    LoginCommand.Create(address),
    LoginCommand.CreateLogout(address),
})
{
    root.Subcommands.Add(command);
}
return await root.Parse(args).InvokeAsync();

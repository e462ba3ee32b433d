using System.CommandLine;
using Berth.Cli;
using Berth.Cli.Commands;
using Berth.Cli.Display;

// Names and messages berthctl prints come from archives, registries and containers: nothing reaches the terminal raw.
var terminal = Console.Out;
Console.SetOut(new TerminalText.Writer(Console.Out));
Console.SetError(new TerminalText.Writer(Console.Error));
PullCommand.RawOutput = terminal;

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
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // A command line berthctl cannot act on is exit code 2 (see CommandRunner), with one line per error.
    foreach (var error in parsed.Errors)
    {
        // One line each: some of System.CommandLine's messages list choices on lines of their own.
        await Console.Error.WriteLineAsync($"berthctl: {string.Join(' ', error.Message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))}");
    }
    await Console.Error.WriteLineAsync("See 'berthctl --help' (or 'berthctl COMMAND --help').");
    return CommandRunner.UsageExit;
}
return await parsed.InvokeAsync();

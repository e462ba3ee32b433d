using System.CommandLine;
using Berth.Api.Admin;

namespace Berth.Cli.Commands;

/// <summary>
/// berthctl login REGISTRY [-u USER] [-p PASS | --password-stdin] and berthctl logout REGISTRY, as docker's: berthd
/// checks the credentials at the registry and keeps them in its root-only login file for pulls and pushes.
/// </summary>
internal static class LoginCommand
{
    public static Command Create(Option<string?> address)
    {
        var registry = new Argument<string>("REGISTRY") { Description = "the registry host[:port], as image names start (registry.example.com, 127.0.0.1:5000, docker.io)" };
        var username = new Option<string?>("--username", "-u") { Description = "the user (asked for on a terminal when not given)" };
        var password = new Option<string?>("--password", "-p") { Description = "the password; it shows in the process list and shell history: prefer --password-stdin" };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "read the password from stdin (its first line)" };
        var command = new Command("login", "Check credentials at a registry and keep them for berthd's pulls and pushes") { registry, username, password, passwordStdin };
        command.SetBody(address, async (result, admin, ct) =>
        {
            if (result.GetValue(password) is not null && result.GetValue(passwordStdin))
            {
                throw new UsageException("--password and --password-stdin cannot both be given");
            }
            var user = result.GetValue(username) ?? (result.GetValue(passwordStdin) ? null : Ask("Username: ", echo: true))
                ?? throw new UsageException("--username (-u) is needed when it cannot be asked for (--password-stdin, or stdin not a terminal)");
            var secret = result.GetValue(password)
                ?? (result.GetValue(passwordStdin) ? (await Console.In.ReadLineAsync(ct))?.TrimEnd('\r') : Ask("Password: ", echo: false));
            if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(secret))
            {
                throw new UsageException("a username and a password are needed");
            }
            var response = await admin.Images.LoginAsync(new LoginRequest { Registry = result.GetValue(registry)!, Username = user, Password = secret }, cancellationToken: ct);
            Console.WriteLine($"Login Succeeded ({response.Registry})");
            return 0;
        });
        return command;
    }

    public static Command CreateLogout(Option<string?> address)
    {
        var registry = new Argument<string>("REGISTRY") { Description = "the registry host[:port] to forget the login of" };
        var command = new Command("logout", "Forget the credentials berthctl login kept for a registry") { registry };
        command.SetBody(address, async (result, admin, ct) =>
        {
            var response = await admin.Images.LogoutAsync(new LogoutRequest { Registry = result.GetValue(registry)! }, cancellationToken: ct);
            Console.WriteLine(response.Removed ? $"Removed login credentials for {response.Registry}" : $"Not logged in to {response.Registry}");
            return 0;
        });
        return command;
    }

    /// <summary>Asks on the terminal; null when stdin is not one (a script must pass the flags).</summary>
    private static string? Ask(string prompt, bool echo)
    {
        if (Console.IsInputRedirected)
        {
            return null;
        }
        Console.Write(prompt);
        if (echo)
        {
            return Console.ReadLine();
        }
        var typed = new System.Text.StringBuilder();
        while (Console.ReadKey(intercept: true) is var key && key.Key != ConsoleKey.Enter)
        {
            if (key.Key == ConsoleKey.Backspace)
            {
                typed.Length = Math.Max(0, typed.Length - 1);
            }
            else if (!char.IsControl(key.KeyChar))
            {
                typed.Append(key.KeyChar);
            }
        }
        Console.WriteLine();
        return typed.ToString();
    }
}

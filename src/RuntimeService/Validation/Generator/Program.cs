using Berth.Api.Cri;
using Berth.Validation.Generator;

// Berth.Validation.Generator OUTPUT.cs: writes the checks of the CRI's requests (see CriChecksSource).
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Berth.Validation.Generator OUTPUT.cs");
    return 2;
}
File.WriteAllText(args[0], CriChecksSource.Write(ApiReflection.Descriptor));
return 0;

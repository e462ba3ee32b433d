using Berth.RuntimeService.Node;

namespace Berth.Tests.Unit.Node;

public sealed class CriuTests
{
    // What Debian 12's criu 3.17 prints on this project's build machine (a kernel whose vDSO layout it does not know).
    private const string VdsoFailure = """
        Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds
        Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable
        Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.
        Error (criu/crtools.c:260): Could not initialize kernel features detection.
        """;

    [Fact]
    public void APassingCheckMeansNothingIsMissing() => Assert.Null(Criu.Explain(0, "Looks good.\n"));

    [Fact]
    public void AFailingCheckIsExplainedByItsFirstErrorLineTheCause() =>
        Assert.Equal("`criu check` fails on this node: Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds", Criu.Explain(1, VdsoFailure));

    [Fact]
    public void WithoutAnErrorLineTheLastLineOrTheExitCodeSays()
    {
        Assert.Equal("`criu check` fails on this node: You need root", Criu.Explain(1, "Warn: something\nYou need root\n"));
        Assert.Equal("`criu check` fails on this node: exit code 2", Criu.Explain(2, ""));
    }
}

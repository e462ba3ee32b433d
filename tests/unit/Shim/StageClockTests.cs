using Berth.Api.Shim;
using Berth.Shim.Monitor;

namespace Berth.Tests.Unit.Shim;

public sealed class StageClockTests
{
    [Fact]
    public void StepsFollowEachOtherFromTheShimsStartAndMoveIntoCreatesAnswerOnce()
    {
        long started = StageClock.Now();
        var clock = new StageClock(started);
        clock.Mark("shim.load_bundle");
        clock.Mark("shim.listen");
        var answer = new StateResponse();
        clock.MoveTo(answer);

        Assert.Equal(["shim.load_bundle", "shim.listen"], answer.StageTimings.Select(s => s.Name));
        Assert.Equal(started, answer.StageTimings[0].StartUnixNanos);
        Assert.Equal(answer.StageTimings[0].EndUnixNanos, answer.StageTimings[1].StartUnixNanos);
        Assert.All(answer.StageTimings, s => Assert.True(s.EndUnixNanos >= s.StartUnixNanos));
        // Unix nanoseconds: within a minute of the wall clock.
        Assert.InRange(started, (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000) * 1_000_000, (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 60_000) * 1_000_000);

        var later = new StateResponse();
        clock.MoveTo(later);
        Assert.Empty(later.StageTimings);
    }
}

namespace Berth.RuntimeService.Network;

/// <summary>
/// A CNI specification version (MAJOR.MINOR.PATCH), compared as semantic versions. berthd speaks
/// 0.3.0 to 1.1.0: the versions whose results share today's shape (0.1.0 and 0.2.0 had ip4/ip6 objects).
/// </summary>
public readonly record struct CniVersion(int Major, int Minor, int Patch) : IComparable<CniVersion>
{
    public static readonly CniVersion Oldest = new(0, 3, 0);

    /// <summary>The newest version berthd speaks: CNI spec 1.1.0 (STATUS, GC, cniVersions).</summary>
    public static readonly CniVersion Newest = new(1, 1, 0);

    /// <summary>CHECK and prevResult on DEL exist from 0.4.0 on.</summary>
    public static readonly CniVersion WithCheck = new(0, 4, 0);

    /// <summary>STATUS and GC exist from 1.1.0 on.</summary>
    public static readonly CniVersion WithStatusAndGc = new(1, 1, 0);

    public static bool TryParse(string? text, out CniVersion version)
    {
        version = default;
        string[] parts = (text ?? "").Split('.');
        if (parts.Length != 3)
        {
            return false;
        }
        var numbers = new int[3];
        for (int i = 0; i < 3; i++)
        {
            if (parts[i].Length == 0 || parts[i].Length > 6 || !parts[i].All(char.IsAsciiDigit))
            {
                return false;
            }
            numbers[i] = int.Parse(parts[i], System.Globalization.CultureInfo.InvariantCulture);
        }
        version = new CniVersion(numbers[0], numbers[1], numbers[2]);
        return true;
    }

    public bool IsSpoken => CompareTo(Oldest) >= 0 && CompareTo(Newest) <= 0;

    public int CompareTo(CniVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor != other.Minor ? Minor.CompareTo(other.Minor) : Patch.CompareTo(other.Patch);

    public static bool operator <(CniVersion left, CniVersion right) => left.CompareTo(right) < 0;
    public static bool operator >(CniVersion left, CniVersion right) => left.CompareTo(right) > 0;
    public static bool operator <=(CniVersion left, CniVersion right) => left.CompareTo(right) <= 0;
    public static bool operator >=(CniVersion left, CniVersion right) => left.CompareTo(right) >= 0;

    public override string ToString() => $"{Major}.{Minor}.{Patch}";
}

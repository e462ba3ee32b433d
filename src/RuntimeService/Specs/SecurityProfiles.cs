using Berth.Api.Cri;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// Seccomp and AppArmor profile requests, written as annotations (<see cref="SpecAnnotations.SeccompProfile"/>,
/// <see cref="SpecAnnotations.ApparmorProfile"/>). The shim does not apply either yet; recording the request
/// keeps it visible in config.json for inspection and for the version that will.
/// </summary>
internal static class SecurityProfiles
{
    public const string RuntimeDefault = "runtime/default";
    public const string Unconfined = "unconfined";
    private const string LocalhostPrefix = "localhost/";

    /// <summary>Adds the profile annotations the request asks for; the deprecated string fields are the fallback, as in containerd.</summary>
    public static void Annotate(Dictionary<string, string> annotations, SecurityProfile? seccomp, string deprecatedSeccompPath,
        SecurityProfile? apparmor, string deprecatedApparmorProfile)
    {
        if (Describe(seccomp, deprecatedSeccompPath, "seccomp") is { } seccompProfile)
        {
            annotations[SpecAnnotations.SeccompProfile] = seccompProfile;
        }
        if (Describe(apparmor, deprecatedApparmorProfile, "apparmor") is { } apparmorProfile)
        {
            annotations[SpecAnnotations.ApparmorProfile] = apparmorProfile;
        }
    }

    private static string? Describe(SecurityProfile? profile, string deprecated, string kind)
    {
        if (profile is null)
        {
            return deprecated switch
            {
                "" => null,
                RuntimeDefault or "docker/default" => RuntimeDefault,
                Unconfined => Unconfined,
                _ when deprecated.StartsWith(LocalhostPrefix, StringComparison.Ordinal) && deprecated.Length > LocalhostPrefix.Length => deprecated,
                _ => throw new SpecException($"{kind} profile \"{deprecated}\" is not runtime/default, unconfined or localhost/<profile>"),
            };
        }
        if (profile.ProfileType != SecurityProfile.Types.ProfileType.Localhost && profile.LocalhostRef.Length > 0)
        {
            throw new SpecException($"{kind} profile has a localhost_ref but its type is {profile.ProfileType}");
        }
        return profile.ProfileType switch
        {
            SecurityProfile.Types.ProfileType.RuntimeDefault => RuntimeDefault,
            SecurityProfile.Types.ProfileType.Unconfined => Unconfined,
            SecurityProfile.Types.ProfileType.Localhost when profile.LocalhostRef.Length > 0 =>
                LocalhostPrefix + (profile.LocalhostRef.StartsWith(LocalhostPrefix, StringComparison.Ordinal)
                    ? profile.LocalhostRef[LocalhostPrefix.Length..]
                    : profile.LocalhostRef),
            SecurityProfile.Types.ProfileType.Localhost => throw new SpecException($"{kind} profile of type Localhost has no localhost_ref"),
            _ => throw new SpecException($"{kind} profile type {profile.ProfileType} is unknown"),
        };
    }
}

using System.Text.Json;
using Berth.Api.Cri;
using Berth.Api.Shim;
using Berth.RuntimeService.Validation;

namespace Berth.RuntimeService.Specs;

/// <summary>
/// The container's seccomp filter, AppArmor profile and SELinux options, by containerd's rules
/// (internal/cri/sputil: GenerateSeccompSpecOpts, GenerateApparmorSpecOpts) with what the node
/// offers (<see cref="NodeSecurity"/>): every profile asked for is applied, or the create is refused.
/// </summary>
internal static class SecurityProfiles
{
    private const string RuntimeDefaultName = "runtime/default";
    private const string DockerDefaultName = "docker/default";
    private const string UnconfinedName = "unconfined";
    private const string LocalhostPrefix = "localhost/";

    /// <summary>A profile request, the new field or the deprecated string (<c>runtime/default</c>, <c>unconfined</c>, <c>localhost/REF</c>).</summary>
    private readonly record struct Request(SecurityProfile.Types.ProfileType Type, string LocalhostRef);

    /// <summary>
    /// <c>linux.seccomp</c>: none for a privileged container (containerd ignores even an explicit
    /// profile there, and critest checks it) or when nothing or Unconfined is asked; RuntimeDefault's
    /// profile for the node's architecture and the container's bounding set; a Localhost profile read
    /// from the node (an absolute ref as it is, a relative one under <see cref="NodeSecurity.SeccompProfileRoot"/>,
    /// as kubelet's own root), checked by <see cref="SeccompRules.Problem"/>.
    /// Throws <see cref="SpecException"/> naming the file when it is missing or malformed.
    /// </summary>
    public static LinuxSeccomp? Seccomp(LinuxContainerSecurityContext? security, bool privileged, IReadOnlyCollection<string> bounding, NodeSecurity node) =>
#pragma warning disable CS0612 // the deprecated path is still the fallback kubelet may send
        Seccomp(security?.Seccomp, security?.SeccompProfilePath ?? "", privileged, bounding, node);
#pragma warning restore CS0612

    /// <summary>
    /// The pod's <c>linux.seccomp</c> for its sandbox process, by the same rules as a container's, as
    /// containerd applies the pod's profile to the pause container (sandbox_run_linux.go
    /// generateSeccompSpecOpts): so a missing Localhost profile is refused at RunPodSandbox, and the
    /// reaper runs under the filter the pod asked for. <paramref name="bounding"/>: the reaper's
    /// capabilities, which RuntimeDefault's capability-gated rules follow.
    /// </summary>
    public static LinuxSeccomp? Seccomp(LinuxSandboxSecurityContext? security, IReadOnlyCollection<string> bounding, NodeSecurity node) =>
#pragma warning disable CS0612 // the deprecated path is still the fallback kubelet may send
        Seccomp(security?.Seccomp, security?.SeccompProfilePath ?? "", security?.Privileged ?? false, bounding, node);
#pragma warning restore CS0612

    private static LinuxSeccomp? Seccomp(SecurityProfile? requested, string deprecatedPath, bool privileged, IReadOnlyCollection<string> bounding, NodeSecurity node)
    {
        var request = Parse(requested, deprecatedPath, "seccomp");
        if (privileged || request is not { } asked)
        {
            return null;
        }
        switch (asked.Type)
        {
            case SecurityProfile.Types.ProfileType.Unconfined:
                return null;
            case SecurityProfile.Types.ProfileType.RuntimeDefault:
                return RuntimeDefaultSeccomp.For(node.Architecture, bounding);
            default:
                // An absolute ref is kubelet's own join of its seccomp root and the pod's profile (and critest's file).
                if (!SpecPaths.IsAbsolute(asked.LocalhostRef) && LexicalPath.Depth(asked.LocalhostRef) <= 0)
                {
                    throw new SpecException($"seccomp profile \"{asked.LocalhostRef}\" must name a file inside seccompProfileRoot {node.SeccompProfileRoot}");
                }
                string path = LexicalPath.Clean(SpecPaths.IsAbsolute(asked.LocalhostRef)
                    ? asked.LocalhostRef
                    : node.SeccompProfileRoot + "/" + asked.LocalhostRef);
                byte[] text = node.ReadSeccompProfile(path) ?? throw new SpecException($"seccomp profile {path} does not exist on this node");
                LinuxSeccomp profile;
                try
                {
                    profile = OciJson.ParseSeccomp(text);
                }
                catch (JsonException error)
                {
                    throw new SpecException($"seccomp profile {path} is not an OCI seccomp profile: {error.Message}");
                }
                return SeccompRules.Problem(profile) is { } problem
                    ? throw new SpecException($"seccomp profile {path}: {problem}")
                    : profile;
        }
    }

    /// <summary>The name of Berth's default AppArmor profile (<see cref="AppArmorDefaultProfile"/>), which berthd loads when a container asks for RuntimeDefault.</summary>
    public const string AppArmorDefaultName = "berth-default";

    /// <summary>
    /// <c>process.apparmorProfile</c>. Where the kernel has AppArmor off, RuntimeDefault and Unconfined
    /// are nothing and Localhost is refused (there is no profile to apply), as the issue asks and CRI-O
    /// does; containerd refuses RuntimeDefault there too, but kubelet never sends a profile to such a node
    /// unless a pod asks. Where it is on: nothing asked means RuntimeDefault (kubernetes#51746, as
    /// containerd), which is <see cref="AppArmorDefaultName"/> except for a privileged container;
    /// Localhost names a profile the kernel must have loaded.
    /// </summary>
    /// <param name="profile">The request's profile (a container's or a pod's <c>apparmor</c>).</param>
    /// <param name="deprecatedName">The deprecated <c>apparmor_profile</c> string a container may still carry; "" for a pod.</param>
    /// <param name="privileged">Whether the container is privileged.</param>
    /// <param name="node">What the node offers.</param>
    /// <exception cref="SpecException">A Localhost profile that cannot be applied on this node.</exception>
    public static string? AppArmor(SecurityProfile? profile, string deprecatedName, bool privileged, NodeSecurity node)
    {
        var request = Parse(profile, deprecatedName, "apparmor");
        var type = request?.Type;
        if (!node.AppArmorEnabled)
        {
            return type == SecurityProfile.Types.ProfileType.Localhost
                ? throw new SpecException($"apparmor profile \"{request!.Value.LocalhostRef}\" cannot be applied: AppArmor is not enabled on this node")
                : null;
        }
        switch (type ?? SecurityProfile.Types.ProfileType.RuntimeDefault)
        {
            case SecurityProfile.Types.ProfileType.Unconfined:
                return null;
            case SecurityProfile.Types.ProfileType.RuntimeDefault:
                return privileged ? null : AppArmorDefaultName;
            default:
                string name = request!.Value.LocalhostRef;
                return node.AppArmorProfileLoaded(name)
                    ? name
                    : throw new SpecException($"apparmor profile \"{name}\" is not loaded on this node");
        }
    }

    /// <summary>
    /// SELinux options are refused rather than ignored: Berth sets no SELinux labels. The message says
    /// whether that is because the node has SELinux off.
    /// </summary>
    public static void RefuseSelinux(SELinuxOption? options, string owner, bool selinuxEnabled)
    {
        if (options is null || (options.User.Length == 0 && options.Role.Length == 0 && options.Type.Length == 0 && options.Level.Length == 0))
        {
            return;
        }
        throw new SpecException(selinuxEnabled
            ? $"{owner} has selinux_options; Berth does not apply SELinux labels"
            : $"{owner} has selinux_options, but SELinux is not enabled on this node");
    }

    private static Request? Parse(SecurityProfile? profile, string deprecated, string kind)
    {
        if (profile is null)
        {
            return deprecated switch
            {
                "" => null,
                RuntimeDefaultName or DockerDefaultName => new Request(SecurityProfile.Types.ProfileType.RuntimeDefault, ""),
                UnconfinedName => new Request(SecurityProfile.Types.ProfileType.Unconfined, ""),
                _ when deprecated.StartsWith(LocalhostPrefix, StringComparison.Ordinal) && deprecated.Length > LocalhostPrefix.Length =>
                    new Request(SecurityProfile.Types.ProfileType.Localhost, deprecated[LocalhostPrefix.Length..]),
                _ => throw new SpecException($"{kind} profile \"{deprecated}\" is not runtime/default, unconfined or localhost/<profile>"),
            };
        }
        if (profile.ProfileType != SecurityProfile.Types.ProfileType.Localhost && profile.LocalhostRef.Length > 0)
        {
            throw new SpecException($"{kind} profile has a localhost_ref but its type is {profile.ProfileType}");
        }
        return profile.ProfileType switch
        {
            SecurityProfile.Types.ProfileType.RuntimeDefault or SecurityProfile.Types.ProfileType.Unconfined => new Request(profile.ProfileType, ""),
            // containerd trims a "localhost/" prefix "just in case"; so does Berth.
            SecurityProfile.Types.ProfileType.Localhost when profile.LocalhostRef.Length > 0 => new Request(profile.ProfileType,
                profile.LocalhostRef.StartsWith(LocalhostPrefix, StringComparison.Ordinal) ? profile.LocalhostRef[LocalhostPrefix.Length..] : profile.LocalhostRef),
            SecurityProfile.Types.ProfileType.Localhost => throw new SpecException($"{kind} profile of type Localhost has no localhost_ref"),
            _ => throw new SpecException($"{kind} profile type {profile.ProfileType} is unknown"),
        };
    }
}

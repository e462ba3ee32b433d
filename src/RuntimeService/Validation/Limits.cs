namespace Berth.RuntimeService.Validation;

/// <summary>Length caps of request strings, in UTF-8 bytes, each with the fact it comes from.</summary>
internal static class Limits
{
    /// <summary>
    /// Any string without a tighter rule: 256 KiB. Kubernetes caps all annotations of an object together
    /// at 256 KiB (apimachinery TotalAnnotationSizeLimitB), the largest single string it hands a
    /// runtime; everything else kubelet sends is far shorter or has its own rule. The gRPC message cap
    /// (16 MiB) bounds the sum.
    /// </summary>
    public const int GeneralMaxBytes = 256 << 10;

    /// <summary>
    /// A command-line argument or environment string: MAX_ARG_STRLEN (32 pages, 131072 bytes, with the
    /// terminating NUL); execve refuses a longer one with E2BIG, so it is refused here, at create.
    /// </summary>
    public const int ArgumentMaxBytes = (32 << 12) - 1;

    /// <summary>A path: PATH_MAX (4096, with the terminating NUL); the kernel answers ENAMETOOLONG beyond.</summary>
    public const int PathMaxBytes = 4096 - 1;

    /// <summary>
    /// A pod sandbox, container or image ID, or a prefix of one: berthd makes IDs of 64 hex digits (as
    /// containerd and CRI-O do) and crictl lets users type a prefix; 128 leaves room without letting a
    /// lookup, a log line or an error carry unbounded input.
    /// </summary>
    public const int IdMaxBytes = 128;

    /// <summary>
    /// An image reference, ID or digest: the longest valid one is 520 bytes (distribution/reference: a
    /// name of at most 255, a tag of at most 128, a sha512 digest of 135, and the separators); 1 KiB
    /// lets the reference parser, not this cap, say what is wrong with a malformed one.
    /// </summary>
    public const int ImageReferenceMaxBytes = 1024;

    /// <summary>A Kubernetes object name (pod): a DNS subdomain, RFC 1123, at most 253.</summary>
    public const int DnsSubdomainMaxBytes = 253;

    /// <summary>A DNS label, RFC 1123, at most 63: Kubernetes namespaces, RuntimeClass handlers.</summary>
    public const int DnsLabelMaxBytes = 63;

    /// <summary>A Kubernetes UID is a 36-character UUID (static pods: 32 hex digits); 128 leaves room for other makers.</summary>
    public const int UidMaxBytes = 128;

    /// <summary>A hostname: HOST_NAME_MAX (64); sethostname refuses a longer one with EINVAL.</summary>
    public const int HostnameMaxBytes = 64;

    /// <summary>A label or annotation key: a Kubernetes qualified name, a DNS-subdomain prefix (253), '/', a name (63).</summary>
    public const int QualifiedNameMaxBytes = 253 + 1 + 63;

    /// <summary>A sysctl name: Kubernetes' SysctlMaxLength (253).</summary>
    public const int SysctlNameMaxBytes = 253;

    /// <summary>A value written to a procfs or cgroupfs file, or a line of one: one page (4096), what such a write takes.</summary>
    public const int PageBytes = 4096;

    /// <summary>A file name: NAME_MAX (255).</summary>
    public const int FileNameMaxBytes = 255;

    /// <summary>A user name: LOGIN_NAME_MAX (256, with the terminating NUL).</summary>
    public const int UserNameMaxBytes = 256 - 1;

    /// <summary>A capability name: the longest today is 22 (CAP_CHECKPOINT_RESTORE); 64 leaves room for new ones.</summary>
    public const int CapabilityMaxBytes = 64;

    /// <summary>An IP address in text, IPv6 with a zone included: 45 + '%' + an interface name (IFNAMSIZ 16); 64.</summary>
    public const int IpAddressMaxBytes = 64;

    /// <summary>A hugepage size such as "2MB" or "1GB".</summary>
    public const int PageSizeMaxBytes = 16;
}

//! When the sandbox cannot start: why, and what to do about it.
//!
//! The sandbox's own errors say what failed ("Creating new namespace failed: Operation
//! not permitted"); this module adds the cause it can find on the host and the fix:
//! user namespaces turned off or restricted by a sysctl or by AppArmor, a container
//! that forbids namespaces or mounts, a source path the user cannot reach. The checks
//! read files under a root directory (`/` for real, a fake `/proc` and `/sys` tree in
//! the tests) and never fail: a file that cannot be read is a cause not found.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::spec::{Op, Personality, Spec};

/// Where hutch's AppArmor profile lives in the source tree, and where it is installed.
pub const APPARMOR_PROFILE_SOURCE: &str = "apparmor/hutch";
pub const APPARMOR_PROFILE_INSTALLED: &str = "/etc/apparmor.d/hutch";

/// Appended to every cause that keeps namespaces from being made: the way out.
pub const OFFER_LANDLOCK_ONLY: &str = "; to run without namespaces, confined by Landlock, \
     seccomp and no_new_privs only, add --landlock-only";

/// The paths the AppArmor profile attaches to (see apparmor/hutch).
fn apparmor_covers(exe: &Path) -> bool {
    let s = exe.to_string_lossy();
    s == "/usr/bin/hutch"
        || s == "/usr/local/bin/hutch"
        || ((s.starts_with("/home/") || s.starts_with("/root/"))
            && s.ends_with("/.cargo/bin/hutch"))
}

/// The host as the checks see it.
#[derive(Debug, Clone)]
pub struct Host {
    /// `/`, or a fake tree in the tests.
    root: PathBuf,
    /// The caller's real uid.
    pub uid: u32,
    /// hutch's own executable (for the AppArmor profile's attachment).
    pub exe: Option<PathBuf>,
    /// `$container`, set by some container engines (podman, systemd-nspawn).
    pub container_env: Option<String>,
}

impl Host {
    /// The real host, seen from this process.
    pub fn real() -> Host {
        Host {
            root: PathBuf::from("/"),
            uid: nix::unistd::getuid().as_raw(),
            exe: std::fs::read_link("/proc/self/exe").ok(),
            container_env: std::env::var("container").ok(),
        }
    }

    /// A fake host rooted at `root` (tests).
    #[cfg(test)]
    pub fn at(root: &Path, uid: u32) -> Host {
        Host {
            root: root.to_path_buf(),
            uid,
            exe: Some(PathBuf::from("/usr/bin/hutch")),
            container_env: None,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// A small file's content, trimmed.
    fn read(&self, p: &str) -> Option<String> {
        std::fs::read_to_string(self.path(p))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn exists(&self, p: &str) -> bool {
        self.path(p).exists()
    }

    /// The AppArmor label of this process ("unconfined", "hutch (unconfined)"...).
    fn apparmor_label(&self) -> Option<String> {
        self.read("/proc/self/attr/apparmor/current")
            .or_else(|| self.read("/proc/self/attr/current"))
    }

    /// Why unprivileged user namespaces cannot be made here, with the fix; `None` when
    /// no known cause is found.
    pub fn userns_blocked(&self) -> Option<String> {
        if self.read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
            return Some(
                "user namespaces are disabled (sysctl user.max_user_namespaces = 0); enable them: \
                 sudo sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d/ to \
                 keep it)"
                    .into(),
            );
        }
        if self
            .read("/sys/module/user_namespace/parameters/enable")
            .as_deref()
            == Some("N")
        {
            return Some(
                "user namespaces are disabled on the kernel command line \
                 (user_namespace.enable=0); remove it and reboot"
                    .into(),
            );
        }
        if self.uid == 0 {
            // The restrictions below are for unprivileged users only.
            return None;
        }
        if self
            .read("/proc/sys/kernel/unprivileged_userns_clone")
            .as_deref()
            == Some("0")
        {
            return Some(
                "unprivileged user namespaces are disabled (sysctl \
                 kernel.unprivileged_userns_clone = 0); enable them: sudo sysctl -w \
                 kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)"
                    .into(),
            );
        }
        if self
            .read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
            .as_deref()
            == Some("1")
        {
            let label = self.apparmor_label().unwrap_or_default();
            if label.starts_with("hutch") {
                // Our profile applies: AppArmor is not the cause.
                return None;
            }
            let mut s = format!(
                "unprivileged user namespaces are restricted by AppArmor (sysctl \
                 kernel.apparmor_restrict_unprivileged_userns = 1) and no AppArmor profile \
                 allows them to hutch. Install hutch's profile ({APPARMOR_PROFILE_SOURCE} in \
                 hutch's source): sudo install -m 644 {APPARMOR_PROFILE_SOURCE} \
                 {APPARMOR_PROFILE_INSTALLED} && sudo apparmor_parser -r \
                 {APPARMOR_PROFILE_INSTALLED}"
            );
            if let Some(exe) = &self.exe {
                if !apparmor_covers(exe) {
                    s.push_str(&format!(
                        " (it covers /usr/bin/hutch, /usr/local/bin/hutch and \
                         ~/.cargo/bin/hutch; this hutch is {}: install it there, or add its \
                         path to the profile)",
                        exe.display()
                    ));
                }
            }
            s.push_str(
                "; or lift the restriction for every program: sudo sysctl -w \
                 kernel.apparmor_restrict_unprivileged_userns=0",
            );
            return Some(s);
        }
        None
    }

    /// Whether hutch itself runs in a user namespace other than the initial one
    /// (inside another sandbox, or a container with user namespaces): the initial one
    /// has a fixed inode (PROC_USER_INIT_INO, since Linux 3.8). Where the link cannot
    /// be read, a uid map other than the identity of every id tells; a sandbox that
    /// root made with the full identity map cannot be told so, hence the link first.
    pub fn in_user_ns(&self) -> bool {
        const INITIAL: &str = "user:[4026531837]";
        if let Ok(ns) = std::fs::read_link(self.path("/proc/self/ns/user")) {
            return ns.as_os_str() != INITIAL;
        }
        match self.read("/proc/self/uid_map") {
            Some(map) => map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
            None => false,
        }
    }

    /// Whether a seccomp filter is installed on hutch itself.
    fn seccomp_filtered(&self) -> bool {
        self.read("/proc/self/status").is_some_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().eq(["Seccomp:", "2"]))
        })
    }

    /// Whether no_new_privs is set on hutch itself (bwrap and hutch set it for their
    /// command; a container engine only when asked).
    fn no_new_privs(&self) -> bool {
        self.read("/proc/self/status").is_some_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().eq(["NoNewPrivs:", "1"]))
        })
    }

    /// hutch runs inside another sandbox that forbids `what`: in a user namespace, or
    /// (a sandbox that real root made without one) under no_new_privs and a seccomp
    /// filter, as bwrap and hutch leave their command.
    fn enclosing_sandbox_hint(&self, what: &str) -> Option<String> {
        let sign = if self.in_user_ns() {
            "in a user namespace"
        } else if self.no_new_privs() && self.seccomp_filtered() {
            "under no_new_privs and a seccomp filter"
        } else {
            return None;
        };
        // A Landlock domain refuses every mount, with no trace in /proc to tell; a
        // seccomp filter shows in /proc/self/status.
        let why = match (what == "mounting", self.seccomp_filtered()) {
            (true, true) => ", whose seccomp filter or Landlock rules forbid it",
            (true, false) => ", whose Landlock rules or capabilities forbid it",
            (false, true) => ", whose seccomp filter forbids it",
            (false, false) => ", which forbids it",
        };
        Some(format!(
            "{what} is not permitted here: hutch runs inside another sandbox ({sign}){why}"
        ))
    }

    /// The container engine hutch seems to run under, if any.
    pub fn container(&self) -> Option<String> {
        if self.exists("/.dockerenv") {
            return Some("docker".into());
        }
        if self.exists("/run/.containerenv") {
            return Some("podman".into());
        }
        if let Some(c) = self.container_env.as_deref().filter(|c| !c.is_empty()) {
            return Some(c.to_string());
        }
        let cgroup = self.read("/proc/1/cgroup").unwrap_or_default();
        ["docker", "kubepods", "containerd", "libpod", "lxc"]
            .into_iter()
            .find(|k| cgroup.contains(k))
            .map(String::from)
    }

    fn container_hint(&self, what: &str) -> Option<String> {
        self.container().map(|c| {
            format!(
                "{what} is not permitted here: hutch seems to run inside a container ({c}), \
                 whose seccomp profile, AppArmor profile or dropped capabilities forbid it; run \
                 the container with --security-opt seccomp=unconfined --security-opt \
                 apparmor=unconfined, or run hutch outside it"
            )
        })
    }
}

/// `clone` failed: explain it in terms a user can act on.
pub fn clone_failed(err: std::io::Error, userns: bool, host: &Host) -> Error {
    let code = err.raw_os_error();
    let base = Error::io("Creating new namespace failed", err);
    let namespace_errno = matches!(
        code,
        Some(libc::EPERM)
            | Some(libc::EACCES)
            | Some(libc::ENOSPC)
            | Some(libc::EINVAL)
            | Some(libc::EUSERS)
    );
    if !namespace_errno {
        return base;
    }
    let offer = OFFER_LANDLOCK_ONLY;
    if userns {
        if let Some(why) = host.userns_blocked() {
            return base.with_hint(&format!(": {why}{offer}"));
        }
        if code == Some(libc::ENOSPC) && host.in_user_ns() {
            return base.with_hint(&format!(
                ": no more user namespaces can be made here: hutch runs inside another \
                 sandbox that allows none (as --disable-userns does), or the nesting depth \
                 (32) is reached{offer}"
            ));
        }
        if code == Some(libc::ENOSPC) {
            let max = host
                .read("/proc/sys/user/max_user_namespaces")
                .unwrap_or_else(|| "?".into());
            return base.with_hint(&format!(
                ": too many user namespaces: the limit (sysctl user.max_user_namespaces = \
                 {max}) or the nesting depth (32) is reached{offer}"
            ));
        }
    }
    let what = "creating namespaces";
    match host
        .enclosing_sandbox_hint(what)
        .or_else(|| host.container_hint(what))
    {
        Some(hint) => base.with_hint(&format!(": {hint}{offer}")),
        None => base,
    }
}

/// Setting up inside the new namespaces failed (writing the id maps, the first
/// mount): the user namespace may exist without the rights it should give (AppArmor's
/// restriction does that), or a container may forbid mounts.
pub fn setup_failed(err: Error, host: &Host, first_mount: bool) -> Error {
    if !matches!(err.errno(), Some(libc::EPERM) | Some(libc::EACCES)) {
        return err;
    }
    let offer = OFFER_LANDLOCK_ONLY;
    if let Some(why) = host.userns_blocked() {
        return err.with_hint(&format!(": {why}{offer}"));
    }
    if first_mount {
        let hint = host
            .enclosing_sandbox_hint("mounting")
            .or_else(|| host.container_hint("mounting"))
            .unwrap_or_else(|| "mounting is not permitted here (inside a container?)".into());
        return err.with_hint(&format!(": {hint}{offer}"));
    }
    err
}

/// A new procfs was refused: in a container whose /proc has paths covered by other
/// mounts, the kernel refuses a new one (it would reveal them).
pub fn proc_failed(err: Error) -> Error {
    if err.errno() != Some(libc::EPERM) {
        return err;
    }
    err.with_hint(
        ": the kernel refuses a new /proc where the host's has parts covered by other mounts, \
         as in a container (docker: --security-opt systempaths=unconfined)",
    )
}

/// A source path could not be resolved for lack of permission.
pub fn source_failed(err: Error, uid: u32) -> Error {
    if err.errno() == Some(libc::EACCES) {
        return err.with_hint(&format!(" (not accessible to uid {uid})"));
    }
    err
}

// The hooks in the child (sandbox.rs). They add the cause under the hutch name only:
// under the bwrap name, messages stay bwrap's own words (a clone failure is explained
// under both names, as bwrap explains it too).

fn hutch(spec: &Spec) -> bool {
    spec.personality == Personality::Hutch
}

/// Writing the id maps (`first_mount`: false) or preparing the root (true) failed.
pub fn in_setup(spec: &Spec, err: Error, first_mount: bool) -> Error {
    if !hutch(spec) {
        return err;
    }
    setup_failed(err, &Host::real(), first_mount)
}

/// Resolving the bind sources failed.
pub fn in_sources(spec: &Spec, err: Error, uid: u32) -> Error {
    if !hutch(spec) {
        return err;
    }
    source_failed(err, uid)
}

/// One mount op failed.
pub fn in_op(spec: &Spec, op: &Op, err: Error) -> Error {
    match op {
        Op::Proc { .. } if hutch(spec) => proc_failed(err),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(files: &[(&str, &str)], uid: u32) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        for (p, content) in files {
            let path = dir.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let host = Host::at(dir.path(), uid);
        (dir, host)
    }

    fn eperm() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::EPERM)
    }

    #[test]
    fn nothing_wrong_says_nothing_more() {
        let (_d, h) = fake(&[("/proc/sys/user/max_user_namespaces", "63000\n")], 1000);
        assert_eq!(h.userns_blocked(), None);
        assert_eq!(
            clone_failed(eperm(), true, &h).to_string(),
            "Creating new namespace failed: Operation not permitted"
        );
    }

    #[test]
    fn max_user_namespaces_zero() {
        let (_d, h) = fake(&[("/proc/sys/user/max_user_namespaces", "0\n")], 1000);
        let m = clone_failed(std::io::Error::from_raw_os_error(libc::ENOSPC), true, &h).to_string();
        assert!(
            m.starts_with("Creating new namespace failed: No space left on device: user namespaces are disabled (sysctl user.max_user_namespaces = 0)"),
            "{m}"
        );
        assert!(
            m.contains("sysctl -w user.max_user_namespaces=15000"),
            "{m}"
        );
    }

    #[test]
    fn unprivileged_userns_clone_zero() {
        let files = [("/proc/sys/kernel/unprivileged_userns_clone", "0\n")];
        let (_d, h) = fake(&files, 1000);
        let m = clone_failed(eperm(), true, &h).to_string();
        assert!(m.contains("kernel.unprivileged_userns_clone = 0"), "{m}");
        assert!(
            m.contains("sysctl -w kernel.unprivileged_userns_clone=1"),
            "{m}"
        );
        // Not a restriction for root.
        let (_d, h) = fake(&files, 0);
        assert_eq!(h.userns_blocked(), None);
    }

    #[test]
    fn apparmor_restriction() {
        let files = [
            (
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                "1\n",
            ),
            ("/proc/self/attr/apparmor/current", "unconfined\n"),
        ];
        let (_d, mut h) = fake(&files, 1000);
        let m = clone_failed(eperm(), true, &h).to_string();
        assert!(
            m.contains("kernel.apparmor_restrict_unprivileged_userns = 1"),
            "{m}"
        );
        assert!(
            m.contains("sudo install -m 644 apparmor/hutch /etc/apparmor.d/hutch && sudo apparmor_parser -r /etc/apparmor.d/hutch"),
            "{m}"
        );
        assert!(
            m.contains("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
            "{m}"
        );
        assert!(!m.contains("this hutch is"), "{m}");
        // The restriction shows at the first mount or the id maps too.
        let e = Error::io("setting up uid map", eperm());
        assert!(setup_failed(e, &h, false)
            .to_string()
            .starts_with("setting up uid map: Operation not permitted: unprivileged user namespaces are restricted by AppArmor"));
        // A hutch the profile does not cover is named.
        h.exe = Some(PathBuf::from("/work/target/debug/hutch"));
        let m = clone_failed(eperm(), true, &h).to_string();
        assert!(m.contains("this hutch is /work/target/debug/hutch"), "{m}");
        h.exe = Some(PathBuf::from("/home/u/.cargo/bin/hutch"));
        assert!(!clone_failed(eperm(), true, &h)
            .to_string()
            .contains("this hutch is"));
    }

    #[test]
    fn apparmor_profile_in_force_is_not_the_cause() {
        let files = [
            (
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                "1\n",
            ),
            ("/proc/self/attr/apparmor/current", "hutch (unconfined)\n"),
        ];
        let (_d, h) = fake(&files, 1000);
        assert_eq!(h.userns_blocked(), None);
    }

    #[test]
    fn containers() {
        let (_d, h) = fake(&[("/.dockerenv", "")], 1000);
        let m = clone_failed(eperm(), true, &h).to_string();
        assert!(m.contains("inside a container (docker)"), "{m}");
        let e = Error::io("Failed to make / slave", eperm());
        let m = setup_failed(e, &h, true).to_string();
        assert!(
            m.starts_with("Failed to make / slave: Operation not permitted: mounting is not permitted here: hutch seems to run inside a container (docker)"),
            "{m}"
        );
        let (_d, h) = fake(
            &[("/proc/1/cgroup", "0::/kubepods/besteffort/pod1\n")],
            1000,
        );
        assert_eq!(h.container().as_deref(), Some("kubepods"));
        // No container found: still the plain hint at the first mount.
        let (_d, h) = fake(&[], 1000);
        let e = Error::io("Failed to make / slave", eperm());
        assert_eq!(
            setup_failed(e, &h, true).to_string(),
            format!("Failed to make / slave: Operation not permitted: mounting is not permitted here (inside a container?){OFFER_LANDLOCK_ONLY}")
        );
        // Other errors and later mounts are left alone.
        let e = Error::io("Can't mount tmpfs on /x", eperm());
        assert_eq!(
            setup_failed(e, &h, false).to_string(),
            "Can't mount tmpfs on /x: Operation not permitted"
        );
    }

    #[test]
    fn inside_another_sandbox() {
        let nested = [
            ("/proc/self/uid_map", "         0       1000          1\n"),
            ("/proc/sys/user/max_user_namespaces", "2147483647\n"),
            ("/.dockerenv", ""),
        ];
        let (_d, h) = fake(&nested, 1000);
        assert!(h.in_user_ns());
        // --disable-userns outside: ENOSPC, whatever this namespace's own limit says.
        let m = clone_failed(std::io::Error::from_raw_os_error(libc::ENOSPC), true, &h).to_string();
        assert!(
            m.starts_with("Creating new namespace failed: No space left on device: no more user namespaces can be made here: hutch runs inside another sandbox that allows none (as --disable-userns does)"),
            "{m}"
        );
        assert!(m.ends_with(OFFER_LANDLOCK_ONLY), "{m}");
        assert!(!m.contains('\n'), "{m}");
        // A seccomp filter outside: EPERM; the enclosing sandbox, not the container, is named.
        let mut files = nested.to_vec();
        files.push((
            "/proc/self/status",
            "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t3\n",
        ));
        let (_d, h) = fake(&files, 1000);
        let m = clone_failed(eperm(), true, &h).to_string();
        assert_eq!(
            m,
            format!("Creating new namespace failed: Operation not permitted: creating namespaces is not permitted here: hutch runs inside another sandbox (in a user namespace), whose seccomp filter forbids it{OFFER_LANDLOCK_ONLY}")
        );
        // A mount refused there: Landlock forbids mounts too (hutch's own sandbox with
        // --seccomp-policy none still refuses them unless --landlock off).
        let m = setup_failed(Error::io("Failed to make / slave", eperm()), &h, true).to_string();
        assert_eq!(
            m,
            format!("Failed to make / slave: Operation not permitted: mounting is not permitted here: hutch runs inside another sandbox (in a user namespace), whose seccomp filter or Landlock rules forbid it{OFFER_LANDLOCK_ONLY}")
        );
        let (_d, h) = fake(&nested, 1000);
        let m = setup_failed(Error::io("Failed to make / slave", eperm()), &h, true).to_string();
        assert!(
            m.contains("(in a user namespace), whose Landlock rules or capabilities forbid it"),
            "{m}"
        );
        // The initial user namespace is not nested.
        let (d, h) = fake(&[("/proc/self/uid_map", "0 0 4294967295\n")], 1000);
        assert!(!h.in_user_ns());
        // Its inode says so first: a sandbox root made with the full identity map is
        // nested all the same.
        let ns = d.path().join("proc/self/ns");
        std::fs::create_dir_all(&ns).unwrap();
        std::os::unix::fs::symlink("user:[4026532871]", ns.join("user")).unwrap();
        assert!(h.in_user_ns());
        std::fs::remove_file(ns.join("user")).unwrap();
        std::os::unix::fs::symlink("user:[4026531837]", ns.join("user")).unwrap();
        assert!(!h.in_user_ns());
        // Root's sandbox without a user namespace: no_new_privs and a filter tell.
        let (_d, h) = fake(
            &[
                ("/proc/self/uid_map", "0 0 4294967295\n"),
                (
                    "/proc/self/status",
                    "Name:\tx\nNoNewPrivs:\t1\nSeccomp:\t2\n",
                ),
                ("/.dockerenv", ""),
            ],
            0,
        );
        let m = setup_failed(Error::io("Failed to make / slave", eperm()), &h, true).to_string();
        assert_eq!(
            m,
            format!("Failed to make / slave: Operation not permitted: mounting is not permitted here: hutch runs inside another sandbox (under no_new_privs and a seccomp filter), whose seccomp filter or Landlock rules forbid it{OFFER_LANDLOCK_ONLY}")
        );
        // A container's filter alone (no no_new_privs) is the container's.
        let (_d, h) = fake(
            &[
                (
                    "/proc/self/status",
                    "Name:\tx\nNoNewPrivs:\t0\nSeccomp:\t2\n",
                ),
                ("/.dockerenv", ""),
            ],
            0,
        );
        let m = setup_failed(Error::io("Failed to make / slave", eperm()), &h, true).to_string();
        assert!(m.contains("inside a container (docker)"), "{m}");
        let offer = clone_failed(eperm(), true, &fake(&[("/.dockerenv", "")], 1000).1).to_string();
        assert!(offer.ends_with("add --landlock-only"), "{offer}");
    }

    #[test]
    fn sources_and_proc() {
        let e = Error::io(
            "Can't find source path /root/x",
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(
            source_failed(e, 1000).to_string(),
            "Can't find source path /root/x: Permission denied (not accessible to uid 1000)"
        );
        let e = Error::io(
            "Can't find source path /x",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(
            source_failed(e, 1000).to_string(),
            "Can't find source path /x: No such file or directory"
        );
        let e = Error::io("Can't mount proc on /newroot/proc", eperm());
        assert!(proc_failed(e)
            .to_string()
            .contains("systempaths=unconfined"));
    }
}

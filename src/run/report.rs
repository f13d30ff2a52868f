//! What hutch reports about a sandbox: bwrap's `--info-fd` and `--json-status-fd` JSON,
//! and `--report`'s, all read from the Plan.

use std::os::unix::fs::MetadataExt;

use crate::json;
use std::io::Write;

use crate::error::{Context, Result};
use crate::plan::Plan;
use crate::spec::{ReportTo, Spec};
use crate::{caps, seccomp_policy, sockets, sys};

/// The namespaces created for the child (as the plan made them), with their inode
/// numbers, in bwrap's order.
pub fn namespace_ids(pid: i32, plan: &Plan) -> Vec<(&'static str, u64)> {
    let ns = &plan.ns;
    let wanted = [
        ("cgroup", ns.cgroup),
        ("ipc", ns.ipc),
        ("mnt", ns.mnt),
        ("net", ns.net),
        ("pid", ns.pid),
        ("uts", ns.uts),
    ];
    wanted
        .iter()
        .filter(|(_, on)| *on)
        .filter_map(|(name, _)| {
            let ino = std::fs::metadata(format!("/proc/{pid}/ns/{name}"))
                .ok()?
                .ino();
            (ino != 0).then_some((*name, ino))
        })
        .collect()
}

/// `--info-fd`: one pretty-printed object.
pub fn info_json(pid: i32, ids: &[(&str, u64)]) -> String {
    let mut s = format!("{{\n    \"child-pid\": {pid}");
    for (name, ino) in ids {
        s.push_str(&format!(",\n    \"{name}-namespace\": {ino}"));
    }
    s.push_str("\n}\n");
    s
}

/// `--json-status-fd`: the first line of the stream.
pub fn status_json(pid: i32, ids: &[(&str, u64)]) -> String {
    let mut s = format!("{{ \"child-pid\": {pid}");
    for (name, ino) in ids {
        s.push_str(&format!(", \"{name}-namespace\": {ino}"));
    }
    s.push_str(" }\n");
    s
}

/// `--json-status-fd`: the last line of the stream, once the command has exited.
pub fn exit_json(code: i32) -> String {
    format!("{{ \"exit-code\": {code} }}\n")
}

/// What is in force for the command, as `--report` prints it.
#[derive(Debug, Clone)]
pub struct Enforcement<'a> {
    pub namespaces: Vec<&'static str>,
    /// `namespaces`, or `landlock-only` (no namespaces at all: `--landlock-only`).
    pub mode: &'static str,
    pub landlock: &'a crate::landlock::Status,
    pub seccomp_policy: String,
    pub seccomp_action: &'static str,
    /// Every program installed: the policy's and `--seccomp`/`--add-seccomp-fd`'s.
    pub seccomp_programs: usize,
    /// What refuses memfd execution: (status, how); see [`memfd_report`].
    pub memfd_exec: (&'static str, String),
    /// Metadata changes in Landlock-only mode: `supervised`, `enclosing` (by an
    /// enclosing Landlock-only hutch's supervisor, with its rules), `allowed`, `none`
    /// (no seccomp user notification), or `not needed` (a namespace sandbox).
    pub metadata: &'static str,
    pub capabilities: Vec<String>,
    pub no_new_privs: bool,
    pub host_sockets: HostSockets,
    pub bounds: Bounds,
}

/// `--host-sockets`: what holds the host's pathname sockets back (src/stage/sockets.rs).
#[derive(Debug, Clone, Default)]
pub struct HostSockets {
    /// `block` or `allow`.
    pub mode: &'static str,
    /// `mount-mask` (each socket in view covered by an empty file), or `none`.
    pub mechanism: &'static str,
    /// The host's pathname sockets listed in /proc/net/unix, masked, left granted.
    pub listed: usize,
    pub masked: usize,
    pub granted: usize,
    /// What the mechanism does not hold back.
    pub not_covered: Vec<String>,
}

impl HostSockets {
    pub fn new(
        block: bool,
        landlock_only: bool,
        outcome: Option<&crate::sockets::Outcome>,
    ) -> Self {
        let mut r = HostSockets {
            mode: if block { "block" } else { "allow" },
            mechanism: "none",
            ..HostSockets::default()
        };
        if !block {
            return r;
        }
        match outcome {
            Some(o) => {
                r.mechanism = "mount-mask";
                r.listed = o.listed;
                r.masked = o.masked;
                r.granted = o.granted;
                r.not_covered = crate::sockets::NOT_COVERED
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                if o.relative > 0 {
                    r.not_covered.push(format!(
                        "{} socket names in /proc/net/unix that are not absolute",
                        o.relative
                    ));
                }
            }
            None => r.not_covered.push(if landlock_only {
                "every host socket: Landlock-only mode has no mount plan to mask them in"
                    .to_string()
            } else {
                "every host socket".to_string()
            }),
        }
        r
    }
}

/// The resource bounds in force: the size of each tmpfs made without `--size`, and the
/// process bound (`RLIMIT_NPROC`) with where it comes from or why there is none.
#[derive(Debug, Clone)]
pub struct Bounds {
    pub tmpfs: Option<u64>,
    pub nproc: Option<u64>,
    /// `default`, `--rlimit`, or why the default does not apply.
    pub nproc_from: String,
}

/// `--report`: one JSON object on one line.
pub fn enforcement_json(e: &Enforcement<'_>) -> String {
    let ll = e.landlock;
    format!(
        concat!(
            "{{\"namespaces\": {}, \"mode\": {}, ",
            "\"landlock\": {{\"abi\": {}, \"status\": {}, \"fs\": {}, \"rules\": {}, ",
            "\"scope\": {}, \"dropped\": {}, \"skipped\": {}}}, ",
            "\"seccomp\": {{\"policy\": {}, \"action\": {}, \"programs\": {}}}, ",
            "\"memfd_exec\": {{\"status\": {}, \"how\": {}}}, \"metadata\": {}, ",
            "\"capabilities\": {}, \"no_new_privs\": {}, ",
            "\"host_sockets\": {{\"mode\": {}, \"mechanism\": {}, \"listed\": {}, ",
            "\"masked\": {}, \"granted\": {}, \"landlock_resolve_unix\": false, \"not_covered\": {}}}, ",
            "\"bounds\": {{\"tmpfs\": {}, \"nproc\": {}, \"nproc_from\": {}}}}}\n"
        ),
        json::list(&e.namespaces),
        json::string(e.mode),
        ll.abi,
        json::string(ll.state),
        json::string(ll.fs),
        ll.rules,
        ll.scope,
        json::list(&ll.dropped),
        json::list(&ll.skipped),
        json::string(&e.seccomp_policy),
        json::string(e.seccomp_action),
        e.seccomp_programs,
        json::string(e.memfd_exec.0),
        json::string(&e.memfd_exec.1),
        json::string(e.metadata),
        json::list(&e.capabilities),
        e.no_new_privs,
        json::string(e.host_sockets.mode),
        json::string(e.host_sockets.mechanism),
        e.host_sockets.listed,
        e.host_sockets.masked,
        e.host_sockets.granted,
        json::list(&e.host_sockets.not_covered),
        json::opt_number(e.bounds.tmpfs),
        json::opt_number(e.bounds.nproc),
        json::string(&e.bounds.nproc_from),
    )
}

/// `--report`/`--report-fd`: the protections in force for the command, as JSON.
pub fn write_report(
    spec: &Spec,
    plan: &Plan,
    landlock: &crate::landlock::Status,
    memfd_sysctl: Option<&std::result::Result<u8, String>>,
    host_sockets: Option<&sockets::Outcome>,
    metadata: &'static str,
    to: ReportTo,
) -> Result<()> {
    let mut capabilities: Vec<String> = caps::current_effective()
        .iter()
        .map(|c| c.to_string())
        .collect();
    capabilities.sort();
    let text = enforcement_json(&Enforcement {
        namespaces: plan.namespace_names(),
        mode: if plan.landlock_only {
            "landlock-only"
        } else {
            "namespaces"
        },
        landlock,
        seccomp_policy: seccomp_policy::describe(&spec.seccomp_policy),
        seccomp_action: match spec.seccomp_policy.action {
            crate::spec::PolicyAction::Errno => "errno",
            crate::spec::PolicyAction::Kill => "kill",
            crate::spec::PolicyAction::Log => "log",
        },
        seccomp_programs: plan.seccomp.len(),
        memfd_exec: memfd_report(spec, memfd_sysctl),
        metadata,
        capabilities,
        no_new_privs: nix::sys::prctl::get_no_new_privs().unwrap_or(false),
        host_sockets: HostSockets::new(spec.host_sockets.block, plan.landlock_only, host_sockets),
        bounds: bounds(spec, plan),
    });
    let text = crate::allow::report_policy(text, &spec.net);
    let fd = match to {
        ReportTo::Stderr => 2,
        ReportTo::Fd(fd) => fd,
    };
    // Not closed here: fd 2 stays the command's; `close_fd` closes any other.
    let mut f = std::mem::ManuallyDrop::new(std::fs::File::from(sys::own_fd(fd)));
    f.write_all(text.as_bytes())
        .ctx(|| "Write to the report fd".into())?;
    close_fd(spec);
    Ok(())
}

/// What holds against memfd execution: `(status, how)`, status `not needed`, `full`,
/// `partial` or `none`.
fn memfd_report(
    spec: &Spec,
    sysctl: Option<&std::result::Result<u8, String>>,
) -> (&'static str, String) {
    let Some(sysctl) = sysctl else {
        return (
            "not needed",
            "the Landlock rules let the command execute wherever it can write".into(),
        );
    };
    let seccomp = spec.seccomp_policy.source == crate::spec::PolicySource::Default
        && spec.seccomp_policy.action != crate::spec::PolicyAction::Log;
    let sealed = "memfds are created non-executable and sealed so";
    match (sysctl, seccomp) {
        (Ok(2), _) => (
            "full",
            format!(
                "vm.memfd_noexec = 2 in the sandbox's pid namespace: {sealed}, MFD_EXEC is refused"
            ),
        ),
        (Ok(level), true) => (
            "full",
            format!(
                "vm.memfd_noexec = {level} in the sandbox's pid namespace: {sealed}; the \
                 seccomp policy refuses MFD_EXEC"
            ),
        ),
        (Ok(level), false) => (
            "partial",
            format!(
                "vm.memfd_noexec = {level} in the sandbox's pid namespace: {sealed}, but \
                 memfd_create(MFD_EXEC) works (no default seccomp policy)"
            ),
        ),
        (Err(why), true) => (
            "partial",
            format!(
                "the seccomp policy refuses memfd_create(MFD_EXEC) and execveat(AT_EMPTY_PATH) \
                 (fexecve), not execve of /proc/self/fd/N; {why}"
            ),
        ),
        (Err(why), false) => ("none", format!("{why}; no default seccomp policy")),
    }
}

/// The resource bounds for `--report`: `--rlimit nproc` if given, else the default.
fn bounds(spec: &Spec, plan: &Plan) -> Bounds {
    let l = &spec.limits;
    let tmpfs = if plan.landlock_only {
        None
    } else {
        l.tmpfs_size
    };
    let given = l
        .rlimits
        .iter()
        .find(|r| r.name == crate::limits::RlimitName::Nproc);
    let (nproc, nproc_from) = match (given, plan.default_nproc) {
        (Some(r), _) => (r.soft, "--rlimit".to_string()),
        // Lowered to the default, never raised: the caller's own limit may be lower.
        (None, Ok(n)) => {
            let cur = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NPROC)
                .map_or(n, |(soft, _)| soft);
            (Some(n.min(cur)), "default".to_string())
        }
        (None, Err(why)) => (None, why.to_string()),
    };
    Bounds {
        tmpfs,
        nproc,
        nproc_from,
    }
}

/// Only the command's process keeps the `--report-fd` (until it writes the report).
pub fn close_fd(spec: &Spec) {
    if let Some(ReportTo::Fd(fd)) = spec.report {
        if fd > 2 {
            let _ = nix::unistd::close(fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforcement_report() {
        let ll = crate::landlock::Status {
            abi: 7,
            state: "full",
            rules: 3,
            dropped: vec![],
            skipped: vec!["/x\"y: No such file or directory".into()],
            fs: "derived",
            scope: true,
        };
        let e = Enforcement {
            namespaces: vec!["user", "mnt"],
            mode: "namespaces",
            landlock: &ll,
            seccomp_policy: "default".into(),
            seccomp_action: "errno",
            seccomp_programs: 3,
            memfd_exec: ("not needed", "x".into()),
            metadata: "not needed",
            capabilities: vec![],
            no_new_privs: true,
            host_sockets: HostSockets::new(false, false, None),
            bounds: Bounds {
                tmpfs: Some(1 << 30),
                nproc: Some(4096),
                nproc_from: "default".into(),
            },
        };
        assert_eq!(
            enforcement_json(&e),
            concat!(
                r#"{"namespaces": ["user", "mnt"], "mode": "namespaces", "landlock": {"abi": 7, "status": "full", "fs": "derived", "#,
                r#""rules": 3, "scope": true, "dropped": [], "skipped": ["/x\"y: No such file or directory"]}, "#,
                r#""seccomp": {"policy": "default", "action": "errno", "programs": 3}, "#,
                r#""memfd_exec": {"status": "not needed", "how": "x"}, "metadata": "not needed", "#,
                r#""capabilities": [], "no_new_privs": true, "#,
                r#""host_sockets": {"mode": "allow", "mechanism": "none", "listed": 0, "masked": 0, "#,
                r#""granted": 0, "landlock_resolve_unix": false, "not_covered": []}, "#,
                r#""bounds": {"tmpfs": 1073741824, "nproc": 4096, "nproc_from": "default"}}"#,
                "\n"
            )
        );
    }

    #[test]
    fn layouts_match_bwrap() {
        let ids = [("mnt", 4026532178u64), ("pid", 4026532181)];
        assert_eq!(
            info_json(42, &ids),
            "{\n    \"child-pid\": 42,\n    \"mnt-namespace\": 4026532178,\n    \"pid-namespace\": 4026532181\n}\n"
        );
        assert_eq!(
            status_json(42, &ids),
            "{ \"child-pid\": 42, \"mnt-namespace\": 4026532178, \"pid-namespace\": 4026532181 }\n"
        );
        assert_eq!(exit_json(3), "{ \"exit-code\": 3 }\n");
    }
}

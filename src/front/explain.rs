//! `--explain`: the plan, resolved, in words a person reads; printed to stdout by
//! `main` instead of running anything.
//!
//! Everything here comes from the Spec (plain data) and the Plan the sandbox would
//! run (src/plan.rs: the namespaces, ids, capabilities, Landlock rules and bounds are
//! its decisions, never made again here), plus read-only looks at where each bind
//! source resolves. Nothing is created, opened for writing or run (no seccomp fd is
//! read).

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::plan::{Host, Metadata, Plan};
use crate::spec::*;

/// `s` quoted for a POSIX shell when it needs it.
fn quote(s: &OsStr) -> String {
    let t = s.to_string_lossy();
    let plain = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b));
    if plain {
        t.into_owned()
    } else {
        format!("'{}'", t.replace('\'', r"'\''"))
    }
}

fn words(args: &[OsString]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Wrap a long list of flags for reading, breaking before each option.
fn wrap_flags(args: &[OsString], indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for a in args {
        let w = quote(a);
        if a.as_bytes().starts_with(b"--") && line.len() + w.len() + 1 > width && !line.is_empty() {
            let _ = writeln!(out, "{indent}{}", line.trim_end());
            line.clear();
        }
        line.push_str(&w);
        line.push(' ');
    }
    if !line.trim().is_empty() {
        let _ = writeln!(out, "{indent}{}", line.trim_end());
    }
    out
}

fn perms_size(perms: Option<u32>, size: Option<u64>) -> String {
    let mut v = Vec::new();
    if let Some(p) = perms {
        v.push(format!("mode {p:04o}"));
    }
    if let Some(s) = size {
        v.push(format!("size {s} bytes"));
    }
    if v.is_empty() {
        String::new()
    } else {
        format!(" ({})", v.join(", "))
    }
}

/// Where a bind source resolves on the host now.
fn source(src: &Path, allow_missing: bool, created: bool) -> String {
    match std::fs::canonicalize(src) {
        Ok(real) if real == src => format!("<- {}", src.display()),
        Ok(real) => format!("<- {} (resolves to {})", src.display(), real.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && created => {
            format!("<- {} (created on the host, mode 0700)", src.display())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && allow_missing => {
            format!("<- {} (missing: skipped)", src.display())
        }
        Err(e) => format!(
            "<- {} (ERROR: {}; the sandbox would not start)",
            src.display(),
            crate::error::strerror(&e)
        ),
    }
}

/// One mount op: its name as a flag, its destination, and what goes there.
fn op_line(op: &Op, spec: &Spec) -> (String, String, String) {
    let d = |p: &Path| p.display().to_string();
    match op {
        Op::Bind {
            src,
            dest,
            allow_missing,
            ..
        } => {
            let created = spec.host_dirs.iter().any(|h| h == src);
            let name = if created { "bind-create" } else { op.flag() };
            (name.into(), d(dest), source(src, *allow_missing, created))
        }
        Op::BindFd { fd, dest, .. } => (op.flag().into(), d(dest), format!("<- fd {fd}")),
        Op::RemountRo { dest } => ("remount-ro".into(), d(dest), String::new()),
        Op::Proc { dest } => (
            "proc".into(),
            d(dest),
            "a new procfs (the sandbox's processes)".into(),
        ),
        Op::Dev { dest } => (
            "dev".into(),
            d(dest),
            "null zero full random urandom tty, pts, shm".into(),
        ),
        Op::Tmpfs { dest, perms, size } => (
            "tmpfs".into(),
            d(dest),
            format!(
                "empty, private{}",
                perms_size(*perms, size.or(spec.limits.tmpfs_size))
            ),
        ),
        Op::Mqueue { dest } => ("mqueue".into(), d(dest), String::new()),
        Op::Dir { dest, perms } => ("dir".into(), d(dest), perms_size(*perms, None)),
        Op::File { fd, dest, perms } => (
            "file".into(),
            d(dest),
            format!("copied from fd {fd}{}", perms_size(*perms, None)),
        ),
        Op::BindData {
            fd, dest, perms, ..
        } => (
            op.flag().into(),
            d(dest),
            format!("copied from fd {fd}{}", perms_size(*perms, None)),
        ),
        Op::Symlink { target, dest } => ("symlink".into(), d(dest), format!("-> {}", d(target))),
        Op::Chmod { perms, path } => ("chmod".into(), d(path), format!("mode {perms:04o}")),
        Op::Overlay {
            sources,
            kind,
            dest,
        } => {
            let layers: Vec<String> = sources.iter().map(|s| d(s)).collect();
            let (name, what) = match kind {
                OverlayKind::ReadWrite { upper, work } => (
                    "overlay",
                    format!("writes to {} (work dir {})", d(upper), d(work)),
                ),
                OverlayKind::Tmp => ("tmp-overlay", "writes to an invisible tmpfs".into()),
                OverlayKind::ReadOnly => ("ro-overlay", "read-only".into()),
            };
            (
                name.into(),
                d(dest),
                format!("layers {}; {what}", layers.join(", ")),
            )
        }
    }
}

fn access(a: crate::landlock::Access) -> String {
    use landlock::AccessFs as F;
    if a == crate::landlock::full() {
        return "everything".into();
    }
    if a == crate::landlock::read_exec() {
        return "read, execute".into();
    }
    if a == crate::landlock::read() {
        return "read".into();
    }
    let mut v = Vec::new();
    for (r, n) in [
        (F::ReadFile, "read files"),
        (F::ReadDir, "list"),
        (F::Execute, "execute"),
        (F::WriteFile, "write files"),
        (F::Truncate, "truncate"),
        (F::IoctlDev, "ioctl on devices"),
        (F::MakeReg, "create files"),
        (F::MakeDir, "create dirs"),
        (F::RemoveFile, "remove files"),
    ] {
        if a.contains(r) {
            v.push(n);
        }
    }
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

/// The plan, as text.
pub fn explain(spec: &Spec) -> String {
    let host = Host::probe_facts(spec);
    let plan = Plan::explain(spec, &host);
    let mut o = String::new();
    let hutch = spec.personality == Personality::Hutch;
    let _ = writeln!(
        o,
        "{} plan ({}); nothing was run",
        spec.personality.name(),
        if hutch {
            "hutch's defaults: hardened"
        } else {
            "bubblewrap's defaults"
        }
    );

    // Command.
    let _ = writeln!(o, "\ncommand");
    if spec.command.is_empty() {
        let _ = writeln!(o, "  (none given)");
    } else {
        let _ = writeln!(o, "  {}", words(&spec.command));
        if let Some(a0) = &spec.argv0 {
            let _ = writeln!(o, "  argv[0] {}", quote(a0));
        }
    }

    // Profiles.
    if !spec.profiles.is_empty() {
        let _ = writeln!(
            o,
            "\nprofiles (each one's options were inserted where it was given)"
        );
        for p in &spec.profiles {
            if p.files.len() == 1 && p.files[0] == p.given {
                let _ = writeln!(o, "  --profile {}", p.given);
            } else {
                let includes = if p.files.len() > 1 {
                    format!(", including {}", p.files[1..].join(", "))
                } else {
                    String::new()
                };
                let _ = writeln!(o, "  --profile {}: {}{includes}", p.given, p.files[0]);
            }
            if let Some(d) = &p.description {
                let _ = writeln!(o, "    {d}");
            }
            o.push_str(&wrap_flags(&p.args, "      ", 80));
        }
    }

    // Landlock-only mode: whether it applies, and whether the plan fits it.
    let ll_only = plan.landlock_only;
    if spec.landlock_only != LandlockOnly::Off {
        let _ = writeln!(o, "\nmode");
        if let Some(probed) = &host.namespaces {
            let _ = match probed {
                Ok(()) => writeln!(
                    o,
                    "  namespaces: they can be made here (--landlock-only-fallback would use \
                     Landlock-only mode where they cannot)"
                ),
                Err(e) => writeln!(
                    o,
                    "  Landlock-only, as namespaces cannot be made here ({e}; \
                     --landlock-only-fallback)"
                ),
            };
        }
        if ll_only {
            let _ = writeln!(
                o,
                "  Landlock-only: no namespaces; the command runs in the host's file system as \
                 the caller, confined by Landlock, the seccomp policy and no_new_privs"
            );
            let metadata = match plan.metadata {
                Metadata::Allowed | Metadata::NotNeeded => {
                    "allowed wherever the file's owner may (--landlock-only-metadata allow)"
                }
                Metadata::Supervised { .. } => {
                    "supervised: chmod, chown, utimes and xattr changes only beneath a rule \
                     that grants writing"
                }
                Metadata::Unsupported => {
                    "not restricted: this kernel has no seccomp user notification (Linux 5.0)"
                }
            };
            let _ = writeln!(o, "  metadata changes: {metadata}");
            if let Some(e) = &plan.problems.landlock_only {
                let _ = writeln!(o, "  ERROR: {e}; the sandbox would not start");
            }
        }
    }

    // Namespaces and ids.
    let (uid, gid) = (host.uid, host.gid);
    let userns = plan.ns.user;
    let (suid, sgid) = (plan.layout.sandbox.uid, plan.layout.sandbox.gid);
    let _ = writeln!(o, "\nnamespaces");
    let user = if let Some(fd) = spec.userns_fd {
        format!("joined from fd {fd}")
    } else if userns {
        let nested = plan.layout.nested;
        let mut s = format!(
            "new: uid {suid} -> host uid {uid}, gid {sgid} -> host gid {gid}, every other id unmapped"
        );
        if nested {
            s.push_str(" (set up as uid 0, then a nested user namespace maps the final ids)");
        }
        if spec.disable_userns {
            s.push_str("; no further user namespaces inside");
        }
        s
    } else {
        format!("the host's (uid {uid}, gid {gid})")
    };
    let _ = writeln!(o, "  user     {user}");
    let _ = writeln!(
        o,
        "  mount    {}",
        if ll_only {
            "the host's: nothing is mounted, the ops below become Landlock rules"
        } else {
            "new: a private tmpfs root, built by the ops below"
        }
    );
    let pid = if plan.ns.pid {
        if spec.as_pid_1 {
            "new: the command is pid 1 (--as-pid-1)".to_string()
        } else if spec.ns.pid_default {
            "new (hutch's default; --share-pid keeps the host's): hutch's pid 1 reaps, the \
             command is pid 2"
                .to_string()
        } else {
            "new: hutch's pid 1 reaps, the command is pid 2".to_string()
        }
    } else {
        "the host's".to_string()
    };
    let _ = writeln!(o, "  pid      {pid}");
    let _ = writeln!(
        o,
        "  ipc      {}",
        if plan.ns.ipc { "new" } else { "the host's" }
    );
    let net = if !plan.ns.net {
        "the host's network".to_string()
    } else if spec.net.user {
        let mut s = format!(
            "new, connected by pasta or slirp4netns: address {}, gateway {}, DNS {}",
            crate::net::SANDBOX_ADDR,
            crate::net::GATEWAY,
            crate::net::DNS
        );
        if spec.net.allow_host_loopback {
            s.push_str("; the host's loopback reachable at the gateway");
        }
        for p in &spec.net.publish {
            let _ = write!(
                s,
                "; host {}{} -> sandbox {}",
                p.host_addr.map(|a| format!("{a}:")).unwrap_or_default(),
                p.host_port,
                p.sandbox_port
            );
        }
        s
    } else if spec.net.filtered() {
        crate::allow::explain(&spec.net)
    } else {
        "new: loopback only, no network".to_string()
    };
    let _ = writeln!(o, "  net      {net}");
    let uts = match (&plan.ns.uts, &spec.hostname) {
        (true, Some(h)) => format!("new, hostname {}", quote(h)),
        (true, None) => "new".into(),
        (false, _) => "the host's".into(),
    };
    let _ = writeln!(o, "  uts      {uts}");
    let cgroup = match (plan.ns.cgroup, spec.ns.cgroup) {
        (true, Unshare::Try) => "new (--unshare-cgroup-try: this kernel has cgroup namespaces)",
        (true, _) => "new",
        (false, Unshare::Try) if !ll_only => {
            "the host's (--unshare-cgroup-try: this kernel has no cgroup namespaces)"
        }
        (false, _) => "the host's",
    };
    let _ = writeln!(o, "  cgroup   {cgroup}");
    if let Some(fd) = spec.pidns_fd {
        let _ = writeln!(o, "  (pid namespace entered from fd {fd})");
    }

    // Mounts.
    let _ = writeln!(
        o,
        "\nfilesystem, in order (sources as they resolve on the host now)"
    );
    if spec.ops.is_empty() {
        let _ = writeln!(o, "  (nothing: an empty root)");
    }
    let lines: Vec<_> = spec.ops.iter().map(|op| op_line(op, spec)).collect();
    let wn = lines.iter().map(|l| l.0.len()).max().unwrap_or(0);
    let wd = lines.iter().map(|l| l.1.len()).max().unwrap_or(0).min(40);
    for (i, (name, dest, what)) in lines.iter().enumerate() {
        let line = format!("  {:>3}  {name:<wn$}  {dest:<wd$}  {what}", i + 1);
        let _ = writeln!(o, "{}", line.trim_end());
    }
    if spec.net.user || spec.net.filtered() {
        let dns = match spec.net.filtered() {
            true => crate::allow::DNS_ADDR.to_string(),
            false => crate::net::DNS.to_string(),
        };
        let _ = writeln!(
            o,
            "       and /etc/resolv.conf, read-only: nameserver {dns} (unless a mount above puts one there)"
        );
    }

    // Process.
    let _ = writeln!(o, "\nprocess");
    if spec.env.is_empty() {
        let _ = writeln!(o, "  environment  hutch's own, unchanged");
    } else {
        let _ = writeln!(o, "  environment  hutch's own, then in order:");
        for e in &spec.env {
            match e {
                EnvOp::Set(k, v) => {
                    let _ = writeln!(
                        o,
                        "                 set {}={}",
                        k.to_string_lossy(),
                        quote(v)
                    );
                }
                EnvOp::Unset(k) => {
                    let _ = writeln!(o, "                 unset {}", k.to_string_lossy());
                }
                EnvOp::Clear => {
                    let _ = writeln!(o, "                 clear everything");
                }
            }
        }
    }
    let cwd = match &spec.chdir {
        Some(d) => d.display().to_string(),
        None => format!(
            "the current directory ({}) if it exists inside, else $HOME, else /",
            plan.old_cwd
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "unknown".into())
        ),
    };
    let _ = writeln!(o, "  cwd          {cwd}");
    let mut flags = Vec::new();
    if spec.die_with_parent {
        flags.push("killed when hutch's parent dies".to_string());
    }
    if spec.forward_signals {
        flags.push("hutch's TERM, INT, HUP, QUIT, USR1 and USR2 passed on".to_string());
    }
    if spec.new_session {
        flags.push("a new session (no controlling terminal)".to_string());
    }
    for l in &spec.lock_files {
        flags.push(format!("lock on {}", l.display()));
    }
    for (what, fd) in [
        ("--sync-fd", spec.sync_fd),
        ("--block-fd", spec.block_fd),
        ("--userns-block-fd", spec.userns_block_fd),
        ("--info-fd", spec.info_fd),
        ("--json-status-fd", spec.json_status_fd),
    ] {
        if let Some(fd) = fd {
            flags.push(format!("{what} {fd}"));
        }
    }
    if !flags.is_empty() {
        let _ = writeln!(o, "  also         {}", flags.join("; "));
    }

    // Security.
    let _ = writeln!(o, "\nsecurity");
    let caps = if !plan.caps.change {
        "all of root's, untouched (root without a new user namespace)".to_string()
    } else {
        match &plan.problems.caps {
            Some(e) => format!("error: {e}"),
            None => {
                let mut keep: Vec<String> = plan.caps.keep.iter().map(|c| c.to_string()).collect();
                keep.sort();
                if keep.is_empty() {
                    "none".to_string()
                } else if keep.len() == host.caps_supported.len() {
                    format!("all {} that this kernel knows", keep.len())
                } else {
                    keep.join(", ")
                }
            }
        }
    };
    let _ = writeln!(o, "  capabilities  {caps}");
    let _ = writeln!(o, "  no_new_privs  yes");
    let ll = &spec.landlock;
    let abi = plan.landlock.abi;
    match &ll.fs {
        LandlockFs::Off => {
            let _ = writeln!(o, "  landlock      filesystem: off");
        }
        LandlockFs::Derived => {
            let _ = writeln!(
                o,
                "  landlock      filesystem: rules derived from the mounts"
            );
            for (p, a, _) in &plan.landlock.rules {
                let _ = writeln!(o, "                  {:<24} {}", p.display(), access(*a));
            }
        }
        LandlockFs::Explicit(rules) => {
            let _ = writeln!(o, "  landlock      filesystem: only these paths");
            for (p, a) in rules {
                let a = match a {
                    PathAccess::Read => "read",
                    PathAccess::Write => "read, write",
                    PathAccess::Exec => "read, execute",
                };
                let _ = writeln!(o, "                  {:<24} {a}", p.display());
            }
        }
    }
    let ports = |v: &[u16]| {
        v.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !ll.connect.is_empty() {
        let _ = writeln!(
            o,
            "                TCP connect only to {}",
            ports(&ll.connect)
        );
    }
    if !ll.bind.is_empty() {
        let _ = writeln!(o, "                TCP bind only to {}", ports(&ll.bind));
    }
    if ll.enabled() {
        let _ = writeln!(
            o,
            "                scoping (no signals, no abstract unix sockets out): {}",
            if ll.scope { "on" } else { "off" }
        );
        let missing = &plan.landlock.unsupported;
        let _ = writeln!(
            o,
            "                this kernel: Landlock ABI {abi}; {}{}",
            if missing.is_empty() {
                "everything enforced".to_string()
            } else {
                format!("not enforced: {}", missing.join(", "))
            },
            if ll.strict {
                " (--landlock-strict: would fail instead)"
            } else {
                ""
            }
        );
    }
    let policy = match &spec.seccomp_policy.source {
        PolicySource::None => "no built-in policy".to_string(),
        PolicySource::Default => "hutch's built-in deny list".to_string(),
        PolicySource::File(p) => format!("the policy in {}", p.display()),
    };
    let action = match spec.seccomp_policy.action {
        PolicyAction::Errno => "denied calls fail (EPERM)",
        PolicyAction::Kill => "denied calls kill the process",
        PolicyAction::Log => "denied calls are only logged",
    };
    let mut seccomp = policy;
    if spec.seccomp_policy.source != PolicySource::None {
        let _ = write!(seccomp, ", {action}");
    }
    if let Some(fd) = spec.seccomp.replace {
        let _ = write!(seccomp, "; the BPF program from fd {fd}");
    }
    for fd in &spec.seccomp.add {
        let _ = write!(seccomp, "; the BPF program from fd {fd}");
    }
    let _ = writeln!(o, "  seccomp       {seccomp}");
    let hs = &spec.host_sockets;
    if !hs.block {
        let _ = writeln!(o, "  host sockets  reachable where the mounts show them");
    } else if spec.landlock_only == LandlockOnly::On {
        let _ = writeln!(
            o,
            "  host sockets  reachable: Landlock-only mode has no mount plan to mask them in"
        );
    } else {
        let _ = writeln!(
            o,
            "  host sockets  masked where the mounts show them (read from /proc/net/unix at start)"
        );
        for a in &hs.allow {
            let _ = writeln!(o, "                granted: {}", a.display());
        }
        let _ = writeln!(
            o,
            "                not covered: {}",
            crate::sockets::NOT_COVERED.join("; ")
        );
    }
    if !spec.config_dirs.is_empty() {
        let dirs: Vec<String> = spec
            .config_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let _ = writeln!(
            o,
            "  config        read-only wherever visible on a writable mount: {}",
            dirs.join(", ")
        );
    }
    if let Some(to) = spec.report {
        let _ = writeln!(
            o,
            "  report        {}",
            match to {
                ReportTo::Stderr => "to stderr".to_string(),
                ReportTo::Fd(fd) => format!("to fd {fd}"),
            }
        );
    }

    // Limits.
    let l = &spec.limits;
    let mut lim = Vec::new();
    let size = crate::units::format_size;
    if let Some(m) = l.memory {
        lim.push(format!("memory {}", size(m)));
    }
    if let Some(m) = l.memory_swap {
        lim.push(format!("swap {}", size(m)));
    }
    if let Some(q) = l.cpu_quota {
        lim.push(format!(
            "cpus {}",
            q as f64 / crate::limits::CPU_PERIOD_US as f64
        ));
    }
    if let Some(p) = l.pids {
        lim.push(format!("pids {p}"));
    }
    if let Some(w) = l.io_weight {
        lim.push(format!("io weight {w}"));
    }
    for r in &l.rlimits {
        lim.push(format!("rlimit {r}"));
    }
    if let Some(t) = l.tmpfs_size {
        let from = if l.tmpfs_size_given.is_some() {
            "--tmpfs-size"
        } else {
            "default"
        };
        lim.push(format!("each tmpfs {} ({from})", size(t)));
    }
    if l.nproc_default {
        lim.push(match plan.default_nproc {
            Ok(n) => format!("rlimit nproc={n} (default)"),
            Err(why) => format!("no process bound ({why})"),
        });
    }
    if let Some(t) = l.timeout {
        lim.push(format!("timeout {}", crate::units::format_duration(t)));
    }
    let _ = writeln!(o, "\nlimits");
    if lim.is_empty() {
        let _ = writeln!(o, "  none");
    } else {
        let _ = writeln!(o, "  {}", lim.join(", "));
        if !l.cgroup_flags().is_empty() {
            let _ = writeln!(
                o,
                "  cgroup: {}",
                match l.cgroup_mode() {
                    crate::limits::CgroupMode::Required => "required",
                    crate::limits::CgroupMode::BestEffort =>
                        "best effort (without a cgroup, a warning and no cgroup limits)",
                    crate::limits::CgroupMode::Off => "off",
                }
            );
        }
    }
    if l.stats.is_some() {
        let _ = writeln!(o, "  statistics printed at the end (--stats)");
    }

    // The host.
    if !spec.host_dirs.is_empty() {
        let _ = writeln!(o, "\non the host");
        for d in &spec.host_dirs {
            let state = if d.exists() {
                "exists"
            } else {
                "missing: would be created, mode 0700"
            };
            let _ = writeln!(o, "  {} ({state})", d.display());
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str]) -> Spec {
        let argv = args.iter().map(OsString::from).collect();
        match crate::cli::parse(Personality::Hutch, argv).unwrap().0 {
            crate::cli::Action::Run(s) => *s,
            _ => panic!(),
        }
    }

    #[test]
    fn host_sockets_are_explained() {
        let t = explain(&spec(&[
            "--ro-bind",
            "/",
            "/",
            "--allow-socket",
            "/run/x",
            "true",
        ]));
        assert!(
            t.contains("host sockets  masked where the mounts show them"),
            "{t}"
        );
        assert!(t.contains("granted: /run/x"), "{t}");
        assert!(
            t.contains("not covered: sockets bound after the sandbox started"),
            "{t}"
        );
        let t = explain(&spec(&["--host-sockets", "allow", "true"]));
        assert!(
            t.contains("host sockets  reachable where the mounts show them"),
            "{t}"
        );
    }

    #[test]
    fn mounts_are_listed_in_order() {
        let s = spec(&[
            "--unshare-all",
            "--ro-bind",
            "/",
            "/",
            "--tmpfs",
            "/tmp",
            "--bind-try",
            "/nonexistent-src",
            "/x",
            "--symlink",
            "usr/bin",
            "/bin2",
            "--setenv",
            "A",
            "b c",
            "--explain",
            "sh",
            "-c",
            "touch /x",
        ]);
        let t = explain(&s);
        let line = |pat: &[&str]| {
            t.lines()
                .position(|l| pat.iter().all(|p| l.contains(p)))
                .unwrap_or_else(|| panic!("no line with {pat:?} in\n{t}"))
        };
        let a = line(&["1", "ro-bind", "/", "<- /"]);
        let b = line(&["2", "tmpfs", "/tmp"]);
        let c = line(&["3", "bind-try", "/x", "/nonexistent-src (missing: skipped)"]);
        let d = line(&["4", "symlink", "/bin2", "-> usr/bin"]);
        assert!(a < b && b < c && c < d, "{t}");
        assert!(t.contains("sh -c 'touch /x'"), "{t}");
        assert!(t.contains("set A='b c'"), "{t}");
        assert!(t.contains("new: loopback only"), "{t}");
        assert!(t.contains("landlock      filesystem: rules derived"), "{t}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(OsStr::new("a/b")), "a/b");
        assert_eq!(quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(quote(OsStr::new("")), "''");
    }
}

//! Every field of config.json that hutch does not support is an error naming its JSON
//! path; none is silently ignored. [`check`] walks the parsed [`Spec`];
//! [`check_json`] also refuses the fields the parser (oci-spec) does not know and would
//! drop.
//!
//! Supported (mapped by config.rs, runtime.rs and the modules beside this one):
//! `ociVersion` 1.x; `root` (`path`, `readonly`); `mounts` of type bind (or with the
//! `bind`/`rbind` option), proc, tmpfs, devpts (at /dev/pts, hutch's own), mqueue, sysfs,
//! cgroup and cgroup2, with the options below; `process` (`terminal`, `consoleSize`,
//! `user.uid`/`gid`/`umask`/`additionalGids`, `args`, `env`, `cwd`, `capabilities`,
//! `rlimits`, `noNewPrivileges`, `oomScoreAdj`, `apparmorProfile` and `selinuxLabel`
//! when empty or "unconfined"); `hostname`; `hooks` (see hooks.rs); `annotations`;
//! `linux` (`uidMappings`, `gidMappings`, `sysctl` (namespaced ones only, each with its
//! namespace in `namespaces`, as runc allows them), `resources` (see resources.rs),
//! `cgroupsPath`, `namespaces` (new or joined by path, not time), `devices`, `seccomp`
//! (see seccomp.rs), `rootfsPropagation` private/rprivate/slave/rslave, `maskedPaths`,
//! `readonlyPaths`).
//!
//! Mount options (parsed by `config::mount_options`, each applied): `defaults`; `ro`
//! (recursive on binds, as `rro`), `rw` (the default); `bind` (the source's mount alone:
//! `open_tree` without AT_RECURSIVE) and `rbind`; `nosuid`/`rnosuid` (hutch mounts
//! everything nosuid); `nodev`/`rnodev` and, on binds, `dev` (devices allowed); `noexec`
//! on the mount and `rnoexec` on its whole tree, `exec` (the default; refused on proc,
//! sysfs and devpts, which hutch mounts noexec); propagation `private`, `rprivate`
//! (cut off from the host's mount events), `slave`, `rslave` (the default, as runc's:
//! a bind is a slave of the host's mount, and gets the mounts made below it later; see
//! docs/oci.md); access times `atime`, `noatime`, `relatime`, `norelatime`,
//! `strictatime`, `nostrictatime`, `diratime`, `nodiratime`, combined as mount(2)
//! combines them (all `mount_setattr` after the mount; in a user namespace the kernel
//! refuses to change those of a host's mount, and the error says so); tmpfs `mode=`
//! (1777 by default, the kernel's), `size=`, `tmpcopyup` (the directory's contents
//! copied into the tmpfs, as crun does; not on /dev); on /dev (hutch's own) `mode=` and
//! `size=`; devpts `newinstance`, `gid=`, `mode=`, `ptmxmode=` (hutch's devpts,
//! remounted with them; a `gid=` not mapped in the container's user namespace is an
//! error, as the kernel and crun make it). Anything else is refused with its index, e.g.
//! `suid`, `shared`, `unbindable`, `idmap`, `ridmap`, `rexec`, tmpfs `uid=`, proc
//! `hidepid=`, `rw` on cgroup (hutch binds the host's cgroups read-only).
//!
//! `linux.devices`: made with mknod (type, major, minor, `fileMode`, `uid`, `gid`) where
//! the runtime is real root without a user namespace, and bound on themselves so that
//! hutch's nodev /dev lets them open; in a user namespace the host's node is bound, as
//! crun does, and must be the device asked for (its own mode and owner stay); fifos are
//! always made. Type `a` is refused.

use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use crate::error::{Error, Result};

fn refuse(path: &str, why: impl std::fmt::Display) -> Error {
    Error::msg(format!("{path}: {why}"))
}

const NOT_SUPPORTED: &str = "not supported by hutch";

/// Refuse every field of `spec` hutch does not support, naming its JSON path.
pub fn check(spec: &Spec) -> Result<()> {
    let v = spec.version();
    if !(v == "1" || v.starts_with("1.")) {
        return Err(refuse(
            "ociVersion",
            format!("{v:?} (hutch implements the OCI runtime spec 1.x)"),
        ));
    }
    if spec.root().is_none() {
        return Err(refuse("root", "missing"));
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mount(i, m)?;
    }
    if let Some(p) = spec.process() {
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(refuse("process.args", "missing or empty"));
        }
        if !p.cwd().is_absolute() {
            return Err(refuse(
                "process.cwd",
                format!("{} is not an absolute path", p.cwd().display()),
            ));
        }
        let u = p.user();
        if u.username().as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(refuse("process.user.username", "Windows only"));
        }
        if p.command_line().as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(refuse("process.commandLine", "Windows only"));
        }
        let set = |s: &Option<String>| {
            s.as_ref()
                .is_some_and(|s| !s.is_empty() && s != "unconfined")
        };
        if set(p.apparmor_profile()) {
            return Err(refuse(
                "process.apparmorProfile",
                "AppArmor profiles are not supported by hutch",
            ));
        }
        if set(p.selinux_label()) {
            return Err(refuse(
                "process.selinuxLabel",
                "SELinux labels are not supported by hutch",
            ));
        }
        if p.io_priority().is_some() {
            return Err(refuse("process.ioPriority", NOT_SUPPORTED));
        }
        if p.scheduler().is_some() {
            return Err(refuse("process.scheduler", NOT_SUPPORTED));
        }
        if p.exec_cpu_affinity().is_some() {
            return Err(refuse("process.execCPUAffinity", NOT_SUPPORTED));
        }
        if let Some(b) = p.console_size() {
            for (what, n) in [("height", b.height()), ("width", b.width())] {
                if n > u64::from(u16::MAX) {
                    return Err(refuse(
                        &format!("process.consoleSize.{what}"),
                        format!("{n} is out of range"),
                    ));
                }
            }
        }
    } else {
        return Err(refuse("process", "missing"));
    }
    if spec.domainname().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(refuse("domainname", NOT_SUPPORTED));
    }
    if let Some(h) = spec.hooks() {
        super::hooks::check(h)?;
    }
    if spec.solaris().is_some() {
        return Err(refuse("solaris", "not a Linux container"));
    }
    if spec.windows().is_some() {
        return Err(refuse("windows", "not a Linux container"));
    }
    if spec.vm().is_some() {
        return Err(refuse("vm", "hutch runs no virtual machines"));
    }
    if spec.zos().is_some() {
        return Err(refuse("zos", "not a Linux container"));
    }
    if let Some(l) = spec.linux() {
        if let Some(r) = l.resources() {
            super::resources::limits(r)?;
        }
        for (i, ns) in l.namespaces().iter().flatten().enumerate() {
            if ns.typ() == LinuxNamespaceType::Time {
                return Err(refuse(
                    &format!("linux.namespaces[{i}]"),
                    "time namespaces are not supported by hutch",
                ));
            }
        }
        let has_ns = |t: LinuxNamespaceType| l.namespaces().iter().flatten().any(|n| n.typ() == t);
        let mut keys: Vec<&String> = l.sysctl().iter().flatten().map(|(k, _)| k).collect();
        keys.sort();
        for k in keys {
            sysctl(k, &has_ns)?;
        }
        for (name, paths) in [
            ("maskedPaths", l.masked_paths()),
            ("readonlyPaths", l.readonly_paths()),
        ] {
            for (i, p) in paths.iter().flatten().enumerate() {
                if !p.starts_with('/') {
                    return Err(refuse(
                        &format!("linux.{name}[{i}]"),
                        format!("{p} is not an absolute path"),
                    ));
                }
            }
        }
        for (i, d) in l.devices().iter().flatten().enumerate() {
            if !d.path().is_absolute() {
                return Err(refuse(
                    &format!("linux.devices[{i}].path"),
                    format!("{} is not an absolute path", d.path().display()),
                ));
            }
            if d.typ() == oci_spec::runtime::LinuxDeviceType::A {
                return Err(refuse(
                    &format!("linux.devices[{i}].type"),
                    "\"a\" is not a device type (b, c, u or p)",
                ));
            }
            for (what, n) in [("major", d.major()), ("minor", d.minor())] {
                if n < 0 {
                    return Err(refuse(
                        &format!("linux.devices[{i}].{what}"),
                        format!("{n} is not a device number"),
                    ));
                }
            }
        }
        if let Some(s) = l.seccomp() {
            super::seccomp::compile(s)?;
        }
        match l.rootfs_propagation().as_deref() {
            None | Some("") | Some("private") | Some("rprivate") | Some("slave")
            | Some("rslave") => {}
            Some(p) => {
                return Err(refuse(
                    "linux.rootfsPropagation",
                    format!(
                        "{p:?} is not supported (nothing propagates out of hutch's mounts: \
                         private, rprivate, slave and rslave are accepted)"
                    ),
                ))
            }
        }
        if l.mount_label().as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(refuse(
                "linux.mountLabel",
                "SELinux labels are not supported by hutch",
            ));
        }
        if l.intel_rdt().is_some() {
            return Err(refuse("linux.intelRdt", NOT_SUPPORTED));
        }
        if l.memory_policy().is_some() {
            return Err(refuse("linux.memoryPolicy", NOT_SUPPORTED));
        }
        if l.personality().is_some() {
            return Err(refuse("linux.personality", NOT_SUPPORTED));
        }
        if l.time_offsets().as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(refuse("linux.timeOffsets", NOT_SUPPORTED));
        }
        if l.net_devices().as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(refuse("linux.netDevices", NOT_SUPPORTED));
        }
    }
    Ok(())
}

/// The sysctls a container may set: those of a namespace it has (new or joined), as
/// runc allows them; any other would change the host's kernel.
fn sysctl(key: &str, has_ns: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let field = format!("linux.sysctl.{key}");
    let needs = if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some((LinuxNamespaceType::Ipc, "an ipc"))
    } else if key.starts_with("net.") {
        Some((LinuxNamespaceType::Network, "a network"))
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some((LinuxNamespaceType::Uts, "a uts"))
    } else {
        None
    };
    match needs {
        Some((t, _)) if has_ns(t) => Ok(()),
        Some((_, name)) => Err(refuse(
            &field,
            format!("needs {name} namespace (new or joined) in linux.namespaces"),
        )),
        None => Err(refuse(
            &field,
            "not a namespaced sysctl: setting it would change the host's kernel",
        )),
    }
}

/// The mount types hutch makes.
const TYPES: &[&str] = &[
    "bind", "proc", "tmpfs", "devpts", "mqueue", "sysfs", "cgroup", "cgroup2",
];

fn mount(i: usize, m: &Mount) -> Result<()> {
    let field = format!("mounts[{i}]");
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(refuse(
            &format!("{field}.destination"),
            format!("{} is not an absolute path", dest.display()),
        ));
    }
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(refuse(
            &format!("{field}.uidMappings"),
            "idmapped mounts are not supported by hutch",
        ));
    }
    let options: Vec<&str> = m.options().iter().flatten().map(String::as_str).collect();
    let bind =
        m.typ().as_deref() == Some("bind") || options.iter().any(|o| *o == "bind" || *o == "rbind");
    let typ = if bind {
        "bind"
    } else {
        m.typ().as_deref().unwrap_or("")
    };
    if !TYPES.contains(&typ) {
        return Err(refuse(
            &format!("{field}.type"),
            format!(
                "{typ:?} on {} is not supported (hutch mounts {})",
                dest.display(),
                TYPES.join(", ")
            ),
        ));
    }
    if typ == "devpts" && dest != Path::new("/dev/pts") {
        return Err(refuse(
            &format!("{field}.destination"),
            format!(
                "devpts on {} (hutch mounts its own devpts on /dev/pts only)",
                dest.display()
            ),
        ));
    }
    if let Err((j, why)) = super::config::mount_options(typ, dest, &options) {
        return Err(refuse(
            &format!("{field}.options[{j}]"),
            format!(
                "{:?} on the {typ} mount on {}: {why}",
                options[j],
                dest.display()
            ),
        ));
    }
    Ok(())
}

/// [`check`], and the fields of `config_json` the parser does not know (a newer spec's,
/// or a misspelt one): each is refused by its path rather than dropped.
pub fn check_json(config_json: &str) -> Result<Spec> {
    let raw: serde_json::Value =
        serde_json::from_str(config_json).map_err(|e| Error::msg(format!("config.json: {e}")))?;
    let spec: Spec =
        serde_json::from_value(raw.clone()).map_err(|e| Error::msg(format!("config.json: {e}")))?;
    let known = serde_json::to_value(&spec).map_err(|e| Error::msg(format!("config.json: {e}")))?;
    unknown("", &raw, &known)?;
    check(&spec)?;
    Ok(spec)
}

/// The first key of `raw` that `known` (the parsed spec written back) lacks.
fn unknown(path: &str, raw: &serde_json::Value, known: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    match (raw, known) {
        (Value::Object(r), Value::Object(k)) => {
            for (key, v) in r {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => unknown(&p, v, kv)?,
                    // Absent and written back as absent: null, or a default (false, an
                    // empty list or object) the writer skips.
                    None if is_empty(v) => {}
                    None => {
                        return Err(refuse(
                            &p,
                            "an unknown field (not in the OCI runtime spec hutch implements)",
                        ))
                    }
                }
            }
            Ok(())
        }
        (Value::Array(r), Value::Array(k)) => {
            for (i, (rv, kv)) in r.iter().zip(k).enumerate() {
                unknown(&format!("{path}[{i}]"), rv, kv)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests;

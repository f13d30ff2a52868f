//! A bundle's `config.json` mapped onto hutch's Spec: the root and the mounts become
//! ops (which also give the Landlock rules), the process its command, environment and
//! cwd; what the Spec cannot say (namespaces joined by path, id ranges, the process's
//! user and capability sets, sysfs, masked paths...) is kept beside it in [`Container`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::runtime::{
    LinuxCapabilities, LinuxNamespaceType, PosixRlimitType, Process, Spec as OciSpec,
};

use crate::error::{Error, Result};
use crate::spec::{BindKind, EnvOp, LandlockFs, Op, Personality, PolicySource, Spec, Unshare};

/// The annotation that turns hutch's own hardening (Landlock rules from the mounts,
/// the default seccomp policy) off: `org.hutch.hardening=off`.
pub const HARDENING: &str = "org.hutch.hardening";

/// One step of the container's root, in order.
#[derive(Debug, Clone)]
pub enum Step {
    /// An op of hutch's mount plan (src/mounts.rs).
    Op(Op),
    /// `sysfs` (read-only unless `rw`); a read-only bind of the host's /sys where the
    /// kernel refuses a new one (a user namespace without its own network namespace).
    Sysfs { dest: PathBuf, read_only: bool },
    /// `cgroup`/`cgroup2`, read-only: a new cgroup2 in a cgroup namespace on a v2 host,
    /// else the host's /sys/fs/cgroup (src/oci/runtime.rs, `cgroup_mount`).
    Cgroup { dest: PathBuf },
    /// `linux.maskedPaths`: /dev/null over a file, an empty read-only tmpfs over a
    /// directory; nothing where the path does not exist.
    Mask(PathBuf),
    /// `linux.readonlyPaths`: a read-only bind onto itself, where the path exists.
    ReadOnly(PathBuf),
    /// `linux.devices` beyond the standard ones: the host's node, bound.
    Device(PathBuf),
}

/// Capability sets, as hutch's capability type.
#[derive(Debug, Clone, Default)]
pub struct CapSets {
    pub bounding: HashSet<caps::Capability>,
    pub effective: HashSet<caps::Capability>,
    pub permitted: HashSet<caps::Capability>,
    pub inheritable: HashSet<caps::Capability>,
    pub ambient: HashSet<caps::Capability>,
}

/// The process part, shared by `create` (config.json) and `exec` (process.json).
#[derive(Debug, Clone)]
pub struct Proc {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: CapSets,
    pub rlimits: Vec<(nix::sys::resource::Resource, u64, u64)>,
    pub no_new_privs: bool,
    pub terminal: bool,
    pub oom_score_adj: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct Container {
    /// hutch's Spec: ops (and the Landlock rules they give), environment, command,
    /// cwd, hostname, the new namespaces, the seccomp policy.
    pub spec: Spec,
    pub steps: Vec<Step>,
    pub process: Proc,
    /// Namespaces joined by path, the user namespace first.
    pub join: Vec<(nix::sched::CloneFlags, PathBuf)>,
    /// The namespaces `clone` makes.
    pub clone_flags: libc::c_int,
    pub uid_map: Vec<(u32, u32, u32)>,
    pub gid_map: Vec<(u32, u32, u32)>,
    pub sysctl: Vec<(String, String)>,
    /// hutch's own hardening (Landlock rules from the mounts, the default seccomp policy).
    pub hardening: bool,
    pub cgroups_path: Option<PathBuf>,
    pub annotations: std::collections::BTreeMap<String, String>,
}

pub fn load(bundle: &Path) -> Result<OciSpec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io(format!("Can't read {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|e| Error::msg(format!("{}: {e}", path.display())))
}

/// `load`, with every field hutch does not support refused (src/oci/unsupported.rs).
pub fn load_checked(bundle: &Path) -> Result<OciSpec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io(format!("Can't read {}", path.display()), e))?;
    super::unsupported::check_json(&text)
}

fn cap_set(set: &Option<HashSet<oci_spec::runtime::Capability>>) -> HashSet<caps::Capability> {
    let known = crate::caps::supported();
    set.iter()
        .flatten()
        .filter_map(|c| caps::Capability::from_str(&format!("CAP_{c}")).ok())
        // A capability this kernel does not know is left out, as runc and crun do.
        .filter(|c| known.contains(c))
        .collect()
}

fn cap_sets(c: Option<&LinuxCapabilities>) -> CapSets {
    let Some(c) = c else {
        return CapSets::default();
    };
    CapSets {
        bounding: cap_set(c.bounding()),
        effective: cap_set(c.effective()),
        permitted: cap_set(c.permitted()),
        inheritable: cap_set(c.inheritable()),
        ambient: cap_set(c.ambient()),
    }
}

fn resource(t: PosixRlimitType) -> nix::sys::resource::Resource {
    use nix::sys::resource::Resource as R;
    match t {
        PosixRlimitType::RlimitCpu => R::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => R::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => R::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => R::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => R::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => R::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => R::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => R::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => R::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => R::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => R::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => R::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => R::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => R::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => R::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => R::RLIMIT_RTTIME,
    }
}

/// The process of a config.json or of `exec --process`.
pub fn process(p: &Process) -> Result<Proc> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::msg("process.args must not be empty"));
    }
    let mut env = Vec::new();
    for kv in p.env().iter().flatten() {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        env.retain(|(key, _): &(String, String)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    let cwd = p.cwd().clone();
    if !cwd.is_absolute() {
        return Err(Error::msg(format!(
            "process.cwd must be an absolute path: {}",
            cwd.display()
        )));
    }
    let user = p.user();
    Ok(Proc {
        args,
        env,
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        caps: cap_sets(p.capabilities().as_ref()),
        rlimits: p
            .rlimits()
            .iter()
            .flatten()
            .map(|r| (resource(r.typ()), r.soft(), r.hard()))
            .collect(),
        no_new_privs: p.no_new_privileges().unwrap_or(false),
        terminal: p.terminal().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
    })
}

/// `size=` of a tmpfs: bytes, or with a k, m or g suffix.
fn parse_size(s: &str) -> Result<u64> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| Error::msg(format!("tmpfs size={s}: not a size")))
}

/// Map a bundle onto hutch's Spec and the steps around it.
pub fn container(bundle: &Path, oci: &OciSpec) -> Result<Container> {
    let mut spec = Spec::new(Personality::Hutch);
    // Nothing of the sandbox-around-a-command defaults: the container is its own.
    spec.die_with_parent = false;
    spec.forward_signals = false;
    spec.host_sockets.block = false;
    spec.as_pid_1 = true;
    let annotations: std::collections::BTreeMap<String, String> = oci
        .annotations()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let hardening = match annotations.get(HARDENING).map(String::as_str) {
        None | Some("on") => true,
        Some("off") => false,
        Some(v) => {
            return Err(Error::msg(format!(
                "annotation {HARDENING}={v}: expected on or off"
            )))
        }
    };
    let root = oci
        .root()
        .as_ref()
        .ok_or_else(|| Error::msg("config.json has no root"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let process = process(
        oci.process()
            .as_ref()
            .ok_or_else(|| Error::msg("config.json has no process"))?,
    )?;
    let linux = oci.linux().clone().unwrap_or_default();

    // Namespaces.
    let mut join = Vec::new();
    let mut clone_flags = 0;
    let mut new_user = false;
    for ns in linux.namespaces().iter().flatten() {
        let flag = match ns.typ() {
            LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
            LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
            LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
            LinuxNamespaceType::User => libc::CLONE_NEWUSER,
            LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
            LinuxNamespaceType::Network => libc::CLONE_NEWNET,
            LinuxNamespaceType::Time => {
                return Err(Error::msg(
                    "linux.namespaces: time namespaces are not supported",
                ))
            }
        };
        match ns.path() {
            Some(path) => {
                if flag == libc::CLONE_NEWNS {
                    return Err(Error::msg(format!(
                        "linux.namespaces: joining a mount namespace ({}) is not supported",
                        path.display()
                    )));
                }
                let f = nix::sched::CloneFlags::from_bits_truncate(flag);
                if flag == libc::CLONE_NEWUSER {
                    join.insert(0, (f, path.clone()));
                } else {
                    join.push((f, path.clone()));
                }
            }
            None => {
                clone_flags |= flag;
                new_user |= flag == libc::CLONE_NEWUSER;
            }
        }
    }
    if clone_flags & libc::CLONE_NEWNS == 0 {
        return Err(Error::msg(
            "linux.namespaces: a new mount namespace is required",
        ));
    }
    spec.ns.user = if new_user { Unshare::Yes } else { Unshare::No };
    spec.ns.pid = clone_flags & libc::CLONE_NEWPID != 0;
    spec.ns.net = clone_flags & libc::CLONE_NEWNET != 0;
    spec.ns.ipc = clone_flags & libc::CLONE_NEWIPC != 0;
    spec.ns.uts = clone_flags & libc::CLONE_NEWUTS != 0;
    spec.ns.cgroup = if clone_flags & libc::CLONE_NEWCGROUP != 0 {
        Unshare::Yes
    } else {
        Unshare::No
    };
    let ranges = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.iter()
            .flatten()
            .map(|r| (r.container_id(), r.host_id(), r.size()))
            .collect()
    };
    let uid_map = ranges(linux.uid_mappings());
    let gid_map = ranges(linux.gid_mappings());
    if new_user && (uid_map.is_empty() || gid_map.is_empty()) {
        return Err(Error::msg(
            "linux.uidMappings and linux.gidMappings are required with a new user namespace",
        ));
    }
    if !new_user && (!uid_map.is_empty() || !gid_map.is_empty()) {
        return Err(Error::msg(
            "linux.uidMappings/gidMappings need a new user namespace in linux.namespaces",
        ));
    }

    // The root, then the mounts in order.
    let mut steps = vec![Step::Op(Op::Bind {
        src: rootfs.clone(),
        dest: "/".into(),
        kind: BindKind::Dev,
        allow_missing: false,
    })];
    let mut landlock_ops = Vec::new();
    let mut dev_done = false;
    for m in oci.mounts().iter().flatten() {
        let dest = m.destination().clone();
        if !dest.is_absolute() {
            return Err(Error::msg(format!(
                "mounts: destination {} is not absolute",
                dest.display()
            )));
        }
        let options: Vec<&str> = m.options().iter().flatten().map(String::as_str).collect();
        let ro = options.contains(&"ro");
        let typ = m.typ().as_deref().unwrap_or("");
        let is_bind = typ == "bind" || options.iter().any(|o| *o == "bind" || *o == "rbind");
        let remount_ro = |steps: &mut Vec<Step>| {
            if ro {
                steps.push(Step::Op(Op::RemountRo { dest: dest.clone() }));
            }
        };
        if is_bind {
            let src = m.source().clone().ok_or_else(|| {
                Error::msg(format!("mounts: bind on {} has no source", dest.display()))
            })?;
            let src = if src.is_absolute() {
                src
            } else {
                bundle.join(src)
            };
            let kind = if ro {
                BindKind::ReadOnly
            } else if options.contains(&"dev") {
                BindKind::Dev
            } else {
                BindKind::ReadWrite
            };
            steps.push(Step::Op(Op::Bind {
                src,
                dest,
                kind,
                allow_missing: false,
            }));
            continue;
        }
        match typ {
            "proc" => steps.push(Step::Op(Op::Proc { dest })),
            "tmpfs" if dest == Path::new("/dev") => {
                // hutch's /dev: a tmpfs with the standard nodes, devpts and shm.
                steps.push(Step::Op(Op::Dev { dest }));
                dev_done = true;
            }
            "tmpfs" => {
                let mut perms = None;
                let mut size = None;
                for o in &options {
                    if let Some(mode) = o.strip_prefix("mode=") {
                        perms = Some(u32::from_str_radix(mode, 8).map_err(|_| {
                            Error::msg(format!("mounts: tmpfs on {}: {o}", dest.display()))
                        })?);
                    } else if let Some(s) = o.strip_prefix("size=") {
                        size = Some(parse_size(s)?);
                    }
                }
                steps.push(Step::Op(Op::Tmpfs {
                    dest: dest.clone(),
                    perms,
                    size,
                }));
                remount_ro(&mut steps);
            }
            "devpts" if dev_done && dest == Path::new("/dev/pts") => {}
            "devpts" => {
                return Err(Error::msg(format!(
                    "mounts: devpts on {} is only supported at /dev/pts with a tmpfs on /dev",
                    dest.display()
                )))
            }
            "mqueue" => steps.push(Step::Op(Op::Mqueue { dest })),
            "sysfs" => {
                landlock_ops.push(Op::Bind {
                    src: "/sys".into(),
                    dest: dest.clone(),
                    kind: BindKind::ReadOnly,
                    allow_missing: false,
                });
                steps.push(Step::Sysfs {
                    dest,
                    read_only: ro || !options.contains(&"rw"),
                });
            }
            "cgroup" | "cgroup2" => steps.push(Step::Cgroup { dest }),
            other => {
                return Err(Error::msg(format!(
                    "mounts: type {other:?} on {} is not supported",
                    dest.display()
                )))
            }
        }
    }
    const STANDARD: [&str; 6] = [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ];
    for d in linux.devices().iter().flatten() {
        let p = d.path().clone();
        if !(dev_done && STANDARD.iter().any(|s| Path::new(s) == p)) {
            steps.push(Step::Device(p));
        }
    }
    for p in linux.masked_paths().iter().flatten() {
        steps.push(Step::Mask(p.into()));
    }
    for p in linux.readonly_paths().iter().flatten() {
        steps.push(Step::ReadOnly(p.into()));
    }
    if root.readonly().unwrap_or(false) {
        steps.push(Step::Op(Op::RemountRo { dest: "/".into() }));
    }
    spec.ops = steps
        .iter()
        .filter_map(|s| match s {
            Step::Op(op) => Some(op.clone()),
            _ => None,
        })
        .chain(landlock_ops)
        .collect();

    // The process.
    spec.env = std::iter::once(EnvOp::Clear)
        .chain(
            process
                .env
                .iter()
                .map(|(k, v)| EnvOp::Set(k.into(), v.into())),
        )
        .collect();
    spec.command = process.args.iter().map(Into::into).collect();
    spec.chdir = Some(process.cwd.clone());
    spec.uid = Some(process.uid);
    spec.gid = Some(process.gid);
    if let Some(h) = oci.hostname() {
        if clone_flags & libc::CLONE_NEWUTS == 0 && !h.is_empty() {
            return Err(Error::msg(
                "hostname needs a new uts namespace in linux.namespaces",
            ));
        }
        if !h.is_empty() {
            spec.hostname = Some(h.into());
        }
    }
    if !hardening {
        spec.landlock.fs = LandlockFs::Off;
        spec.landlock.scope = false;
        spec.seccomp_policy.source = PolicySource::None;
    }
    // The bundle's own seccomp profile replaces hutch's default policy.
    if linux.seccomp().is_some() {
        spec.seccomp_policy.source = PolicySource::None;
    }

    let sysctl = linux
        .sysctl()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Container {
        spec,
        steps,
        process,
        join,
        clone_flags,
        uid_map,
        gid_map,
        sysctl,
        hardening,
        cgroups_path: linux.cgroups_path().clone(),
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536k").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("12").unwrap(), 12);
        assert!(parse_size("x").is_err());
    }
}

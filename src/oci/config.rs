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
    Sysfs {
        dest: PathBuf,
        read_only: bool,
    },
    /// `cgroup`/`cgroup2`, read-only: a new cgroup2 in a cgroup namespace on a v2 host,
    /// else the host's /sys/fs/cgroup (src/oci/runtime.rs, `cgroup_mount`).
    Cgroup {
        dest: PathBuf,
    },
    /// `linux.maskedPaths`: /dev/null over a file, an empty read-only tmpfs over a
    /// directory; nothing where the path does not exist.
    Mask(PathBuf),
    /// `linux.readonlyPaths`: a read-only bind onto itself, where the path exists.
    ReadOnly(PathBuf),
    /// `linux.devices` beyond the standard ones: made with mknod where the runtime is
    /// real root without a user namespace (as runc and crun do), else the host's node,
    /// bound (it must be the device asked for).
    Device(Device),
    /// A mount's options applied after it (`mount_setattr`): on the mount itself, then
    /// on every mount of its tree (the `r` options). `what` names the mount in errors.
    Attrs {
        dest: PathBuf,
        top: Attrs,
        tree: Attrs,
        what: String,
    },
    /// `bind` without `rbind`: the source's mount alone, without its submounts.
    BindFlat {
        src: PathBuf,
        dest: PathBuf,
        kind: BindKind,
    },
    /// `tmpcopyup`: before the tmpfs on `dest`, keep what is there; after it, copy that
    /// into the tmpfs (owners, modes, symlinks, special files), as crun does.
    CopyUpFrom(PathBuf),
    CopyUpInto(PathBuf),
    /// The size bound of the tmpfs hutch's /dev is made with (its `size=`).
    TmpfsSize(Option<u64>),
    /// devpts options other than hutch's (`gid=`, `mode=`, `ptmxmode=`): hutch's
    /// devpts, remounted with them.
    Devpts {
        dest: PathBuf,
        data: String,
    },
}

/// A device node of `linux.devices`.
#[derive(Debug, Clone)]
pub struct Device {
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `mount_setattr(2)` attributes: set, cleared, and a propagation type (`MS_PRIVATE`,
/// `MS_SLAVE`, or 0 to keep it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    pub set: u64,
    pub clear: u64,
    pub propagation: u64,
}

impl Attrs {
    pub fn is_empty(&self) -> bool {
        *self == Attrs::default()
    }
}

/// What a mount's options ask for; [`mount_options`] refuses any option it cannot say.
#[derive(Debug, Clone, Default)]
pub struct MountOpts {
    pub ro: bool,
    /// A bind with devices allowed (`dev`).
    pub dev: bool,
    /// `bind` without `rbind`.
    pub flat: bool,
    /// On the mount itself, and on every mount of its tree.
    pub top: Attrs,
    pub tree: Attrs,
    /// tmpfs `mode=` and `size=`; devpts `mode=`.
    pub mode: Option<u32>,
    pub size: Option<u64>,
    pub tmpcopyup: bool,
    /// devpts `gid=` and `ptmxmode=`.
    pub gid: Option<u32>,
    pub ptmxmode: Option<u32>,
}

/// The options of a mount of `typ` (`bind` for any bind), each to be applied: the
/// index and the reason of the first one hutch cannot apply.
pub fn mount_options(
    typ: &str,
    dest: &Path,
    options: &[&str],
) -> std::result::Result<MountOpts, (usize, String)> {
    use crate::sys::{
        MOUNT_ATTR_ATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
        MOUNT_ATTR_NOEXEC, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME,
    };
    // mount_setattr's propagation values, mount(2)'s MS_PRIVATE and MS_SLAVE.
    const MS_PRIVATE: u64 = 1 << 18;
    const MS_SLAVE: u64 = 1 << 19;
    const NOATIME: u8 = 1;
    const RELATIME: u8 = 2;
    const STRICTATIME: u8 = 4;
    const NODIRATIME: u8 = 8;
    let bind = typ == "bind";
    let dev_fs = typ == "tmpfs" && dest == Path::new("/dev");
    let mut o = MountOpts::default();
    let (mut saw_bind, mut saw_rbind) = (false, false);
    let mut atime = 0u8;
    let octal = |v: &str| u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777);
    for (j, opt) in options.iter().enumerate() {
        let refuse = |why: &str| Err((j, why.to_string()));
        match *opt {
            "defaults" => {}
            "ro" => o.ro = true,
            "rw" if typ == "cgroup" || typ == "cgroup2" => {
                return refuse("hutch binds the host's cgroups read-only")
            }
            "rw" => o.ro = false,
            "rro" if bind => o.ro = true,
            "nosuid" | "rnosuid" => {}
            "suid" | "rsuid" => return refuse("hutch mounts everything nosuid"),
            "nodev" | "rnodev" if bind => o.dev = false,
            "nodev" => o.top.set |= MOUNT_ATTR_NODEV,
            "rnodev" => o.tree.set |= MOUNT_ATTR_NODEV,
            "dev" if bind => o.dev = true,
            "dev" if typ == "devpts" => {}
            "dev" => return refuse(&format!("hutch mounts {typ} nodev")),
            "noexec" => o.top.set |= MOUNT_ATTR_NOEXEC,
            "rnoexec" => o.tree.set |= MOUNT_ATTR_NOEXEC,
            "exec" if matches!(typ, "proc" | "sysfs" | "devpts") => {
                return refuse(&format!("hutch mounts {typ} noexec"))
            }
            "exec" => o.top.set &= !MOUNT_ATTR_NOEXEC,
            "private" => o.top.propagation = MS_PRIVATE,
            "rprivate" => o.tree.propagation = MS_PRIVATE,
            "slave" => o.top.propagation = MS_SLAVE,
            "rslave" => o.tree.propagation = MS_SLAVE,
            "bind" if bind => saw_bind = true,
            "rbind" if bind => saw_rbind = true,
            "atime" => atime &= !NOATIME,
            "noatime" => atime |= NOATIME,
            "relatime" => atime |= RELATIME,
            "norelatime" => atime &= !RELATIME,
            "strictatime" => atime |= STRICTATIME,
            "nostrictatime" => atime &= !STRICTATIME,
            "diratime" => atime &= !NODIRATIME,
            "nodiratime" => atime |= NODIRATIME,
            "tmpcopyup" if typ == "tmpfs" && !dev_fs => o.tmpcopyup = true,
            "tmpcopyup" if dev_fs => {
                return refuse("hutch's /dev holds its own nodes, not the image's")
            }
            "newinstance" if typ == "devpts" => {}
            _ => {
                let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
                match (typ, key) {
                    ("tmpfs", "mode") | ("devpts", "mode") => match octal(value) {
                        Some(m) => o.mode = Some(m),
                        None => return refuse("not an octal mode"),
                    },
                    ("tmpfs", "size") => match parse_size(value) {
                        Ok(n) => o.size = Some(n),
                        Err(_) => return refuse("not a size"),
                    },
                    ("devpts", "ptmxmode") => match octal(value) {
                        Some(m) => o.ptmxmode = Some(m),
                        None => return refuse("not an octal mode"),
                    },
                    ("devpts", "gid") => match value.parse::<u32>() {
                        Ok(g) => o.gid = Some(g),
                        Err(_) => return refuse("not a group id"),
                    },
                    _ => return refuse("not supported by hutch"),
                }
            }
        }
    }
    // Only clearing options (or none): the mount keeps its access times (mount(2) makes
    // a new mount relatime, and a remount keeps them).
    if atime != 0 {
        // As mount(2) makes it of the flags: strictatime over noatime over relatime.
        let mode = if atime & STRICTATIME != 0 {
            MOUNT_ATTR_STRICTATIME
        } else if atime & NOATIME != 0 {
            MOUNT_ATTR_NOATIME
        } else {
            MOUNT_ATTR_RELATIME
        };
        o.top.clear |= MOUNT_ATTR_ATIME | MOUNT_ATTR_NODIRATIME;
        o.top.set |= mode;
        if atime & NODIRATIME != 0 {
            o.top.set |= MOUNT_ATTR_NODIRATIME;
        }
    }
    o.flat = saw_bind && !saw_rbind;
    if typ == "mqueue" {
        // hutch mounts everything nosuid; its mqueue is mounted without flags.
        o.top.set |= crate::sys::MOUNT_ATTR_NOSUID;
    }
    if o.ro && matches!(typ, "proc" | "mqueue" | "devpts") {
        o.top.set |= MOUNT_ATTR_RDONLY;
    }
    Ok(o)
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
    /// `consoleSize`: rows and columns.
    pub console_size: Option<(u16, u16)>,
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
    /// `linux.rootfsPropagation` private or rprivate: the root's mounts stop being
    /// slaves of the host's (hutch's default, as `slave`/`rslave` or none ask).
    pub rootfs_private: bool,
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
    let console_size = match p.console_size() {
        Some(b) => {
            let dim = |n: u64, what: &str| {
                u16::try_from(n).map_err(|_| {
                    Error::msg(format!("process.consoleSize.{what}: {n} is out of range"))
                })
            };
            Some((dim(b.height(), "height")?, dim(b.width(), "width")?))
        }
        None => None,
    };
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
        console_size,
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
    for (i, m) in oci.mounts().iter().flatten().enumerate() {
        let dest = m.destination().clone();
        if !dest.is_absolute() {
            return Err(Error::msg(format!(
                "mounts: destination {} is not absolute",
                dest.display()
            )));
        }
        let options: Vec<&str> = m.options().iter().flatten().map(String::as_str).collect();
        let typ = m.typ().as_deref().unwrap_or("");
        let is_bind = typ == "bind" || options.iter().any(|o| *o == "bind" || *o == "rbind");
        let kind = if is_bind { "bind" } else { typ };
        let o = mount_options(kind, &dest, &options).map_err(|(j, why)| {
            Error::msg(format!(
                "mounts[{i}].options[{j}]: {:?} on the {kind} mount on {}: {why}",
                options[j],
                dest.display()
            ))
        })?;
        let attrs = |steps: &mut Vec<Step>| {
            if !o.top.is_empty() || !o.tree.is_empty() {
                steps.push(Step::Attrs {
                    dest: dest.clone(),
                    top: o.top,
                    tree: o.tree,
                    what: format!("mounts[{i}] ({})", options.join(",")),
                });
            }
        };
        let remount_ro = |steps: &mut Vec<Step>| {
            if o.ro {
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
            let kind = if o.ro {
                BindKind::ReadOnly
            } else if o.dev {
                BindKind::Dev
            } else {
                BindKind::ReadWrite
            };
            let op = Op::Bind {
                src: src.clone(),
                dest: dest.clone(),
                kind,
                allow_missing: false,
            };
            if o.flat {
                if dest == Path::new("/") {
                    return Err(Error::msg(format!(
                        "mounts[{i}]: a bind without rbind on / is not supported"
                    )));
                }
                landlock_ops.push(op);
                steps.push(Step::BindFlat {
                    src,
                    dest: dest.clone(),
                    kind,
                });
            } else {
                steps.push(Step::Op(op));
            }
            attrs(&mut steps);
            continue;
        }
        match typ {
            "proc" => steps.push(Step::Op(Op::Proc { dest: dest.clone() })),
            "tmpfs" if dest == Path::new("/dev") => {
                // hutch's /dev: a tmpfs with the standard nodes, devpts and shm.
                steps.push(Step::TmpfsSize(o.size));
                steps.push(Step::Op(Op::Dev { dest: dest.clone() }));
                steps.push(Step::TmpfsSize(None));
                if let Some(perms) = o.mode.filter(|m| *m != 0o755) {
                    steps.push(Step::Op(Op::Chmod {
                        perms,
                        path: dest.clone(),
                    }));
                }
                remount_ro(&mut steps);
                dev_done = true;
            }
            "tmpfs" => {
                if o.tmpcopyup {
                    steps.push(Step::CopyUpFrom(dest.clone()));
                }
                steps.push(Step::Op(Op::Tmpfs {
                    dest: dest.clone(),
                    // The kernel's default, as runc and crun leave it.
                    perms: Some(o.mode.unwrap_or(0o1777)),
                    size: o.size,
                }));
                if o.tmpcopyup {
                    steps.push(Step::CopyUpInto(dest.clone()));
                }
                remount_ro(&mut steps);
            }
            "devpts" if dev_done && dest == Path::new("/dev/pts") => {
                // hutch's devpts: newinstance,ptmxmode=0666,mode=620.
                let mut data = Vec::new();
                if let Some(g) = o.gid {
                    data.push(format!("gid={g}"));
                }
                if o.gid.is_some() || o.mode.is_some_and(|m| m != 0o620) {
                    data.push(format!("mode={:o}", o.mode.unwrap_or(0o620)));
                }
                if let Some(m) = o.ptmxmode.filter(|m| *m != 0o666) {
                    data.push(format!("ptmxmode={m:o}"));
                }
                if !data.is_empty() {
                    steps.push(Step::Devpts {
                        dest: dest.clone(),
                        data: data.join(","),
                    });
                }
            }
            "devpts" => {
                return Err(Error::msg(format!(
                    "mounts: devpts on {} is only supported at /dev/pts with a tmpfs on /dev",
                    dest.display()
                )))
            }
            "mqueue" => steps.push(Step::Op(Op::Mqueue { dest: dest.clone() })),
            "sysfs" => {
                landlock_ops.push(Op::Bind {
                    src: "/sys".into(),
                    dest: dest.clone(),
                    kind: BindKind::ReadOnly,
                    allow_missing: false,
                });
                steps.push(Step::Sysfs {
                    dest: dest.clone(),
                    read_only: o.ro || !options.contains(&"rw"),
                });
            }
            "cgroup" | "cgroup2" => steps.push(Step::Cgroup { dest: dest.clone() }),
            other => {
                return Err(Error::msg(format!(
                    "mounts: type {other:?} on {} is not supported",
                    dest.display()
                )))
            }
        }
        attrs(&mut steps);
    }
    const STANDARD: [&str; 6] = [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ];
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let p = d.path().clone();
        if dev_done && STANDARD.iter().any(|s| Path::new(s) == p) {
            continue;
        }
        use oci_spec::runtime::LinuxDeviceType as T;
        let kind = match d.typ() {
            T::C | T::U => libc::S_IFCHR,
            T::B => libc::S_IFBLK,
            T::P => libc::S_IFIFO,
            T::A => {
                return Err(Error::msg(format!(
                    "linux.devices[{i}].type: \"a\" is not a device type (b, c, u or p)"
                )))
            }
        };
        let num = |n: i64, what: &str| {
            u64::try_from(n).map_err(|_| {
                Error::msg(format!(
                    "linux.devices[{i}].{what}: {n} is not a device number"
                ))
            })
        };
        steps.push(Step::Device(Device {
            path: p,
            kind,
            major: num(d.major(), "major")?,
            minor: num(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        }));
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
        rootfs_private: matches!(
            linux.rootfs_propagation().as_deref(),
            Some("private" | "rprivate")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_options_become_attributes() {
        use crate::sys::*;
        let opts = |typ: &str, dest: &str, o: &[&str]| {
            mount_options(typ, Path::new(dest), o).unwrap_or_else(|e| panic!("{o:?}: {e:?}"))
        };
        let o = opts(
            "bind",
            "/v",
            &["rbind", "rprivate", "nosuid", "noexec", "nodev"],
        );
        assert!(!o.flat && !o.ro && !o.dev);
        assert_eq!(o.top.set, MOUNT_ATTR_NOEXEC);
        assert_eq!(o.tree.propagation, 1 << 18); // MS_PRIVATE
        let o = opts("bind", "/v", &["bind", "ro", "private", "rnoexec", "dev"]);
        assert!(o.flat && o.ro && o.dev);
        assert_eq!(o.top.propagation, 1 << 18);
        assert_eq!(o.tree.set, MOUNT_ATTR_NOEXEC);
        // Later options win; exec undoes noexec.
        assert!(opts("bind", "/v", &["rbind", "noexec", "exec"])
            .top
            .is_empty());
        assert!(!opts("bind", "/v", &["ro", "rw"]).ro);
        // Access times as mount(2) makes them: strictatime over noatime over relatime.
        let atime = |o: &[&str]| opts("tmpfs", "/t", o).top;
        assert_eq!(
            atime(&["noatime", "strictatime"]).set,
            MOUNT_ATTR_STRICTATIME
        );
        assert_eq!(
            atime(&["noatime", "nodiratime"]).set,
            MOUNT_ATTR_NOATIME | MOUNT_ATTR_NODIRATIME
        );
        assert_eq!(atime(&["relatime"]).set, MOUNT_ATTR_RELATIME);
        assert_eq!(
            atime(&["relatime"]).clear,
            MOUNT_ATTR_ATIME | MOUNT_ATTR_NODIRATIME
        );
        // Only clearing options: the mount keeps its access times.
        assert!(atime(&["atime", "norelatime"]).is_empty());
        let o = opts("tmpfs", "/t", &["mode=1777", "size=1m", "tmpcopyup"]);
        assert_eq!(
            (o.mode, o.size, o.tmpcopyup),
            (Some(0o1777), Some(1 << 20), true)
        );
        let o = opts(
            "devpts",
            "/dev/pts",
            &["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        );
        assert_eq!(
            (o.gid, o.mode, o.ptmxmode),
            (Some(5), Some(0o620), Some(0o666))
        );
        let o = opts(
            "mqueue",
            "/dev/mqueue",
            &["nosuid", "noexec", "nodev", "ro"],
        );
        assert_eq!(
            o.top.set,
            MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
        );
        for (typ, bad) in [
            ("bind", "suid"),
            ("bind", "idmap"),
            ("bind", "rro=1"),
            ("bind", "shared"),
            ("tmpfs", "rro"),
            ("tmpfs", "uid=0"),
            ("proc", "exec"),
            ("sysfs", "dev"),
            ("devpts", "gid=x"),
        ] {
            assert!(
                mount_options(typ, Path::new("/m"), &["nosuid", bad]).is_err_and(|(j, _)| j == 1),
                "{typ} {bad}"
            );
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536k").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("12").unwrap(), 12);
        assert!(parse_size("x").is_err());
    }
}

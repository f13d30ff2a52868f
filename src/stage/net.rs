//! Networking: `--net host|none|user`, `--net-allow-host-loopback`, `--publish`.
//!
//! - `host` is bwrap's `--share-net` (no new network namespace), `none` is
//!   `--unshare-net` (a new one with loopback only). The last of `--net`,
//!   `--unshare-net`, `--share-net` and `--unshare-all` wins, in command-line order.
//! - `user` is a new network namespace connected to the host's network by an
//!   unprivileged user-mode helper: pasta (package `passt`) or slirp4netns, whichever
//!   comes first on PATH (pasta within one directory). Both get the same layout,
//!   slirp4netns's defaults:
//!
//! ```text
//!   sandbox eth0 10.0.2.100/24, default route via 10.0.2.2
//!   10.0.2.2    the host's loopback, only with --net-allow-host-loopback
//!   10.0.2.3    DNS: forwarded to the first nameserver of the host's /etc/resolv.conf
//!               (a local stub such as 127.0.0.53 works); /etc/resolv.conf in the
//!               sandbox says `nameserver 10.0.2.3`
//! ```
//!
//! # The helper's life
//!
//! The monitor starts the helper as soon as the child exists: the namespaces were
//! made by `clone`, so the helper can enter them while the child builds its root. It
//! gets them as `/proc/self/fd/N` paths of descriptors the monitor opened: the
//! child's network namespace, and the user namespace that owns it (`NS_GET_USERNS`;
//! the child's own may already be a nested one). pasta runs in the foreground (`-f`) as the monitor's child
//! and writes its pid to `--pid /proc/self/fd/N`, a pipe, once the interface is
//! configured: that write is the readiness signal, and EOF without it is failure
//! (pasta's stderr, kept in a memfd, gives the reason). slirp4netns has `--ready-fd`.
//!
//! The child waits at a gate ([`Gate`]), a pipe it reads one byte from, just before
//! the pid-1 fork: nothing of the command exists until the network is up, exactly
//! one process waits, and the helper's start overlaps the child's mount setup. EOF
//! instead of the byte (the monitor failed or died) stops the child.
//!
//! The helper dies with the sandbox: the monitor kills it (through a pidfd) when the
//! child has exited and on every error path ([`Helper`]'s `Drop`); if the monitor
//! itself is killed, the helper's parent-death signal (set between fork and exec, see
//! `sys::prepare_helper`) ends it. slirp4netns also exits when its `--exit-fd` closes.

use std::cell::Cell;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};
// The network's plain data lives with the rest of the Spec (src/spec.rs).
use crate::spec::Op;
pub use crate::spec::{NetSpec, Proto, Publish};
use crate::sys;

/// The sandbox's address, its gateway (the host) and its DNS forwarder.
pub const SANDBOX_ADDR: &str = "10.0.2.100";
pub const GATEWAY: &str = "10.0.2.2";
pub const DNS: &str = "10.0.2.3";
const PREFIX_LEN: &str = "24";
const IFNAME: &str = "eth0";
const MTU: &str = "65520";

/// How long the helper may take to configure the interface.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

const PUBLISH_SYNTAX: &str = "[HOSTADDR:]HOSTPORT:SANDBOXPORT[/tcp|/udp]";

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// Parse one of the flags whose row in `flags.rs` says `Handler::Net`. `unshare_net` is `Namespaces::net`, which `--net` sets
/// like `--unshare-net`/`--share-net` do (the last one wins).
pub fn parse_flag(
    unshare_net: &mut bool,
    net: &mut NetSpec,
    name: &str,
    values: &[OsString],
) -> Result<()> {
    let v = values
        .first()
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name {
        "--net" => {
            (*unshare_net, net.user) = match v.as_str() {
                "host" => (false, false),
                "none" => (true, false),
                "user" => (true, true),
                _ => {
                    return Err(Error::msg(format!(
                        "--net takes one of host, none, user: {v}"
                    )))
                }
            }
        }
        "--net-allow-host-loopback" => net.allow_host_loopback = true,
        "--publish" => net.publish.push(parse_publish(&v)?),
        "--allow-host" => {
            net.allow_host.push(crate::allow::parse_host(&v)?);
            *unshare_net = true;
        }
        "--allow-net" => {
            net.allow_net.push(crate::allow::parse_net(&v)?);
            *unshare_net = true;
        }
        _ => unreachable!("{name} is not a network flag"),
    }
    Ok(())
}

/// Checks that need the whole command line.
pub fn check(net: &NetSpec) -> Result<()> {
    if !net.user {
        if !net.publish.is_empty() {
            return Err(Error::msg("--publish requires --net user"));
        }
        if net.allow_host_loopback {
            return Err(Error::msg("--net-allow-host-loopback requires --net user"));
        }
    }
    for (i, p) in net.publish.iter().enumerate() {
        if net.publish[..i]
            .iter()
            .any(|q| q.proto == p.proto && q.host_port == p.host_port)
        {
            return Err(Error::msg(format!(
                "--publish: host port {}/{} is published twice",
                p.host_port,
                p.proto.name()
            )));
        }
    }
    Ok(())
}

/// `--allow-host`/`--allow-net`, once the whole command line is read: `unshare_net`
/// is `Namespaces::net` (a later `--net host` or `--share-net` turned it off).
pub fn check_allow(unshare_net: bool, net: &NetSpec) -> Result<()> {
    if !net.filtered() {
        return Ok(());
    }
    let flag = match net.allow_host.is_empty() {
        true => "--allow-net",
        false => "--allow-host",
    };
    if net.user {
        return Err(Error::msg(format!(
            "{flag} does not combine with --net user: hutch relays the allowed traffic itself"
        )));
    }
    if !unshare_net {
        return Err(Error::msg(format!(
            "{flag} needs a network namespace of the sandbox's own (not --net host or --share-net)"
        )));
    }
    Ok(())
}

/// `[HOSTADDR:]HOSTPORT:SANDBOXPORT[/tcp|/udp]`; an IPv6 HOSTADDR is in brackets.
pub fn parse_publish(spec: &str) -> Result<Publish> {
    let bad = |why: &str| {
        Error::msg(format!(
            "--publish {spec}: {why} (expected {PUBLISH_SYNTAX})"
        ))
    };
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((rest, "tcp")) => (rest, Proto::Tcp),
        Some((rest, "udp")) => (rest, Proto::Udp),
        Some((_, other)) => return Err(bad(&format!("unknown protocol \"{other}\""))),
        None => (spec, Proto::Tcp),
    };
    let (addr, ports) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, ports) = v6
            .split_once("]:")
            .ok_or_else(|| bad("an IPv6 address must be followed by ]:"))?;
        let addr: std::net::Ipv6Addr = addr
            .parse()
            .map_err(|_| bad(&format!("bad IPv6 address \"{addr}\"")))?;
        (Some(IpAddr::V6(addr)), ports)
    } else {
        match rest.matches(':').count() {
            1 => (None, rest),
            2 => {
                let (addr, ports) = rest.split_once(':').unwrap_or_default();
                let addr: std::net::Ipv4Addr = addr.parse().map_err(|_| {
                    bad(&format!(
                        "bad host address \"{addr}\" (an IPv6 address goes in brackets)"
                    ))
                })?;
                (Some(IpAddr::V4(addr)), ports)
            }
            _ => return Err(bad("need a host port and a sandbox port")),
        }
    };
    let (host, sandbox) = ports
        .split_once(':')
        .ok_or_else(|| bad("need a host port and a sandbox port"))?;
    let port = |p: &str| {
        crate::units::parse_port(p)
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(&format!("bad port \"{p}\" (1-65535)")))
    };
    Ok(Publish {
        host_addr: addr,
        host_port: port(host)?,
        sandbox_port: port(sandbox)?,
        proto,
    })
}

// ---------------------------------------------------------------------------
// The gate

/// A pipe the child reads one byte from before it forks the command; the monitor
/// writes the byte once the helper is ready. Created before `clone`, so both
/// sides hold both ends at first: each drops the end it does not use.
#[derive(Default)]
pub struct Gate {
    read: Cell<Option<OwnedFd>>,
    write: Cell<Option<OwnedFd>>,
    /// `--allow-host`/`--allow-net`: the socket on which the child hands the monitor
    /// the sockets it bound in the sandbox's network namespace (src/stage/allow.rs).
    relay_child: Cell<Option<OwnedFd>>,
    relay_monitor: Cell<Option<OwnedFd>>,
}

impl Gate {
    /// A gate when `--net user` needs one, or when `also` (the monitor reads the
    /// child's namespaces for --info-fd/--json-status-fd while it is alive); an
    /// inert one otherwise.
    pub fn new(net: &NetSpec, also: bool) -> Result<Gate> {
        if !net.user && !net.filtered() && !also {
            return Ok(Gate::default());
        }
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
        let (child, monitor) = match net.filtered() {
            true => {
                use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
                let (c, m) = socketpair(
                    AddressFamily::Unix,
                    SockType::SeqPacket,
                    None,
                    SockFlag::SOCK_CLOEXEC,
                )
                .ctx(|| "socketpair".into())?;
                (Some(c), Some(m))
            }
            false => (None, None),
        };
        Ok(Gate {
            read: Cell::new(Some(r)),
            write: Cell::new(Some(w)),
            relay_child: Cell::new(child),
            relay_monitor: Cell::new(monitor),
        })
    }

    /// Child side: block until the monitor opens the gate. EOF means the monitor
    /// failed to start the network (it reports that) or died: stop here.
    pub fn wait(&self) -> Result<()> {
        drop(self.write.take());
        let Some(r) = self.read.take() else {
            return Ok(());
        };
        let mut b = [0u8; 1];
        let mut f = File::from(r);
        loop {
            return match f.read(&mut b) {
                Ok(1) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => Err(Error::msg("the sandbox's network was not set up")),
            };
        }
    }

    /// Monitor side: let the child go on (once; later calls do nothing).
    pub fn open(&self) -> Result<()> {
        match self.write.take() {
            Some(w) => File::from(w)
                .write_all(b"g")
                .ctx(|| "--net user: releasing the sandbox".into()),
            None => Ok(()),
        }
    }

    /// Monitor side, right after clone: the read end is the child's.
    fn close_child_end(&self) {
        drop(self.read.take());
        drop(self.relay_child.take());
    }
}

/// `--allow-host`/`--allow-net`, in the child, in the sandbox's network namespace
/// with its loopback up and capabilities still held (`own_netns`: there is one; not
/// in Landlock-only mode): routes and sockets for the monitor's relay (src/stage/allow.rs).
pub fn allow_child(net: &NetSpec, gate: &Gate, own_netns: bool) -> Result<()> {
    drop(gate.relay_monitor.take());
    let Some(sock) = gate.relay_child.take() else {
        return Ok(());
    };
    if !own_netns {
        return Err(Error::msg(
            "--allow-host/--allow-net need a network namespace of the sandbox's own, which Landlock-only mode does not make",
        ));
    }
    crate::allow::child_setup(&crate::allow::Policy::of(net), sock)
}

// ---------------------------------------------------------------------------
// /etc/resolv.conf

fn rel(p: &Path) -> PathBuf {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect()
}

const RESOLV_HINT: &str =
    "to use your own, put one at /etc/resolv.conf, e.g. --ro-bind-data FD /etc/resolv.conf";

/// `--net user`, in the child after every op of the plan: add [`resolv_conf_op`], if
/// any, to the new root.
pub fn place_resolv_conf(net: &NetSpec, ops: &[Op], root: &mut crate::mounts::Root) -> Result<()> {
    // Kept linked (see Root::bind_data): a sandbox nested inside can bind its own.
    if let Some(Op::BindData {
        fd,
        dest,
        perms,
        read_only,
    }) = resolv_conf_op(net, ops)?
    {
        root.bind_data(fd, &dest, perms, read_only, true)
            .map_err(|e| Error::msg(format!("{}: {e} ({RESOLV_HINT})", mode_flag(net))))?;
    }
    Ok(())
}

/// The option that asked for a generated /etc/resolv.conf, for messages.
fn mode_flag(net: &NetSpec) -> &'static str {
    match (net.user, net.allow_host.is_empty()) {
        (true, _) => "--net user",
        (false, false) => "--allow-host",
        (false, true) => "--allow-net",
    }
}

/// The content of the sandbox's /etc/resolv.conf.
pub fn resolv_conf_text(net: &NetSpec) -> String {
    if net.filtered() {
        return format!(
            "# generated by hutch --allow-host/--allow-net: only allowed names resolve\nnameserver {}\n",
            crate::allow::DNS_ADDR
        );
    }
    format!(
        "# generated by hutch --net user: DNS forwarded by the network helper\nnameserver {DNS}\n"
    )
}

/// The internal op appended to the mount plan with `--net user`: the generated
/// resolv.conf bound read-only over /etc/resolv.conf. Only when /etc exists in the new
/// root (during setup it is at /newroot), and not when the plan itself puts
/// something at /etc/resolv.conf (the user's choice wins). A symlink there is followed
/// inside the new root, so the bind covers whatever file it names there.
pub fn resolv_conf_op(net: &NetSpec, ops: &[Op]) -> Result<Option<Op>> {
    let target = Path::new("etc/resolv.conf");
    if !(net.user || net.filtered()) || ops.iter().any(|op| rel(op.dest()) == target) {
        return Ok(None);
    }
    let root = nix::fcntl::open(
        "/newroot",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "Can't open new root".into())?;
    let resolve = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;
    let flags = (OFlag::O_PATH | OFlag::O_DIRECTORY).bits();
    if sys::openat2(root.as_fd(), Path::new("etc"), flags, 0, resolve).is_err() {
        return Ok(None);
    }
    // A symlink to nothing (a host's resolver stub under /run, not mounted here): the
    // bind would need a file created at its target, which may be on a host directory.
    let path = (OFlag::O_PATH).bits();
    let nofollow = (OFlag::O_PATH | OFlag::O_NOFOLLOW).bits();
    if sys::openat2(root.as_fd(), target, path, 0, resolve).is_err() {
        if let Ok(link) = sys::openat2(root.as_fd(), target, nofollow, 0, resolve) {
            if let Ok(to) = nix::fcntl::readlinkat(&link, "") {
                return Err(Error::msg(format!(
                    "{}: /etc/resolv.conf is a symlink to {}, which does not exist in the sandbox ({RESOLV_HINT})",
                    mode_flag(net),
                    Path::new(&to).display()
                )));
            }
        }
    }
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    File::from(w)
        .write_all(resolv_conf_text(net).as_bytes())
        .ctx(|| "--net user: writing resolv.conf".into())?;
    Ok(Some(Op::BindData {
        fd: r.into_raw_fd(),
        dest: PathBuf::from("/etc/resolv.conf"),
        perms: Some(0o644),
        read_only: true,
    }))
}

// ---------------------------------------------------------------------------
// The helper (monitor side)

/// Which user-mode network program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Pasta,
    Slirp4netns,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Pasta => "pasta",
            Backend::Slirp4netns => "slirp4netns",
        }
    }
}

/// The descriptors the helper is handed, as numbers valid in it (they are inherited).
struct HelperFds {
    netns: RawFd,
    /// Only when the sandbox has its own user namespace (not ours).
    userns: Option<RawFd>,
    ready: RawFd,
    /// slirp4netns: it exits when this pipe's other end closes.
    exit: Option<RawFd>,
}

fn fd_path(fd: RawFd) -> String {
    format!("/proc/self/fd/{fd}")
}

/// pasta's command line (version 2023-03 and later).
fn pasta_args(net: &NetSpec, fds: &HelperFds, runas: Option<(u32, u32)>) -> Vec<String> {
    let mut a: Vec<String> = [
        "--config-net",
        "--quiet",
        "--foreground",
        "--ns-ifname",
        IFNAME,
        "--address",
        SANDBOX_ADDR,
        "--netmask",
        PREFIX_LEN,
        "--gateway",
        GATEWAY,
        "--dns-forward",
        DNS,
        // The sandbox's own loopback stays its own, and host ports are not
        // forwarded into it.
        "-T",
        "none",
        "-U",
        "none",
    ]
    .map(String::from)
    .to_vec();
    if !net.allow_host_loopback {
        a.push("--no-map-gw".into());
    }
    for (flag, proto) in [("-t", Proto::Tcp), ("-u", Proto::Udp)] {
        let specs: Vec<String> = net
            .publish
            .iter()
            .filter(|p| p.proto == proto)
            .map(|p| match p.host_addr {
                Some(addr) => format!("{addr}/{}:{}", p.host_port, p.sandbox_port),
                None => format!("{}:{}", p.host_port, p.sandbox_port),
            })
            .collect();
        if specs.is_empty() {
            a.extend([flag.to_string(), "none".into()]);
        }
        for s in specs {
            a.extend([flag.to_string(), s]);
        }
    }
    // pasta started as root drops to nobody first, who could not enter namespaces
    // that root owns: keep the caller's ids.
    if let Some((uid, gid)) = runas {
        a.extend(["--runas".into(), format!("{uid}:{gid}")]);
    }
    a.extend(["--pid".into(), fd_path(fds.ready)]);
    if let Some(u) = fds.userns {
        a.extend(["--userns".into(), fd_path(u)]);
    }
    a.extend(["--netns".into(), fd_path(fds.netns)]);
    a
}

/// slirp4netns's command line (1.1 and later). `api` is its API socket, for --publish.
/// Its `--enable-sandbox` (a mount namespace) needs privilege: only for root.
fn slirp_args(net: &NetSpec, fds: &HelperFds, api: Option<&Path>, root: bool) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--configure".into(),
        format!("--mtu={MTU}"),
        "--netns-type=path".into(),
        format!("--ready-fd={}", fds.ready),
        "--enable-seccomp".into(),
    ];
    if root {
        a.push("--enable-sandbox".into());
    }
    if let Some(e) = fds.exit {
        a.push(format!("--exit-fd={e}"));
    }
    if !net.allow_host_loopback {
        a.push("--disable-host-loopback".into());
    }
    if let Some(u) = fds.userns {
        a.push(format!("--userns-path={}", fd_path(u)));
    }
    if let Some(api) = api {
        a.push(format!("--api-socket={}", api.display()));
    }
    a.extend([fd_path(fds.netns), IFNAME.into()]);
    a
}

/// The helper: the first of pasta and slirp4netns on hutch's own PATH, in PATH order
/// (pasta first within one directory), so a PATH can choose.
fn find_backend() -> Result<(Backend, PathBuf)> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    for dir in path
        .as_bytes()
        .split(|b| *b == b':')
        .filter(|d| !d.is_empty())
    {
        for b in [Backend::Pasta, Backend::Slirp4netns] {
            let p = Path::new(std::ffi::OsStr::from_bytes(dir)).join(b.name());
            if p.is_file()
                && nix::unistd::access(p.as_path(), nix::unistd::AccessFlags::X_OK).is_ok()
            {
                return Ok((b, p));
            }
        }
    }
    Err(Error::msg(
        "--net user needs pasta (package passt) or slirp4netns (package slirp4netns); neither is in PATH",
    ))
}

/// What carries the sandbox's traffic: the helper process (`--net user`), or the
/// monitor's own relay (`--allow-host`/`--allow-net`, threads that end with it).
pub struct Helper {
    _process: Option<Process>,
    _relay: Option<crate::allow::Relay>,
}

impl Helper {
    /// The relay of `--allow-host`/`--allow-net`, if that is what carries the traffic.
    pub fn relay(&self) -> Option<&crate::allow::Relay> {
        self._relay.as_ref()
    }
}

/// The running helper process. Dropping it kills it and waits for it.
pub struct Process {
    child: Child,
    pidfd: Option<OwnedFd>,
    /// slirp4netns's exit fd (the write end: closing it stops slirp4netns).
    _exit: Option<OwnedFd>,
    /// slirp4netns's API socket directory (private, 0700), removed at the end.
    api_dir: Option<PathBuf>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let signalled = self
            .pidfd
            .as_ref()
            .is_some_and(|fd| sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL).is_ok());
        if !signalled {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if let Some(dir) = &self.api_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Monitor side: start the helper for the sandbox whose (not yet reaped) process is
/// `pid`, wait until its network is up, and open the gate. `Ok(None)` without
/// `--net user`. On error the gate stays shut: the caller kills the child.
pub fn attach(net: &NetSpec, pid: libc::pid_t, gate: &Gate) -> Result<Option<Helper>> {
    gate.close_child_end();
    if let Some(sock) = gate.relay_monitor.take() {
        return crate::allow::start(&crate::allow::Policy::of(net), sock, pid).map(|r| {
            Some(Helper {
                _process: None,
                _relay: Some(r),
            })
        });
    }
    if !net.user {
        return Ok(None);
    }
    let (backend, program) = find_backend()?;
    let fail = |why: String| Error::msg(format!("--net user: {} failed: {why}", backend.name()));
    let open_ns = |kind: &str| {
        nix::fcntl::open(
            format!("/proc/{pid}/ns/{kind}").as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            fail(format!(
                "opening the sandbox's {kind} namespace: {}",
                e.desc()
            ))
        })
    };
    let netns = open_ns("net")?;
    // The user namespace that owns the network namespace: not /proc/PID/ns/user, which
    // the child may already have left for a nested one (--dev, --disable-userns...).
    let userns = sys::ns_get_userns(netns.as_fd())
        .map_err(|e| fail(format!("NS_GET_USERNS: {}", crate::error::strerror(&e))))?;
    // Enter it only if it is not ours (root without a user namespace, --userns):
    // setns into the one we are in fails.
    let same_userns = match (
        nix::sys::stat::fstat(&userns),
        nix::sys::stat::stat("/proc/self/ns/user"),
    ) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => false,
    };
    let userns = if same_userns { None } else { Some(userns) };
    let (ready_r, ready_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    let (exit_r, exit_w) = match backend {
        Backend::Slirp4netns => {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
            (Some(r), Some(w))
        }
        Backend::Pasta => (None, None),
    };
    let fds = HelperFds {
        netns: netns.as_raw_fd(),
        userns: userns.as_ref().map(|f| f.as_raw_fd()),
        ready: ready_w.as_raw_fd(),
        exit: exit_r.as_ref().map(|f| f.as_raw_fd()),
    };
    let api_dir = if backend == Backend::Slirp4netns && !net.publish.is_empty() {
        Some(private_dir()?)
    } else {
        None
    };
    let api = api_dir.as_ref().map(|d| d.join("api.sock"));
    let euid = nix::unistd::geteuid().as_raw();
    let args = match backend {
        Backend::Pasta => pasta_args(
            net,
            &fds,
            (euid == 0).then(|| (0, nix::unistd::getegid().as_raw())),
        ),
        Backend::Slirp4netns => slirp_args(net, &fds, api.as_deref(), euid == 0),
    };
    // The helper's messages, read only if it fails.
    let log =
        nix::sys::memfd::memfd_create(c"hutch-net-log", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .ctx(|| "memfd_create".into())?;
    let mut log = File::from(log);
    let mut cmd = Command::new(&program);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log.try_clone().ctx(|| "dup".into())?));
    let keep: Vec<RawFd> = [Some(fds.netns), fds.userns, Some(fds.ready), fds.exit]
        .into_iter()
        .flatten()
        .collect();
    sys::prepare_helper(&mut cmd, keep);
    let child = crate::fault::hit_io(crate::fault::Step::NetHelper)
        .and_then(|()| cmd.spawn())
        .map_err(|e| {
            fail(format!(
                "{}: {}",
                program.display(),
                crate::error::strerror(&e)
            ))
        })?;
    let pidfd = sys::pidfd_open(child.id() as libc::pid_t).ok();
    let mut helper = Process {
        child,
        pidfd,
        _exit: exit_w,
        api_dir,
    };
    // Only the helper holds these now: its exit closes the ready pipe.
    drop((netns, userns, ready_w, exit_r));
    if let Err(why) = wait_ready(ready_r) {
        let _ = helper.child.kill();
        let status = helper.child.wait().ok();
        let mut text = String::new();
        let _ = log.rewind();
        let _ = log.read_to_string(&mut text);
        return Err(fail(failure_reason(&why, &text, status)));
    }
    if let Some(api) = &api {
        for p in &net.publish {
            slirp_publish(api, p).map_err(|why| fail(format!("--publish: {why}")))?;
        }
    }
    gate.open()?;
    Ok(Some(Helper {
        _process: Some(helper),
        _relay: None,
    }))
}

/// Wait for the helper's readiness message on `r` (pasta's pid file, slirp4netns's
/// ready fd). EOF before it means the helper exited.
fn wait_ready(r: OwnedFd) -> std::result::Result<(), String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut f = File::from(r);
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "not ready after {} seconds",
                READY_TIMEOUT.as_secs()
            ));
        }
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut pfd = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, ms) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll: {}", e.desc())),
        }
        let mut buf = [0u8; 64];
        match f.read(&mut buf) {
            Ok(0) if got.is_empty() => return Err(String::new()),
            Ok(0) => return Ok(()),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                // pasta writes "PID\n", slirp4netns "1".
                if got.contains(&b'\n') || got == b"1" {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::error::strerror(&e)),
        }
    }
}

/// One line saying why the helper failed: its own messages (without the noise about
/// a missing syslog), else how it exited.
fn failure_reason(why: &str, log: &str, status: Option<std::process::ExitStatus>) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !(l.starts_with("Failed to send") && l.contains("syslog")))
        .collect();
    if !lines.is_empty() {
        return lines.join("; ");
    }
    if !why.is_empty() {
        return why.to_string();
    }
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) if s.code().is_some() => format!("exited with status {}", s.code().unwrap_or(0)),
        Some(s) => format!("killed by signal {}", s.signal().unwrap_or(0)),
        None => "exited".into(),
    }
}

/// A new 0700 directory with an unpredictable name, for slirp4netns's API socket.
fn private_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    nix::unistd::mkdtemp(&base.join("hutch-net-XXXXXX"))
        .ctx(|| format!("Can't create a directory in {}", base.display()))
}

/// Ask slirp4netns to forward one port (its JSON API, one request per connection).
fn slirp_publish(api: &Path, p: &Publish) -> std::result::Result<(), String> {
    let mut s = std::os::unix::net::UnixStream::connect(api)
        .map_err(|e| format!("API socket: {}", crate::error::strerror(&e)))?;
    let host_addr = match p.host_addr {
        Some(a) => a.to_string(),
        None => "0.0.0.0".into(),
    };
    let req = format!(
        "{{\"execute\": \"add_hostfwd\", \"arguments\": {{\"proto\": {}, \"host_addr\": {}, \"host_port\": {}, \"guest_port\": {}}}}}",
        crate::json::string(p.proto.name()),
        crate::json::string(&host_addr),
        p.host_port,
        p.sandbox_port
    );
    s.write_all(req.as_bytes())
        .and_then(|_| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| format!("API socket: {}", crate::error::strerror(&e)))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| format!("API socket: {}", crate::error::strerror(&e)))?;
    if resp.contains("\"return\"") {
        Ok(())
    } else {
        Err(format!("{host_addr}:{}: {}", p.host_port, resp.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(s: &str) -> Publish {
        parse_publish(s).unwrap()
    }

    #[test]
    fn publish_specs() {
        assert_eq!(
            publish("8080:80"),
            Publish {
                host_addr: None,
                host_port: 8080,
                sandbox_port: 80,
                proto: Proto::Tcp
            }
        );
        assert_eq!(
            publish("127.0.0.1:8080:80/udp"),
            Publish {
                host_addr: Some("127.0.0.1".parse().unwrap()),
                host_port: 8080,
                sandbox_port: 80,
                proto: Proto::Udp
            }
        );
        assert_eq!(
            publish("[::1]:1:65535/tcp").host_addr,
            Some("::1".parse().unwrap())
        );
    }

    #[test]
    fn bad_publish_specs_name_the_flag_and_value() {
        for (spec, why) in [
            ("80", "need a host port and a sandbox port"),
            ("1:2:3:4", "need a host port and a sandbox port"),
            ("0:80", "bad port \"0\""),
            ("8080:65536", "bad port \"65536\""),
            ("8080:+80", "bad port \"+80\""),
            ("8080:80/sctp", "unknown protocol \"sctp\""),
            ("localhost:8080:80", "bad host address \"localhost\""),
            ("[::1:8080:80", "an IPv6 address must be followed by ]:"),
            ("[x]:8080:80", "bad IPv6 address \"x\""),
            ("", "need a host port and a sandbox port"),
        ] {
            let e = parse_publish(spec).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--publish {spec}: {why}")), "{e}");
            assert!(e.ends_with(&format!("(expected {PUBLISH_SYNTAX})")), "{e}");
        }
    }

    fn net(args: &[(&str, &str)]) -> Result<(bool, NetSpec)> {
        let mut unshare = false;
        let mut n = NetSpec::default();
        for (flag, v) in args {
            parse_flag(&mut unshare, &mut n, flag, &[OsString::from(v)])?;
        }
        check(&n)?;
        Ok((unshare, n))
    }

    #[test]
    fn net_modes() {
        assert_eq!(
            net(&[("--net", "host")]).unwrap(),
            (false, NetSpec::default())
        );
        assert_eq!(
            net(&[("--net", "none")]).unwrap(),
            (true, NetSpec::default())
        );
        let (unshare, n) = net(&[("--net", "user")]).unwrap();
        assert!(unshare && n.user);
        assert_eq!(
            net(&[("--net", "all")]).unwrap_err().to_string(),
            "--net takes one of host, none, user: all"
        );
        assert_eq!(
            net(&[("--publish", "1:2"), ("--net", "user"), ("--net", "none")])
                .unwrap_err()
                .to_string(),
            "--publish requires --net user"
        );
        assert_eq!(
            net(&[("--net-allow-host-loopback", "")])
                .unwrap_err()
                .to_string(),
            "--net-allow-host-loopback requires --net user"
        );
        assert_eq!(
            net(&[
                ("--net", "user"),
                ("--publish", "127.0.0.1:8080:80"),
                ("--publish", "8080:81")
            ])
            .unwrap_err()
            .to_string(),
            "--publish: host port 8080/tcp is published twice"
        );
        assert!(net(&[
            ("--net", "user"),
            ("--publish", "8080:80"),
            ("--publish", "8080:80/udp")
        ])
        .is_ok());
    }

    #[test]
    fn the_last_network_flag_wins() {
        use crate::cli::{parse, Action};
        use crate::spec::Personality;
        let mode = |a: &[&str]| -> (bool, bool) {
            let args = a
                .iter()
                .map(OsString::from)
                .chain(["true".into()])
                .collect();
            match parse(Personality::Bwrap, args).unwrap().0 {
                Action::Run(s) => (s.ns.net, s.net.user),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(mode(&["--net", "user"]), (true, true));
        assert_eq!(mode(&["--net", "user", "--unshare-net"]), (true, false));
        assert_eq!(mode(&["--net", "user", "--share-net"]), (false, false));
        assert_eq!(mode(&["--net", "user", "--unshare-all"]), (true, false));
        assert_eq!(mode(&["--unshare-all", "--net", "user"]), (true, true));
        assert_eq!(mode(&["--unshare-all", "--net", "host"]), (false, false));
        assert_eq!(mode(&["--share-net", "--net", "none"]), (true, false));
        assert_eq!(mode(&["--net", "none", "--net", "user"]), (true, true));
    }

    fn fds() -> HelperFds {
        HelperFds {
            netns: 5,
            userns: Some(6),
            ready: 7,
            exit: None,
        }
    }

    #[test]
    fn pasta_command_line() {
        let n = NetSpec {
            user: true,
            allow_host_loopback: false,
            publish: vec![publish("127.0.0.1:8080:80"), publish("9000:9000/udp")],
            ..NetSpec::default()
        };
        let a = pasta_args(&n, &fds(), None).join(" ");
        assert!(a.starts_with("--config-net --quiet --foreground --ns-ifname eth0 --address 10.0.2.100 --netmask 24 --gateway 10.0.2.2 --dns-forward 10.0.2.3 -T none -U none --no-map-gw"), "{a}");
        assert!(a.contains(" -t 127.0.0.1/8080:80 -u 9000:9000 "), "{a}");
        assert!(
            a.ends_with(" --pid /proc/self/fd/7 --userns /proc/self/fd/6 --netns /proc/self/fd/5"),
            "{a}"
        );
        assert!(!a.contains("--runas"));

        let n = NetSpec {
            user: true,
            allow_host_loopback: true,
            publish: vec![],
            ..NetSpec::default()
        };
        let mut f = fds();
        f.userns = None;
        let a = pasta_args(&n, &f, Some((0, 0))).join(" ");
        assert!(!a.contains("--no-map-gw") && !a.contains("--userns"), "{a}");
        assert!(a.contains(" -t none -u none --runas 0:0 "), "{a}");
    }

    #[test]
    fn slirp4netns_command_line() {
        let n = NetSpec {
            user: true,
            allow_host_loopback: false,
            publish: vec![],
            ..NetSpec::default()
        };
        let mut f = fds();
        f.exit = Some(8);
        let a = slirp_args(&n, &f, Some(Path::new("/run/x/api.sock")), false).join(" ");
        assert_eq!(a, "--configure --mtu=65520 --netns-type=path --ready-fd=7 --enable-seccomp --exit-fd=8 --disable-host-loopback --userns-path=/proc/self/fd/6 --api-socket=/run/x/api.sock /proc/self/fd/5 eth0");
        let a = slirp_args(&n, &f, None, true).join(" ");
        assert!(a.contains(" --enable-seccomp --enable-sandbox "), "{a}");
    }

    #[test]
    fn failure_reasons() {
        let log = "Failed to send 51 bytes to syslog\nCouldn't open user namespace /proc/self/fd/6: Permission denied\n";
        assert_eq!(
            failure_reason("", log, None),
            "Couldn't open user namespace /proc/self/fd/6: Permission denied"
        );
        assert_eq!(
            failure_reason("not ready after 10 seconds", "", None),
            "not ready after 10 seconds"
        );
    }

    #[test]
    fn user_resolv_conf_wins() {
        let n = NetSpec {
            user: true,
            ..NetSpec::default()
        };
        let ops = [Op::Symlink {
            target: "/run/r".into(),
            dest: "//etc/./resolv.conf".into(),
        }];
        assert_eq!(resolv_conf_op(&n, &ops).unwrap(), None);
        assert_eq!(resolv_conf_op(&NetSpec::default(), &[]).unwrap(), None);
        assert!(resolv_conf_text(&n).contains("nameserver 10.0.2.3\n"));
    }
}

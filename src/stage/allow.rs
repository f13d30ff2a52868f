//! Network by name: `--allow-host NAME[:PORTS]` and `--allow-net CIDR[:PORTS]`.
//!
//! The sandbox gets a network namespace of its own with loopback only (no pasta, no
//! helper process), and hutch's monitor, which stays in the caller's network
//! namespace as the caller, relays the allowed traffic:
//!
//! - The child, which holds CAP_NET_ADMIN in the new namespace, adds routes through
//!   rtnetlink before it drops its capabilities: `local` routes on lo for a synthetic
//!   range ([`SYNTH4`]/15 and [`SYNTH6`]/64, "AnyIP": every address in them is the
//!   sandbox's own) and for every `--allow-net` CIDR, and a `prohibit` default route
//!   for IPv4 and IPv6. A connection to any other address fails at once with EACCES.
//! - It binds, in that namespace, the DNS listener (UDP and TCP on [`DNS_ADDR`]:53,
//!   named by the sandbox's /etc/resolv.conf) and, for every allowed port, a TCP
//!   listener and a UDP socket on the wildcard addresses (IPv4 and IPv6), and hands
//!   them to the monitor over a socket (SCM_RIGHTS).
//! - The monitor answers A/AAAA queries for allowed names only (others: NXDOMAIN),
//!   with one synthetic address per name, after resolving the name with the host's
//!   resolver (the first nameserver of the host's /etc/resolv.conf), following the
//!   CNAME chain, and checking the addresses: a name that resolves to an address
//!   that is not public (loopback, private, link-local, unique-local, shared,
//!   multicast, unspecified, reserved) and not covered by `--allow-net` is refused
//!   (DNS rebinding). Answers carry the upstream TTL; the addresses are resolved
//!   again when it has passed.
//! - A connection accepted on a listener says by its local address which synthetic
//!   address (hence name) or allowed address was dialled; the monitor connects from
//!   the host's namespace to the checked address and copies both ways. UDP is relayed
//!   per flow, replies sent from the dialled address (IP_PKTINFO).
//!
//! Ports: `NAME` alone allows 80 and 443; `NAME:PORT[,PORT...]` those ports, each for
//! TCP and UDP (port 53 is the sandbox's DNS, which hutch answers itself).
//! `*.example.org` matches every name below example.org (at any depth), not
//! example.org itself.
//!
//! Refusals: a name not allowed does not resolve (NXDOMAIN); every other refusal is
//! EACCES at `connect` (or `sendto`), counted (host, port, protocol, count) for
//! `--stats` and the `--report` tail, by the connection watch:
//!
//! - A seccomp filter, installed in the command shortly before exec (before the
//!   report, which says whether it is in force; like Landlock-only mode's metadata
//!   supervisor, whose machinery it shares: src/stage/supervise.rs), sends `connect` and `sendto`
//!   with an address (the filter tests sendto's address argument for NULL: sends on
//!   connected sockets are never stopped) to a thread of the monitor.
//! - It reads the address from the caller's memory (`process_vm_readv`, then
//!   SECCOMP_IOCTL_NOTIF_ID_VALID) and answers: not IPv4 or IPv6, port 0 (no
//!   traffic: glibc's getaddrinfo connects UDP sockets to sort its results) →
//!   continue; a synthetic address → continue if the port is allowed for the name it
//!   stands for, else EACCES; an address `--allow-net` allows on that port →
//!   continue; loopback → continue unless the port is one of the relay's (which
//!   would reset the connection), then EACCES; anything else → EACCES. Each EACCES
//!   is counted, with the protocol of the socket (TCP, UDP..., read from a duplicate
//!   of it: `pidfd_getfd`, Linux 5.6; a `sendto` with an address on a TCP socket,
//!   which the kernel ignores unless MSG_FASTOPEN, continues). What it cannot tell
//!   (memory it cannot read, a socket it cannot see) continues. A `connect` of a UDP
//!   socket sends nothing, but is where a connected flow is refused: counted too
//!   (so is glibc's sorting connect, with the service's port, to a refused address).
//! - SECCOMP_USER_NOTIF_FLAG_CONTINUE lets the kernel perform the call, reading the
//!   address again: a thread of the command may change it in between. Unlike the
//!   metadata supervisor, which never continues, that gains nothing here: the watch
//!   only makes the refusal earlier, clearer and counted. What is enforced is
//!   enforced by the kernel and the relay as before: the routes (`prohibit` for any
//!   address outside the rules: EACCES), the relay's listeners (only allowed ports)
//!   and the relay's own check of every connection (a name's port, a reset
//!   otherwise). A swapped address meets those, and is only not counted when the
//!   route refuses it.
//! - Only calls made in the sandbox's network namespace are judged (the caller's
//!   /proc/PID/ns/net, looked at before refusing): below, a nested sandbox's own
//!   namespace has other synthetic addresses and rules.
//! - Not watched, so refused by the route (or the relay) but not counted:
//!   `sendmsg`/`sendmmsg` (their address is in a `msghdr` in memory, which BPF cannot
//!   read, so watching them would stop every sendmsg, unix sockets included: see
//!   docs/network.md for the cost), io_uring, and foreign-architecture calls (i386,
//!   x32). Without user notification with CONTINUE and `pidfd_getfd` (before Linux
//!   5.6), or below another hutch's filter that has a listener (EBUSY: one per
//!   filter chain), there is no watch: an address outside the rules gets EACCES from
//!   the route, uncounted; a port without a listener ECONNREFUSED; a name or address
//!   on a port only another rule allows is accepted and reset (counted by the
//!   relay). `--report` says which (`network.connect_watch`).

use std::collections::{BTreeMap, HashMap};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener,
    TcpStream, UdpSocket,
};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};

/// The synthetic IPv4 range (198.18.0.0/15, RFC 2544's benchmarking range).
pub const SYNTH4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
const SYNTH4_LEN: u8 = 15;
/// The synthetic IPv6 range: a unique-local /64 ("hutch").
pub const SYNTH6: Ipv6Addr = Ipv6Addr::new(0xfd68, 0x7574, 0x6368, 0, 0, 0, 0, 0);
const SYNTH6_LEN: u8 = 64;
/// Where the sandbox's DNS answers.
pub const DNS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 53);
/// The ports a rule without ports allows.
pub const DEFAULT_PORTS: [u16; 2] = [80, 443];
/// How many names get a synthetic address (the IPv4 range holds 2^17 - 2).
const MAX_NAMES: u32 = (1 << 17) - 2;
/// How long an upstream DNS query, and a connection out, may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A UDP flow without traffic for this long is forgotten.
const UDP_IDLE: Duration = Duration::from_secs(120);
/// At most this many relayed connections, UDP flows and DNS queries at a time (each
/// is a thread of the monitor's); more are refused as if not allowed.
const MAX_ACTIVE: usize = 1024;

static ACTIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A place among the [`MAX_ACTIVE`], given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        use std::sync::atomic::Ordering::SeqCst;
        if ACTIVE.fetch_add(1, SeqCst) >= MAX_ACTIVE {
            ACTIVE.fetch_sub(1, SeqCst);
            return None;
        }
        Some(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// The rules

pub use crate::spec::{HostRule, NetRule};

impl HostRule {
    fn matches(&self, name: &str) -> bool {
        if self.wildcard {
            name.len() > self.name.len() + 1
                && name.ends_with(&self.name)
                && name.as_bytes()[name.len() - self.name.len() - 1] == b'.'
        } else {
            name == self.name
        }
    }
}

impl NetRule {
    fn covers(&self, ip: IpAddr) -> bool {
        in_prefix(ip, self.addr, self.prefix)
    }

    pub fn display(&self) -> String {
        format!("{}/{}", self.addr, self.prefix)
    }
}

fn in_prefix(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - prefix as u32).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn parse_ports(flag: &str, spec: &str, ports: Option<&str>) -> Result<Vec<u16>> {
    let Some(ports) = ports else {
        return Ok(DEFAULT_PORTS.to_vec());
    };
    let mut out = Vec::new();
    for p in ports.split(',') {
        let n = crate::units::parse_port(p)
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::msg(format!("{flag} {spec}: bad port \"{p}\" (1-65535)")))?;
        if n == 53 {
            return Err(Error::msg(format!(
                "{flag} {spec}: port 53 is the sandbox's DNS, which hutch answers itself"
            )));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// `NAME[:PORT[,PORT...]]`, NAME possibly `*.DOMAIN`.
pub fn parse_host(spec: &str) -> Result<HostRule> {
    const FLAG: &str = "--allow-host";
    let (name, ports) = match spec.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (spec, None),
    };
    let bad = |why: &str| Error::msg(format!("{FLAG} {spec}: {why}"));
    if name.parse::<Ipv4Addr>().is_ok() || spec.parse::<Ipv6Addr>().is_ok() {
        return Err(bad("an address, not a name (use --allow-net)"));
    }
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    let (wildcard, rest) = match lower.strip_prefix("*.") {
        Some(r) => (true, r),
        None => (false, lower),
    };
    if rest.is_empty() || rest.len() > 253 {
        return Err(bad(
            "expected a host name such as example.org or *.example.org",
        ));
    }
    for label in rest.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(&format!(
                "bad name \"{name}\" (letters, digits, - and _ in dot-separated labels; a wildcard only as a leading *.)"
            )));
        }
    }
    Ok(HostRule {
        name: rest.to_string(),
        wildcard,
        ports: parse_ports(FLAG, spec, ports)?,
    })
}

/// `ADDR[/LEN][:PORTS]`; IPv6 as `[ADDR/LEN]:PORTS` or bare `ADDR/LEN` (no ports).
pub fn parse_net(spec: &str) -> Result<NetRule> {
    const FLAG: &str = "--allow-net";
    let bad = |why: &str| {
        Error::msg(format!(
            "{FLAG} {spec}: {why} (expected CIDR[:PORT[,PORT...]], IPv6 in brackets with ports)"
        ))
    };
    let (cidr, ports) = if let Some(v6) = spec.strip_prefix('[') {
        match v6.split_once(']') {
            Some((c, "")) => (c, None),
            Some((c, p)) => match p.strip_prefix(':') {
                Some(p) => (c, Some(p)),
                None => return Err(bad("] must be followed by :PORT")),
            },
            None => return Err(bad("missing ]")),
        }
    } else if spec.matches(':').count() > 1 {
        (spec, None)
    } else {
        match spec.split_once(':') {
            Some((c, p)) => (c, Some(p)),
            None => (spec, None),
        }
    };
    let (addr, len) = match cidr.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (cidr, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| bad(&format!("bad address \"{addr}\"")))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match len {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= max && !l.starts_with('+'))
            .ok_or_else(|| bad(&format!("bad prefix length \"{l}\" (0-{max})")))?,
    };
    Ok(NetRule {
        addr,
        prefix,
        ports: parse_ports(FLAG, spec, ports)?,
    })
}

/// The rules together, as the monitor consults them.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub hosts: Vec<HostRule>,
    pub nets: Vec<NetRule>,
}

impl Policy {
    pub fn of(net: &crate::spec::NetSpec) -> Policy {
        Policy {
            hosts: net.allow_host.clone(),
            nets: net.allow_net.clone(),
        }
    }

    /// The ports allowed for `name`: `None` when no rule names it.
    fn host_ports(&self, name: &str) -> Option<Vec<u16>> {
        let mut found: Option<Vec<u16>> = None;
        for r in self.hosts.iter().filter(|r| r.matches(name)) {
            found.get_or_insert_with(Vec::new).extend(&r.ports);
        }
        found
    }

    fn net_allows(&self, ip: IpAddr, port: u16) -> bool {
        self.nets
            .iter()
            .any(|r| r.covers(ip) && r.ports.contains(&port))
    }

    fn net_covers(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|r| r.covers(ip))
    }

    /// Every port that gets a listener, in order.
    pub fn ports(&self) -> Vec<u16> {
        let mut p: Vec<u16> = self
            .hosts
            .iter()
            .flat_map(|r| r.ports.iter())
            .chain(self.nets.iter().flat_map(|r| r.ports.iter()))
            .copied()
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    }
}

/// Whether a name may resolve to `ip` without `--allow-net`: a public address. The
/// documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
/// 2001:db8::/32) count as public.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_unspecified()
                || a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_broadcast()
                || a.is_multicast()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || in_prefix(ip, IpAddr::V4(SYNTH4), SYNTH4_LEN))
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = a.segments();
            !(a.is_unspecified()
                || a.is_loopback()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x64 && s[1] == 0xff9b)
                || s[..6] == [0; 6])
        }
    }
}

// ---------------------------------------------------------------------------
// The child: routes and sockets

/// In the child, in the sandbox's network namespace with its loopback up and its
/// capabilities still held: add the routes, bind the sockets, hand them to the
/// monitor over `sock`.
pub fn child_setup(policy: &Policy, sock: OwnedFd) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| {
        Error::msg(format!(
            "--allow-host/--allow-net: {what}: {}",
            crate::error::strerror(&e)
        ))
    };
    let nl = Netlink::open().map_err(|e| fail("rtnetlink socket", e))?;
    let mut routes: Vec<(u8, IpAddr, u8)> = vec![
        (RTN_LOCAL, IpAddr::V4(SYNTH4), SYNTH4_LEN),
        (RTN_LOCAL, IpAddr::V6(SYNTH6), SYNTH6_LEN),
    ];
    for r in &policy.nets {
        routes.push((RTN_LOCAL, r.addr, r.prefix));
    }
    routes.push((RTN_PROHIBIT, IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    routes.push((RTN_PROHIBIT, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0));
    let ipv6 = ipv6_available();
    for (kind, addr, len) in routes {
        if addr.is_ipv6() && !ipv6 {
            continue;
        }
        match nl.add_route(kind, addr, len) {
            Ok(()) => {}
            // 127.0.0.0/8 and the like are local already.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(fail(&format!("route {addr}/{len}"), e)),
        }
    }
    drop(nl);
    let mut socks: Vec<(String, OwnedFd)> = Vec::new();
    let dns = SocketAddr::V4(SocketAddrV4::new(DNS_ADDR, 53));
    socks.push((
        "dns-udp".into(),
        bind_udp(dns).map_err(|e| fail("DNS socket", e))?,
    ));
    socks.push((
        "dns-tcp".into(),
        bind_tcp(dns).map_err(|e| fail("DNS socket", e))?,
    ));
    for port in policy.ports() {
        let v4 = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        let v6 = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
        let mut addrs = vec![v4];
        if ipv6 {
            addrs.push(v6);
        }
        for a in addrs {
            let what = |p: &str| format!("{p} port {port}");
            socks.push((
                format!("tcp {a}"),
                bind_tcp(a).map_err(|e| fail(&what("TCP"), e))?,
            ));
            socks.push((
                format!("udp {a}"),
                bind_udp(a).map_err(|e| fail(&what("UDP"), e))?,
            ));
        }
    }
    for (label, fd) in &socks {
        crate::sys::send_fd(sock.as_raw_fd(), label.as_bytes(), Some(fd.as_raw_fd()))
            .map_err(|e| fail("handing the sockets to the monitor", e))?;
    }
    crate::sys::send_fd(sock.as_raw_fd(), b"end", None)
        .map_err(|e| fail("handing the sockets to the monitor", e))?;
    Ok(())
}

fn ipv6_available() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

fn socket_for(addr: SocketAddr, ty: nix::sys::socket::SockType) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{setsockopt, socket, sockopt, AddressFamily, SockFlag};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(family, ty, SockFlag::SOCK_CLOEXEC, None)?;
    if addr.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    Ok(fd)
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{bind, listen, setsockopt, sockopt, Backlog, SockType, SockaddrStorage};
    let fd = socket_for(addr, SockType::Stream)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    listen(&fd, Backlog::new(256).unwrap_or(Backlog::MAXCONN))?;
    Ok(fd)
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{bind, setsockopt, sockopt, SockType, SockaddrStorage};
    let fd = socket_for(addr, SockType::Datagram)?;
    // Replies leave from the address the sandbox dialled, which is no interface's: IPv6
    // accepts such a source (IPV6_PKTINFO) only on a "free bind" socket.
    setsockopt(&fd, sockopt::IpFreebind, &true)?;
    match addr {
        SocketAddr::V4(_) => setsockopt(&fd, sockopt::Ipv4PacketInfo, &true)?,
        SocketAddr::V6(_) => setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true)?,
    }
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    Ok(fd)
}

/// One message of the child's hand-over: a label and its socket, or `None` at the end.
fn recv_fd(sock: &OwnedFd) -> std::io::Result<Option<(String, Option<OwnedFd>)>> {
    let mut buf = [0u8; 128];
    let (n, fd) = crate::sys::recv_fd(sock.as_raw_fd(), &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some((String::from_utf8_lossy(&buf[..n]).into_owned(), fd)))
}

// rtnetlink, by hand: one RTM_NEWROUTE per route, each acknowledged.
const RTN_LOCAL: u8 = 2;
const RTN_PROHIBIT: u8 = 8;

struct Netlink {
    fd: OwnedFd,
    seq: std::cell::Cell<u32>,
}

impl Netlink {
    fn open() -> std::io::Result<Netlink> {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        Ok(Netlink {
            fd,
            seq: std::cell::Cell::new(1),
        })
    }

    fn add_route(&self, kind: u8, addr: IpAddr, len: u8) -> std::io::Result<()> {
        use nix::sys::socket::{recv, sendto, MsgFlags, NetlinkAddr};
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        let (family, bytes): (u8, Vec<u8>) = match addr {
            IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
            IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
        };
        let (table, scope) = match kind {
            RTN_LOCAL => (libc::RT_TABLE_LOCAL, libc::RT_SCOPE_HOST),
            _ => (libc::RT_TABLE_MAIN, libc::RT_SCOPE_UNIVERSE),
        };
        let mut m = Vec::with_capacity(64);
        // struct nlmsghdr, its length filled in below.
        m.extend(0u32.to_ne_bytes());
        m.extend(libc::RTM_NEWROUTE.to_ne_bytes());
        let flags =
            (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        m.extend(flags.to_ne_bytes());
        m.extend(seq.to_ne_bytes());
        m.extend(0u32.to_ne_bytes());
        // struct rtmsg
        m.extend([family, len, 0, 0, table, libc::RTPROT_STATIC, scope, kind]);
        m.extend(0u32.to_ne_bytes());
        let mut attr = |ty: u16, data: &[u8]| {
            m.extend((4 + data.len() as u16).to_ne_bytes());
            m.extend(ty.to_ne_bytes());
            m.extend(data);
            while m.len() % 4 != 0 {
                m.push(0);
            }
        };
        if len > 0 {
            attr(libc::RTA_DST, &bytes);
        }
        if kind == RTN_LOCAL {
            // lo is interface 1 in every network namespace.
            attr(libc::RTA_OIF, &1u32.to_ne_bytes());
        }
        let total = m.len() as u32;
        m[..4].copy_from_slice(&total.to_ne_bytes());
        sendto(
            self.fd.as_raw_fd(),
            &m,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        let mut buf = [0u8; 1024];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            // nlmsghdr then, for NLMSG_ERROR, the error (0 is the ack).
            if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == libc::NLMSG_ERROR as u16 {
                let got_seq = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
                if got_seq != seq {
                    continue;
                }
                let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
                return match err {
                    0 => Ok(()),
                    e => Err(std::io::Error::from_raw_os_error(-e)),
                };
            }
            if n == 0 {
                return Err(std::io::Error::from_raw_os_error(libc::EIO));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// What was refused

#[derive(Default)]
struct Denials {
    /// (host, port or "dns", protocol) → count.
    conns: BTreeMap<(String, String, &'static str), u64>,
    /// name → queries refused per type: A, AAAA, other; and why.
    names: BTreeMap<String, ([u64; 3], &'static str)>,
}

static DENIED: Mutex<Option<Denials>> = Mutex::new(None);

/// At most this many different refused names, and (host, port, protocol), are
/// listed: the command chooses them, and the monitor's memory is not its to fill.
/// The others are counted together, as host `*` (and port 0).
const MAX_DENIED: usize = 4096;

fn deny_conn(host: String, port: u16, proto: &'static str) {
    if let Ok(mut d) = DENIED.lock() {
        let conns = &mut d.get_or_insert_with(Denials::default).conns;
        let mut key = (host, port.to_string(), proto);
        if conns.len() >= MAX_DENIED && !conns.contains_key(&key) {
            key = ("*".to_string(), "0".to_string(), proto);
        }
        *conns.entry(key).or_insert(0) += 1;
    }
}

fn deny_name(name: &str, qtype: u16, why: &'static str) {
    if let Ok(mut d) = DENIED.lock() {
        let names = &mut d.get_or_insert_with(Denials::default).names;
        let name = match names.len() >= MAX_DENIED && !names.contains_key(name) {
            true => "*",
            false => name,
        };
        let e = names.entry(name.to_string()).or_insert(([0; 3], why));
        let i = match qtype {
            TYPE_A => 0,
            TYPE_AAAA => 1,
            _ => 2,
        };
        e.0[i] += 1;
        e.1 = why;
    }
}

/// `--stats`: the refused lookups and connections as a JSON list (host, port, count,
/// why), or `None` when no rules are in force. A lookup counts once for its A and
/// AAAA queries.
pub fn denied_json() -> Option<String> {
    let d = DENIED.lock().ok()?;
    let d = d.as_ref()?;
    let mut items = Vec::new();
    for (name, (counts, why)) in &d.names {
        let n = counts[0].max(counts[1]).max(if counts[0] + counts[1] == 0 {
            counts[2]
        } else {
            0
        });
        items.push(format!(
            "{{\"host\": {}, \"port\": \"dns\", \"count\": {n}, \"why\": {}}}",
            crate::json::string(name),
            crate::json::string(why)
        ));
    }
    for ((host, port, proto), n) in &d.conns {
        items.push(format!(
            "{{\"host\": {}, \"port\": {port}, \"proto\": \"{proto}\", \"count\": {n}}}",
            crate::json::string(host)
        ));
    }
    Some(format!("[{}]", items.join(", ")))
}

/// `--explain`: the network line.
pub fn explain(net: &crate::spec::NetSpec) -> String {
    let rules = rule_texts(net);
    format!(
        "new, loopback only; hutch relays only {} (DNS {DNS_ADDR} answers only those names)",
        rules
            .0
            .iter()
            .chain(&rules.1)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The rules as `NAME:PORTS` and `CIDR:PORTS`.
fn rule_texts(net: &crate::spec::NetSpec) -> (Vec<String>, Vec<String>) {
    let ports = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let hosts = net
        .allow_host
        .iter()
        .map(|r| {
            let star = if r.wildcard { "*." } else { "" };
            format!("{star}{}:{}", r.name, ports(&r.ports))
        })
        .collect();
    let nets = net
        .allow_net
        .iter()
        .map(|r| format!("{}:{}", r.display(), ports(&r.ports)))
        .collect();
    (hosts, nets)
}

/// `--report`: the rules in force, added to the report's object as `"network"`, and
/// whether the connection watch is (`connect_watch`: `supervised`, `enclosing` or
/// `unsupported`).
pub fn report_policy(mut text: String, net: &crate::spec::NetSpec) -> String {
    if !net.filtered() {
        return text;
    }
    let (hosts, nets) = rule_texts(net);
    text.truncate(text.trim_end().len() - 1);
    text.push_str(&format!(
        ", \"network\": {{\"mode\": \"allow\", \"allow_host\": {}, \"allow_net\": {}, \"dns\": \"{DNS_ADDR}\", \"synthetic\": [\"{SYNTH4}/{SYNTH4_LEN}\", \"{SYNTH6}/{SYNTH6_LEN}\"], \"connect_watch\": {}}}}}\n",
        crate::json::list(&hosts),
        crate::json::list(&nets),
        crate::json::string(WATCH.lock().map(|w| *w).unwrap_or("unsupported")),
    ));
    text
}

/// `--report`/`--report-fd` with rules in force: the monitor keeps the report's
/// destination and writes one more line when the sandbox has ended,
/// `{"net_denied": [...]}` (as in `--stats`).
pub struct ReportTail(Option<std::fs::File>);

impl ReportTail {
    pub fn keep(net: &crate::spec::NetSpec, to: Option<crate::spec::ReportTo>) -> ReportTail {
        let fd = match to {
            _ if !net.filtered() => return ReportTail(None),
            Some(crate::spec::ReportTo::Stderr) => 2,
            Some(crate::spec::ReportTo::Fd(fd)) => fd,
            None => return ReportTail(None),
        };
        // Not ours to close: a duplicate (close-on-exec) is.
        let f = std::mem::ManuallyDrop::new(std::fs::File::from(crate::sys::own_fd(fd)));
        ReportTail(f.try_clone().ok())
    }

    pub fn write(self) {
        if let (Some(mut f), Some(d)) = (self.0, denied_json()) {
            let _ = f.write_all(format!("{{\"net_denied\": {d}}}\n").as_bytes());
        }
    }
}

// ---------------------------------------------------------------------------
// The monitor: names, addresses, the relay

#[derive(Clone)]
struct Cached {
    addrs: Vec<IpAddr>,
    expires: Instant,
}

struct Entry {
    name: String,
    /// Indexed by family: 0 IPv4 (A), 1 IPv6 (AAAA).
    cache: [Option<Cached>; 2],
}

struct State {
    policy: Policy,
    /// The ports the relay listens on in the sandbox (TCP and UDP, every address).
    relay_ports: Vec<u16>,
    /// The sandbox's network namespace (device, inode), if /proc told.
    netns: Option<(u64, u64)>,
    upstream: SocketAddr,
    names: Mutex<(HashMap<String, u32>, Vec<Entry>)>,
}

fn synth_addr(index: u32, v6: bool) -> IpAddr {
    let n = index + 2;
    if v6 {
        IpAddr::V6(Ipv6Addr::from(u128::from(SYNTH6) | n as u128))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::from(SYNTH4) | n))
    }
}

fn synth_index(ip: IpAddr) -> Option<u32> {
    let n = match ip {
        IpAddr::V4(a) if in_prefix(ip, IpAddr::V4(SYNTH4), SYNTH4_LEN) => {
            u32::from(a) - u32::from(SYNTH4)
        }
        IpAddr::V6(a) if in_prefix(ip, IpAddr::V6(SYNTH6), SYNTH6_LEN) => {
            let low = u128::from(a) - u128::from(SYNTH6);
            u32::try_from(low).ok()?
        }
        _ => return None,
    };
    n.checked_sub(2)
}

enum Lookup {
    Addrs(Vec<IpAddr>, u32),
    NxDomain,
    Refused(&'static str),
    Failed,
}

impl State {
    /// The addresses of allowed `name` for family `v6`, checked; resolved again when
    /// the TTL has passed.
    fn addresses(&self, name: &str, v6: bool) -> Lookup {
        let now = Instant::now();
        {
            let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(&i) = names.0.get(name) {
                if let Some(c) = &names.1[i as usize].cache[v6 as usize] {
                    if c.expires > now {
                        let ttl = (c.expires - now).as_secs() as u32;
                        return Lookup::Addrs(c.addrs.clone(), ttl);
                    }
                }
            }
        }
        let qtype = if v6 { TYPE_AAAA } else { TYPE_A };
        let got = match resolve(self.upstream, name, qtype) {
            Ok(g) => g,
            Err(Upstream::NxDomain) => return Lookup::NxDomain,
            Err(Upstream::Failed) => return Lookup::Failed,
        };
        if got
            .0
            .iter()
            .any(|a| !is_public(*a) && !self.policy.net_covers(*a))
        {
            return Lookup::Refused("resolves to an address that is not public (rebinding)");
        }
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&i) = names.0.get(name) {
            names.1[i as usize].cache[v6 as usize] = Some(Cached {
                addrs: got.0.clone(),
                expires: now + Duration::from_secs(got.1 as u64),
            });
        }
        Lookup::Addrs(got.0, got.1)
    }

    /// The synthetic address of `name` (given one on first use).
    fn synthetic(&self, name: &str, v6: bool) -> Option<IpAddr> {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let (map, entries) = &mut *names;
        let i = match map.get(name) {
            Some(&i) => i,
            None => {
                let i = entries.len() as u32;
                if i >= MAX_NAMES {
                    return None;
                }
                entries.push(Entry {
                    name: name.to_string(),
                    cache: [None, None],
                });
                map.insert(name.to_string(), i);
                i
            }
        };
        Some(synth_addr(i, v6))
    }

    /// The DNS answer to one query from the sandbox.
    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let q = parse_query(query)?;
        if q.opcode != 0 {
            return Some(reply(query, &q, RCODE_NOTIMP, &[]));
        }
        if q.qclass != 1 || self.policy.host_ports(&q.name).is_none() {
            deny_name(&q.name, q.qtype, "name not allowed");
            return Some(reply(query, &q, RCODE_NXDOMAIN, &[]));
        }
        if q.qtype != TYPE_A && q.qtype != TYPE_AAAA {
            return Some(reply(query, &q, 0, &[]));
        }
        let v6 = q.qtype == TYPE_AAAA;
        // Registered first, so that the cache is kept.
        let Some(synth) = self.synthetic(&q.name, v6) else {
            return Some(reply(query, &q, RCODE_SERVFAIL, &[]));
        };
        match self.addresses(&q.name, v6) {
            Lookup::Addrs(a, _) if a.is_empty() => Some(reply(query, &q, 0, &[])),
            Lookup::Addrs(_, ttl) => Some(reply(query, &q, 0, &[(synth, ttl)])),
            Lookup::NxDomain => Some(reply(query, &q, RCODE_NXDOMAIN, &[])),
            Lookup::Refused(why) => {
                deny_name(&q.name, q.qtype, why);
                Some(reply(query, &q, RCODE_NXDOMAIN, &[]))
            }
            Lookup::Failed => Some(reply(query, &q, RCODE_SERVFAIL, &[])),
        }
    }

    /// Where a connection (or datagram) to `dst`:`port` in the sandbox goes, or the
    /// host to count a refusal against.
    fn target(&self, dst: IpAddr, port: u16) -> std::result::Result<Vec<SocketAddr>, String> {
        if let Some(i) = synth_index(dst) {
            let name = {
                let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
                match names.1.get(i as usize) {
                    Some(e) => e.name.clone(),
                    None => return Err(dst.to_string()),
                }
            };
            if !self
                .policy
                .host_ports(&name)
                .is_some_and(|p| p.contains(&port))
            {
                return Err(name);
            }
            return match self.addresses(&name, dst.is_ipv6()) {
                Lookup::Addrs(a, _) if !a.is_empty() => {
                    Ok(a.into_iter().map(|a| SocketAddr::new(a, port)).collect())
                }
                _ => Err(name),
            };
        }
        if self.policy.net_allows(dst, port) {
            return Ok(vec![SocketAddr::new(dst, port)]);
        }
        Err(dst.to_string())
    }
}

impl State {
    /// The connection watch's verdict on `dst`:`port` (`dst` canonical), dialled in
    /// the sandbox: `None` when the route and the relay let it through (or it is
    /// the sandbox's own loopback), else the host to count it against.
    fn verdict(&self, dst: IpAddr, port: u16) -> Option<String> {
        if is_synthetic(dst) {
            let name = synth_index(dst).and_then(|i| {
                let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
                names.1.get(i as usize).map(|e| e.name.clone())
            });
            return match name {
                Some(n)
                    if self
                        .policy
                        .host_ports(&n)
                        .is_some_and(|p| p.contains(&port)) =>
                {
                    None
                }
                Some(n) => Some(n),
                None => Some(dst.to_string()),
            };
        }
        if self.policy.net_allows(dst, port) {
            return None;
        }
        if dst.is_loopback() || dst.is_unspecified() {
            // The relay's listeners hold these ports on every address: it would
            // accept and reset the connection.
            return self.relay_ports.contains(&port).then(|| dst.to_string());
        }
        Some(dst.to_string())
    }
}

/// The network namespace of process (or thread) `pid`: (device, inode).
fn netns_of(pid: libc::pid_t) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
    Some((m.dev(), m.ino()))
}

fn is_synthetic(ip: IpAddr) -> bool {
    in_prefix(ip, IpAddr::V4(SYNTH4), SYNTH4_LEN) || in_prefix(ip, IpAddr::V6(SYNTH6), SYNTH6_LEN)
}

/// The first nameserver of the host's /etc/resolv.conf (127.0.0.1 without one).
fn upstream() -> SocketAddr {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() == Some("nameserver") {
            if let Some(a) = w.next() {
                let a = a.split('%').next().unwrap_or(a);
                if let Ok(ip) = a.parse::<IpAddr>() {
                    return SocketAddr::new(ip, 53);
                }
            }
        }
    }
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53)
}

/// The relay, running in threads of the monitor; they end with it.
pub struct Relay {
    /// What the relay threads share; the connection watch reads it too.
    state: Arc<State>,
}

/// Monitor side: receive the sockets the child (`pid`) bound (until its "end"), start
/// the relay. An error when the child ended before.
pub fn start(policy: &Policy, sock: OwnedFd, pid: libc::pid_t) -> Result<Relay> {
    if let Ok(mut d) = DENIED.lock() {
        d.get_or_insert_with(Denials::default);
    }
    let mut socks = Vec::new();
    loop {
        match recv_fd(&sock).ctx(|| "--allow-host/--allow-net: receiving the sockets".into())? {
            None => {
                return Err(Error::msg(
                    "--allow-host/--allow-net: the sandbox's network was not set up",
                ))
            }
            Some((label, _)) if label == "end" => break,
            Some((label, Some(fd))) => socks.push((label, fd)),
            Some(_) => {}
        }
    }
    let state = Arc::new(State {
        policy: policy.clone(),
        relay_ports: policy.ports(),
        // The child is there, in its network namespace, until the gate opens.
        netns: netns_of(pid),
        upstream: upstream(),
        names: Mutex::new((HashMap::new(), Vec::new())),
    });
    for (label, fd) in socks {
        let st = state.clone();
        let spawned = match label.split_once(' ') {
            None if label == "dns-udp" => spawn(move || dns_udp(st, UdpSocket::from(fd))),
            None if label == "dns-tcp" => spawn(move || dns_tcp(st, TcpListener::from(fd))),
            Some(("tcp", _)) => spawn(move || tcp_accept(st, TcpListener::from(fd))),
            Some(("udp", _)) => spawn(move || udp_relay(st, Arc::new(fd))),
            _ => Ok(()),
        };
        spawned.ctx(|| "--allow-host/--allow-net: starting the relay".into())?;
    }
    Ok(Relay { state })
}

impl Relay {
    /// Start the connection watch on `listener`, the command's (see the top of
    /// this file). Its thread ends with the monitor; should it fail to start, the
    /// watched calls fail with ENOSYS (nothing gets through that would not).
    pub fn watch(&self, listener: OwnedFd) {
        let st = self.state.clone();
        let _ = std::thread::Builder::new()
            .name("hutch-watch".into())
            .spawn(move || {
                crate::supervise::serve_calls(&listener, |n, l| watch_answer(&st, n, l))
            });
    }
}

// ---------------------------------------------------------------------------
// The connection watch (see the top of this file)

/// The watched calls `(x86_64, aarch64)`.
const CONNECT: (u32, u32) = (42, 203);
const SENDTO: (u32, u32) = (44, 206);

fn native(call: (u32, u32)) -> u32 {
    if crate::supervise::NATIVE == 0 {
        call.0
    } else {
        call.1
    }
}

/// The filter: `connect`, and `sendto` with an address, to the listener; the rest,
/// and foreign architectures (i386, x32), allowed.
pub fn watch_filter() -> Vec<u8> {
    use crate::supervise::{ins, ALLOW, AUDIT_ARCH, JEQ_K, LD_W_ABS, NOTIFY, RET_K};
    // struct seccomp_data: nr at 0, arch at 4, args from 16 (8 bytes each, the low
    // half first on these little-endian architectures).
    const ADDR_LO: u32 = 16 + 4 * 8;
    [
        /* 0 */ ins(LD_W_ABS, 0, 0, 4),
        /* 1 */ ins(JEQ_K, 0, 8, AUDIT_ARCH), // else 10
        /* 2 */ ins(LD_W_ABS, 0, 0, 0),
        /* 3 */ ins(JEQ_K, 5, 0, native(CONNECT)), // 9
        /* 4 */ ins(JEQ_K, 0, 5, native(SENDTO)), // else 10
        /* 5 */ ins(LD_W_ABS, 0, 0, ADDR_LO),
        /* 6 */ ins(JEQ_K, 0, 2, 0), // else 9
        /* 7 */ ins(LD_W_ABS, 0, 0, ADDR_LO + 4),
        /* 8 */ ins(JEQ_K, 1, 0, 0), // 10, else 9
        /* 9 */ ins(RET_K, 0, 0, NOTIFY),
        /* 10 */ ins(RET_K, 0, 0, ALLOW),
    ]
    .concat()
}

/// What `--report` says of the watch (`network.connect_watch`), set in the command
/// by [`watch_install`] before the report is written there.
static WATCH: Mutex<&str> = Mutex::new("unsupported");

/// In the command, shortly before exec (after no_new_privs): install the watch's
/// filter and send its listener to the monitor over `sock`. Where the kernel cannot
/// (before 5.6) or a listener is in force above (EBUSY), nothing is installed and
/// the sandbox runs as without the watch; only an error after the filter is in
/// (the listener not sent) fails it.
pub fn watch_install(sock: std::os::fd::RawFd) -> Result<()> {
    let status = if !crate::supervise::available() || !crate::sys::pidfd_getfd_available() {
        "unsupported"
    } else {
        match crate::supervise::install_program(sock, &watch_filter())? {
            true => "supervised",
            false => "enclosing",
        }
    };
    if let Ok(mut w) = WATCH.lock() {
        *w = status;
    }
    Ok(())
}

/// The address a watched call dials, read from the caller: (is `sendto`, address).
fn watched_addr(n: &crate::sys::SeccompNotif) -> Option<(bool, SocketAddr)> {
    let sendto = n.nr as u32 == native(SENDTO);
    let (addr, len) = match sendto {
        true => (n.args[4], n.args[5]),
        false => (n.args[1], n.args[2]),
    };
    // Enough for sockaddr_in6; socklen_t is 32 bits.
    let len = (len as u32 as usize).min(28);
    if addr == 0 || len < 2 {
        return None;
    }
    let b = crate::supervise::read_bytes(n.pid as i32, addr, len).ok()?;
    let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]);
    let sa = match i32::from(u16::from_ne_bytes([b[0], b[1]])) {
        libc::AF_INET if len >= 16 => {
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            SocketAddr::new(IpAddr::V4(ip), port(&b))
        }
        libc::AF_INET6 if len >= 24 => {
            let ip: [u8; 16] = b[8..24].try_into().ok()?;
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port(&b))
        }
        _ => return None,
    };
    Some((sendto, sa))
}

/// The protocol of the caller's socket `fd` (a duplicate of it, `pidfd_getfd`):
/// (is a stream, name for the count).
fn socket_proto(pid: i32, fd: i32) -> Option<(bool, &'static str)> {
    let pidfd = crate::sys::pidfd_open(pid)
        .or_else(|e| {
            // A thread other than the leader (pidfd_open takes those from 6.9).
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|_| e)?;
            let tgid = status
                .lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|t| t.trim().parse().ok())
                .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))?;
            crate::sys::pidfd_open(tgid)
        })
        .ok()?;
    use std::os::fd::AsFd;
    let sock = crate::sys::pidfd_getfd(pidfd.as_fd(), fd).ok()?;
    let int = |opt| crate::sys::getsockopt_int(sock.as_fd(), libc::SOL_SOCKET, opt).ok();
    let stream = int(libc::SO_TYPE)? == libc::SOCK_STREAM;
    let name = match int(libc::SO_PROTOCOL)? {
        libc::IPPROTO_TCP => "tcp",
        libc::IPPROTO_UDP => "udp",
        libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6 => "icmp",
        libc::IPPROTO_SCTP => "sctp",
        libc::IPPROTO_UDPLITE => "udplite",
        libc::IPPROTO_MPTCP => "mptcp",
        _ => "raw",
    };
    Some((stream, name))
}

/// The watch's answer to one `connect` or `sendto` (see the top of this file).
/// Anything it cannot tell continues: the route and the relay still decide.
fn watch_answer(
    st: &State,
    n: &crate::sys::SeccompNotif,
    listener: std::os::fd::BorrowedFd<'_>,
) -> crate::supervise::Answer {
    use crate::supervise::Answer;
    let Some((sendto, dst)) = watched_addr(n) else {
        return Answer::Continue;
    };
    if dst.port() == 0 {
        return Answer::Continue;
    }
    let Some(host) = st.verdict(dst.ip().to_canonical(), dst.port()) else {
        return Answer::Continue;
    };
    // The rules speak of the sandbox's network namespace: a call made in another
    // (a nested sandbox's, whose hutch could not add its own watch) is not ours to
    // judge.
    if st.netns.is_none() || netns_of(n.pid as i32) != st.netns {
        return Answer::Continue;
    }
    let Some((stream, proto)) = socket_proto(n.pid as i32, n.args[0] as i32) else {
        return Answer::Continue;
    };
    // A connected TCP socket ignores sendto's address (unless MSG_FASTOPEN, which
    // connects to it).
    if sendto && stream && n.args[3] as u32 as i32 & libc::MSG_FASTOPEN == 0 {
        return Answer::Continue;
    }
    // What was read is the caller's (its pid was not reused meanwhile).
    if !crate::sys::seccomp_notif_id_valid(listener, n.id) {
        return Answer::Continue;
    }
    deny_conn(host, dst.port(), proto);
    Answer::Errno(libc::EACCES)
}

/// After a failed accept or receive (out of descriptors, say): not a busy loop.
fn pause() {
    std::thread::sleep(Duration::from_millis(20));
}

fn spawn(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("hutch-relay".into())
        .spawn(f)
        .map(drop)
}

fn dns_udp(st: Arc<State>, sock: UdpSocket) {
    let sock = Arc::new(sock);
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            pause();
            continue;
        };
        let query = buf[..n].to_vec();
        let (st, sock) = (st.clone(), sock.clone());
        let Some(slot) = Slot::take() else { continue };
        let _ = spawn(move || {
            let _slot = slot;
            if let Some(r) = st.answer(&query) {
                let _ = sock.send_to(&r, from);
            }
        });
    }
}

fn dns_tcp(st: Arc<State>, l: TcpListener) {
    for s in l.incoming() {
        let Ok(mut s) = s else {
            pause();
            continue;
        };
        let st = st.clone();
        let Some(slot) = Slot::take() else { continue };
        let _ = spawn(move || {
            let _slot = slot;
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            loop {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).is_err() {
                    return;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut q).is_err() {
                    return;
                }
                let Some(r) = st.answer(&q) else { return };
                let mut out = (r.len() as u16).to_be_bytes().to_vec();
                out.extend(r);
                if s.write_all(&out).is_err() {
                    return;
                }
            }
        });
    }
}

fn tcp_accept(st: Arc<State>, l: TcpListener) {
    for s in l.incoming() {
        let Ok(s) = s else {
            pause();
            continue;
        };
        let st = st.clone();
        let Some(slot) = Slot::take() else {
            if let Ok(local) = s.local_addr() {
                deny_conn(local.ip().to_canonical().to_string(), local.port(), "tcp");
            }
            reset(&s);
            continue;
        };
        let _ = spawn(move || {
            let _slot = slot;
            tcp_conn(&st, s)
        });
    }
}

fn tcp_conn(st: &State, inside: TcpStream) {
    let Ok(local) = inside.local_addr() else {
        return;
    };
    let dst = local.ip().to_canonical();
    let out = match st.target(dst, local.port()) {
        Ok(targets) => targets
            .iter()
            .find_map(|t| TcpStream::connect_timeout(t, CONNECT_TIMEOUT).ok()),
        Err(host) => {
            deny_conn(host, local.port(), "tcp");
            None
        }
    };
    let Some(out) = out else {
        reset(&inside);
        return;
    };
    let _ = inside.set_nodelay(true);
    let _ = out.set_nodelay(true);
    let (Ok(i2), Ok(o2)) = (inside.try_clone(), out.try_clone()) else {
        return;
    };
    let t = std::thread::Builder::new()
        .name("hutch-relay".into())
        .spawn(move || pump(i2, o2));
    pump(out, inside);
    if let Ok(t) = t {
        let _ = t.join();
    }
}

/// Close with a reset, not an orderly end: the client sees ECONNRESET at once.
fn reset(s: &TcpStream) {
    let _ = nix::sys::socket::setsockopt(
        s,
        nix::sys::socket::sockopt::Linger,
        &libc::linger {
            l_onoff: 1,
            l_linger: 0,
        },
    );
}

/// Copy `from` to `to` until end-of-file, then pass the end on.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    let _ = from.shutdown(Shutdown::Read);
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

type Flows = Mutex<HashMap<(SocketAddr, IpAddr), Arc<UdpSocket>>>;

fn udp_relay(st: Arc<State>, sock: Arc<OwnedFd>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    let flows: Arc<Flows> = Arc::new(Mutex::new(HashMap::new()));
    let port = match nix::sys::socket::getsockname::<SockaddrStorage>(sock.as_raw_fd()) {
        Ok(a) => a
            .as_sockaddr_in()
            .map(|a| a.port())
            .or_else(|| a.as_sockaddr_in6().map(|a| a.port()))
            .unwrap_or(0),
        Err(_) => return,
    };
    let mut buf = vec![0u8; 65536];
    loop {
        let mut space = nix::cmsg_space!(libc::in6_pktinfo);
        let (n, from, dst) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<SockaddrStorage>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::empty(),
            ) {
                Ok(m) => m,
                Err(_) => {
                    pause();
                    continue;
                }
            };
            let from = msg.address.and_then(|a| {
                a.as_sockaddr_in()
                    .map(|a| SocketAddr::V4(SocketAddrV4::from(*a)))
                    .or_else(|| {
                        a.as_sockaddr_in6()
                            .map(|a| SocketAddr::V6(SocketAddrV6::from(*a)))
                    })
            });
            let mut dst = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    match c {
                        ControlMessageOwned::Ipv4PacketInfo(p) => {
                            dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(p.ipi_addr.s_addr))))
                        }
                        ControlMessageOwned::Ipv6PacketInfo(p) => {
                            dst = Some(IpAddr::V6(Ipv6Addr::from(p.ipi6_addr.s6_addr)))
                        }
                        _ => {}
                    }
                }
            }
            (msg.bytes, from, dst)
        };
        let (Some(from), Some(dst)) = (from, dst) else {
            continue;
        };
        let existing = flows.lock().ok().and_then(|f| f.get(&(from, dst)).cloned());
        let out = match existing {
            Some(o) => o,
            None => {
                let Some(slot) = Slot::take() else {
                    deny_conn(dst.to_string(), port, "udp");
                    continue;
                };
                let targets = match st.target(dst, port) {
                    Ok(t) => t,
                    Err(host) => {
                        deny_conn(host, port, "udp");
                        continue;
                    }
                };
                let Some(out) = targets.iter().find_map(|t| {
                    let bind: SocketAddr = match t {
                        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
                    };
                    let s = UdpSocket::bind(bind).ok()?;
                    s.connect(t).ok()?;
                    Some(Arc::new(s))
                }) else {
                    continue;
                };
                if let Ok(mut f) = flows.lock() {
                    f.insert((from, dst), out.clone());
                }
                let (out2, sock2, flows2) = (out.clone(), sock.clone(), flows.clone());
                let _ = spawn(move || {
                    let _slot = slot;
                    udp_back(out2, sock2, from, dst, flows2)
                });
                out
            }
        };
        let _ = out.send(&buf[..n]);
    }
}

/// Replies of one flow, sent back from the address the sandbox dialled.
fn udp_back(
    out: Arc<UdpSocket>,
    inside: Arc<OwnedFd>,
    client: SocketAddr,
    dst: IpAddr,
    flows: Arc<Flows>,
) {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, SockaddrStorage};
    let _ = out.set_read_timeout(Some(UDP_IDLE));
    let mut buf = vec![0u8; 65536];
    let to = SockaddrStorage::from(client);
    while let Ok(n) = out.recv(&mut buf) {
        let iov = [IoSlice::new(&buf[..n])];
        let _ = match dst {
            IpAddr::V4(a) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(a).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                sendmsg(
                    inside.as_raw_fd(),
                    &iov,
                    &[ControlMessage::Ipv4PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&to),
                )
            }
            IpAddr::V6(a) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                sendmsg(
                    inside.as_raw_fd(),
                    &iov,
                    &[ControlMessage::Ipv6PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&to),
                )
            }
        };
    }
    if let Ok(mut f) = flows.lock() {
        f.remove(&(client, dst));
    }
}

// ---------------------------------------------------------------------------
// DNS messages

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_NOTIMP: u8 = 4;

struct Query {
    opcode: u8,
    /// Lower case, without the trailing dot.
    name: String,
    qtype: u16,
    qclass: u16,
    /// Where the question ends.
    end: usize,
}

/// A name at `pos` (compression followed); the name and where the field ends.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos)? as usize;
        if len & 0xc0 == 0xc0 {
            let ptr = ((len & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
            end.get_or_insert(pos + 2);
            jumps += 1;
            if jumps > 32 {
                return None;
            }
            pos = ptr;
            continue;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        if len == 0 {
            let end = end.unwrap_or(pos + 1);
            return Some((labels.join(".").to_ascii_lowercase(), end));
        }
        let label = msg.get(pos + 1..pos + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        pos += 1 + len;
    }
}

fn u16_at(m: &[u8], p: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*m.get(p)?, *m.get(p + 1)?]))
}

fn u32_at(m: &[u8], p: usize) -> Option<u32> {
    Some(u32::from_be_bytes(m.get(p..p + 4)?.try_into().ok()?))
}

fn parse_query(m: &[u8]) -> Option<Query> {
    if m.len() < 12 || m[2] & 0x80 != 0 || u16_at(m, 4)? != 1 {
        return None;
    }
    let (name, p) = read_name(m, 12)?;
    Some(Query {
        opcode: (m[2] >> 3) & 0xf,
        name,
        qtype: u16_at(m, p)?,
        qclass: u16_at(m, p + 2)?,
        end: p + 4,
    })
}

/// The response to `query`: its question and `answers` (each for the question's name).
fn reply(query: &[u8], q: &Query, rcode: u8, answers: &[(IpAddr, u32)]) -> Vec<u8> {
    let mut r = Vec::with_capacity(q.end + answers.len() * 28);
    r.extend(&query[..2]);
    // QR, the opcode and RD of the query; RA.
    r.push(0x80 | (query[2] & 0x79));
    r.push(0x80 | (rcode & 0xf));
    r.extend(1u16.to_be_bytes());
    r.extend((answers.len() as u16).to_be_bytes());
    r.extend([0, 0, 0, 0]);
    r.extend(&query[12..q.end]);
    for (addr, ttl) in answers {
        r.extend([0xc0, 0x0c]);
        let (ty, data) = match addr {
            IpAddr::V4(a) => (TYPE_A, a.octets().to_vec()),
            IpAddr::V6(a) => (TYPE_AAAA, a.octets().to_vec()),
        };
        r.extend(ty.to_be_bytes());
        r.extend(1u16.to_be_bytes());
        r.extend(ttl.to_be_bytes());
        r.extend((data.len() as u16).to_be_bytes());
        r.extend(data);
    }
    r
}

fn encode_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(name.len() + 18);
    m.extend(id.to_be_bytes());
    m.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(label.len() as u8);
        m.extend(label.as_bytes());
    }
    m.push(0);
    m.extend(qtype.to_be_bytes());
    m.extend(1u16.to_be_bytes());
    m
}

enum Upstream {
    NxDomain,
    Failed,
}

/// What one upstream response says of `name`: (rcode, truncated, CNAME target of
/// the chain's end, addresses of that end, smallest TTL on the way).
struct Parsed {
    rcode: u8,
    truncated: bool,
    end: String,
    addrs: Vec<IpAddr>,
    ttl: u32,
}

fn parse_response(m: &[u8], id: u16, name: &str, qtype: u16) -> Option<Parsed> {
    if m.len() < 12 || u16_at(m, 0)? != id || m[2] & 0x80 == 0 {
        return None;
    }
    let qd = u16_at(m, 4)?;
    let an = u16_at(m, 6)?;
    let mut p = 12;
    for _ in 0..qd {
        let (_, e) = read_name(m, p)?;
        p = e + 4;
    }
    let mut records = Vec::new();
    for _ in 0..an {
        let (owner, e) = read_name(m, p)?;
        let ty = u16_at(m, e)?;
        let ttl = u32_at(m, e + 4)?;
        let len = u16_at(m, e + 8)? as usize;
        let data = e + 10;
        if m.len() < data + len {
            return None;
        }
        records.push((owner, ty, ttl, data, len));
        p = data + len;
    }
    let mut end = name.to_string();
    let mut ttl = u32::MAX;
    // The chain within this response: at most as long as its records.
    for _ in 0..=records.len() {
        let Some((_, _, t, data, _)) = records.iter().find(|r| r.1 == TYPE_CNAME && r.0 == end)
        else {
            break;
        };
        end = read_name(m, *data)?.0;
        ttl = ttl.min(*t);
    }
    let mut addrs = Vec::new();
    for (owner, ty, t, data, len) in &records {
        if *owner != end || *ty != qtype {
            continue;
        }
        let a = match (*ty, *len) {
            (TYPE_A, 4) => IpAddr::V4(Ipv4Addr::from(u32_at(m, *data)?)),
            (TYPE_AAAA, 16) => {
                let b: [u8; 16] = m.get(*data..*data + 16)?.try_into().ok()?;
                IpAddr::V6(Ipv6Addr::from(b))
            }
            _ => continue,
        };
        addrs.push(a);
        ttl = ttl.min(*t);
    }
    Some(Parsed {
        rcode: m[3] & 0xf,
        truncated: m[2] & 0x02 != 0,
        end,
        addrs,
        ttl: if ttl == u32::MAX { 60 } else { ttl },
    })
}

fn random_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u16
}

/// One query to the upstream server: UDP, again over TCP when truncated.
fn ask(upstream: SocketAddr, name: &str, qtype: u16) -> Option<Parsed> {
    let id = random_id();
    let q = encode_query(id, name, qtype);
    let bind: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(upstream).ok()?;
    let mut buf = vec![0u8; 4096];
    let mut got = None;
    for _ in 0..2 {
        s.send(&q).ok()?;
        let until = Instant::now() + UPSTREAM_TIMEOUT / 2;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            let _ = s.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match s.recv(&mut buf) {
                Ok(n) => {
                    if let Some(p) = parse_response(&buf[..n], id, name, qtype) {
                        got = Some(p);
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if got.is_some() {
            break;
        }
    }
    let got = got?;
    if !got.truncated {
        return Some(got);
    }
    let mut t = TcpStream::connect_timeout(&upstream, UPSTREAM_TIMEOUT).ok()?;
    let _ = t.set_read_timeout(Some(UPSTREAM_TIMEOUT));
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend(&q);
    t.write_all(&out).ok()?;
    let mut len = [0u8; 2];
    t.read_exact(&mut len).ok()?;
    let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
    t.read_exact(&mut r).ok()?;
    parse_response(&r, id, name, qtype)
}

/// The addresses of `name` (CNAME chain followed, across queries if need be) and
/// the smallest TTL on the way.
fn resolve(
    upstream: SocketAddr,
    name: &str,
    qtype: u16,
) -> std::result::Result<(Vec<IpAddr>, u32), Upstream> {
    let mut cur = name.to_string();
    let mut ttl = u32::MAX;
    for _ in 0..8 {
        let p = ask(upstream, &cur, qtype).ok_or(Upstream::Failed)?;
        match p.rcode {
            0 => {}
            3 => return Err(Upstream::NxDomain),
            _ => return Err(Upstream::Failed),
        }
        ttl = ttl.min(p.ttl);
        if !p.addrs.is_empty() || p.end == cur {
            return Ok((p.addrs, ttl));
        }
        cur = p.end;
    }
    Err(Upstream::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rules() {
        let r = parse_host("*.Example.ORG.:8443,80").unwrap();
        assert_eq!(
            r,
            HostRule {
                name: "example.org".into(),
                wildcard: true,
                ports: vec![8443, 80]
            }
        );
        assert!(r.matches("a.example.org") && r.matches("a.b.example.org"));
        assert!(!r.matches("example.org") && !r.matches("aexample.org"));
        assert_eq!(parse_host("pypi.org").unwrap().ports, DEFAULT_PORTS);
        for (spec, why) in [
            ("192.0.2.1", "an address, not a name (use --allow-net)"),
            ("a..b", "bad name \"a..b\""),
            ("a.*.b", "bad name"),
            ("", "expected a host name"),
            ("x.org:0", "bad port \"0\""),
            ("x.org:53", "port 53 is the sandbox's DNS"),
            ("x.org:80,", "bad port \"\""),
        ] {
            let e = parse_host(spec).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--allow-host {spec}: {why}")), "{e}");
        }
    }

    #[test]
    fn net_rules() {
        let r = parse_net("192.0.2.0/24:8080").unwrap();
        assert_eq!((r.prefix, r.ports.clone()), (24, vec![8080]));
        assert!(r.covers("192.0.2.77".parse().unwrap()));
        assert!(!r.covers("192.0.3.1".parse().unwrap()));
        let r = parse_net("[2001:db8::/32]:443").unwrap();
        assert!(r.covers("2001:db8:1::1".parse().unwrap()));
        assert_eq!(parse_net("2001:db8::1").unwrap().prefix, 128);
        assert_eq!(parse_net("10.0.0.1").unwrap().ports, DEFAULT_PORTS);
        for (spec, why) in [
            ("10.0.0.0/33", "bad prefix length \"33\""),
            ("example.org", "bad address \"example.org\""),
            ("[::1]443", "] must be followed by :PORT"),
            ("10.0.0.1:x", "bad port \"x\""),
        ] {
            let e = parse_net(spec).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--allow-net {spec}: {why}")), "{e}");
        }
    }

    #[test]
    fn public_addresses() {
        for a in ["192.0.2.1", "198.51.100.7", "2001:db8::1", "8.8.8.8"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "198.18.0.2",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn synthetic_addresses() {
        assert_eq!(synth_addr(0, false).to_string(), "198.18.0.2");
        assert_eq!(synth_index("198.18.1.0".parse().unwrap()), Some(254));
        assert_eq!(
            synth_index("198.19.255.255".parse().unwrap()),
            Some(MAX_NAMES - 1)
        );
        assert_eq!(synth_addr(5, true).to_string(), "fd68:7574:6368::7");
        assert_eq!(synth_index("fd68:7574:6368::7".parse().unwrap()), Some(5));
        assert_eq!(synth_index("198.20.0.1".parse().unwrap()), None);
    }

    #[test]
    fn watch_filter_is_a_program() {
        assert_eq!(watch_filter().len(), 11 * 8);
        crate::seccomp::Program::from_bytes(watch_filter()).unwrap();
    }

    #[test]
    fn watch_verdicts() {
        let policy = Policy {
            hosts: vec![
                parse_host("www.example.org:80,443").unwrap(),
                parse_host("*.wild.org:8080").unwrap(),
            ],
            nets: vec![parse_net("192.0.2.0/24:22").unwrap()],
        };
        let st = State {
            relay_ports: policy.ports(),
            policy,
            netns: None,
            upstream: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53),
            names: Mutex::new((HashMap::new(), Vec::new())),
        };
        let www = st.synthetic("www.example.org", false).unwrap();
        let wild = st.synthetic("a.wild.org", true).unwrap();
        let v = |ip: IpAddr, port| st.verdict(ip, port);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let name = |s: &str| Some(s.to_string());
        assert_eq!(v(www, 443), None);
        assert_eq!(v(www, 8080), name("www.example.org"));
        assert_eq!(v(www, 25), name("www.example.org"));
        assert_eq!(v(wild, 8080), None);
        assert_eq!(v(wild, 80), name("a.wild.org"));
        // A synthetic address no name has (yet).
        assert_eq!(v(ip("198.18.0.9"), 80), name("198.18.0.9"));
        assert_eq!(v(ip("198.18.0.0"), 80), name("198.18.0.0"));
        assert_eq!(v(ip("192.0.2.7"), 22), None);
        assert_eq!(v(ip("192.0.2.7"), 80), name("192.0.2.7"));
        // The sandbox's loopback: its own, except on the relay's ports.
        assert_eq!(v(ip("127.0.0.1"), 9999), None);
        assert_eq!(v(ip("127.0.0.1"), 80), name("127.0.0.1"));
        assert_eq!(v(ip("::1"), 8080), name("::1"));
        assert_eq!(v(ip("0.0.0.0"), 22), name("0.0.0.0"));
        assert_eq!(v(ip("1.2.3.4"), 443), name("1.2.3.4"));
        assert_eq!(v(ip("2001:db8::1"), 443), name("2001:db8::1"));
    }

    #[test]
    fn watched_addresses_are_read_from_the_caller() {
        let notif = |nr, args: [u64; 6]| crate::sys::SeccompNotif {
            pid: std::process::id(),
            nr: nr as i32,
            args,
            ..Default::default()
        };
        // struct sockaddr_in for 192.0.2.1:443, and sockaddr_in6 for [2001:db8::5]:80.
        let mut v4 = [0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&443u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[192, 0, 2, 1]);
        let mut v6 = [0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&80u16.to_be_bytes());
        v6[8..24].copy_from_slice(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets());
        let p4 = v4.as_ptr() as u64;
        let p6 = v6.as_ptr() as u64;
        let connect = native(CONNECT);
        let sendto = native(SENDTO);
        assert_eq!(
            watched_addr(&notif(connect, [3, p4, 16, 0, 0, 0])),
            Some((false, "192.0.2.1:443".parse().unwrap()))
        );
        assert_eq!(
            watched_addr(&notif(sendto, [3, 0, 0, 0, p6, 28])),
            Some((true, "[2001:db8::5]:80".parse().unwrap()))
        );
        // Too short for its family, NULL, another family: not judged.
        assert_eq!(watched_addr(&notif(connect, [3, p4, 8, 0, 0, 0])), None);
        assert_eq!(watched_addr(&notif(connect, [3, 0, 16, 0, 0, 0])), None);
        v4[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        let p4 = v4.as_ptr() as u64;
        assert_eq!(watched_addr(&notif(connect, [3, p4, 16, 0, 0, 0])), None);
    }

    #[test]
    fn dns_round_trip() {
        let q = encode_query(0x1234, "Www.Example.org", TYPE_A);
        let p = parse_query(&q).unwrap();
        assert_eq!(
            (p.name.as_str(), p.qtype, p.qclass),
            ("www.example.org", 1, 1)
        );
        let a: IpAddr = "192.0.2.5".parse().unwrap();
        let r = reply(&q, &p, 0, &[(a, 30)]);
        let got = parse_response(&r, 0x1234, "www.example.org", TYPE_A).unwrap();
        assert_eq!((got.rcode, got.addrs, got.ttl), (0, vec![a], 30));
        assert!(parse_response(&r, 0x1235, "www.example.org", TYPE_A).is_none());
    }
}

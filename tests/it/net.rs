//! Networking: `--net host|none|user`, `--net-allow-host-loopback`, `--publish`, each
//! run as root and as an unprivileged user (nobody, through `setpriv`).
//!
//! Hermetic: every test runs in a thread that first moves into a new network namespace
//! of its own (root only; without root the tests skip, saying so). Its "host network"
//! is a loopback plus an uplink that leads nowhere (a dummy, ifb or veth device with
//! 198.51.100.2/24 and a default route; 10.0.2.0/24 is "prohibit"ed so a connection the
//! helper forwards there fails at once instead of timing out). Servers bind the
//! namespace's 127.0.0.1 and hutch is started from the same thread, so hutch, its
//! network helper and the servers share that namespace: no packet can reach a real
//! network. DNS: the helper forwards to the first nameserver of /etc/resolv.conf, which
//! the test replaces (in a private mount namespace around hutch, through `unshare -m`)
//! with `nameserver 127.0.0.53`, where a small responder of the test's answers.

use crate::support;

use crate::support::{bin_dir, chmod, Cmd, Out, TempDir, User};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const PY: &str = "/usr/bin/python3";
const GATEWAY: &str = "10.0.2.2";
const GREETING: &str = "hello-from-the-host";

/// The tests need root (see [`in_netns`]): they run as root and as nobody.
const USERS: [User; 2] = [User::Root, User::Nobody];

/// A fresh directory that everyone can read.
fn tempdir(tag: &str) -> TempDir {
    support::tempdir_mode(tag, 0o755)
}

/// Run `f` in a thread of its own in a new, private network namespace. Without root
/// the test is skipped (it says so): making the namespace needs CAP_SYS_ADMIN.
fn in_netns(f: impl FnOnce() + Send + 'static) {
    if !support::is_root() {
        support::skip("the network tests need root to make a private network namespace");
        return;
    }
    support::in_private_net(f)
}

/// A TCP server on 127.0.0.1 (of the calling thread's namespace) that greets every
/// client and counts them. Returns its port.
fn host_server() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let mut s = s;
            let _ = s.write_all(format!("{GREETING}\n").as_bytes());
        }
    });
    (port, count)
}

/// A port that is free now on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------
// Running hutch

/// How to start hutch: as whom, under which name, with which PATH, and whether
/// /etc/resolv.conf is replaced around it.
#[derive(Clone)]
struct Run {
    user: User,
    name: &'static str,
    path: Option<String>,
    resolv_conf: Option<PathBuf>,
}

impl Run {
    fn new(user: User) -> Run {
        Run {
            user,
            name: "hutch",
            path: None,
            resolv_conf: None,
        }
    }

    fn cmd(&self, args: &[String]) -> Cmd {
        let mut c = self
            .user
            .cmd(bin_dir().join(self.name))
            .args(args)
            .reset_env()
            .timeout(TIMEOUT)
            .in_test_group();
        if let Some(conf) = &self.resolv_conf {
            // A private mount namespace (private propagation): the host's file is untouched.
            let script = format!(
                "mount --bind {} /etc/resolv.conf && exec \"$@\"",
                conf.display()
            );
            c = c.wrap(["unshare", "-m", "sh", "-c", &script, "sh"]);
        }
        if let Some(path) = &self.path {
            c = c.env("PATH", path);
        }
        c
    }

    /// The command, its stdout and stderr piped (see [`wait`]).
    fn command(&self, args: &[String]) -> Command {
        let mut c = self.cmd(args).command();
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    fn run(&self, args: &[String]) -> Out {
        self.cmd(args).run()
    }
}

fn spawn(c: &mut Command) -> Child {
    support::spawn_retry(c)
}

fn wait(child: Child) -> Out {
    support::wait_child(child, TIMEOUT)
}

/// The host's root read-only, a private /dev, /proc and /tmp, and the network flags.
fn args(net: &[&str], command: &[&str]) -> Vec<String> {
    [
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    .iter()
    .chain(net)
    .chain(&["--"])
    .chain(command)
    .map(|s| s.to_string())
    .collect()
}

/// Python that tries a TCP connection to each `host:port` and prints one line each:
/// `host:port <first line received>` or `host:port error <exception>`. pasta drops a
/// connection it cannot make (no reset): a refused one costs the 3 s timeout.
fn probe(targets: &[(&str, u16)]) -> String {
    let list: Vec<String> = targets
        .iter()
        .map(|(h, p)| format!("('{h}', {p})"))
        .collect();
    format!(
        "import socket\n\
         for h, p in [{}]:\n\
         \x20   try:\n\
         \x20       s = socket.create_connection((h, p), timeout=3)\n\
         \x20       print(f'{{h}}:{{p}}', s.makefile().readline().strip() or 'nothing')\n\
         \x20   except OSError as e:\n\
         \x20       print(f'{{h}}:{{p}} error', type(e).__name__, e.errno)\n",
        list.join(", ")
    )
}

fn line<'a>(out: &'a Out, prefix: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in {out:#?}"))
}

/// The network helpers running as children of `pid` (pasta, or slirp4netns).
fn helper_children(pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(status) = fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse::<u32>().ok());
        let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        let comm = comm.trim().to_string();
        if ppid == Some(pid) && (comm.starts_with("pas") || comm.starts_with("slirp4netns")) {
            found.push((p, start_time(p).unwrap_or_default()));
        }
    }
    found
}

/// A process's start time (field 22 of /proc/PID/stat), to tell it from a reused pid.
fn start_time(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(String::from)
}

fn gone(procs: &[(u32, String)]) -> bool {
    procs
        .iter()
        .all(|(p, t)| start_time(*p).as_ref() != Some(t))
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn user_net_has_the_documented_layout() {
    in_netns(|| {
        for user in USERS {
            for name in ["hutch", "bwrap"] {
                let mut r = Run::new(user);
                r.name = name;
                let o = r.run(&args(
                    &["--net", "user"],
                    &[
                        "sh",
                        "-c",
                        "ip -o -4 addr show dev eth0; ip -4 route show default; cat /etc/resolv.conf",
                    ],
                ));
                o.ok();
                assert!(
                    o.stdout.contains("inet 10.0.2.100/24"),
                    "{user:?} {name}: {o:#?}"
                );
                assert!(o.stdout.contains("default via 10.0.2.2 dev eth0"), "{o:#?}");
                assert!(o.stdout.contains("\nnameserver 10.0.2.3\n"), "{o:#?}");
            }
        }
    });
}

/// The generated /etc/resolv.conf yields to one the command line gives; a symlink to
/// nothing there is one clear error.
#[test]
fn resolv_conf_given_on_the_command_line_wins() {
    in_netns(|| {
        let dir = tempdir("resolv");
        let own = dir.path().join("resolv.conf");
        fs::write(&own, "nameserver 192.0.2.53\n").unwrap();
        chmod(&own, 0o644);
        let etc = dir.path().join("etc");
        fs::create_dir(&etc).unwrap();
        chmod(&etc, 0o755);
        std::os::unix::fs::symlink("/run/nowhere/resolv.conf", etc.join("resolv.conf")).unwrap();
        for user in USERS {
            let own = own.display().to_string();
            let o = Run::new(user).run(&args(
                &["--ro-bind", &own, "/etc/resolv.conf", "--net", "user"],
                &["cat", "/etc/resolv.conf"],
            ));
            assert_eq!(o.ok().stdout, "nameserver 192.0.2.53\n", "{user:?}: {o:#?}");

            let etc = etc.display().to_string();
            let o = Run::new(user).run(&args(
                &["--ro-bind", &etc, "/etc", "--net", "user"],
                &["/bin/echo", "ran"],
            ));
            assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{user:?}: {o:#?}");
            assert_eq!(
                o.stderr,
                "hutch: --net user: /etc/resolv.conf is a symlink to /run/nowhere/resolv.conf, \
                 which does not exist in the sandbox (to use your own, put one at \
                 /etc/resolv.conf, e.g. --ro-bind-data FD /etc/resolv.conf)\n",
                "{user:?}"
            );
        }
    });
}

#[test]
fn host_loopback_is_only_reachable_when_allowed() {
    in_netns(|| {
        let (port, count) = host_server();
        let script = probe(&[(GATEWAY, port), ("127.0.0.1", port)]);
        for user in USERS {
            let o = Run::new(user).run(&args(&["--net", "user"], &[PY, "-c", &script]));
            o.ok();
            let gw = line(&o, &format!("{GATEWAY}:{port}"));
            assert!(gw.contains(" error "), "{user:?}: {o:#?}");
            // The sandbox's own loopback is its own.
            let lo = line(&o, &format!("127.0.0.1:{port}"));
            assert!(lo.contains("ConnectionRefusedError"), "{user:?}: {o:#?}");
            assert_eq!(count.load(Ordering::SeqCst), 0, "{user:?}: {o:#?}");

            let o = Run::new(user).run(&args(
                &["--net", "user", "--net-allow-host-loopback"],
                &[PY, "-c", &script],
            ));
            o.ok();
            let gw = line(&o, &format!("{GATEWAY}:{port}"));
            assert_eq!(
                gw,
                format!("{GATEWAY}:{port} {GREETING}"),
                "{user:?}: {o:#?}"
            );
            let lo = line(&o, &format!("127.0.0.1:{port}"));
            assert!(lo.contains("ConnectionRefusedError"), "{user:?}: {o:#?}");
            assert_eq!(count.swap(0, Ordering::SeqCst), 1, "{user:?}: {o:#?}");
        }
    });
}

#[test]
fn net_none_reaches_nothing() {
    in_netns(|| {
        let (port, count) = host_server();
        let script = probe(&[(GATEWAY, port), ("127.0.0.1", port)]);
        for user in USERS {
            // --unshare-net after --net user: the last one wins.
            for net in [
                &["--net", "none"][..],
                &["--net", "user", "--unshare-net"][..],
            ] {
                let o = Run::new(user).run(&args(
                    net,
                    &[
                        "sh",
                        "-c",
                        &format!("ip -o link | cut -d: -f2; {PY} -c \"{script}\""),
                    ],
                ));
                o.ok();
                assert_eq!(o.stdout.lines().next(), Some(" lo"), "{user:?}: {o:#?}");
                assert!(
                    line(&o, &format!("{GATEWAY}:{port}")).contains("error OSError 101"),
                    "{user:?}: {o:#?}"
                );
                assert!(
                    line(&o, &format!("127.0.0.1:{port}")).contains("ConnectionRefusedError"),
                    "{user:?}: {o:#?}"
                );
            }
            // --net host (as --share-net) shares the namespace: the server is there.
            let o = Run::new(user).run(&args(
                &["--unshare-all", "--net", "host"],
                &[PY, "-c", &script],
            ));
            o.ok();
            assert_eq!(
                line(&o, &format!("127.0.0.1:{port}")),
                format!("127.0.0.1:{port} {GREETING}"),
                "{user:?}: {o:#?}"
            );
        }
        assert_eq!(count.load(Ordering::SeqCst), USERS.len());
    });
}

/// A server inside the sandbox (TCP and UDP), reached from the host through --publish.
/// The UDP port keeps its number: pasta 2023-03 loses the replies of a remapped UDP port.
#[test]
fn publish_reaches_a_server_in_the_sandbox() {
    const SERVER: &str = "import socket, sys\n\
        t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        t.bind(('0.0.0.0', 8080)); t.listen()\n\
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', int(sys.argv[1])))\n\
        print('listening', flush=True)\n\
        c, _ = t.accept(); c.sendall(b'hello-from-the-sandbox\\n'); c.close()\n\
        d, a = u.recvfrom(100); u.sendto(b'echo ' + d, a)\n";
    in_netns(|| {
        for user in USERS {
            let (tcp, udp) = (free_port(), free_port());
            let mut child = spawn(&mut Run::new(user).command(&args(
                &[
                    "--net",
                    "user",
                    "--publish",
                    &format!("127.0.0.1:{tcp}:8080"),
                    "--publish",
                    &format!("127.0.0.1:{udp}:{udp}/udp"),
                ],
                &[PY, "-c", SERVER, &udp.to_string()],
            )));
            let mut first = String::new();
            BufReader::new(child.stdout.as_mut().unwrap())
                .read_line(&mut first)
                .unwrap();
            assert_eq!(first, "listening\n", "{user:?}: {:#?}", wait(child));

            let mut s = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = String::new();
            s.read_to_string(&mut got).unwrap();
            assert_eq!(got, "hello-from-the-sandbox\n", "{user:?}");

            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            u.send_to(b"ping", ("127.0.0.1", udp)).unwrap();
            let mut buf = [0u8; 64];
            let n = u.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"echo ping", "{user:?}");
            wait(child).ok();
        }
    });
}

/// A DNS responder on 127.0.0.53:53, like a local stub resolver: every A query gets
/// 203.0.113.7. Counts the queries.
fn dns_responder() -> Arc<AtomicUsize> {
    let sock = UdpSocket::bind("127.0.0.53:53").expect("bind 127.0.0.53:53");
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 17 {
                continue;
            }
            c.fetch_add(1, Ordering::SeqCst);
            // The question: the name (labels up to a 0) then type and class.
            let Some(end) = q[12..].iter().position(|b| *b == 0).map(|i| 12 + i + 5) else {
                continue;
            };
            if end > n {
                continue;
            }
            let qtype = u16::from_be_bytes([q[end - 4], q[end - 3]]);
            let mut r = Vec::new();
            r.extend_from_slice(&q[..2]);
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(qtype == 1), 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..end]);
            if qtype == 1 {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 7]);
            }
            let _ = sock.send_to(&r, from);
        }
    });
    count
}

/// Resolve a name through the C library (/etc/resolv.conf) and print its address.
const RESOLVE: &str = "import socket\n\
    print(socket.getaddrinfo('example.test', 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])";

#[test]
fn dns_resolves_through_the_forwarder() {
    in_netns(|| {
        let queries = dns_responder();
        let conf = tempdir("dns");
        let resolv = conf.path().join("resolv.conf");
        fs::write(&resolv, "nameserver 127.0.0.53\n").unwrap();
        chmod(&resolv, 0o644);
        for user in USERS {
            let mut r = Run::new(user);
            r.resolv_conf = Some(resolv.clone());
            let before = queries.load(Ordering::SeqCst);
            let o = r.run(&args(&["--net", "user"], &[PY, "-c", RESOLVE]));
            o.ok();
            assert_eq!(o.stdout, "203.0.113.7\n", "{user:?}: {o:#?}");
            assert!(queries.load(Ordering::SeqCst) > before, "{user:?}");
        }
    });
}

/// A sandbox that says "up", then runs until its stdin closes. Returns hutch (whose
/// pid is the spawned process's: `setpriv` execs it) and its helper processes.
fn start_waiting_sandbox(user: User, extra: &[&str]) -> (Child, Vec<(u32, String)>) {
    let mut net = vec!["--net", "user"];
    net.extend_from_slice(extra);
    let mut c = Run::new(user).command(&args(&net, &["sh", "-c", "echo up; cat >/dev/null"]));
    c.stdin(Stdio::piped());
    let mut child = spawn(&mut c);
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "up\n", "{user:?}");
    let helpers = helper_children(child.id());
    assert_eq!(
        helpers.len(),
        1,
        "{user:?}: one helper while running: {helpers:?}"
    );
    (child, helpers)
}

fn wait_until_gone(procs: &[(u32, String)]) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if gone(procs) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn no_helper_is_left_behind() {
    in_netns(|| {
        for user in USERS {
            // The command ends: hutch kills the helper before it exits.
            let (mut child, helpers) = start_waiting_sandbox(user, &[]);
            drop(child.stdin.take());
            wait(child).ok();
            assert!(gone(&helpers), "{user:?}: left behind: {helpers:?}");

            // hutch itself is killed: the helper's parent-death signal ends it.
            let (mut child, helpers) =
                start_waiting_sandbox(user, &["--unshare-pid", "--die-with-parent"]);
            child.kill().unwrap();
            let _ = child.wait();
            assert!(
                wait_until_gone(&helpers),
                "{user:?}: left behind: {helpers:?}"
            );
        }
    });
}

#[test]
fn helper_failure_is_one_line_and_the_command_never_runs() {
    in_netns(|| {
        // The host port is taken: pasta cannot bind it.
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        for user in USERS {
            let dir = tempdir("fail");
            chmod(dir.path(), 0o777);
            let marker = dir.path().join("ran");
            let o = Run::new(user).run(
                &[
                    "--bind".to_string(),
                    dir.path().display().to_string(),
                    dir.path().display().to_string(),
                ]
                .into_iter()
                .chain(args(
                    &[
                        "--net",
                        "user",
                        "--publish",
                        &format!("127.0.0.1:{port}:80"),
                    ],
                    &["sh", "-c", &format!("echo ran; touch {}", marker.display())],
                ))
                .collect::<Vec<_>>(),
            );
            assert_eq!(o.code, 1, "{user:?}: {o:#?}");
            assert_eq!(o.stdout, "", "{user:?}: {o:#?}");
            assert!(!marker.exists(), "{user:?}: the command ran");
            assert_eq!(o.stderr.lines().count(), 1, "{user:?}: {o:#?}");
            assert!(
                o.stderr.starts_with("hutch: --net user: pasta failed: ")
                    && o.stderr.contains(&port.to_string()),
                "{user:?}: {o:#?}"
            );
        }
    });
}

#[test]
fn a_missing_helper_names_the_packages() {
    in_netns(|| {
        let empty = tempdir("empty-path");
        for user in USERS {
            let mut r = Run::new(user);
            r.path = Some(empty.path().display().to_string());
            let o = r.run(&args(&["--net", "user"], &["/bin/echo", "ran"]));
            assert_eq!(o.code, 1, "{o:#?}");
            assert_eq!(o.stdout, "", "{o:#?}");
            assert_eq!(
                o.stderr,
                "hutch: --net user needs pasta (package passt) or slirp4netns (package slirp4netns); neither is in PATH\n"
            );
        }
    });
}

#[test]
fn bad_network_flags_are_one_clear_line() {
    for (flags, msg) in [
        (&["--net", "all"][..], "hutch: --net takes one of host, none, user: all\n"),
        (&["--publish", "8080:80"][..], "hutch: --publish requires --net user\n"),
        (
            &["--net", "user", "--publish", "8080:80", "--net", "none"][..],
            "hutch: --publish requires --net user\n",
        ),
        (
            &["--net", "user", "--publish", "127.0.0.1:99999:80"][..],
            "hutch: --publish 127.0.0.1:99999:80: bad port \"99999\" (1-65535) (expected [HOSTADDR:]HOSTPORT:SANDBOXPORT[/tcp|/udp])\n",
        ),
        (
            &["--net-allow-host-loopback"][..],
            "hutch: --net-allow-host-loopback requires --net user\n",
        ),
    ] {
        let o = Run::new(User::Current).run(&args(flags, &["true"]));
        assert_eq!((o.code, o.stderr.as_str()), (1, msg), "{flags:?}: {o:#?}");
    }
}

/// Landlock's TCP port rules apply to connections through the helper as to any.
#[test]
fn landlock_connect_rules_apply_with_user_net() {
    in_netns(|| {
        let (allowed, count) = host_server();
        let (denied, _) = host_server();
        let script = probe(&[(GATEWAY, allowed), (GATEWAY, denied)]);
        for user in USERS {
            let o = Run::new(user).run(&args(
                &[
                    "--net",
                    "user",
                    "--net-allow-host-loopback",
                    "--landlock-connect",
                    &allowed.to_string(),
                ],
                &[PY, "-c", &script],
            ));
            o.ok();
            assert_eq!(
                line(&o, &format!("{GATEWAY}:{allowed}")),
                format!("{GATEWAY}:{allowed} {GREETING}"),
                "{user:?}: {o:#?}"
            );
            // TCP rules need Landlock ABI 4: before, the connection is made (best effort).
            let denied_line = line(&o, &format!("{GATEWAY}:{denied}"));
            if hutch::sys::landlock_abi() >= 4 {
                assert!(
                    denied_line.contains(&format!("error PermissionError {}", libc::EACCES)),
                    "{user:?}: {o:#?}"
                );
            } else {
                assert!(denied_line.ends_with(GREETING), "{user:?}: {o:#?}");
            }
        }
        assert_eq!(count.load(Ordering::SeqCst), USERS.len());
    });
}

/// Without pasta, slirp4netns gives the same layout and behaviour.
#[test]
fn slirp4netns_is_the_fallback() {
    let Some(slirp) = ["/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        support::skip("slirp4netns is not installed (apt-get install slirp4netns)");
        return;
    };
    let only = tempdir("slirp-path");
    std::os::unix::fs::symlink(slirp, only.path().join("slirp4netns")).unwrap();
    let path = only.path().display().to_string();
    in_netns(move || {
        let (port, count) = host_server();
        let queries = dns_responder();
        let conf = tempdir("slirp-dns");
        let resolv = conf.path().join("resolv.conf");
        fs::write(&resolv, "nameserver 127.0.0.53\n").unwrap();
        chmod(&resolv, 0o644);
        let script = probe(&[(GATEWAY, port)]);
        let py = format!("{PY} -c \"{script}\"");
        let check = format!(
            "export PATH=/usr/bin:/bin; ip -o -4 addr show dev eth0; cat /etc/resolv.conf; {py}"
        );
        for user in USERS {
            let mut r = Run::new(user);
            r.path = Some(path.clone());
            r.resolv_conf = Some(resolv.clone());
            let o = r.run(&args(&["--net", "user"], &["/bin/sh", "-c", &check]));
            o.ok();
            assert!(o.stdout.contains("inet 10.0.2.100/24"), "{user:?}: {o:#?}");
            assert!(o.stdout.contains("\nnameserver 10.0.2.3\n"), "{o:#?}");
            assert!(
                line(&o, &format!("{GATEWAY}:{port}")).contains(" error "),
                "{o:#?}"
            );
            let o = r.run(&args(
                &["--net", "user", "--net-allow-host-loopback"],
                &["/bin/sh", "-c", &check],
            ));
            o.ok();
            assert_eq!(
                line(&o, &format!("{GATEWAY}:{port}")),
                format!("{GATEWAY}:{port} {GREETING}"),
                "{user:?}: {o:#?}"
            );

            // DNS through slirp4netns's forwarder, to the test's "stub resolver".
            let before = queries.load(Ordering::SeqCst);
            let o = r.run(&args(&["--net", "user"], &[PY, "-c", RESOLVE]));
            assert_eq!(o.ok().stdout, "203.0.113.7\n", "{user:?}: {o:#?}");
            assert!(queries.load(Ordering::SeqCst) > before, "{user:?}");

            // --publish through slirp4netns's API socket.
            let hp = free_port();
            let mut child = spawn(&mut r.command(&args(
                &[
                    "--net",
                    "user",
                    "--publish",
                    &format!("127.0.0.1:{hp}:8080"),
                ],
                &[
                    PY,
                    "-c",
                    "import socket\nt = socket.socket(); t.bind(('0.0.0.0', 8080)); t.listen()\n\
                         print('listening', flush=True)\nc, _ = t.accept(); c.sendall(b'hi\\n')",
                ],
            )));
            let mut first = String::new();
            BufReader::new(child.stdout.as_mut().unwrap())
                .read_line(&mut first)
                .unwrap();
            assert_eq!(first, "listening\n", "{user:?}: {:#?}", wait(child));
            let mut s = TcpStream::connect(("127.0.0.1", hp)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = String::new();
            s.read_to_string(&mut got).unwrap();
            assert_eq!(got, "hi\n", "{user:?}");
            wait(child).ok();
        }
        assert_eq!(count.load(Ordering::SeqCst), USERS.len());
    });
}

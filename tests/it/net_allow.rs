//! Network by name: `--allow-host`, `--allow-net` (src/stage/allow.rs), run as root and as
//! an unprivileged user (nobody, through `setpriv`).
//!
//! Hermetic, like tests/it/net.rs: every test runs in a thread that moves into a network
//! namespace of its own (root only; without root the tests skip, saying so), with a
//! loopback and a dead-end uplink (tests/support/netns.rs) to which the test adds
//! 192.0.2.10, 192.0.2.11 and 2001:db8::10. There tests/it/net_allow/fixtures.py serves:
//! DNS on 127.0.0.53 (the zone below), HTTP and HTTPS (a CA made with openssl at test
//! time) answering to every name, a UDP echo, a git smart-HTTP endpoint (git
//! http-backend) and a pip "simple" index. hutch runs in the same namespace, with
//! /etc/resolv.conf replaced (`unshare -m`, a bind) by `nameserver 127.0.0.53`: the
//! monitor's upstream is the fixture. No packet can reach a real network.

use crate::support;
use crate::support::{bin_dir, chmod, Out, User};
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Generous: under TCG (tests/vm/run) pip alone takes most of a minute.
const TIMEOUT: Duration = Duration::from_secs(240);
const PY: &str = "/usr/bin/python3";
const USERS: [User; 2] = [User::Root, User::Nobody];
/// A refusal must come well before any timeout (the probe's is 10 s).
const FAST: f64 = 4.0;

fn in_netns(f: impl FnOnce() + Send + 'static) {
    if !support::is_root() {
        support::skip("the network tests need root to make a private network namespace");
        return;
    }
    support::in_private_net(f)
}

fn ipv6() -> bool {
    Path::new("/proc/sys/net/ipv6").exists()
}

/// Whether hutch's connection watch can be in force (src/stage/allow.rs): seccomp user
/// notification with CONTINUE and pidfd_getfd, Linux 5.6. Then every refusal is EACCES
/// at connect/sendto, and counted; before, the route refuses other addresses
/// (uncounted) and the relay resets a name on a port only another rule allows.
fn watched() -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut n = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (n.next().unwrap_or(0), n.next().unwrap_or(0)) >= (5, 6)
}

/// What `--report` says of the watch (`network.connect_watch`).
fn watch_status() -> &'static str {
    match watched() {
        true => "supervised",
        false => "unsupported",
    }
}

/// The errno of a connection to a name or address on a port that no rule allows for
/// it, where `listener`: another rule's port (the relay listens there).
fn wrong_port(listener: bool) -> String {
    let e = match (watched(), listener) {
        (true, _) => libc::EACCES,
        (false, true) => libc::ECONNRESET,
        (false, false) => libc::ECONNREFUSED,
    };
    format!("error {e}")
}

const ZONE: &str = r#"{
  "www.allowed.test": [["A", "192.0.2.10", 60], ["AAAA", "2001:db8::10", 60]],
  "other.test": [["A", "192.0.2.10", 60]],
  "cdn.allowed.test": [["CNAME", "edge.provider.test", 30]],
  "edge.provider.test": [["A", "192.0.2.11", 20]],
  "rebind.allowed.test": [["A", "127.0.0.1", 60]],
  "wild.test": [["A", "192.0.2.10", 60]],
  "a.wild.test": [["A", "192.0.2.10", 60]],
  "b.c.wild.test": [["A", "192.0.2.10", 60]],
  "v6only.allowed.test": [["AAAA", "2001:db8::10", 60]],
  "git.allowed.test": [["A", "192.0.2.10", 60]],
  "pypi.allowed.test": [["A", "192.0.2.10", 60]]
}"#;

/// The fixtures of one test: their directory (CA at `ca.pem`) and process.
struct Fixtures {
    dir: support::TempDir,
    child: Child,
    resolv: PathBuf,
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fixtures {
    fn start() -> Fixtures {
        let mut script =
            String::from("ip addr add 192.0.2.10/24 dev up0 && ip addr add 192.0.2.11/32 dev up0");
        if ipv6() {
            script.push_str(" && ip -6 addr add 2001:db8::10/64 dev up0 nodad");
        }
        let o = support::sh(&script);
        assert!(o.status.success(), "{o:?}");
        let dir = support::tempdir_mode("allow", 0o755);
        let d = dir.path();
        // A git repository with one commit, served by git http-backend.
        let git = |args: &str| {
            let o = support::sh(&format!(
                "cd {} && git -c user.name=t -c user.email=t@t -c init.defaultBranch=main {args}",
                d.display()
            ));
            assert!(o.status.success(), "git {args}: {o:?}");
        };
        git("init -q work");
        fs::write(d.join("work/README"), "hello from git\n").unwrap();
        git("-C work add README");
        git("-C work commit -q -m first");
        git("clone -q --bare work git/repo.git");
        // A pip index: /simple/hutchdemo/ naming one wheel.
        let simple = d.join("www/simple/hutchdemo");
        fs::create_dir_all(&simple).unwrap();
        let o = Command::new(PY)
            .arg("-c")
            .arg(
                "import zipfile, sys\n\
                 with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
                 \x20   z.writestr('hutchdemo/__init__.py', '')\n\
                 \x20   z.writestr('hutchdemo-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: hutchdemo\\nVersion: 1.0\\n')\n\
                 \x20   z.writestr('hutchdemo-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')\n\
                 \x20   z.writestr('hutchdemo-1.0.dist-info/RECORD', '')\n",
            )
            .arg(d.join("www/simple/hutchdemo/hutchdemo-1.0-py3-none-any.whl"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        fs::write(
            simple.join("index.html"),
            "<html><body><a href=\"hutchdemo-1.0-py3-none-any.whl\">hutchdemo-1.0-py3-none-any.whl</a></body></html>\n",
        )
        .unwrap();
        let mut http = vec![
            r#"["192.0.2.10", 80]"#,
            r#"["192.0.2.10", 8080]"#,
            r#"["192.0.2.11", 80]"#,
            r#"["127.0.0.1", 80]"#,
        ];
        let mut https = vec![r#"["192.0.2.10", 443]"#];
        let mut udp = vec![r#"["192.0.2.10", 5300]"#];
        if ipv6() {
            http.push(r#"["2001:db8::10", 80]"#);
            https.push(r#"["2001:db8::10", 443]"#);
            udp.push(r#"["2001:db8::10", 5300]"#);
        }
        let names: Vec<String> = serde_json_names(ZONE);
        let cfg = format!(
            r#"{{"dir": "{}", "www": "{}", "git_root": "{}", "zone": {ZONE},
               "names": [{}], "http": [{}], "https": [{}], "udp_echo": [{}]}}"#,
            d.display(),
            d.join("www").display(),
            d.join("git").display(),
            names.join(", "),
            http.join(", "),
            https.join(", "),
            udp.join(", ")
        );
        let cfg_path = d.join("cfg.json");
        fs::write(&cfg_path, cfg).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/net_allow/fixtures.py");
        let mut child = Command::new(PY)
            .arg(fixture)
            .arg(&cfg_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert_eq!(first, "ready\n", "the fixtures did not start");
        let resolv = d.join("resolv.conf");
        fs::write(&resolv, "nameserver 127.0.0.53\n").unwrap();
        for f in ["resolv.conf", "ca.pem"] {
            chmod(&d.join(f), 0o644);
        }
        Fixtures { dir, child, resolv }
    }

    fn dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn ca(&self) -> String {
        format!("{}/ca.pem", self.dir())
    }

    /// The names the fixture asked upstream about.
    fn queries(&self) -> String {
        fs::read_to_string(self.dir.path().join("queries.log")).unwrap_or_default()
    }

    /// hutch as `user`, with the fixtures' resolv.conf on the host side.
    fn run(&self, user: User, flags: &[&str], command: &[&str]) -> Out {
        self.run_as("hutch", user, flags, command)
    }

    /// The same under the binary's name `name` (hutch or bwrap).
    fn run_as(&self, name: &str, user: User, flags: &[&str], command: &[&str]) -> Out {
        let mut argv: Vec<OsString> = ["unshare", "-m", "sh", "-c"].map(OsString::from).to_vec();
        argv.push(
            format!(
                "mount --bind {} /etc/resolv.conf && exec \"$@\"",
                self.resolv.display()
            )
            .into(),
        );
        argv.push("sh".into());
        let setpriv = user.setpriv();
        if !setpriv.is_empty() {
            argv.extend(setpriv.into_iter().map(OsString::from));
            argv.push("--reset-env".into());
        }
        argv.push(bin_dir().join(name).into());
        let dir = self.dir();
        let base = [
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--ro-bind",
            &dir,
            &dir,
            "--setenv",
            "HOME",
            "/tmp",
        ];
        argv.extend(base.iter().chain(flags).map(OsString::from));
        argv.push("--".into());
        argv.extend(command.iter().map(OsString::from));
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..])
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        support::output(&mut c, TIMEOUT)
    }
}

/// The owner names of the zone, quoted, for the certificate.
fn serde_json_names(zone: &str) -> Vec<String> {
    zone.lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split_once('"'))
        .map(|(n, _)| format!("\"{n}\""))
        .chain(["\"*.wild.test\"".to_string()])
        .collect()
}

/// Python that tries each `proto,host,port` (proto tcp, tcp6, udp, udp6) and prints
/// `proto,host,port RESULT SECONDS`: RESULT is the last line of an HTTP GET /whoami
/// (`host=... local=ADDR`), the UDP echo, `gaierror`, or `error ERRNO`. A plain socket
/// client: it knows nothing of proxies.
const PROBE: &str = r#"
import socket, sys, time
for spec in sys.argv[1:]:
    proto, host, port = spec.split(',')
    fam = socket.AF_INET6 if proto.endswith('6') else socket.AF_INET
    t = time.monotonic()
    try:
        if proto.startswith('tcp'):
            ai = socket.getaddrinfo(host, int(port), fam, socket.SOCK_STREAM)[0]
            s = socket.socket(ai[0], socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(ai[4])
            s.sendall(f'GET /whoami HTTP/1.0\r\nHost: {host}\r\n\r\n'.encode())
            data = b''
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
            r = data.decode().strip().splitlines()[-1] if data else 'nothing'
        else:
            ai = socket.getaddrinfo(host, int(port), fam, socket.SOCK_DGRAM)[0]
            s = socket.socket(ai[0], socket.SOCK_DGRAM)
            s.settimeout(10)
            s.connect(ai[4])
            s.send(b'ping')
            r = s.recv(100).decode()
    except socket.gaierror:
        r = 'gaierror'
    except OSError as e:
        r = f'error {e.errno}'
    print(spec, r, f'{time.monotonic() - t:.2f}', flush=True)
"#;

/// The result of probing `spec`, and how long it took.
fn probed<'a>(o: &'a Out, spec: &str) -> (&'a str, f64) {
    let l = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{spec} ")))
        .unwrap_or_else(|| panic!("no line for {spec} in {o:#?}"));
    let (r, secs) = l.rsplit_once(' ').unwrap();
    (r, secs.parse().unwrap())
}

fn probe_cmd(specs: &[&str]) -> Vec<String> {
    [PY, "-c", PROBE]
        .iter()
        .map(|s| s.to_string())
        .chain(specs.iter().map(|s| s.to_string()))
        .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The `net_denied` entries of the --stats line on stderr.
fn denied(o: &Out) -> &str {
    let line = o
        .stderr
        .lines()
        .find(|l| l.starts_with("{\"wall_time_s\""))
        .unwrap_or_else(|| panic!("no --stats line: {o:#?}"));
    line.split_once("\"net_denied\": ")
        .unwrap_or_else(|| panic!("no net_denied in {line}"))
        .1
}

#[test]
fn only_allowed_names_and_addresses_are_reached() {
    in_netns(|| {
        let fx = Fixtures::start();
        let specs = [
            "tcp,www.allowed.test,80",
            "udp,www.allowed.test,5300",
            "tcp,other.test,80",
            "tcp,192.0.2.10,80",
            "tcp,192.0.2.10,22",
            "tcp,127.0.0.1,80",
            "tcp,www.allowed.test,8080",
        ];
        let probe = probe_cmd(&specs);
        let profile = fx.dir.path().join("allow.toml");
        fs::write(
            &profile,
            "allow_host = [\"www.allowed.test:80,443,5300\"]\n",
        )
        .unwrap();
        chmod(&profile, 0o644);
        let profile = profile.display().to_string();
        for user in USERS {
            for (name, flags) in [
                (
                    "hutch",
                    &[
                        "--allow-host",
                        "www.allowed.test",
                        "--allow-host",
                        "www.allowed.test:5300",
                    ][..],
                ),
                ("hutch", &["--profile", &profile][..]),
                ("bwrap", &["--allow-host", "www.allowed.test:80,5300"][..]),
            ] {
                let mut flags = flags.to_vec();
                flags.push("--stats");
                let o = fx.run_as(name, user, &flags, &refs(&probe));
                o.ok();
                let ctx = format!("{user:?} {name} {flags:?}: {o:#?}");
                let r = |s| probed(&o, s);
                assert_eq!(
                    r(specs[0]).0,
                    "host=www.allowed.test local=192.0.2.10",
                    "{ctx}"
                );
                assert_eq!(r(specs[1]).0, "echo ping", "{ctx}");
                // Another name does not resolve; another address is refused by the
                // route (EACCES), at once.
                assert_eq!(r(specs[2]).0, "gaierror", "{ctx}");
                assert_eq!(r(specs[3]).0, format!("error {}", libc::EACCES), "{ctx}");
                assert_eq!(r(specs[4]).0, format!("error {}", libc::EACCES), "{ctx}");
                // The sandbox's loopback on an allowed port (the relay's: it would
                // reset it); the allowed name on a port without a rule.
                assert_eq!(r(specs[5]).0, wrong_port(true), "{ctx}");
                assert_eq!(r(specs[6]).0, wrong_port(false), "{ctx}");
                for s in &specs[2..] {
                    assert!(r(s).1 < FAST, "{s} took {}: {ctx}", r(s).1);
                }
                let d = denied(&o);
                assert!(
                    d.contains(r#"{"host": "other.test", "port": "dns", "count": 1, "why": "name not allowed"}"#),
                    "{ctx}"
                );
                assert!(
                    d.contains(r#"{"host": "127.0.0.1", "port": 80, "proto": "tcp", "count": 1}"#),
                    "{ctx}"
                );
                assert_eq!(
                    d.contains(
                        r#"{"host": "www.allowed.test", "port": 8080, "proto": "tcp", "count": 1}"#
                    ),
                    watched(),
                    "{ctx}"
                );
            }
            // curl over HTTPS (the test CA): the allowed name, not the other one.
            let ca = fx.ca();
            let o = fx.run(
                user,
                &["--allow-host", "www.allowed.test", "--report"],
                &[
                    "sh",
                    "-c",
                    &format!(
                        "curl -sS --max-time 10 --cacert {ca} https://www.allowed.test/whoami; \
                         curl -sS --max-time 10 --cacert {ca} https://other.test/whoami; echo curl $?"
                    ),
                ],
            );
            o.ok();
            assert!(
                o.stdout
                    .starts_with("host=www.allowed.test local=192.0.2.10\n"),
                "{user:?}: {o:#?}"
            );
            assert!(o.stdout.ends_with("curl 6\n"), "{user:?}: {o:#?}");
            // --report: the rules before the command runs, the refusals at the end.
            assert!(
                o.stderr.contains(r#""network": {"mode": "allow", "allow_host": ["www.allowed.test:80,443"], "allow_net": [], "dns": "127.0.0.53""#),
                "{user:?}: {o:#?}"
            );
            assert!(
                o.stderr
                    .contains(&format!(r#""connect_watch": "{}"}}}}"#, watch_status())),
                "{user:?}: {o:#?}"
            );
            assert!(
                o.stderr.ends_with(
                    "{\"net_denied\": [{\"host\": \"other.test\", \"port\": \"dns\", \"count\": 1, \"why\": \"name not allowed\"}]}\n"
                ),
                "{user:?}: {o:#?}"
            );
        }
        // The refused name never left the sandbox; the allowed one did.
        let q = fx.queries();
        assert!(q.contains("www.allowed.test 1\n"), "{q}");
        assert!(!q.contains("other.test"), "{q}");
        for user in USERS {
            // Without the rules (the test's namespace itself) the same attempts succeed.
            let o = fx.run(user, &["--share-net"], &refs(&probe));
            o.ok();
            assert_eq!(
                probed(&o, specs[2]).0,
                "host=other.test local=192.0.2.10",
                "{user:?}: {o:#?}"
            );
            assert_eq!(
                probed(&o, specs[3]).0,
                "host=192.0.2.10 local=192.0.2.10",
                "{user:?}: {o:#?}"
            );
        }
    });
}

#[test]
fn rebinding_is_refused_and_cname_chains_are_followed() {
    in_netns(|| {
        let fx = Fixtures::start();
        // The TTL the sandbox gets: the smallest on the CNAME chain (30, then 20).
        let dns = r#"
import socket, struct, sys
name = sys.argv[1]
q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' + b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\x00\x00\x01\x00\x01'
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(q, ('127.0.0.53', 53))
r = s.recv(512)
print('rcode', r[3] & 15, 'answers', r[7], 'ttl', struct.unpack('!I', r[len(q) + 6:len(q) + 10])[0] if r[7] else '-')
# The same over TCP (a length before each message).
t = socket.create_connection(('127.0.0.53', 53), timeout=10)
t.sendall(struct.pack('!H', len(q)) + q)
n = struct.unpack('!H', t.recv(2))[0]
r = b''
while len(r) < n:
    r += t.recv(n - len(r))
print('tcp rcode', r[3] & 15, 'answers', r[7], 'ttl', struct.unpack('!I', r[len(q) + 6:len(q) + 10])[0] if r[7] else '-')
"#;
        let specs = ["tcp,cdn.allowed.test,80", "tcp,rebind.allowed.test,80"];
        let probe = probe_cmd(&specs);
        for user in USERS {
            let flags = [
                "--allow-host",
                "cdn.allowed.test",
                "--allow-host",
                "rebind.allowed.test",
                "--stats",
            ];
            let o = fx.run(user, &flags, &refs(&probe));
            o.ok();
            assert_eq!(
                probed(&o, specs[0]).0,
                "host=cdn.allowed.test local=192.0.2.11",
                "{user:?}: {o:#?}"
            );
            // rebind.allowed.test resolves to 127.0.0.1: refused.
            assert_eq!(probed(&o, specs[1]).0, "gaierror", "{user:?}: {o:#?}");
            assert!(
                denied(&o).contains(r#"{"host": "rebind.allowed.test", "port": "dns", "count": 1, "why": "resolves to an address that is not public (rebinding)"}"#),
                "{user:?}: {o:#?}"
            );
            let o = fx.run(user, &flags, &[PY, "-c", dns, "cdn.allowed.test"]);
            // The second answer comes from the cache: its TTL counts down.
            let out = o.ok().stdout.clone();
            let (udp, tcp) = out.split_once('\n').unwrap();
            assert_eq!(udp, "rcode 0 answers 1 ttl 20", "{user:?}");
            let ttl: u32 = tcp
                .strip_prefix("tcp rcode 0 answers 1 ttl ")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or_else(|| panic!("{user:?}: {out}"));
            assert!((10..=20).contains(&ttl), "{user:?}: {out}");
            // A name not allowed, over both.
            let o = fx.run(user, &flags, &[PY, "-c", dns, "other.test"]);
            assert_eq!(
                o.ok().stdout,
                "rcode 3 answers 0 ttl -\ntcp rcode 3 answers 0 ttl -\n",
                "{user:?}"
            );
            // With the address allowed, the same name reaches the host's loopback: what
            // the check prevents.
            let o = fx.run(
                user,
                &[
                    "--allow-host",
                    "rebind.allowed.test",
                    "--allow-net",
                    "127.0.0.1:80",
                ],
                &refs(&probe),
            );
            o.ok();
            assert_eq!(
                probed(&o, specs[1]).0,
                "host=rebind.allowed.test local=127.0.0.1",
                "{user:?}: {o:#?}"
            );
        }
    });
}

#[test]
fn wildcards_port_rules_udp_and_ipv6() {
    in_netns(|| {
        let fx = Fixtures::start();
        let mut specs = vec![
            "tcp,a.wild.test,8080",
            "tcp,b.c.wild.test,8080",
            "tcp,wild.test,8080",
            "tcp,a.wild.test,443",
            "tcp,www.allowed.test,80",
            "udp,www.allowed.test,5300",
            "tcp,192.0.2.11,80",
            "tcp,192.0.2.11,8080",
            "tcp,192.0.2.10,8080",
        ];
        if ipv6() {
            specs.extend([
                "tcp6,v6only.allowed.test,80",
                "udp6,www.allowed.test,5300",
                "tcp6,2001:db8::10,80",
            ]);
        }
        let probe = probe_cmd(&specs);
        for user in USERS {
            let o = fx.run(
                user,
                &[
                    "--allow-host",
                    "*.wild.test:8080",
                    "--allow-host",
                    "www.allowed.test:443,5300",
                    "--allow-host",
                    "v6only.allowed.test:80",
                    "--allow-net",
                    "192.0.2.11/32:80",
                    "--stats",
                ],
                &refs(&probe),
            );
            o.ok();
            let ctx = format!("{user:?}: {o:#?}");
            let r = |s| probed(&o, s).0;
            assert_eq!(
                r("tcp,a.wild.test,8080"),
                "host=a.wild.test local=192.0.2.10",
                "{ctx}"
            );
            assert_eq!(
                r("tcp,b.c.wild.test,8080"),
                "host=b.c.wild.test local=192.0.2.10",
                "{ctx}"
            );
            // *.wild.test is not wild.test.
            assert_eq!(r("tcp,wild.test,8080"), "gaierror", "{ctx}");
            // An allowed name on a port another rule allows: refused (before Linux 5.6,
            // accepted and reset).
            assert_eq!(r("tcp,a.wild.test,443"), wrong_port(true), "{ctx}");
            assert_eq!(r("tcp,www.allowed.test,80"), wrong_port(true), "{ctx}");
            assert_eq!(r("udp,www.allowed.test,5300"), "echo ping", "{ctx}");
            // --allow-net: the address on its port, not on another.
            assert_eq!(
                r("tcp,192.0.2.11,80"),
                "host=192.0.2.11 local=192.0.2.11",
                "{ctx}"
            );
            assert_eq!(r("tcp,192.0.2.11,8080"), wrong_port(true), "{ctx}");
            assert_eq!(
                r("tcp,192.0.2.10,8080"),
                format!("error {}", libc::EACCES),
                "{ctx}"
            );
            if ipv6() {
                assert_eq!(
                    r("tcp6,v6only.allowed.test,80"),
                    "host=v6only.allowed.test local=2001:db8::10",
                    "{ctx}"
                );
                assert_eq!(r("udp6,www.allowed.test,5300"), "echo ping", "{ctx}");
                assert_eq!(
                    r("tcp6,2001:db8::10,80"),
                    format!("error {}", libc::EACCES),
                    "{ctx}"
                );
            }
            let d = denied(&o);
            for want in [
                r#"{"host": "wild.test", "port": "dns", "count": 1, "why": "name not allowed"}"#,
                r#"{"host": "a.wild.test", "port": 443, "proto": "tcp", "count": 1}"#,
                r#"{"host": "www.allowed.test", "port": 80, "proto": "tcp", "count": 1}"#,
                r#"{"host": "192.0.2.11", "port": 8080, "proto": "tcp", "count": 1}"#,
            ] {
                assert!(d.contains(want), "{want}: {ctx}");
            }
            // curl over IPv6 and HTTPS.
            if ipv6() {
                let o = fx.run(
                    user,
                    &["--allow-host", "www.allowed.test"],
                    &[
                        "curl",
                        "-6",
                        "-sS",
                        "--max-time",
                        "10",
                        "--cacert",
                        &fx.ca(),
                        "https://www.allowed.test/whoami",
                    ],
                );
                assert_eq!(
                    o.ok().stdout,
                    "host=www.allowed.test local=2001:db8::10\n",
                    "{user:?}"
                );
            }
        }
    });
}

/// Python that tries each `how,host,port` (how: connect, a TCP connection; sendto and
/// sendmsg, a UDP datagram with the address, then the echo) and prints
/// `how,host,port RESULT SECONDS` (`connected`, the echo, or `error ERRNO`).
const SEND_PROBE: &str = r#"
import socket, sys, time
for spec in sys.argv[1:]:
    how, host, port = spec.split(',')
    ty = socket.SOCK_STREAM if how == 'connect' else socket.SOCK_DGRAM
    t = time.monotonic()
    try:
        addr = socket.getaddrinfo(host, int(port), socket.AF_INET, ty)[0][4]
        s = socket.socket(socket.AF_INET, ty)
        s.settimeout(10)
        if how == 'connect':
            s.connect(addr)
            r = 'connected'
        elif how == 'sendto':
            s.sendto(b'ping', addr)
            r = s.recv(100).decode()
        else:
            s.sendmsg([b'ping'], [], 0, addr)
            r = s.recv(100).decode()
    except OSError as e:
        r = f'error {e.errno}'
    print(spec, r, f'{time.monotonic() - t:.2f}', flush=True)
"#;

#[test]
fn refusals_fail_fast_and_are_counted() {
    in_netns(|| {
        let fx = Fixtures::start();
        // (spec, tries, result with the watch): a raw address, the allowed name on a
        // port without a rule and on a port another rule listens on (8080, of
        // --allow-net), a datagram to a raw address and to the name's wrong port.
        let eacces = format!("error {}", libc::EACCES);
        let cases = [
            ("connect,www.allowed.test,80", 1, "connected"),
            ("sendto,www.allowed.test,5300", 1, "echo ping"),
            ("connect,192.0.2.10,443", 2, eacces.as_str()),
            ("connect,www.allowed.test,443", 2, eacces.as_str()),
            ("connect,www.allowed.test,8080", 2, eacces.as_str()),
            ("sendto,192.0.2.10,5300", 2, eacces.as_str()),
            ("sendto,www.allowed.test,8080", 1, eacces.as_str()),
            // sendmsg is not watched: the route refuses it, uncounted.
            ("sendmsg,192.0.2.12,5300", 1, eacces.as_str()),
        ];
        let mut args = vec![PY.to_string(), "-c".into(), SEND_PROBE.into()];
        for (spec, tries, _) in &cases {
            args.extend(std::iter::repeat_n(spec.to_string(), *tries));
        }
        for user in USERS {
            for name in ["hutch", "bwrap"] {
                let o = fx.run_as(
                    name,
                    user,
                    &[
                        "--allow-host",
                        "www.allowed.test:80,5300",
                        "--allow-net",
                        "192.0.2.11:8080",
                        "--stats",
                        "--report",
                    ],
                    &refs(&args),
                );
                o.ok();
                let ctx = format!("{user:?} {name}: {o:#?}");
                for (spec, tries, want) in &cases {
                    let got: Vec<&str> = o
                        .stdout
                        .lines()
                        .filter_map(|l| l.strip_prefix(&format!("{spec} ")))
                        .collect();
                    assert_eq!(got.len(), *tries, "{spec}: {ctx}");
                    // Without the watch, the relay takes the datagram and drops it.
                    if *spec == "sendto,www.allowed.test,8080" && !watched() {
                        continue;
                    }
                    for l in got {
                        let (r, secs) = l.rsplit_once(' ').unwrap();
                        let want = match *spec {
                            "connect,www.allowed.test,443" => wrong_port(false),
                            "connect,www.allowed.test,8080" => wrong_port(true),
                            _ => want.to_string(),
                        };
                        assert_eq!(r, want, "{spec}: {ctx}");
                        assert!(
                            secs.parse::<f64>().unwrap() < FAST,
                            "{spec} took {secs}: {ctx}"
                        );
                    }
                }
                assert!(
                    o.stderr
                        .contains(&format!(r#""connect_watch": "{}"}}}}"#, watch_status())),
                    "{ctx}"
                );
                if !watched() {
                    continue;
                }
                let want = [
                    r#"{"host": "192.0.2.10", "port": 443, "proto": "tcp", "count": 2}"#,
                    r#"{"host": "192.0.2.10", "port": 5300, "proto": "udp", "count": 2}"#,
                    r#"{"host": "www.allowed.test", "port": 443, "proto": "tcp", "count": 2}"#,
                    r#"{"host": "www.allowed.test", "port": 8080, "proto": "tcp", "count": 2}"#,
                    r#"{"host": "www.allowed.test", "port": 8080, "proto": "udp", "count": 1}"#,
                ];
                let stats = denied(&o);
                let tail = o
                    .stderr
                    .lines()
                    .last()
                    .and_then(|l| l.strip_prefix("{\"net_denied\": "))
                    .unwrap_or_else(|| panic!("no --report tail: {ctx}"));
                for d in [stats, tail] {
                    assert_eq!(d, format!("[{}]}}", want.join(", ")), "{ctx}");
                }
            }
        }
    });
}

/// A sandbox with rules inside another (whose watch holds the one listener a filter
/// chain may have): it runs as without the watch, and the outer watch does not judge
/// calls made in the inner network namespace (its addresses are not the outer's). The
/// inner binds its own /etc/resolv.conf over the outer's generated one (which stays
/// linked for that: the kernel refuses to mount on an unlinked file).
#[test]
fn nested_below_another_watch() {
    in_netns(|| {
        if !watched() {
            support::skip("no connection watch before Linux 5.6");
            return;
        }
        let fx = Fixtures::start();
        let specs = [
            "tcp,192.0.2.11,80",
            "tcp,192.0.2.10,80",
            "tcp,192.0.2.11,8080",
        ];
        let inner = bin_dir().join("hutch").display().to_string();
        let mut cmd: Vec<String> = [
            &inner,
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--allow-net",
            "192.0.2.11:80",
            "--stats",
            "--report",
            "--",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cmd.extend(probe_cmd(&specs));
        let bin = bin_dir().display().to_string();
        for user in USERS {
            let o = fx.run_as(
                "bwrap",
                user,
                &[
                    "--ro-bind",
                    &bin,
                    &bin,
                    "--allow-net",
                    "192.0.2.11:80",
                    "--stats",
                ],
                &refs(&cmd),
            );
            o.ok();
            let ctx = format!("{user:?}: {o:#?}");
            assert_eq!(
                probed(&o, specs[0]).0,
                "host=192.0.2.11 local=192.0.2.11",
                "{ctx}"
            );
            assert_eq!(
                probed(&o, specs[1]).0,
                format!("error {}", libc::EACCES),
                "{ctx}"
            );
            assert_eq!(
                probed(&o, specs[2]).0,
                format!("error {}", libc::ECONNREFUSED),
                "{ctx}"
            );
            assert!(
                o.stderr.contains(r#""connect_watch": "enclosing"}}"#),
                "{ctx}"
            );
            // Neither the inner relay nor the outer watch refused anything.
            let stats: Vec<&str> = o
                .stderr
                .lines()
                .filter(|l| l.starts_with("{\"wall_time_s\""))
                .collect();
            assert_eq!(stats.len(), 2, "{ctx}");
            for l in stats {
                assert!(l.ends_with("\"net_denied\": []}"), "{ctx}");
            }
        }
    });
}

#[test]
fn git_and_pip_over_https() {
    in_netns(|| {
        let fx = Fixtures::start();
        let ca = fx.ca();
        for user in USERS {
            let o = fx.run(
                user,
                &["--allow-host", "git.allowed.test", "--allow-host", "pypi.allowed.test"],
                &[
                    "sh",
                    "-c",
                    &format!(
                        "cd /tmp && GIT_SSL_CAINFO={ca} git clone -q https://git.allowed.test/git/repo.git \
                         && cat repo/README \
                         && env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null PIP_CERT={ca} REQUESTS_CA_BUNDLE={ca} \
                            {PY} -m pip download -q --no-deps --disable-pip-version-check --no-cache-dir \
                            --cert {ca} --index-url https://pypi.allowed.test/simple/ --dest /tmp/dl hutchdemo \
                         && ls /tmp/dl \
                         && GIT_SSL_CAINFO={ca} git clone -q https://other.test/git/repo.git other; echo git $?"
                    ),
                ],
            );
            o.ok();
            assert!(
                o.stdout
                    .starts_with("hello from git\nhutchdemo-1.0-py3-none-any.whl\n"),
                "{user:?}: {o:#?}"
            );
            assert!(o.stdout.ends_with("git 128\n"), "{user:?}: {o:#?}");
            assert!(
                o.stderr.contains("Could not resolve host: other.test"),
                "{user:?}: {o:#?}"
            );
        }
    });
}

#[test]
fn bad_allow_flags_are_one_clear_line() {
    for user in support::users() {
        for (flags, msg) in [
            (&["--allow-host", "a..b"][..], "--allow-host a..b: bad name \"a..b\""),
            (&["--allow-host", "x.org:0"][..], "--allow-host x.org:0: bad port \"0\" (1-65535)"),
            (&["--allow-host", "192.0.2.1"][..], "--allow-host 192.0.2.1: an address, not a name (use --allow-net)"),
            (&["--allow-net", "10.0.0.0/33"][..], "--allow-net 10.0.0.0/33: bad prefix length \"33\" (0-32)"),
            (
                &["--allow-host", "x.org", "--net", "user"][..],
                "--allow-host does not combine with --net user: hutch relays the allowed traffic itself",
            ),
            (
                &["--allow-net", "192.0.2.1", "--share-net"][..],
                "--allow-net needs a network namespace of the sandbox's own (not --net host or --share-net)",
            ),
        ] {
            let o = support::hutch(user)
                .args(["--ro-bind", "/", "/"])
                .args(flags)
                .arg("true")
                .timeout(TIMEOUT)
                .run();
            assert_eq!(o.code, 1, "{user:?} {flags:?}: {o:#?}");
            let line = o.stderr.lines().next().unwrap_or_default();
            assert!(line.starts_with(&format!("hutch: {msg}")), "{user:?} {flags:?}: {o:#?}");
            assert_eq!(o.stderr.lines().count(), 1, "{user:?} {flags:?}: {o:#?}");
        }
    }
}

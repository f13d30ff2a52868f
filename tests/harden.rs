//! Hardened by default: attacks from inside a `hutch` sandbox, each run as root and
//! as an unprivileged user (nobody, through `setpriv`).
//!
//! - Landlock: a write the mounts allow but the rules do not fails with EACCES, and
//!   succeeds with `--landlock off`; TCP connect is limited to `--landlock-connect`;
//!   signals and abstract unix sockets do not leave the sandbox (scoping).
//! - The default seccomp policy: TIOCSTI, keyctl, bpf and new user namespaces fail
//!   with EPERM.
//! - `--report` says what is in force. What is enforceable is derived from the running
//!   kernel's Landlock ABI (6.1: 2, 6.12: 6, 6.18: 7; tests/vm/run boots the first two),
//!   and that ABI is checked against the least its kernel version has, so a kernel
//!   that lost a feature fails here instead of skipping. Each attack whose Landlock
//!   restriction the kernel lacks is shown to succeed there, as the report says.

mod common;

use common::{hutch, landlock_abi, tempdir, users, Out, User};
use std::fs;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20);
const PY: &str = "/usr/bin/python3";

/// Run `hutch ARGS...` as `user` (nobody with setpriv's `--reset-env`).
fn run<S: AsRef<std::ffi::OsStr>>(user: User, args: &[S]) -> Out {
    common::output(user.command_reset_env(hutch()).args(args), TIMEOUT)
}

/// The usual system view: the host's root read-only, a private /dev, /proc and /tmp.
fn system() -> Vec<String> {
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
    .map(|s| s.to_string())
    .collect()
}

fn with(mut base: Vec<String>, more: &[&str]) -> Vec<String> {
    base.extend(more.iter().map(|s| s.to_string()));
    base
}

/// A Python snippet that runs `body` and prints `ok` or the errno it failed with.
fn py_errno(body: &str) -> String {
    format!(
        "import os, sys, socket, fcntl, termios, ctypes\ntry:\n{}\n    print('ok')\nexcept OSError as e:\n    print('errno', e.errno)\n",
        body.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// A raw system call through libc, raising OSError on failure.
fn py_syscall(nr: i64, args: &str) -> String {
    format!(
        "libc = ctypes.CDLL(None, use_errno=True)\nif libc.syscall({nr}, {args}) == -1:\n    raise OSError(ctypes.get_errno(), 'syscall')"
    )
}

fn errno_line(e: i32) -> String {
    format!("errno {e}")
}

// ---------------------------------------------------------------------------
// The report

/// The least Landlock ABI of a mainline kernel of this version (Landlock 5.13: 1,
/// 5.19: 2, 6.2: 3, 6.7: 4, 6.10: 5, 6.12: 6, 6.15: 7), when Landlock is enabled.
fn least_abi_of_this_kernel() -> i32 {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut v = release.trim().split(['.', '-', '+']);
    let major: u32 = v.next().unwrap().parse().unwrap();
    let minor: u32 = v.next().unwrap().parse().unwrap();
    [
        ((6, 15), 7),
        ((6, 12), 6),
        ((6, 10), 5),
        ((6, 7), 4),
        ((6, 2), 3),
        ((5, 19), 2),
        ((5, 13), 1),
    ]
    .iter()
    .find(|(at, _)| (major, minor) >= *at)
    .map_or(0, |(_, abi)| *abi)
}

#[test]
fn report_shows_the_kernels_landlock_abi_and_the_default_policy() {
    let abi = landlock_abi();
    assert!(
        abi > 0,
        "this test needs Landlock (host_policy tests cover its absence)"
    );
    assert!(
        abi >= least_abi_of_this_kernel(),
        "Landlock ABI {abi} is less than this kernel version's ({})",
        least_abi_of_this_kernel()
    );
    for user in users() {
        let o = run(user, &with(system(), &["--report", "--", "true"]));
        o.ok();
        let r = o.report();
        assert!(r.contains(&format!("\"abi\": {abi},")), "{user:?}: {r}");
        let status = common::default_landlock_status();
        assert!(
            r.contains(&format!("\"status\": \"{status}\"")),
            "{user:?}: {r}"
        );
        assert!(r.contains("\"fs\": \"derived\""), "{user:?}: {r}");
        assert!(r.contains("\"scope\": true"), "{user:?}: {r}");
        let dropped = common::default_landlock_dropped();
        assert!(
            r.contains(&format!("\"dropped\": {dropped}")),
            "{user:?}: {dropped} in {r}"
        );
        assert!(
            r.contains("\"seccomp\": {\"policy\": \"default\", \"action\": \"errno\""),
            "{user:?}: {r}"
        );
        assert!(r.contains("\"no_new_privs\": true"), "{user:?}: {r}");
        if user == User::Nobody {
            assert!(r.contains("\"capabilities\": []"), "{r}");
            assert!(r.contains("\"namespaces\": [\"user\", \"mnt\"]"), "{r}");
        }
    }
}

/// What `--landlock-strict --landlock-connect 1` asks that this kernel lacks.
fn strict_connect_lacks() -> Vec<&'static str> {
    let abi = landlock_abi();
    let mut out = Vec::new();
    for (least, right) in [
        (3, "fs:truncate"),
        (5, "fs:ioctl_dev"),
        (4, "net:connect_tcp"),
    ] {
        if abi < least {
            out.push(right);
        }
    }
    if abi < 6 {
        out.extend(["scope:abstract_unix_socket", "scope:signal"]);
    }
    out
}

#[test]
fn strict_mode_fails_in_one_line_where_the_kernel_lacks_a_feature() {
    let lacks = strict_connect_lacks();
    if lacks.is_empty() {
        eprintln!(
            "skipped: this kernel enforces everything (Landlock ABI {})",
            landlock_abi()
        );
        return;
    }
    for user in users() {
        let o = run(
            user,
            &with(
                system(),
                &["--landlock-strict", "--landlock-connect", "1", "--", "true"],
            ),
        );
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{user:?}: {o:#?}");
        assert_eq!(
            o.stderr,
            format!(
                "hutch: Landlock cannot enforce everything asked (--landlock-strict): kernel ABI {} lacks {}\n",
                landlock_abi(),
                lacks.join(", ")
            ),
            "{user:?}"
        );
    }
}

#[test]
fn strict_mode_succeeds_on_this_kernel_and_report_goes_to_an_fd() {
    if !strict_connect_lacks().is_empty() {
        eprintln!(
            "skipped: Landlock ABI {} cannot enforce it all (the test above)",
            landlock_abi()
        );
        return;
    }
    for user in users() {
        let dir = tempdir("report", 0o777);
        let file = dir.path().join("report.json");
        // The report fd is opened by a shell around hutch, so nobody can write it.
        let script = format!(
            "exec {} --ro-bind / / --landlock-strict --landlock-connect 1 --report-fd 5 -- true 5>{}",
            hutch().display(),
            file.display()
        );
        let o = common::output(user.command("sh").args(["-c", &script]), TIMEOUT);
        o.ok();
        let r = fs::read_to_string(&file).unwrap();
        assert!(
            r.contains(&format!("\"abi\": {},", landlock_abi()))
                && r.contains("\"status\": \"full\""),
            "{r}"
        );
        assert!(!o.stderr.contains("namespaces"), "{o:#?}");
    }
}

#[test]
fn bwrap_personality_keeps_bwrap_defaults() {
    let o = common::output(
        Command::new(common::bwrap())
            .args(with(system(), &["--report", "--", "true"]))
            .stdin(Stdio::null()),
        TIMEOUT,
    );
    o.ok();
    let r = o.report();
    assert!(r.contains("\"status\": \"off\""), "{r}");
    assert!(r.contains("\"policy\": \"none\""), "{r}");
}

// ---------------------------------------------------------------------------
// Landlock: filesystem

#[test]
fn derived_rules_allow_what_the_mounts_allow() {
    for user in users() {
        let host = tempdir("work", 0o777);
        let mut a = with(system(), &["--bind"]);
        a.push(host.path().display().to_string());
        a.extend(
            [
                "/mnt",
                "--",
                "sh",
                "-c",
                "echo hi > /mnt/f && echo tmp > /tmp/t && cat /tmp/t",
            ]
            .map(String::from),
        );
        let o = run(user, &a);
        o.ok();
        assert_eq!(o.stdout, "tmp\n");
        assert_eq!(fs::read_to_string(host.path().join("f")).unwrap(), "hi\n");
    }
}

/// The root of the sandbox is a writable tmpfs (bwrap's), but Landlock only lets
/// it be listed: only what is mounted on it is usable.
#[test]
fn sandbox_root_is_list_only_under_landlock() {
    let base = [
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--dir",
        "/d",
    ];
    let script = "mkdir /newdir; echo mkdir=$?; ls / | tr '\\n' ' '";
    for user in users() {
        let o = run(
            user,
            &with(base.map(String::from).to_vec(), &["--", "sh", "-c", script]),
        );
        o.ok();
        assert!(o.stdout.starts_with("mkdir=1\n"), "{user:?}: {o:#?}");
        assert!(o.stdout.contains("usr"), "{user:?}: {o:#?}");
        let o = run(
            user,
            &with(
                base.map(String::from).to_vec(),
                &["--landlock", "off", "--", "sh", "-c", script],
            ),
        );
        assert!(o.stdout.starts_with("mkdir=0\n"), "{user:?}: {o:#?}");
    }
}

/// `--bind / /` makes everything writable as far as the mounts go; explicit rules
/// narrow it to one directory.
#[test]
fn explicit_rules_deny_a_write_the_mount_allows() {
    for user in users() {
        let allowed = tempdir("allowed", 0o777);
        let other = tempdir("other", 0o777);
        let (a, b) = (allowed.path().display(), other.path().display());
        let body = format!("open('{a}/f', 'w').write('x')\nopen('{b}/f', 'w').write('x')");
        let script = py_errno(&body);
        let landlock = ["--landlock-exec", "/", "--landlock-write"];
        let mut args: Vec<String> = ["--bind", "/", "/"].map(String::from).to_vec();
        args.extend(landlock.map(String::from));
        args.push(a.to_string());
        args.extend([PY, "-c", &script].map(String::from));
        let o = run(user, &with(args, &[]));
        o.ok();
        assert_eq!(
            o.stdout.trim(),
            errno_line(libc::EACCES),
            "{user:?}: {o:#?}"
        );
        assert!(allowed.path().join("f").exists(), "{user:?}");
        assert!(!other.path().join("f").exists(), "{user:?}");

        // The same attempt without Landlock succeeds.
        let args: Vec<String> = ["--bind", "/", "/", "--landlock", "off", PY, "-c", &script]
            .map(String::from)
            .to_vec();
        let o = run(user, &args);
        o.ok();
        assert_eq!(o.stdout.trim(), "ok", "{user:?}: {o:#?}");
        assert!(other.path().join("f").exists(), "{user:?}");
    }
}

#[test]
fn explicit_rule_on_a_missing_path_is_an_error() {
    for user in users() {
        let o = run(
            user,
            &[
                "--ro-bind",
                "/",
                "/",
                "--landlock-read",
                "/no/such/dir",
                "--",
                "true",
            ],
        );
        assert_eq!(o.code, 1, "{o:#?}");
        assert!(
            o.stderr
                .contains("hutch: --landlock-read /no/such/dir: No such file or directory"),
            "{o:#?}"
        );
        let o = run(
            user,
            &[
                "--ro-bind",
                "/",
                "/",
                "--landlock",
                "off",
                "--landlock-read",
                "/",
                "true",
            ],
        );
        assert_eq!(o.code, 1, "{o:#?}");
        assert!(
            o.stderr.contains("cannot be combined with --landlock off"),
            "{o:#?}"
        );
    }
}

#[test]
fn derived_rule_for_a_missing_path_is_skipped_and_reported() {
    for user in users() {
        let o = run(
            user,
            &[
                "--ro-bind",
                "/",
                "/",
                "--bind-try",
                "/no/such/src",
                "/no-such-dest",
                "--report",
                "true",
            ],
        );
        o.ok();
        assert!(
            o.report()
                .contains("\"skipped\": [\"/no-such-dest: No such file or directory\"]"),
            "{user:?}: {o:#?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Landlock: network and scoping

#[test]
fn tcp_connect_is_limited_to_allowed_ports() {
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let denied = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ap, dp) = (
        allowed.local_addr().unwrap().port(),
        denied.local_addr().unwrap().port(),
    );
    let connect = |port: u16| {
        py_errno(&format!(
            "socket.create_connection(('127.0.0.1', {port}), timeout=5)"
        ))
    };
    for user in users() {
        // The network namespace is shared (no --unshare-net): the host's loopback.
        let base = with(system(), &["--landlock-connect", &ap.to_string(), PY, "-c"]);
        let o = run(user, &with(base.clone(), &[&connect(ap)]));
        assert_eq!(o.ok().stdout.trim(), "ok", "{user:?}: {o:#?}");
        let o = run(user, &with(base, &[&connect(dp)]));
        // TCP rules need ABI 4: before, the connect goes through (best effort).
        let want = if landlock_abi() >= 4 {
            errno_line(libc::EACCES)
        } else {
            "ok".to_string()
        };
        assert_eq!(o.ok().stdout.trim(), want, "{user:?}: {o:#?}");
        // Without a port rule, TCP is not restricted.
        let o = run(user, &with(system(), &[PY, "-c", &connect(dp)]));
        assert_eq!(o.ok().stdout.trim(), "ok", "{user:?}: {o:#?}");
    }
}

/// A host process to signal: as the same user as the sandbox, so that only
/// Landlock's scoping can refuse the signal.
fn host_sleeper(user: User) -> Child {
    user.command("sleep").arg("30").spawn().unwrap()
}

#[test]
fn signals_do_not_leave_the_sandbox() {
    for user in users() {
        let mut sleeper = host_sleeper(user);
        let pid = sleeper.id().to_string();
        // No --unshare-pid: the host's process is visible by its pid.
        let script = format!("os.kill({pid}, 0)");
        let o = run(user, &with(system(), &[PY, "-c", &py_errno(&script)]));
        let o2 = run(
            user,
            &with(
                system(),
                &["--landlock-scope", "off", PY, "-c", &py_errno(&script)],
            ),
        );
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        // Scoping needs ABI 6: before, the signal goes through (best effort).
        let want = if landlock_abi() >= 6 {
            errno_line(libc::EPERM)
        } else {
            "ok".to_string()
        };
        assert_eq!(o.ok().stdout.trim(), want, "{user:?}: {o:#?}");
        assert_eq!(o2.ok().stdout.trim(), "ok", "{user:?}: {o2:#?}");
    }
}

#[test]
fn abstract_unix_sockets_outside_are_unreachable() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let name = format!("hutch-harden-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _listener = UnixListener::bind_addr(&addr).unwrap();
    let script = py_errno(&format!(
        "s = socket.socket(socket.AF_UNIX)\ns.connect('\\0{name}')"
    ));
    // Scoping needs ABI 6: before, the connection is made (best effort).
    let want = if landlock_abi() >= 6 {
        errno_line(libc::EPERM)
    } else {
        "ok".to_string()
    };
    for user in users() {
        let o = run(user, &with(system(), &[PY, "-c", &script]));
        assert_eq!(o.ok().stdout.trim(), want, "{user:?}: {o:#?}");
        let o = run(
            user,
            &with(system(), &["--landlock-scope", "off", PY, "-c", &script]),
        );
        assert_eq!(o.ok().stdout.trim(), "ok", "{user:?}: {o:#?}");
    }
}

// ---------------------------------------------------------------------------
// The default seccomp policy

/// TIOCSTI on a pty that is our controlling terminal (so that the kernel's own
/// check, which wants CAP_SYS_ADMIN otherwise, passes): EPERM only from the policy.
#[test]
fn tiocsti_is_denied_by_the_default_policy() {
    let body = "m, s = os.openpty()\nfcntl.ioctl(s, termios.TIOCSCTTY, 0)\nfcntl.ioctl(s, termios.TIOCSTI, b'x')";
    let script = py_errno(body);
    for user in users() {
        let o = run(user, &with(system(), &["--new-session", PY, "-c", &script]));
        assert_eq!(
            o.ok().stdout.trim(),
            errno_line(libc::EPERM),
            "{user:?}: {o:#?}"
        );
        // Without the policy: success, or EIO when dev.tty.legacy_tiocsti=0; never EPERM.
        let o = run(
            user,
            &with(
                system(),
                &[
                    "--new-session",
                    "--seccomp-policy",
                    "none",
                    PY,
                    "-c",
                    &script,
                ],
            ),
        );
        assert_ne!(
            o.ok().stdout.trim(),
            errno_line(libc::EPERM),
            "{user:?}: {o:#?}"
        );
    }
}

#[test]
fn keyctl_and_bpf_are_denied() {
    // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
    let keyctl = py_errno(&py_syscall(libc::SYS_keyctl, "0, -3, 0"));
    // bpf(BPF_MAP_CREATE, NULL, 0): EFAULT/EINVAL/EPERM when allowed.
    let bpf = py_errno(&py_syscall(libc::SYS_bpf, "0, None, 0"));
    for user in users() {
        for script in [&keyctl, &bpf] {
            let o = run(user, &with(system(), &[PY, "-c", script]));
            assert_eq!(
                o.ok().stdout.trim(),
                errno_line(libc::EPERM),
                "{user:?}: {o:#?}"
            );
        }
        let o = run(
            user,
            &with(system(), &["--seccomp-policy", "none", PY, "-c", &keyctl]),
        );
        assert_ne!(
            o.ok().stdout.trim(),
            errno_line(libc::EPERM),
            "{user:?}: {o:#?}"
        );
        if user == User::Root {
            let o = run(
                user,
                &with(system(), &["--seccomp-policy", "none", PY, "-c", &bpf]),
            );
            assert_ne!(o.ok().stdout.trim(), errno_line(libc::EPERM), "{o:#?}");
        }
    }
}

#[test]
fn no_new_user_namespaces() {
    for user in users() {
        let o = run(user, &with(system(), &["unshare", "-U", "true"]));
        assert_ne!(o.code, 0, "{user:?}: {o:#?}");
        assert!(
            o.stderr.contains("Operation not permitted"),
            "{user:?}: {o:#?}"
        );
        // clone(CLONE_NEWUSER) too, not only unshare.
        let clone = py_errno(&py_syscall(
            libc::SYS_clone,
            &format!("{} | 17, None, None, None, 0", libc::CLONE_NEWUSER),
        ));
        let o = run(user, &with(system(), &[PY, "-c", &clone]));
        assert_eq!(
            o.ok().stdout.trim(),
            errno_line(libc::EPERM),
            "{user:?}: {o:#?}"
        );
        // Ordinary threads and processes still work (clone3 falls back to clone).
        let o = run(
            user,
            &with(
                system(),
                &[
                    PY,
                    "-c",
                    "import threading, subprocess; t = threading.Thread(target=print, args=('thread',)); t.start(); t.join(); subprocess.run(['true'], check=True)",
                ],
            ),
        );
        assert_eq!(o.ok().stdout, "thread\n", "{user:?}: {o:#?}");
    }
}

#[test]
fn seccomp_kill_action_kills() {
    let keyctl = py_errno(&py_syscall(libc::SYS_keyctl, "0, -3, 0"));
    for user in users() {
        let o = run(
            user,
            &with(system(), &["--seccomp-action", "kill", PY, "-c", &keyctl]),
        );
        assert_eq!(o.code, 128 + libc::SIGSYS, "{user:?}: {o:#?}");
    }
}

/// `sh -c SCRIPT` as `user`, with `$0` set to the binary (named `name`).
fn shell(user: User, name: &str, script: &str) -> Out {
    // `hutch` and `bwrap` are there; another name gets its symlink.
    let bin = common::bin_dir().join(name);
    if !bin.exists() {
        let _ = std::os::unix::fs::symlink("hutch", &bin);
    }
    common::output(user.command("sh").args(["-c", script]).arg(&bin), TIMEOUT)
}

/// An fd the caller forgot to close (runc's CVE-2024-21626 class) must not reach
/// the command under hutch's defaults; naming it with --keep-fd passes it on, and
/// the bwrap name keeps bwrap's inherit-everything behaviour.
#[test]
fn inherited_descriptors_are_closed_unless_named() {
    let probe = "test -e /proc/self/fd/7 && echo open || echo closed";
    for user in users() {
        let run = |name: &str, extra: &str| {
            let script = format!(
                "exec \"$0\" {extra} --ro-bind / / --proc /proc --unshare-pid -- sh -c '{probe}' 7</etc/hostname"
            );
            let out = shell(user, name, &script);
            assert_eq!(out.code, 0, "{user:?} {name} {extra}: {out:#?}");
            out.stdout.trim().to_string()
        };
        assert_eq!(run("hutch", ""), "closed", "{user:?}");
        assert_eq!(run("hutch", "--keep-fd 7"), "open", "{user:?}");
        assert_eq!(run("hutch", "--inherit-fds"), "open", "{user:?}");
        assert_eq!(run("bwrap", ""), "open", "{user:?}");
        assert_eq!(run("bwrap", "--keep-fd 3"), "closed", "{user:?}");
    }
}

/// Under the hutch name a sandbox dies with the process that started it.
#[test]
fn sandbox_dies_with_its_parent_by_default() {
    for user in users() {
        for (name, survives) in [("hutch", false), ("bwrap", true)] {
            let tag = format!("{}{}", 700000 + std::process::id() % 100000, name.len());
            let script = format!(
                "\"$0\" --ro-bind / / --unshare-pid -- sleep {tag} >/dev/null 2>&1 & sleep 0.5; kill -9 $$"
            );
            let _ = shell(user, name, &script);
            std::thread::sleep(Duration::from_millis(300));
            let alive = Command::new("pgrep")
                .args(["-f", &format!("^sleep {tag}$")])
                .output()
                .unwrap();
            let found = !alive.stdout.is_empty();
            if found {
                let _ = Command::new("pkill")
                    .args(["-f", &format!("^sleep {tag}$")])
                    .status();
            }
            assert_eq!(
                found, survives,
                "{user:?} {name}: sleep {tag} alive = {found}"
            );
        }
    }
}

/// On a kernel booted without Landlock in `lsm=` (tests/vm/run 6.12-nolandlock, where
/// HUTCH_TEST_LANDLOCK=off says this test must not skip): hutch runs, `--report` says
/// Landlock is unavailable, and `--landlock-strict` fails in one line.
#[test]
fn host_policy_without_landlock() {
    if landlock_abi() > 0 {
        assert!(
            !common::vm_says("HUTCH_TEST_LANDLOCK", "off"),
            "HUTCH_TEST_LANDLOCK=off, but this kernel has Landlock ABI {}",
            landlock_abi()
        );
        eprintln!("skipped: this kernel has Landlock (tests/vm/run 6.12-nolandlock has none)");
        return;
    }
    for user in users() {
        let o = run(user, &with(system(), &["--report", "--", "echo", "ran"]));
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "ran\n"),
            "{user:?}: {o:#?}"
        );
        let r = o.report();
        assert!(r.contains("\"abi\": 0,"), "{user:?}: {r}");
        assert!(r.contains("\"status\": \"none\""), "{user:?}: {r}");
        assert!(
            r.contains("\"dropped\": [\"landlock (not available in this kernel)\"]"),
            "{user:?}: {r}"
        );
        let o = run(
            user,
            &with(system(), &["--landlock-strict", "--", "echo", "ran"]),
        );
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{user:?}: {o:#?}");
        assert_eq!(
            o.stderr,
            "hutch: Landlock cannot enforce everything asked (--landlock-strict): kernel ABI 0 \
             lacks landlock (not available in this kernel)\n",
            "{user:?}"
        );
    }
}

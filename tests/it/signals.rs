//! Signals sent to hutch (`--forward-signals`, the default as hutch): passed on to the
//! command, which may clean up; hutch waits for it, prints `--stats`, removes the cgroup
//! and exits with its status. As bwrap (without the flag), bubblewrap 0.8's behaviour,
//! compared with `/usr/bin/bwrap`: the monitor dies of the signal and the command is not
//! told (left running, or killed by `--die-with-parent`). ^C on a terminal reaches the
//! command once, not once from the terminal and once more from hutch; a hang-up, which
//! the kernel sends to hutch alone as the session leader, reaches it too.
//!
//! Each case waits for the command to say it is ready (a file in a host directory)
//! before signalling, and runs as root and as an unprivileged user, with and without a
//! pid namespace (where pid 1 passes the signal on).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::support::*;

/// Sandboxes get this long; waits for a file this long.
const PATIENCE: Duration = Duration::from_secs(60);

/// A command that saves on SIGTERM and exits 7, after saying it is ready.
fn trap_script(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "trap 'echo saved > {d}/saved; exit 7' TERM; echo ready > {d}/ready; \
         while :; do sleep 0.1; done"
    )
}

#[track_caller]
fn wait_for_file(p: &Path) {
    let until = Instant::now() + PATIENCE;
    while !p.exists() {
        assert!(Instant::now() < until, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `prog` with the host's root read-only and `dir` writable, as `user`.
fn sandbox(prog: &Path, user: User, dir: &TempDir, extra: &[&str]) -> Cmd {
    Cmd::new(prog, user)
        .args(["--ro-bind", "/", "/", "--bind", &dir.s(), &dir.s()])
        .args(extra)
        .timeout(PATIENCE)
}

/// Start `cmd`, wait for `ready` in `dir`, send `sig` to the started process (hutch,
/// or bwrap), and wait for it to end.
fn signal_when_ready(cmd: Cmd, dir: &TempDir, sig: Signal) -> Out {
    let r = cmd.spawn();
    wait_for_file(&dir.join("ready"));
    kill(Pid::from_raw(r.pid()), sig).unwrap();
    r.wait()
}

fn pidns_variants() -> [&'static [&'static str]; 2] {
    [&[], &["--unshare-pid"]]
}

#[test]
fn sigterm_reaches_the_command_under_the_hutch_name() {
    for_each_user(|user| {
        for pidns in pidns_variants() {
            let dir = tempdir(user);
            let mut extra = pidns.to_vec();
            let script = trap_script(dir.path());
            extra.extend(["--stats", "sh", "-c", &script]);
            let o = signal_when_ready(
                sandbox(hutch_path(), user, &dir, &extra),
                &dir,
                Signal::SIGTERM,
            );
            o.code(7);
            assert_eq!(
                std::fs::read_to_string(dir.join("saved")).ok().as_deref(),
                Some("saved\n"),
                "the trap did not run{o:?}"
            );
            // --stats comes after the command's end, with its status.
            o.stderr_has("\"exit_status\": 7,");
        }
    });
}

#[test]
fn sigterm_reaches_the_command_as_bwrap_with_forward_signals() {
    for_each_user(|user| {
        for pidns in pidns_variants() {
            for dwp in [&[][..], &["--die-with-parent"][..]] {
                let dir = tempdir(user);
                let mut extra = vec!["--forward-signals"];
                extra.extend(pidns);
                extra.extend(dwp);
                let script = trap_script(dir.path());
                extra.extend(["sh", "-c", &script]);
                let o = signal_when_ready(
                    sandbox(bwrap_path(), user, &dir, &extra),
                    &dir,
                    Signal::SIGTERM,
                );
                o.code(7);
                assert!(dir.join("saved").exists(), "the trap did not run{o:?}");
            }
        }
    });
}

/// Every forwarded signal, and a command that dies of it: 128 + the signal.
#[test]
fn a_command_killed_by_a_forwarded_signal_gives_128_plus_it() {
    for_each_user(|user| {
        for pidns in pidns_variants() {
            for sig in [
                Signal::SIGTERM,
                Signal::SIGINT,
                Signal::SIGHUP,
                Signal::SIGQUIT,
                Signal::SIGUSR1,
                Signal::SIGUSR2,
            ] {
                let dir = tempdir(user);
                let mut extra = pidns.to_vec();
                let script = format!(
                    "echo ready > {}/ready; while :; do sleep 0.1; done",
                    dir.s()
                );
                extra.extend(["--stats", "sh", "-c", &script]);
                let o = signal_when_ready(sandbox(hutch_path(), user, &dir, &extra), &dir, sig);
                o.code(128 + sig as i32);
                o.stderr_has(&format!("\"exit_status\": {},", 128 + sig as i32));
            }
        }
    });
}

/// The cgroup is removed after a forwarded SIGTERM (where hutch can make one).
#[test]
fn the_cgroup_goes_after_a_forwarded_sigterm() {
    for_each_user(|user| {
        let dir = tempdir(user);
        let script = trap_script(dir.path());
        let extra = ["--pids", "1000", "--stats", "sh", "-c", &script];
        let o = signal_when_ready(
            sandbox(hutch_path(), user, &dir, &extra),
            &dir,
            Signal::SIGTERM,
        );
        o.code(7);
        let stats = o
            .stderr
            .lines()
            .find(|l| l.starts_with("{\"wall_time_s\""))
            .unwrap_or_else(|| panic!("no --stats{o:?}"));
        let Some(rest) = stats.split("\"cgroup\": \"").nth(1) else {
            // No cgroup here for this user (the warning says why): nothing to remove.
            return;
        };
        let path = PathBuf::from(rest.split('"').next().unwrap());
        assert!(!path.exists(), "{} left behind{o:?}", path.display());
    });
}

/// What is left of a process group (beyond zombies) after its leader ended.
fn group_alive(pgid: i32) -> bool {
    kill(Pid::from_raw(-pgid), None).is_ok()
}

/// As bwrap without `--forward-signals`: what `/usr/bin/bwrap` does. The monitor dies
/// of SIGTERM; the command is not told (no file); it is left running, or killed with
/// `--die-with-parent`.
#[test]
fn sigterm_as_bwrap_does_what_bwrap_does() {
    let mut progs = vec![bwrap_path().to_path_buf()];
    if Path::new(SYSTEM_BWRAP).exists() {
        progs.push(PathBuf::from(SYSTEM_BWRAP));
    } else if std::env::var_os("CI").is_some() {
        panic!("{SYSTEM_BWRAP} is missing");
    }
    for_each_user(|user| {
        for prog in &progs {
            for pidns in pidns_variants() {
                for dwp in [false, true] {
                    let dir = tempdir(user);
                    let mut extra = pidns.to_vec();
                    if dwp {
                        extra.push("--die-with-parent");
                    }
                    let script = trap_script(dir.path());
                    extra.extend(["sh", "-c", &script]);
                    let what = format!("{} {extra:?} as {user:?}", prog.display());
                    let mut r = sandbox(prog, user, &dir, &extra).spawn();
                    wait_for_file(&dir.join("ready"));
                    kill(Pid::from_raw(r.pid()), Signal::SIGTERM).unwrap();
                    let until = Instant::now() + PATIENCE;
                    while !r.poll() {
                        assert!(Instant::now() < until, "{what}: still running");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    // The command is in the started process's group: left running, or
                    // killed with its parent (give it time on a busy machine).
                    let pgid = r.pid();
                    let left = if dwp {
                        let until = Instant::now() + Duration::from_secs(10);
                        while group_alive(pgid) && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        group_alive(pgid)
                    } else {
                        std::thread::sleep(Duration::from_millis(500));
                        group_alive(pgid)
                    };
                    let o = r.wait();
                    assert_eq!(o.signal, Some(libc::SIGTERM), "{what}{o:?}");
                    assert!(!dir.join("saved").exists(), "{what}: the command was told");
                    assert_eq!(left, !dwp, "{what}: command left running: {left}");
                    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
                }
            }
        }
    });
}

/// Run hutch on a new terminal (python3's pty module) with a command that counts the
/// SIGINTs it gets, send ^C three times, and return the counts it printed.
///
/// Each round stops hutch (SIGSTOP) before the ^C and lets it go on only once the
/// command had time to count the terminal's SIGINT: a copy hutch sent as well would
/// then come separately instead of merging with the pending one, and be counted.
fn ctrl_c_counts(user: User, hutch_args: &[&str]) -> String {
    const DRIVER: &str = r#"
import os, pty, re, signal, sys, time, select
counter = r'''
import os, signal, sys
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
signal.signal(signal.SIGINT, lambda s, f: None)
signal.signal(signal.SIGTERM, lambda s, f: None)
print("ready", flush=True)
n = 0
while True:
    for c in os.read(r, 64):
        if c == signal.SIGINT:
            n += 1
            print("INT", n, flush=True)
        elif c == signal.SIGTERM:
            sys.exit(0)
'''
pid, fd = pty.fork()
if pid == 0:
    argv = sys.argv[1:] + ["python3", "-c", counter]
    os.execvp(argv[0], argv)
buf = b""
def read_until(pat, timeout):
    global buf
    end = time.time() + timeout
    while not re.search(pat, buf) and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return re.search(pat, buf)
if not read_until(rb"ready", 60):
    sys.exit("no ready: %r" % buf)
for i in range(1, 4):
    os.kill(pid, signal.SIGSTOP)
    os.write(fd, b"\x03")
    # The terminal's own copy, when the command is in hutch's process group.
    read_until(rb"INT %d\r?\n" % i, 1)
    time.sleep(0.2)
    os.kill(pid, signal.SIGCONT)
    if not read_until(rb"INT %d\r?\n" % i, 30):
        sys.exit("no SIGINT %d: %r" % (i, buf))
    time.sleep(0.5)
read_until(rb"never", 0.5)
os.kill(pid, signal.SIGTERM)
_, st = os.waitpid(pid, 0)
read_until(rb"never", 0.2)
counts = re.findall(rb"INT (\d+)", buf)
print(" ".join(c.decode() for c in counts), os.waitstatus_to_exitcode(st))
"#;
    let mut argv: Vec<String> = vec!["-c".into(), DRIVER.into()];
    if user == User::Nobody {
        argv.extend(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ]
            .map(String::from),
        );
    }
    argv.push(hutch_path().display().to_string());
    argv.extend(["--ro-bind", "/", "/"].map(String::from));
    argv.extend(hutch_args.iter().map(|s| s.to_string()));
    let o = Cmd::new(Path::new("/usr/bin/python3"), User::Root)
        .args(&argv)
        .timeout(Duration::from_secs(120))
        .run();
    o.ok();
    o.stdout.trim().to_string()
}

/// ^C reaches the command once, in hutch's process group (where the terminal itself
/// sends it) and in a session of its own (`--new-session`: only hutch's copy).
#[test]
fn ctrl_c_reaches_the_command_once() {
    if !Path::new("/usr/bin/python3").exists() {
        return;
    }
    for u in users() {
        for extra in [
            &[][..],
            &["--unshare-pid"],
            &["--new-session"],
            &["--unshare-pid", "--new-session"],
        ] {
            // The command ends by the SIGTERM hutch passes on: status 0.
            assert_eq!(
                ctrl_c_counts(u, extra),
                "1 2 3 0",
                "as {u:?} with {extra:?}"
            );
        }
    }
}

/// The terminal hangs up (its master side closes) while hutch leads the session on it:
/// the kernel sends SIGHUP to hutch alone, and hutch passes it on.
#[test]
fn a_terminal_hangup_reaches_the_command() {
    if !Path::new("/usr/bin/python3").exists() {
        return;
    }
    const DRIVER: &str = r#"
import os, pty, sys, time
ready, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
end = time.time() + 60
while not os.path.exists(ready):
    if time.time() > end:
        sys.exit("never ready")
    time.sleep(0.02)
os.close(fd)
end = time.time() + 60
while True:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        break
    if time.time() > end:
        os.kill(pid, 9)
        sys.exit("hutch did not end after the hang-up")
    time.sleep(0.02)
print(os.waitstatus_to_exitcode(st))
"#;
    for u in users() {
        for pidns in pidns_variants() {
            let dir = tempdir(u);
            let d = dir.s();
            let script = format!(
                "trap 'echo hup > {d}/hup; exit 3' HUP; echo ready > {d}/ready; \
                 while :; do sleep 0.1; done"
            );
            let mut argv: Vec<String> = vec!["-c".into(), DRIVER.into(), format!("{d}/ready")];
            if u == User::Nobody {
                argv.extend(
                    [
                        "setpriv",
                        "--reuid=65534",
                        "--regid=65534",
                        "--clear-groups",
                    ]
                    .map(String::from),
                );
            }
            argv.push(hutch_path().display().to_string());
            argv.extend(["--ro-bind", "/", "/", "--bind", &d, &d].map(String::from));
            argv.extend(pidns.iter().map(|s| s.to_string()));
            argv.extend(["sh", "-c", &script].map(String::from));
            let o = Cmd::new(Path::new("/usr/bin/python3"), User::Root)
                .args(&argv)
                .timeout(Duration::from_secs(120))
                .run();
            o.ok().stdout_is("3\n");
            assert!(dir.join("hup").exists(), "as {u:?} with {pidns:?}{o:?}");
        }
    }
}

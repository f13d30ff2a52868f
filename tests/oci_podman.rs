//! podman with hutch as its OCI runtime (issue 18), compared case by case with crun.
//!
//! Each case of the issue runs through a real podman (Debian 12's 4.3) twice: with
//! `--runtime crun`, the reference, where the case also asserts what must hold; and with
//! `--runtime PATH/hutch-oci` (a symlink to the tested binary, which answers as the OCI
//! runtime under that name), where the case must hold the same way and what it observed
//! must equal crun's observations. Every case runs as root and rootless (hutchtest, with
//! its /etc/subuid and /etc/subgid ranges, `--storage-driver vfs`); the tests are
//! `root::crun::CASE`, `root::hutch::CASE`, `rootless::crun::CASE`, `rootless::hutch::CASE`.
//!
//! The harness is tests/oci/podman-env: a private, throw-away podman per user (storage,
//! configuration, locks, events and runtime state under one directory in /tmp), running
//! in a private mount namespace where crun accepts this machine kind's cgroup v1/v2 hybrid,
//! with one image imported from a busybox-static rootfs. One environment per user serves
//! the whole test process (containers get names of their own) and tears itself down when
//! the process is gone; `nothing_left_behind` checks that teardown on a fresh one. See
//! /work/shared/PODMAN-NOTES.md for why each setting is there.
//!
//! `containerd_runc_shim`: containerd's runc shim driving hutch as its `BinaryName`
//! (the way docs/oci.md registers hutch for a Kubernetes RuntimeClass), beside crun.
//!
//! The tests need root (the harness sets up the namespace and switches to hutchtest).

mod support;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use support::{output, Out, User};

/// The image podman-env imports into each storage.
const IMAGE: &str = "localhost/hutch-test:latest";
/// One podman command; generous (a busy shared machine, and `stop --time`).
const LIMIT: Duration = Duration::from_secs(120);

/// The harness script.
fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oci/podman-env")
}

// ---------------------------------------------------------------- environments

/// A private podman for one user (tests/oci/podman-env).
struct Env {
    dir: PathBuf,
    rootless: bool,
}

/// What the tests need on the host; `Some(why)` when it is missing.
fn missing_prerequisite(rootless: bool) -> Option<String> {
    if !support::is_root() {
        return Some("the podman tests run as root (the harness makes a mount namespace)".into());
    }
    for prog in [
        "podman", "conmon", "crun", "nsenter", "setpriv", "script", "unshare",
    ] {
        if !support::on_path(prog) {
            return Some(format!("{prog} is not installed"));
        }
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("/bin/busybox is missing (package busybox-static)".into());
    }
    if rootless {
        if !support::on_path("newuidmap") {
            return Some("newuidmap is missing (package uidmap)".into());
        }
        if User::Unprivileged.ids().0 == 65534 {
            return Some("no user hutchtest (.ci/run creates it)".into());
        }
        for f in ["/etc/subuid", "/etc/subgid"] {
            let ranges = fs::read_to_string(f).unwrap_or_default();
            if !ranges.lines().any(|l| l.starts_with("hutchtest:")) {
                return Some(format!("hutchtest has no range in {f} (.ci/run adds one)"));
            }
        }
    }
    None
}

/// Start a fresh environment in a new directory in /tmp (short: podman puts sockets in it).
fn start_env(rootless: bool) -> Env {
    let dir = tempfile::Builder::new()
        .prefix("hutch-podman-")
        .tempdir_in("/tmp")
        .expect("temp dir")
        .keep();
    let user = if rootless { "hutchtest" } else { "root" };
    let out = output(
        Command::new(harness())
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .arg(user),
        LIMIT,
    );
    assert_eq!(out.code, 0, "podman-env start {}: {out:?}", dir.display());
    Env { dir, rootless }
}

impl Env {
    /// The environment of this test process for root or rootless podman, started on first
    /// use; `None` (the test skips, or fails under CI) when the host lacks a prerequisite.
    fn get(rootless: bool) -> Option<&'static Env> {
        static ENVS: [OnceLock<Env>; 2] = [OnceLock::new(), OnceLock::new()];
        if let Some(why) = missing_prerequisite(rootless) {
            support::skip(&why);
            return None;
        }
        Some(ENVS[rootless as usize].get_or_init(|| start_env(rootless)))
    }

    /// `podman ARGS` in this environment (podman-env's global flags come first).
    fn podman(&self, args: &[&str]) -> Out {
        output(
            Command::new(harness()).arg("run").arg(&self.dir).args(args),
            LIMIT,
        )
    }

    fn user(&self) -> User {
        if self.rootless {
            User::Unprivileged
        } else {
            User::Root
        }
    }

    fn stop(&self) {
        let out = output(Command::new(harness()).arg("stop").arg(&self.dir), LIMIT);
        assert_eq!(out.code, 0, "podman-env stop: {out:?}");
    }
}

/// The runtime podman runs the containers with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Rt {
    Crun,
    Hutch,
}

impl Rt {
    fn name(self) -> &'static str {
        match self {
            Rt::Crun => "crun",
            Rt::Hutch => "hutch",
        }
    }

    /// `--runtime`'s value: crun by name, hutch by the path of a `hutch-oci` symlink to
    /// the tested binary (in this test process's directory, which hutchtest can reach).
    fn arg(self) -> String {
        match self {
            Rt::Crun => "crun".into(),
            Rt::Hutch => {
                static LINK: OnceLock<PathBuf> = OnceLock::new();
                LINK.get_or_init(|| {
                    let dir = support::base().join("oci-bin");
                    fs::create_dir_all(&dir).unwrap();
                    support::chmod(&dir, 0o755);
                    let link = dir.join("hutch-oci");
                    let _ = fs::remove_file(&link);
                    std::os::unix::fs::symlink(support::hutch_path(), &link).unwrap();
                    link
                })
                .to_string_lossy()
                .into_owned()
            }
        }
    }
}

/// One case run with one runtime in one environment.
struct Case {
    env: &'static Env,
    rt: Rt,
    case: &'static str,
    /// What the case saw, compared between runtimes.
    seen: Vec<String>,
}

impl Case {
    /// A container name of this case and runtime (environments are shared by the tests).
    fn name(&self, what: &str) -> String {
        format!("{}-{}-{what}", self.case.replace('_', "-"), self.rt.name())
    }

    /// `podman SUBCOMMAND --runtime RT ARGS...`.
    fn podman(&self, args: &[&str]) -> Out {
        let rt = self.rt.arg();
        let mut all = vec![args[0], "--runtime", &rt];
        all.extend_from_slice(&args[1..]);
        self.env.podman(&all)
    }

    /// `podman run --rm ARGS...` (ARGS end with the image and the command).
    fn run(&self, args: &[&str]) -> Out {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        self.podman(&all)
    }

    /// Record an observation.
    fn see(&mut self, what: impl Into<String>) {
        self.seen.push(what.into());
    }

    /// Start a detached container NAME running `sh -c SCRIPT`; with `ready`, wait until
    /// the script has printed "ready" (its traps are set).
    #[track_caller]
    fn detached(&self, name: &str, extra: &[&str], script: &str, ready: bool) {
        let _ = self.podman(&["rm", "--force", "--time", "0", name]);
        let mut args = vec!["run", "--detach", "--name", name];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[IMAGE, "sh", "-c", script]);
        let out = self.podman(&args);
        assert_eq!(out.code, 0, "{out:?}");
        if ready {
            self.wait_for_log(name, "ready");
        }
    }

    /// Wait until container NAME has printed the line `text`; fail if it stops first.
    #[track_caller]
    fn wait_for_log(&self, name: &str, text: &str) {
        for _ in 0..600 {
            let out = self.podman(&["logs", name]);
            if out.stdout.lines().any(|l| l == text) {
                return;
            }
            let state = self.podman(&["inspect", "--format", "{{.State.Status}}", name]);
            assert_eq!(
                state.stdout.trim(),
                "running",
                "{name} stopped before printing {text:?}: {out:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{name} never printed {text:?}");
    }

    /// `podman wait NAME`: the exit code.
    #[track_caller]
    fn wait(&self, name: &str) -> String {
        let out = self.podman(&["wait", name]);
        assert_eq!(out.code, 0, "podman wait {name}: {out:?}");
        out.stdout.trim().to_string()
    }

    fn remove(&self, name: &str) {
        let _ = self.podman(&["rm", "--force", "--time", "0", name]);
    }
}

/// An environment (rootless or not) and a case.
type Key = (bool, &'static str);

/// The observations of crun's runs, per environment and case: hutch's runs compare with
/// them (whichever test gets there first runs crun's side).
fn crun_seen(env: &'static Env, case: &'static str, f: fn(&mut Case)) -> Vec<String> {
    static SEEN: OnceLock<Mutex<HashMap<Key, Vec<String>>>> = OnceLock::new();
    let map = SEEN.get_or_init(Default::default);
    if let Some(s) = map.lock().unwrap().get(&(env.rootless, case)) {
        return s.clone();
    }
    let mut c = Case {
        env,
        rt: Rt::Crun,
        case,
        seen: Vec::new(),
    };
    f(&mut c);
    map.lock()
        .unwrap()
        .insert((env.rootless, case), c.seen.clone());
    c.seen
}

/// Run a case as root or rootless with `rt`; hutch's observations must equal crun's.
fn check(rootless: bool, rt: Rt, case: &'static str, f: fn(&mut Case)) {
    let Some(env) = Env::get(rootless) else {
        return;
    };
    match rt {
        Rt::Crun => {
            crun_seen(env, case, f);
        }
        Rt::Hutch => {
            let reference = crun_seen(env, case, f);
            let mut c = Case {
                env,
                rt,
                case,
                seen: Vec::new(),
            };
            f(&mut c);
            assert_eq!(
                c.seen, reference,
                "{case}: what hutch's containers did (left) differs from crun's (right)"
            );
        }
    }
}

/// Print why a case does not apply here, and pass: for what this machine itself cannot
/// do (which `support::skip` would turn into a CI failure), never for a missing package.
fn not_here(why: &str) {
    eprintln!("skipped: {why}");
}

/// The lines of a terminal's output, without carriage returns.
fn tty_lines(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

// ---------------------------------------------------------------- the cases

/// `run --rm IMG true`, and the container is gone afterwards.
fn run_true(c: &mut Case) {
    let name = c.name("c");
    let out = c.run(&["--name", &name, IMAGE, "true"]);
    assert_eq!(out.code, 0, "{out:?}");
    c.see(format!("true: exit {}", out.code));
    let exists = c.podman(&["container", "exists", &name]);
    assert_eq!(exists.code, 1, "{name} is still there: {exists:?}");
    c.see("removed");
}

/// Exit codes: 0, 3, 126 (not executable), 127 (no such command), 137 (SIGKILL).
fn exit_codes(c: &mut Case) {
    for (cmd, want) in [
        (&["true"][..], 0),
        (&["sh", "-c", "exit 3"][..], 3),
        (&["/etc/passwd"][..], 126),
        (&["no-such-command"][..], 127),
    ] {
        let mut args = vec![IMAGE];
        args.extend_from_slice(cmd);
        let out = c.run(&args);
        assert_eq!(out.code, want, "{cmd:?}: {out:?}");
        c.see(format!("{cmd:?}: exit {}", out.code));
    }
    let name = c.name("killed");
    c.detached(&name, &[], "echo ready; exec sleep 1000", true);
    let out = c.podman(&["kill", &name]);
    assert_eq!(out.code, 0, "{out:?}");
    let code = c.wait(&name);
    assert_eq!(code, "137");
    c.see(format!("SIGKILL: exit {code}"));
    c.remove(&name);
}

/// `-e`, `--hostname`, `-w`, `--user 1000:1000`: environment, ids and capabilities.
fn env_and_user(c: &mut Case) {
    let out = c.run(&[
        "--hostname",
        "box",
        "-e",
        "FOO=bar",
        "-e",
        "EMPTY=",
        "-w",
        "/tmp",
        IMAGE,
        "sh",
        "-c",
        "env | sort; pwd; hostname",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    for want in ["FOO=bar", "EMPTY=", "HOSTNAME=box", "/tmp", "box"] {
        assert!(out.stdout.lines().any(|l| l == want), "{want}: {out:?}");
    }
    c.see(out.stdout);
    let out = c.run(&[IMAGE, "id"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("uid=0(root) gid=0(root)"), "{out:?}");
    c.see(out.stdout);
    let out = c.run(&["--user", "1000:1000", IMAGE, "id"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with("uid=1000(user) gid=1000(user)"),
        "{out:?}"
    );
    c.see(out.stdout);
    for user in ["0:0", "1000:1000"] {
        let out = c.run(&["--user", user, IMAGE, "grep", "^Cap", "/proc/self/status"]);
        assert_eq!(out.code, 0, "{out:?}");
        c.see(format!("{user}: {}", out.stdout));
    }
}

/// `--read-only`: / cannot be written, podman's tmpfs on /tmp can.
fn read_only(c: &mut Case) {
    let out = c.run(&["--read-only", IMAGE, "touch", "/x"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    c.see(format!(
        "touch /x: exit {}: {}",
        out.code,
        out.stderr.trim()
    ));
    let out = c.run(&[
        "--read-only",
        IMAGE,
        "sh",
        "-c",
        "touch /tmp/x && echo ok; awk '$2 == \"/\" { print $4 }' /proc/mounts | tr , '\\n' | grep -x ro",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "ok\nro\n");
    c.see(out.stdout);
    let out = c.run(&[IMAGE, "sh", "-c", "touch /x && echo writable"]);
    assert_eq!(out.stdout, "writable\n", "{out:?}");
    c.see(out.stdout);
}

/// `-v DIR:/data` read-write and `:ro`, seen from the host too.
fn volumes(c: &mut Case) {
    let host = support::tempdir_mode("volume", 0o755);
    support::chown_r(host.path(), c.env.user());
    fs::write(host.path().join("in"), "from the host\n").unwrap();
    let rw = format!("{}:/data", host.path().display());
    let ro = format!("{}:/data:ro", host.path().display());
    let out = c.run(&[
        "-v",
        &rw,
        IMAGE,
        "sh",
        "-c",
        "cat /data/in; echo from the container > /data/out",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "from the host\n");
    c.see(format!("rw: {}", out.stdout));
    let written = fs::read_to_string(host.path().join("out")).unwrap();
    assert_eq!(written, "from the container\n");
    // Written by the container's root: root, or the rootless user on the host.
    let uid = std::os::unix::fs::MetadataExt::uid(&fs::metadata(host.path().join("out")).unwrap());
    assert_eq!(uid, c.env.user().ids().0);
    c.see(format!("host sees: {written}, owned by the user: true"));
    let out = c.run(&[
        "-v",
        &ro,
        IMAGE,
        "sh",
        "-c",
        "cat /data/out; echo again > /data/out2",
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "from the container\n");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert!(!host.path().join("out2").exists());
    c.see(format!(
        "ro: exit {}: {}{}",
        out.code,
        out.stdout,
        out.stderr.trim()
    ));
}

/// Mount options as podman passes them: `-v DIR:/data:ro,noexec` (executing from it
/// fails with EACCES), `--tmpfs` with noexec, size and mode, `--tmpfs /etc` (tmpcopyup:
/// the image's files are in it), `--device /dev/net/tun` (made as root, bound rootless).
/// (nosuid and nodev are left out of the comparison: hutch's binds always have them, as
/// its sandboxes' do, where crun follows the options.)
fn mount_options(c: &mut Case) {
    let host = support::tempdir_mode("volume", 0o755);
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap();
    fs::copy(bb, host.path().join("true")).unwrap();
    support::chmod(&host.path().join("true"), 0o755);
    support::chown_r(host.path(), c.env.user());
    let data = format!("{}:/data:ro,noexec", host.path().display());
    let tun = Path::new("/dev/net/tun").exists();
    let mut args = vec![
        "-v",
        &data,
        "--tmpfs",
        "/t:noexec,size=1m,mode=1770",
        "--tmpfs",
        "/etc:size=1m",
    ];
    if tun {
        args.extend(["--device", "/dev/net/tun"]);
    }
    let script = "/data/true; echo data=$?; cat /etc/passwd | wc -l; stat -c %a /t; \
        stat -c '%F %t:%T' /dev/net/tun 2>/dev/null; \
        awk '$2 == \"/data\" || $2 == \"/t\" || $2 == \"/etc\" { n = split($4, o, \",\"); s = \"\"; \
        for (i = 1; i <= n; i++) if (o[i] ~ /^(ro|rw|noexec|size=.*|mode=.*)$/) s = s \" \" o[i]; \
        print $2, $3 s }' /proc/mounts | sort";
    args.extend([IMAGE, "sh", "-c", script]);
    let out = c.run(&args);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("data=126\n"), "{out:?}");
    assert!(out.stdout.contains("\n1770\n"), "{out:?}");
    assert!(
        out.stdout
            .contains("/t tmpfs rw noexec size=1024k mode=1770"),
        "{out:?}"
    );
    if tun {
        assert!(
            out.stdout.contains("character special file a:c8"),
            "{out:?}"
        );
    }
    c.see(out.stdout);
}

/// `--network none`: loopback only.
fn network_none(c: &mut Case) {
    let out = c.run(&[
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ip -o addr show lo | awk '{ print $4 }'",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("lo\n"), "{out:?}");
    c.see(out.stdout);
}

/// `run -it` and `exec -it` through the console socket, on a pty from `script`: the
/// process has a terminal, reads what is typed and exits with its own status.
fn console(c: &mut Case) {
    let prefix = format!("{} run {} ", harness().display(), c.env.dir.display());
    let script_run = |podman_args: &str| -> Out {
        let mut child = support::spawn_retry(
            Command::new("script")
                .args(["-qec", &format!("{prefix}{podman_args}"), "/dev/null"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
        support::wait_child(child, LIMIT)
    };
    let rt = c.rt.arg();
    let out = script_run(&format!(
        "run --runtime {rt} --rm -it {IMAGE} sh -c 'tty; test -t 0 && test -t 1 && echo tty-ok; read x; echo got:$x; exit 4'"
    ));
    let lines = tty_lines(&out.stdout);
    assert_eq!(out.code, 4, "{out:?}");
    for want in ["/dev/pts/0", "tty-ok", "got:typed"] {
        assert!(lines.iter().any(|l| l == want), "{want}: {out:?}");
    }
    c.see(format!("run -it: exit {}", out.code));
    c.see(
        lines
            .iter()
            .filter(|l| *l != "typed")
            .cloned()
            .collect::<Vec<_>>()
            .join("|"),
    );

    let name = c.name("exec");
    c.detached(&name, &[], "echo ready; exec sleep 1000", true);
    let out = script_run(&format!(
        "exec --runtime {rt} -it {name} sh -c 'test -t 0 && test -t 1 && echo tty-ok; read x; echo got:$x; exit 5'"
    ));
    let lines = tty_lines(&out.stdout);
    assert_eq!(out.code, 5, "{out:?}");
    for want in ["tty-ok", "got:typed"] {
        assert!(lines.iter().any(|l| l == want), "{want}: {out:?}");
    }
    c.see(format!("exec -it: exit {}", out.code));
    c.see(
        lines
            .iter()
            .filter(|l| *l != "typed")
            .cloned()
            .collect::<Vec<_>>()
            .join("|"),
    );
    c.remove(&name);
}

/// `exec` into a running container: its namespaces, exit status, env, user, cwd.
fn exec(c: &mut Case) {
    let name = c.name("c");
    c.detached(
        &name,
        &["--hostname", "box"],
        "echo ready; exec sleep 1000",
        true,
    );
    let ex = |args: &[&str]| {
        let mut all = vec!["exec"];
        all.extend_from_slice(args);
        c.podman(&all)
    };
    let out = ex(&[
        &name,
        "sh",
        "-c",
        "hostname; tr '\\0' ' ' < /proc/1/cmdline; echo; exit 5",
    ]);
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(out.stdout, "box\nsleep 1000 \n");
    let mut seen = vec![format!("exit {}: {}", out.code, out.stdout)];
    let out = ex(&[
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "--user",
        "1000:1000",
        &name,
        "sh",
        "-c",
        "echo $FOO; pwd; id -u",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "bar\n/tmp\n1000\n");
    seen.push(out.stdout);
    let out = ex(&[&name, "no-such-command"]);
    assert_eq!(out.code, 127, "{out:?}");
    seen.push(format!("missing: exit {}", out.code));
    let out = ex(&["--detach", &name, "sh", "-c", "echo detached > /tmp/d"]);
    assert_eq!(out.code, 0, "{out:?}");
    let mut found = String::new();
    for _ in 0..100 {
        found = ex(&[&name, "cat", "/tmp/d"]).stdout;
        if !found.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(found, "detached\n");
    seen.push(format!("exec --detach: {found}"));
    for s in seen {
        c.see(s);
    }
    c.remove(&name);
}

/// `stop` (SIGTERM, then SIGKILL after `--time`) and `kill` (SIGKILL, or a signal).
fn stop_and_kill(c: &mut Case) {
    // pid 1 without a handler ignores SIGTERM: stop escalates after a second.
    let deaf = c.name("deaf");
    c.detached(&deaf, &[], "echo ready; exec sleep 1000", true);
    let out = c.podman(&["stop", "--time", "1", &deaf]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.took >= Duration::from_millis(900), "{out:?}");
    let code = c.wait(&deaf);
    assert_eq!(code, "137");
    c.see(format!("stop, TERM ignored: exit {code}"));
    // With a handler, SIGTERM ends it.
    let polite = c.name("polite");
    c.detached(
        &polite,
        &[],
        "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done",
        true,
    );
    let out = c.podman(&["stop", "--time", "60", &polite]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.took < Duration::from_secs(30), "{out:?}");
    let code = c.wait(&polite);
    assert_eq!(code, "7");
    c.see(format!("stop, TERM handled: exit {code}"));
    // kill: SIGKILL by default, or the signal asked for.
    let out = c.podman(&["start", &deaf]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = c.podman(&["kill", &deaf]);
    assert_eq!(out.code, 0, "{out:?}");
    let code = c.wait(&deaf);
    assert_eq!(code, "137");
    c.see(format!("kill: exit {code}"));
    let usr1 = c.name("usr1");
    c.detached(
        &usr1,
        &[],
        "trap 'exit 10' USR1; echo ready; while :; do sleep 0.1; done",
        true,
    );
    let out = c.podman(&["kill", "--signal", "USR1", &usr1]);
    assert_eq!(out.code, 0, "{out:?}");
    let code = c.wait(&usr1);
    assert_eq!(code, "10");
    c.see(format!("kill --signal USR1: exit {code}"));
    for n in [deaf, polite, usr1] {
        c.remove(&n);
    }
}

/// `ps` and `top`.
fn ps_and_top(c: &mut Case) {
    let name = c.name("c");
    c.detached(&name, &[], "echo ready; exec sleep 1000", true);
    let filter = format!("name=^{name}$");
    let out = c.podman(&[
        "ps",
        "--filter",
        &filter,
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with(&format!("{name} Up ")), "{out:?}");
    c.see("ps: Up");
    let out = c.podman(&["top", &name, "pid", "user", "args"]);
    assert_eq!(out.code, 0, "{out:?}");
    let rows: Vec<String> = out
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(rows, ["1 root sleep 1000"], "{out:?}");
    c.see(format!("top: {rows:?}"));
    c.remove(&name);

    let exited = c.name("exited");
    c.remove(&exited);
    let out = c.podman(&["run", "--name", &exited, IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(out.code, 3, "{out:?}");
    let filter = format!("name=^{exited}$");
    let out = c.podman(&[
        "ps",
        "--all",
        "--filter",
        &filter,
        "--format",
        "{{.Status}}",
    ]);
    assert!(out.stdout.starts_with("Exited (3)"), "{out:?}");
    c.see("ps --all: Exited (3)");
    c.remove(&exited);
}

/// Whether podman applies resource limits here, or why not: as root it does (this
/// host's cgroups are the reference's); rootless, podman says when it cannot (cgroup v1,
/// or no delegation) and runs the container without them.
fn resources_here(c: &Case) -> bool {
    if !c.env.rootless {
        return true;
    }
    let out = c.run(&["--pids-limit", "20", IMAGE, "true"]);
    match out
        .stderr
        .lines()
        .find(|l| l.contains("not supported and ignored"))
    {
        Some(why) => {
            not_here(&format!(
                "rootless podman applies no resource limits here: {why}"
            ));
            false
        }
        None => true,
    }
}

/// `--pids-limit`: the container cannot fork past it.
fn pids_limit(c: &mut Case) {
    if !resources_here(c) {
        return;
    }
    let fork40 = "i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; echo forked $i";
    let out = c.run(&[IMAGE, "sh", "-c", fork40]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "forked 40\n");
    c.see(format!("no limit: {}", out.stdout));
    let out = c.run(&["--pids-limit", "20", IMAGE, "sh", "-c", fork40]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("can't fork"), "{out:?}");
    c.see(format!(
        "--pids-limit 20: exit {}: {}",
        out.code,
        out.stderr.trim()
    ));
}

/// `--memory`: an allocation past it is killed (past the swap podman adds too: as much
/// again), one under it is not.
fn memory(c: &mut Case) {
    if !resources_here(c) {
        return;
    }
    let out = c.run(&[
        "--memory",
        "32m",
        IMAGE,
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=8M",
        "count=1",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    c.see(format!("8M: exit {}", out.code));
    let out = c.run(&[
        "--memory",
        "32m",
        IMAGE,
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=128M",
        "count=1",
    ]);
    assert_eq!(out.code, 137, "{out:?}");
    c.see(format!("128M: exit {}", out.code));
}

/// `rm -f`: a running container (stopped with SIGTERM) and one never started.
fn rm_force(c: &mut Case) {
    let running = c.name("running");
    c.detached(
        &running,
        &[],
        "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done",
        true,
    );
    let out = c.podman(&["rm", "-f", &running]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.took < Duration::from_secs(30), "{out:?}");
    let exists = c.podman(&["container", "exists", &running]);
    assert_eq!(exists.code, 1, "{exists:?}");
    c.see("running: removed");
    let created = c.name("created");
    c.remove(&created);
    let out = c.podman(&["create", "--name", &created, IMAGE, "true"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = c.podman(&["rm", "-f", &created]);
    assert_eq!(out.code, 0, "{out:?}");
    let exists = c.podman(&["container", "exists", &created]);
    assert_eq!(exists.code, 1, "{exists:?}");
    c.see("created: removed");
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod root {
            pub mod crun {
                $( #[test] fn $case() { crate::check(false, crate::Rt::Crun, stringify!($case), crate::$case) } )*
            }
            pub mod hutch {
                $( #[test] fn $case() { crate::check(false, crate::Rt::Hutch, stringify!($case), crate::$case) } )*
            }
        }
        mod rootless {
            pub mod crun {
                $( #[test] fn $case() { crate::check(true, crate::Rt::Crun, stringify!($case), crate::$case) } )*
            }
            pub mod hutch {
                $( #[test] fn $case() { crate::check(true, crate::Rt::Hutch, stringify!($case), crate::$case) } )*
            }
        }
    };
}

cases!(
    run_true,
    exit_codes,
    env_and_user,
    read_only,
    volumes,
    mount_options,
    network_none,
    console,
    exec,
    stop_and_kill,
    ps_and_top,
    pids_limit,
    memory,
    rm_force,
);

// ---------------------------------------------------------------- the harness itself

/// A fresh environment, a container left running in it with each runtime, and the
/// teardown: nothing of it stays on the host (processes, cgroups, files podman or the
/// runtimes would put in /run, /var/lib, /dev/shm or /etc, the directory itself).
fn nothing_left_behind(rootless: bool) {
    if let Some(why) = missing_prerequisite(rootless) {
        support::skip(&why);
        return;
    }
    let host_paths = || -> Vec<String> {
        let mut v = Vec::new();
        for d in [
            "/run",
            "/var/lib",
            "/dev/shm",
            "/etc/containers",
            "/etc/cni",
        ] {
            for e in fs::read_dir(d).into_iter().flatten().flatten() {
                v.push(e.path().display().to_string());
            }
        }
        let (uid, _) = User::Unprivileged.ids();
        for p in [
            format!("/run/user/{uid}"),
            format!("/tmp/containers-user-{uid}"),
            format!("/tmp/podman-run-{uid}"),
            "/run/crun".into(),
            "/run/runc".into(),
            "/run/hutch-oci".into(),
            "/var/tmp/containers".into(),
            "/run/libpod".into(),
            "/run/containers".into(),
        ] {
            if Path::new(&p).exists() {
                v.push(p);
            }
        }
        v.sort();
        v
    };
    let before = host_paths();
    let env = start_env(rootless);
    let name = env.dir.file_name().unwrap().to_string_lossy().into_owned();
    for rt in [Rt::Crun, Rt::Hutch] {
        let out = env.podman(&[
            "run",
            "--runtime",
            &rt.arg(),
            "--detach",
            IMAGE,
            "sleep",
            "1000",
        ]);
        if rt == Rt::Crun {
            assert_eq!(out.code, 0, "{out:?}");
        }
    }
    env.stop();
    assert!(!env.dir.exists(), "{} is still there", env.dir.display());
    // Processes go away shortly after the teardown's SIGKILL.
    let dir = env.dir.display().to_string();
    let mut left = Vec::new();
    for _ in 0..100 {
        left = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter_map(|e| {
                let cmd = fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                cmd.contains(&dir).then_some(cmd)
            })
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(left.is_empty(), "left running: {left:#?}");
    let cgroups: Vec<_> = fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|h| h.path().join(&name))
        .filter(|p| p.exists())
        .collect();
    assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
    let after = host_paths();
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(new.is_empty(), "left on the host: {new:?}");
}

#[test]
fn nothing_left_behind_root() {
    nothing_left_behind(false);
}

#[test]
fn nothing_left_behind_rootless() {
    nothing_left_behind(true);
}

// ---------------------------------------------------------------- containerd

/// containerd's runc shim (`io.containerd.runc.v2`) driving hutch through its
/// `BinaryName` (`ctr run --runc-binary`), as a Kubernetes RuntimeClass would
/// (docs/oci.md), compared with crun: run with an exit status (containerd's default
/// bundle, which sets `linux.resources.cpu.shares`), a detached task with its CPU shares
/// in its cgroup, `exec`, `exec -t`, pause and resume, kill. As root: containerd is a system daemon here
/// (its rootless mode needs rootlesskit). It runs in the root environment's namespace,
/// with its state on that namespace's /run and its store in the environment's directory;
/// the image is the environment's, through `podman save`.
#[test]
fn containerd_runc_shim() {
    let Some(env) = Env::get(false) else {
        return;
    };
    for prog in ["containerd", "ctr", "containerd-shim-runc-v2"] {
        if !support::on_path(prog) {
            support::skip(&format!("{prog} is not installed (package containerd)"));
            return;
        }
    }
    let holder = fs::read_to_string(env.dir.join("holder")).unwrap();
    let holder = holder.trim();
    let tag = format!("containerd-{}", std::process::id());
    let dir = env.dir.join(&tag);
    fs::create_dir(&dir).unwrap();
    let image_tar = dir.join("image.tar");
    let image_tar = image_tar.to_str().unwrap();
    env.podman(&["save", "-o", image_tar, IMAGE]).ok();
    let sock = format!("/run/{tag}.sock");
    let config = dir.join("config.toml");
    fs::write(
        &config,
        format!(
            "version = 2\nroot = \"{}\"\nstate = \"/run/{tag}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{sock}\"\n",
            dir.join("root").display()
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.join("containerd.log")).unwrap();
    let mut daemon = support::spawn_retry(
        Command::new("nsenter")
            .args(["-t", holder, "-m", "containerd", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
    let ctr = |args: &[&str]| {
        output(
            Command::new("nsenter")
                .args(["-t", holder, "-m", "ctr", "-a", &sock, "-n", "hutch-test"])
                .args(args),
            LIMIT,
        )
    };
    let mut up = false;
    for _ in 0..300 {
        if ctr(&["version"]).code == 0 {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let result = std::panic::catch_unwind(|| {
        assert!(up, "containerd did not start: {}", {
            fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
        });
        ctr(&["images", "import", image_tar]).ok();
        let cgroup_parent = env.dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut seen: Vec<Vec<String>> = Vec::new();
        for rt in [Rt::Crun, Rt::Hutch] {
            let binary = if rt == Rt::Crun {
                "/usr/bin/crun".to_string()
            } else {
                rt.arg()
            };
            let mut s = Vec::new();
            let id = format!("{}-once", rt.name());
            let cgroup = format!("/{cgroup_parent}/{id}");
            let out = ctr(&[
                "run",
                "--rm",
                "--cgroup",
                &cgroup,
                "--runc-binary",
                &binary,
                IMAGE,
                &id,
                "sh",
                "-c",
                "id; exit 3",
            ]);
            assert_eq!(out.code, 3, "{rt:?}: {out:?}");
            s.push(out.stdout);
            let id = format!("{}-task", rt.name());
            let cgroup = format!("/{cgroup_parent}/{id}");
            let out = ctr(&[
                "run",
                "--detach",
                "--cpu-shares",
                "512",
                "--cgroup",
                &cgroup,
                "--runc-binary",
                &binary,
                IMAGE,
                &id,
                "sleep",
                "1000",
            ]);
            assert_eq!(out.code, 0, "{rt:?}: {out:?}");
            // The task's cpu.shares (512: containerd's default, 1024, is v1's too) in its
            // cgroup: cgroup v2's cpu.weight (20), or on a hybrid host (this machine)
            // v1's cpu.shares.
            let rel = cgroup.trim_start_matches('/');
            let cpu = [
                Path::new("/sys/fs/cgroup/unified")
                    .join(rel)
                    .join("cpu.weight"),
                Path::new("/sys/fs/cgroup").join(rel).join("cpu.weight"),
                Path::new("/sys/fs/cgroup/cpu").join(rel).join("cpu.shares"),
            ]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{rt:?}: no cpu.weight or cpu.shares for {cgroup}"));
            let value = fs::read_to_string(&cpu).unwrap();
            s.push(format!("{}: {}", cpu.display(), value.trim()).replace(&id, "ID"));
            let out = ctr(&[
                "task",
                "exec",
                "--exec-id",
                "e1",
                &id,
                "sh",
                "-c",
                "tr '\\0' ' ' < /proc/1/cmdline; echo; exit 5",
            ]);
            assert_eq!(out.code, 5, "{rt:?}: {out:?}");
            assert_eq!(out.stdout, "sleep 1000 \n");
            s.push(out.stdout);
            let mut child = support::spawn_retry(
                Command::new("script")
                    .args([
                        "-qec",
                        &format!(
                            "nsenter -t {holder} -m ctr -a {sock} -n hutch-test task exec -t \
                             --exec-id e2 {id} sh -c 'tty; read x; echo got:$x'"
                        ),
                        "/dev/null",
                    ])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            );
            child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
            let out = support::wait_child(child, LIMIT);
            let lines = tty_lines(&out.stdout);
            assert_eq!(out.code, 0, "{rt:?}: {out:?}");
            for want in ["/dev/pts/0", "got:typed"] {
                assert!(lines.iter().any(|l| l == want), "{rt:?}: {want}: {out:?}");
            }
            s.push(format!(
                "exec -t: {want:?}",
                want = ["/dev/pts/0", "got:typed"]
            ));
            for (verb, status) in [("pause", "PAUSED"), ("resume", "RUNNING")] {
                let out = ctr(&["task", verb, &id]);
                assert_eq!(out.code, 0, "{rt:?} {verb}: {out:?}");
                let out = ctr(&["task", "ls"]);
                let line = out
                    .stdout
                    .lines()
                    .find(|l| l.starts_with(&format!("{id} ")));
                assert!(
                    line.is_some_and(|l| l.ends_with(status)),
                    "{rt:?} after {verb}: {out:?}"
                );
                s.push(format!("{verb}: {status}"));
            }
            let out = ctr(&["task", "kill", "--signal", "SIGKILL", &id]);
            assert_eq!(out.code, 0, "{rt:?}: {out:?}");
            let mut stopped = false;
            for _ in 0..300 {
                let out = ctr(&["task", "ls"]);
                if out
                    .stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("{id} ")) && l.ends_with("STOPPED"))
                {
                    stopped = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(stopped, "{rt:?}: the task did not stop after SIGKILL");
            s.push("kill: STOPPED".into());
            let out = ctr(&["task", "rm", &id]);
            assert_eq!(out.code, 0, "{rt:?}: {out:?}");
            let out = ctr(&["container", "rm", &id]);
            assert_eq!(out.code, 0, "{rt:?}: {out:?}");
            seen.push(s);
        }
        // Both went through every step, and saw the same.
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].len(), 7, "{seen:?}");
        assert_eq!(seen[0], seen[1], "crun, then hutch");
    });
    let _ = daemon.kill();
    let _ = daemon.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

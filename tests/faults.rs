//! Faults: every setup step that fails ends with exit status 1 and one line on stderr,
//! leaves no process, mount, file or cgroup behind on the host, and never runs the
//! command. Each run as root and as an unprivileged user (nobody, through `setpriv`).
//!
//! - Injected: for every step of src/fault.rs (`Step::ALL`, matched exhaustively below,
//!   so a new step without a case does not compile), a sandbox whose command would
//!   print `RAN` and create a marker in a host directory bound at /out runs once as is
//!   (it must succeed and create the marker: the command line reaches the step) and
//!   once with `HUTCH_FAULT=STEP` (exit 1, one line naming the step's error, no marker,
//!   nothing left). Needs the binary built with `--features fault-injection`.
//! - Real: a `--file` that does not fit a `--size`d tmpfs (ENOSPC), a closed `--file`
//!   descriptor, the network helper dying while it starts, hutch killed with SIGKILL
//!   while the command runs and while the sandbox is still being set up.
//!
//! Root runs happen in a private network namespace with a dead-end uplink (as in
//! tests/it/net.rs, see tests/support/netns.rs), so `--net user` cannot reach a real network. The runs are serialised
//! (one lock) so that the counts of one are not disturbed by another.

// (src/fault.rs allows dead code itself without the feature.)
#[cfg_attr(feature = "fault-injection", allow(dead_code))]
#[path = "../src/fault.rs"]
mod fault;
mod support;

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::leaks::{self, Snapshot};
use support::User;

/// One run at a time (see the module docs).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The C library's text for an errno, as hutch prints it.
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Run `f` in a thread in a new network namespace with a loopback and an uplink that
/// leads nowhere (root only: otherwise `f` runs in the caller's namespace, where only
/// the network helper's own start is at stake and no packet is sent).
fn in_private_net(f: impl FnOnce() + Send + 'static) {
    if support::is_root() {
        support::in_private_net(f)
    } else {
        f()
    }
}

/// hutch under its own name (hardened defaults), with a tag in its environment that
/// every process it starts inherits.
fn hutch(user: User, tag: &str) -> support::Cmd {
    support::hutch(user).env("HUTCH_TEST_TAG", tag)
}

/// The sandbox every step is reached in: new namespaces, binds, proc, dev, a tmpfs, a
/// `--file` from fd 3, a hostname, an rlimit, the host directory `out` at /out as the
/// working directory.
fn sandbox_args(out: &Path) -> Vec<String> {
    let out = out.display().to_string();
    #[rustfmt::skip]
    let a = [
        "--unshare-all",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64",
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", "/tmp",
        "--file", "3", "/etc/data",
        "--bind", &out, "/out",
        "--chdir", "/out",
        "--hostname", "sandbox",
        "--rlimit", "nofile=256",
    ];
    a.iter().map(|s| s.to_string()).collect()
}

/// The command: says it ran and leaves a marker on the host; `tag` is its `$0`.
fn marker_command(tag: &str) -> Vec<String> {
    ["sh", "-c", "echo RAN; touch /out/marker", tag]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(feature = "fault-injection")]
/// How a step is reached: extra options, or why it cannot be for this user (the run
/// then checks the real failure instead).
enum Reach {
    With(&'static [&'static str]),
    RealFailure(&'static str),
    /// Not a failure: hutch recovers, and the run with the fault must succeed too.
    Recovers,
}

#[cfg(feature = "fault-injection")]
fn reach(step: fault::Step, user: User) -> Reach {
    use fault::Step::*;
    match step {
        Cgroup if user.is_root() => Reach::With(&["--cgroup", "required"]),
        // This machine's cgroup2 is not delegated to nobody: the real error instead.
        Cgroup => Reach::RealFailure("--cgroup required as an unprivileged user"),
        NetHelper => Reach::With(&["--net", "user"]),
        // The child makes the network namespace itself (src/netns.rs).
        NetBeside => Reach::Recovers,
        // The host's sockets are read from /proc/net/unix instead (src/sockets.rs).
        SocketList => Reach::Recovers,
        // Root maps 0 to 0 unless the sandbox ids differ (then nested under --dev).
        NestedUserns if user.is_root() => Reach::With(&["--uid", "1234"]),
        Clone | UidMap | BindSource | RootPrepare | Bind | Tmpfs | Proc | Dev | FileData
        | PivotRoot | Hostname | Loopback | NestedUserns | Landlock | Caps | Chdir | Fork
        | Rlimit | CloseFds | Seccomp | Exec => Reach::With(&[]),
    }
}

/// Wait until the started process (hutch) has exited, without killing anything.
fn exited(running: &mut support::Running) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !running.poll() {
        assert!(Instant::now() < deadline, "hutch did not exit");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What one run left, checked: nothing but (when it succeeded) the marker.
struct Checked {
    out: support::Out,
    marker: bool,
}

/// Run `cmd` (tagged with `tag`) and check that it leaves nothing on the host but what
/// the command wrote in `out`.
fn run_clean(cmd: support::Cmd, tag: &str, out: &Path) -> Checked {
    let owner = cmd.user().uid();
    let before = Snapshot::take();
    let mut running = cmd.spawn();
    let pid = running.pid();
    exited(&mut running);
    // Counted before `wait`, which kills what is left in hutch's process group.
    let mut leaks = before.leaks(tag, &[pid], owner);
    let o = running.wait();
    // The descriptors once the runner has closed its own (the output files).
    leaks.fds = before.new_fds();
    assert!(leaks.is_empty(), "left behind: {leaks:?}{o:?}");
    let entries: Vec<String> = fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "marker")
        .collect();
    assert!(
        entries.is_empty(),
        "files left in {}: {entries:?}{o:?}",
        out.display()
    );
    Checked {
        marker: out.join("marker").exists(),
        out: o,
    }
}

/// The failure rules: exit 1, one line on stderr starting with `prefix` (after
/// `hutch: `) and holding `needle`, nothing on stdout, no marker.
#[track_caller]
fn assert_one_line_failure(c: &Checked, prefix: &str, needle: &str) {
    let o = &c.out;
    o.code(1);
    assert_eq!(o.stdout, "", "the command ran{o:?}");
    assert!(!c.marker, "the command ran: the marker exists{o:?}");
    assert_eq!(o.stderr.lines().count(), 1, "not one line{o:?}");
    assert!(
        o.stderr.starts_with(&format!("hutch: {prefix}")) && o.stderr.contains(needle),
        "expected \"hutch: {prefix}...{needle}...\"{o:?}"
    );
}

#[cfg(not(feature = "fault-injection"))]
#[test]
fn fault_injection_feature_is_enabled() {
    panic!(
        "tests/faults.rs needs the injected failures of src/fault.rs: run \
         `cargo test --release --features fault-injection` (see README.md)"
    );
}

/// Every step, as every user: as is it succeeds, with its fault it fails cleanly.
#[cfg(feature = "fault-injection")]
#[test]
fn every_setup_step_fails_cleanly() {
    let _serial = serial();
    in_private_net(|| {
        let data = support::fixture().join("data");
        let mut checked = 0;
        // Both ways the child is made: forked (with --unshare-all the network namespace is
        // made beside it, src/netns.rs), and in the monitor's memory (sys::clone_shared),
        // which the host's network allows. The steps of a new network namespace exist
        // only in the first.
        let models: [(&str, &[&str]); 2] = [("forked", &[]), ("shared", &["--share-net"])];
        for user in support::users() {
            for (model, model_args) in models {
                for (i, step) in fault::Step::ALL.into_iter().enumerate() {
                    use fault::Step::{Loopback, NetBeside};
                    if model == "shared" && matches!(step, Loopback | NetBeside) {
                        continue;
                    }
                    let out = support::tempdir(user);
                    let (extra, recovers) = match reach(step, user) {
                        Reach::With(extra) => (extra, false),
                        Reach::Recovers => (&[][..], true),
                        Reach::RealFailure(why) => {
                            // The real failure must follow the same rules.
                            let tag = leaks::tag(step.name());
                            let cmd = hutch(user, &tag)
                                .args(sandbox_args(out.path()))
                                .args(["--cgroup", "required"])
                                .args(marker_command(&tag))
                                .fd_in(3, &data);
                            let c = run_clean(cmd, &tag, out.path());
                            assert_one_line_failure(&c, "cgroup ", "not writable by you");
                            eprintln!("{user:?} {}: the real failure ({why})", step.name());
                            continue;
                        }
                    };
                    let build = |tag: &str| {
                        hutch(user, tag)
                            .args(sandbox_args(out.path()))
                            .args(model_args)
                            .args(extra)
                            .args(marker_command(tag))
                            .fd_in(3, &data)
                    };
                    // As is: the command line is fine and reaches the step.
                    let tag = leaks::tag(step.name());
                    let c = run_clean(build(&tag), &tag, out.path());
                    c.out.ok().stdout_is("RAN\n");
                    assert!(
                        c.marker,
                        "{user:?} {model} {}: no marker{:?}",
                        step.name(),
                        c.out
                    );
                    fs::remove_file(out.join("marker")).unwrap();
                    // With the fault: the step's default errno, or another one named.
                    let (spec, errno) = if i % 2 == 0 {
                        (step.name().to_string(), step.errno())
                    } else {
                        (format!("{}:EACCES", step.name()), libc::EACCES)
                    };
                    let tag = leaks::tag(step.name());
                    let c = run_clean(build(&tag).env("HUTCH_FAULT", &spec), &tag, out.path());
                    if recovers {
                        c.out.ok().stdout_is("RAN\n");
                        assert!(c.marker, "{user:?} {}: no marker{:?}", step.name(), c.out);
                        continue;
                    }
                    assert_one_line_failure(&c, step.context(), &strerror(errno));
                    checked += 1;
                }
            }
        }
        eprintln!("{checked} injected faults checked");
    });
}

/// When the helper that makes the network namespace beside the setup fails
/// (src/netns.rs), the child makes it: the sandbox still gets a new namespace whose
/// only device is a loopback that is up, under both names. Without the fault the
/// helper's namespace is the one the command gets: tests/it/core.rs.
#[cfg(feature = "fault-injection")]
#[test]
fn a_failed_network_helper_leaves_the_child_to_make_the_namespace() {
    let _serial = serial();
    let host = format!("net:[{}]", support::own_ns("net"));
    let script =
        "ip -o link | awk '{print $2}'; ip -o link show lo | grep -q LOWER_UP && echo lo-up; \
                  readlink /proc/self/ns/net";
    for user in support::users() {
        for bin in [support::bwrap_path(), support::hutch_path()] {
            for fault in ["net-beside", "net-beside:EPERM"] {
                let o = support::Cmd::new(bin, user)
                    .env("HUTCH_FAULT", fault)
                    .args(["--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc"])
                    .sh(script)
                    .run();
                o.ok();
                let l = o.lines();
                assert_eq!(l[..2], ["lo:", "lo-up"][..], "{user:?} {fault}{o:?}");
                assert_ne!(l[2], host, "{user:?} {fault}: the host's namespace{o:?}");
            }
        }
    }
}

/// With several steps named, the first one reached fails; the command never sees
/// `HUTCH_FAULT`; `HUTCH_FAULT=list` names every step; a bad value is one line.
#[cfg(feature = "fault-injection")]
#[test]
fn the_fault_variable() {
    let _serial = serial();
    let user = support::unprivileged();
    let data = support::fixture().join("data");
    let out = support::tempdir(user);
    let tag = leaks::tag("several");
    let c = run_clean(
        hutch(user, &tag)
            .args(sandbox_args(out.path()))
            .args(marker_command(&tag))
            .fd_in(3, &data)
            .env("HUTCH_FAULT", "exec,pivot-root:EIO,uid-map:ENOMEM"),
        &tag,
        out.path(),
    );
    assert_one_line_failure(&c, "setting up uid map", &strerror(libc::ENOMEM));

    // A step that is not reached changes nothing; the variable is gone inside.
    let tag = leaks::tag("unreached");
    let c = run_clean(
        hutch(user, &tag)
            .args(sandbox_args(out.path()))
            .args([
                "sh",
                "-c",
                "echo \"[${HUTCH_FAULT-unset}]\"; touch /out/marker",
            ])
            .fd_in(3, &data)
            .env("HUTCH_FAULT", "cgroup"),
        &tag,
        out.path(),
    );
    c.out.ok().stdout_is("[unset]\n");

    let o = support::hutch(user).env("HUTCH_FAULT", "list").run();
    o.ok();
    let names: Vec<&str> = fault::Step::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(o.lines(), names, "{o:?}");

    for (value, msg) in [
        (
            "pivot_root",
            "hutch: HUTCH_FAULT: unknown step \"pivot_root\" (HUTCH_FAULT=list)\n",
        ),
        (
            "exec:EWHAT",
            "hutch: HUTCH_FAULT: unknown errno \"EWHAT\" for exec\n",
        ),
    ] {
        let o = support::hutch(user)
            .env("HUTCH_FAULT", value)
            .args(["--ro-bind", "/", "/", "true"])
            .run();
        o.code(1).stderr_is(msg).stdout_is("");
    }
}

/// A `--file` that does not fit its `--size`d tmpfs: a real ENOSPC.
#[test]
fn a_full_tmpfs_is_one_line() {
    let _serial = serial();
    let big = support::tempdir(User::Current);
    let big = big.join("big");
    fs::write(&big, vec![b'x'; 1 << 20]).unwrap();
    for user in support::users() {
        let out = support::tempdir(user);
        let tag = leaks::tag("enospc");
        let cmd = hutch(user, &tag)
            .args(sandbox_args(out.path()))
            .args([
                "--size",
                "16384",
                "--tmpfs",
                "/small",
                "--file",
                "4",
                "/small/big",
            ])
            .args(marker_command(&tag))
            .fd_in(3, &support::fixture().join("data"))
            .fd_in(4, &big);
        let c = run_clean(cmd, &tag, out.path());
        assert_one_line_failure(
            &c,
            "Can't write data to file /small/big",
            &strerror(libc::ENOSPC),
        );
    }
}

/// `--file 9` where 9 was never open: the descriptor is named, nothing runs.
#[test]
fn a_closed_descriptor_is_one_line() {
    let _serial = serial();
    for user in support::users() {
        let out = support::tempdir(user);
        let tag = leaks::tag("ebadf");
        let cmd = hutch(user, &tag)
            .args(sandbox_args(out.path()))
            .args(["--file", "9", "/etc/nine"])
            .args(marker_command(&tag))
            .fd_in(3, &support::fixture().join("data"));
        let c = run_clean(cmd, &tag, out.path());
        assert_one_line_failure(
            &c,
            "Can't write data to file /etc/nine",
            &strerror(libc::EBADF),
        );
    }
}

/// The network helper dies while it starts (a `pasta` first in PATH that kills
/// itself): one line, the command never runs, nothing left.
#[test]
fn the_network_helper_dying_is_one_line() {
    let _serial = serial();
    in_private_net(|| {
        let bin = support::tempdir(User::Current);
        let pasta = bin.join("pasta");
        fs::write(&pasta, "#!/bin/sh\nkill -9 $$\n").unwrap();
        fs::set_permissions(&pasta, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        for user in support::users() {
            let out = support::tempdir(user);
            let tag = leaks::tag("pasta");
            let cmd = hutch(user, &tag)
                .env("PATH", format!("{}:/usr/bin:/bin", bin.s()))
                .args(sandbox_args(out.path()))
                .args(["--net", "user"])
                .args(marker_command(&tag))
                .fd_in(3, &support::fixture().join("data"));
            let c = run_clean(cmd, &tag, out.path());
            assert_one_line_failure(&c, "--net user: pasta failed: ", "killed by signal 9");
        }
    });
}

/// Wait until the sandbox's command runs: a process carrying `tag` whose command line
/// starts with `command` (hutch's own command line holds it too, further on: waiting
/// for any mention would kill hutch before it made anything).
fn wait_for_command(tag: &str, command: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !leaks::tagged_processes(tag).iter().any(|p| {
        p.split_once(": ")
            .is_some_and(|(_, c)| c.starts_with(command))
    }) {
        assert!(Instant::now() < deadline, "{command} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// hutch killed with SIGKILL while the command runs: the sandbox dies with it
/// (`--die-with-parent` is hutch's default), nothing is left.
#[test]
fn a_killed_hutch_takes_its_sandbox_along() {
    let _serial = serial();
    for user in support::users() {
        let out = support::tempdir(user);
        let tag = leaks::tag("killed");
        let before = Snapshot::take();
        let mut running = hutch(user, &tag)
            .args(sandbox_args(out.path()))
            .args(["sh", "-c", "sleep 1000; touch /out/marker", &tag])
            .fd_in(3, &support::fixture().join("data"))
            .spawn();
        wait_for_command(&tag, "sh -c sleep 1000");
        let pid = running.pid();
        running.kill_leader();
        exited(&mut running);
        let mut leaks = before.leaks_after_kill(&tag, &[pid], user.uid());
        let o = running.wait();
        leaks.fds = before.new_fds();
        assert_eq!(o.signal, Some(9), "{o:?}");
        assert!(leaks.is_empty(), "{user:?}: left behind: {leaks:?}{o:?}");
        assert!(!out.join("marker").exists());
    }
}

/// hutch killed with SIGKILL while the sandbox is still being set up (it exists, as
/// `--info-fd` says, but the command waits at `--block-fd`, before exec): the command
/// never runs, nothing is left.
#[test]
fn a_hutch_killed_during_setup_leaves_nothing() {
    let _serial = serial();
    for user in support::users() {
        let out = support::tempdir(user);
        let fifo = out.join("block");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
        let info = out.join("info");
        let tag = leaks::tag("setup");
        let before = Snapshot::take();
        let mut running = hutch(user, &tag)
            .args(sandbox_args(out.path()))
            .args(["--block-fd", "4", "--info-fd", "5"])
            .args(marker_command(&tag))
            .fd_in(3, &support::fixture().join("data"))
            .redir(format!("4<>{}", support::sq(fifo.display().to_string())))
            .fd_out(5, &info)
            .spawn();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !fs::read_to_string(&info).is_ok_and(|s| s.contains("child-pid")) {
            assert!(!running.poll(), "hutch ended before it was killed");
            assert!(Instant::now() < deadline, "no --info-fd");
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = running.pid();
        running.kill_leader();
        exited(&mut running);
        // The sandbox dies as soon as its pid 1 has handled the parent-death signal,
        // a moment after hutch: the command, released in that moment, could still
        // run. The counts wait for that; then, were anything still alive, this would
        // release it.
        let mut leaks = before.leaks_after_kill(&tag, &[pid], user.uid());
        let _ = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"go"));
        let o = running.wait();
        leaks.fds = before.new_fds();
        assert!(leaks.is_empty(), "{user:?}: left behind: {leaks:?}{o:?}");
        assert!(!out.join("marker").exists(), "the command ran{o:?}");
        assert_eq!(o.stdout, "", "the command ran{o:?}");
        fs::remove_file(&fifo).unwrap();
    }
}

/// The documented exception: hutch killed with SIGKILL cannot remove its cgroup, but
/// it is empty and the next run removes it (root: the only user with a cgroup here).
#[test]
fn the_cgroup_of_a_killed_hutch_goes_with_the_next_run() {
    let _serial = serial();
    if !support::is_root() {
        support::skip("only root can make cgroups on this machine (not delegated)");
        return;
    }
    let user = User::Root;
    let out = support::tempdir(user);
    let tag = leaks::tag("cgroup-killed");
    let before = Snapshot::take();
    let mut running = hutch(user, &tag)
        .args(sandbox_args(out.path()))
        .args(["--cgroup", "required"])
        .args(["sh", "-c", "sleep 1000", &tag])
        .fd_in(3, &support::fixture().join("data"))
        .spawn();
    wait_for_command(&tag, "sh -c sleep 1000");
    let pid = running.pid();
    running.kill_leader();
    exited(&mut running);
    // The sandbox dies with hutch (what came to the test process is reaped); its
    // cgroup stays, empty.
    let left = before.leaks_after_kill(&tag, &[], user.uid());
    assert!(
        left.processes.is_empty() && left.zombies.is_empty(),
        "the sandbox outlived hutch: {left:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    // Its cgroup empties as the last processes are reaped. (Another hutch on the
    // machine that makes a cgroup may have removed it already.)
    for dir in leaks::cgroups_of(&[pid]) {
        for d in [dir.join("sandbox"), dir.clone()] {
            let procs = || fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            while !procs().is_empty() {
                assert!(
                    Instant::now() < deadline,
                    "{} is not empty: {}",
                    d.display(),
                    procs()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    // The next run with a cgroup removes it.
    let tag2 = leaks::tag("cgroup-next");
    let c = run_clean(
        hutch(user, &tag2)
            .args(sandbox_args(out.path()))
            .args(["--cgroup", "required"])
            .args(marker_command(&tag2))
            .fd_in(3, &support::fixture().join("data")),
        &tag2,
        out.path(),
    );
    c.out.ok();
    assert_eq!(leaks::cgroups_of(&[pid]), Vec::<std::path::PathBuf>::new());
}

/// The counts above do see what is left: a process that outlives its sandbox (no pid
/// namespace, `--die-with-parent` off, as bwrap allows), a file written to the host's
/// /tmp, and a descriptor the test process keeps open.
#[test]
fn the_leak_counts_see_what_is_left() {
    let _serial = serial();
    let user = support::unprivileged();
    let tag = leaks::tag("probe");
    let file = format!("/tmp/hutch-probe-{}", std::process::id());
    let before = Snapshot::take();
    let kept = fs::File::open("/proc/self/status").unwrap();
    // In the test's process group: what it leaves is not killed.
    support::bwrap(user)
        .args(["--dev-bind", "/", "/", "sh", "-c"])
        .arg(format!(
            "touch {file}; sleep 60 </dev/null >/dev/null 2>&1 &"
        ))
        .arg(&tag)
        .env("HUTCH_TEST_TAG", &tag)
        .in_test_group()
        .run()
        .ok();
    let left = before.leaks(&tag, &[], user.uid());
    let _ = fs::remove_file(&file);
    for p in leaks::tagged_processes(&tag) {
        let pid: i32 = p.split(':').next().unwrap().parse().unwrap();
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        // An orphan, it came to the test process (the subreaper): reaped now, it is
        // not a zombie that the next test's counts would see.
        let _ = nix::sys::wait::waitpid(pid, None);
    }
    drop(kept);
    assert_eq!(left.fds, 1, "{left:?}");
    assert!(
        left.processes.iter().any(|p| p.contains("sleep 60")),
        "{left:?}"
    );
    assert!(
        left.tmp.iter().any(|t| file.ends_with(t.as_str())),
        "{left:?}"
    );
    assert!(!left.is_empty());
}

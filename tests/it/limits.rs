//! Resource limits, for real: `--rlimit`, `--timeout`, `--stats`, and cgroup v2 where
//! this machine allows it (the cgroup code's every write is also unit-tested against a
//! fake tree in `src/cgroup.rs`). The real controllers (`--memory`, `--pids`, `--cpus`,
//! `--io-weight`, delegation) are tested in the VMs of tests/vm/run, where
//! HUTCH_TEST_CGROUP_V2=1 makes those tests fail instead of skipping.
//!
//! Each test spawns a copy of the built binary from a 0755 directory under /tmp, as
//! root and as an unprivileged user (uid 65534 through setpriv) when run as root.
//! Processes left behind are looked for by their exact argv (`sleep <unique number>`).

use crate::support;

use crate::support::{bin_dir, is_root, users, Out, User};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PYTHON: &str = "/usr/bin/python3";

/// A file handed to the sandbox process as descriptor 3.
#[derive(Clone, Copy)]
enum Fd3<'a> {
    Write(&'a Path),
    Read(&'a Path),
}

/// Run `<name> ARGS` (`hutch` or `bwrap`) as `user` from `/`, killed after 30 s, with
/// `fd3` as descriptor 3.
fn run_as(user: User, name: &str, args: &[&str], fd3: Option<Fd3<'_>>) -> Out {
    let cmd = user
        .cmd(bin_dir().join(name))
        .args(args)
        .timeout(Duration::from_secs(30))
        .in_test_group();
    // The file is opened by the test's shell, before any switch of user.
    match fd3 {
        Some(Fd3::Write(p)) => cmd.fd_out(3, p),
        Some(Fd3::Read(p)) => cmd.fd_in(3, p),
        None => cmd,
    }
    .run()
}

fn run(user: User, args: &[&str]) -> Out {
    run_as(user, "hutch", args, None)
}

/// The whole host, read-only, with a /dev (for /dev/null) and /proc.
fn sandbox<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];
    a.extend_from_slice(extra);
    a
}

/// [`sandbox`] with `flags`, then `command`.
fn sandboxed<'a>(flags: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
    let mut a = sandbox(flags);
    a.extend_from_slice(command);
    a
}

/// `hutch` [`sandboxed`] as `user`.
fn run_sandboxed(user: User, flags: &[&str], command: &[&str]) -> Out {
    run(user, &sandboxed(flags, command))
}

/// Each user with each of `flag_sets` (each a row of extra flags, named by them).
fn for_each_user_with(flag_sets: &[&[&str]], mut f: impl FnMut(User, &[&str])) {
    for user in users() {
        for flags in flag_sets {
            f(user, flags);
        }
    }
}

/// A number for `sleep` that no other test uses.
fn marker() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}{:03}",
        std::process::id() % 100_000 + 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Pids of the processes whose argv is exactly `sleep <n>`.
fn sleepers(n: &str) -> Vec<i32> {
    let want = format!("sleep\0{n}\0");
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// `sleepers(n)` after a short grace period for the kernel to finish exits.
fn left_behind(n: &str) -> Vec<i32> {
    for _ in 0..50 {
        if sleepers(n).is_empty() {
            return Vec::new();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sleepers(n)
}

/// The --stats JSON from just after `"key": ` on.
fn json_after<'a>(json: &'a str, key: &str) -> &'a str {
    let k = format!("\"{key}\": ");
    let i = json
        .find(&k)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + k.len();
    &json[i..]
}

/// A number from the --stats JSON (`"key": 1.5`).
fn json_num(json: &str, key: &str) -> f64 {
    let rest = json_after(json, key);
    let end = rest.find([',', '}']).unwrap();
    rest[..end]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {json}"))
}

/// A raw JSON value from the --stats JSON (`"limits_hit": ["timeout"]` gives `["timeout"]`).
fn json_raw<'a>(json: &'a str, key: &str) -> &'a str {
    let rest = json_after(json, key);
    let end = if rest.starts_with('[') {
        rest.find(']').unwrap() + 1
    } else if let Some(body) = rest.strip_prefix('"') {
        let mut esc = false;
        let mut end = 0;
        for (j, c) in body.char_indices() {
            match c {
                '\\' if !esc => esc = true,
                '"' if !esc => {
                    end = j + 2;
                    break;
                }
                _ => esc = false,
            }
        }
        end
    } else {
        rest.find([',', '}']).unwrap()
    };
    &rest[..end]
}

/// The --stats line of stderr.
fn stats_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("{\"wall_time_s\""))
        .unwrap_or_else(|| panic!("no stats in {stderr}"))
}

/// Whether python3 is there for the tests that use it; false after saying why they skip
/// (in CI a failure: .ci/run installs it).
fn have_python() -> bool {
    let ok = Path::new(PYTHON).exists();
    if !ok {
        support::skip(&format!("no {PYTHON}"));
    }
    ok
}

/// The cgroup v2 mount point, if any.
fn cgroup2_mount() -> Option<PathBuf> {
    let mi = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        Some(PathBuf::from(left.split(' ').nth(4)?))
    })
}

/// Our own cgroup v2 directory, if we are in one.
fn own_cgroup_dir() -> Option<PathBuf> {
    let mount = cgroup2_mount()?;
    let rel = fs::read_to_string("/proc/self/cgroup")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))?;
    Some(mount.join(rel.trim_start_matches('/')))
}

/// For a test that needs [`root_can_make_cgroups`]: false after saying why it skips
/// (in CI, run as root, a failure).
fn can_make_cgroups_or_skip() -> bool {
    let ok = root_can_make_cgroups();
    if !ok {
        support::skip("only root can make cgroups here, below its own cgroup v2 directory");
    }
    ok
}

/// Root may make cgroups below its own (this machine: the root of /sys/fs/cgroup/unified).
fn root_can_make_cgroups() -> bool {
    is_root()
        && own_cgroup_dir().is_some_and(|d| {
            nix::unistd::access(&d.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK).is_ok()
        })
}

// ---------------------------------------------------------------------------------------

#[test]
fn bad_values_are_one_line_naming_flag_and_value() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--memory", "12X"],
            "hutch: --memory: invalid size \"12X\" (use bytes or a k/M/G suffix)",
        ),
        (
            &["--memory-swap", "1.5G"],
            "hutch: --memory-swap: invalid size \"1.5G\" (use bytes or a k/M/G suffix)",
        ),
        (
            &["--cpus", "lots"],
            "hutch: --cpus: invalid number of CPUs \"lots\" (use a positive number of CPUs such as 1.5)",
        ),
        (
            &["--pids", "0"],
            "hutch: --pids: invalid process count \"0\" (use a whole number >= 1)",
        ),
        (
            &["--io-weight", "20000"],
            "hutch: --io-weight: invalid weight \"20000\" (use a whole number from 1 to 10000)",
        ),
        (
            &["--rlimit", "nofile=x"],
            "hutch: --rlimit: invalid limit \"nofile=x\" (nofile takes a whole number, or unlimited)",
        ),
        (
            &["--rlimit", "files=1"],
            "hutch: --rlimit: invalid limit \"files=1\" (unknown resource \"files\"; use one of as, core, cpu, data, fsize, memlock, nofile, nproc, stack)",
        ),
        (
            &["--timeout", "1x"],
            "hutch: --timeout: invalid duration \"1x\" (use seconds such as 1.5, or a ms/s/m/h suffix)",
        ),
        (
            &["--stats-fd", "-1"],
            "hutch: --stats-fd: invalid fd \"-1\" (use a file descriptor number)",
        ),
        (
            &["--cgroup", "yes"],
            "hutch: --cgroup: invalid mode \"yes\" (use required, best-effort or off)",
        ),
        (
            &["--memory", "1G", "--cgroup", "off"],
            "hutch: --memory needs a cgroup and cannot be combined with --cgroup off",
        ),
        (
            &["--stats-fd", "9"],
            "hutch: Invalid fd: 9 (given to --stats-fd): Bad file descriptor",
        ),
    ];
    for user in users() {
        for (flags, want) in cases {
            let o = run_sandboxed(user, flags, &["true"]);
            assert_eq!(o.code, 1, "{user:?} {flags:?}: {o:?}");
            assert_eq!(o.stderr, format!("{want}\n"), "{user:?} {flags:?}");
        }
    }
}

#[test]
fn the_flags_work_under_the_bwrap_name() {
    for user in users() {
        let flags = ["--rlimit", "nofile=33", "--timeout", "10", "--stats"];
        let o = run_as(
            user,
            "bwrap",
            &sandboxed(&flags, &["sh", "-c", "ulimit -n"]),
            None,
        );
        assert_eq!((o.code, o.stdout.as_str()), (0, "33\n"), "{user:?}: {o:?}");
        assert!(o.stderr.starts_with("{\"wall_time_s\""), "{o:?}");
        let o = run_as(user, "bwrap", &["--memory", "12X", "true"], None);
        assert_eq!(
            o.stderr,
            "bwrap: --memory: invalid size \"12X\" (use bytes or a k/M/G suffix)\n"
        );
    }
}

/// Python's `script` as each user with `--rlimit LIMIT` and without it; `check` gets
/// the user and both outputs (with, without).
fn python_with_and_without_rlimit(limit: &str, script: &str, check: impl Fn(User, &Out, &Out)) {
    if !have_python() {
        return;
    }
    for user in users() {
        let with = run_sandboxed(user, &["--rlimit", limit], &[PYTHON, "-c", script]);
        let without = run_sandboxed(user, &[], &[PYTHON, "-c", script]);
        check(user, &with, &without);
    }
}

#[test]
fn rlimit_nofile_gives_emfile_inside() {
    let script = "import errno\nfs = []\ntry:\n    for i in range(200): fs.append(open('/etc/passwd'))\nexcept OSError as e:\n    print(errno.errorcode[e.errno], len(fs))";
    python_with_and_without_rlimit("nofile=32", script, |user, o, without| {
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert!(o.stdout.starts_with("EMFILE "), "{user:?}: {o:?}");
        // Without the limit the same script opens them all.
        assert_eq!(without.stdout, "", "{user:?}: {without:?}");
    });
}

#[test]
fn rlimit_as_gives_memory_error() {
    let script = "b = bytearray(300 << 20); print('allocated')";
    python_with_and_without_rlimit("as=200M", script, |user, o, without| {
        assert_eq!(o.code, 1, "{user:?}: {o:?}");
        assert!(o.stderr.contains("MemoryError"), "{user:?}: {o:?}");
        assert_eq!(
            (without.code, without.stdout.as_str()),
            (0, "allocated\n"),
            "{user:?}: {without:?}"
        );
    });
}

#[test]
fn rlimits_bind_the_command_not_pid_1() {
    for user in users() {
        let o = run_sandboxed(
            user,
            &[
                "--unshare-pid",
                "--rlimit",
                "nofile=40:50",
                "--rlimit",
                "core=0",
            ],
            &[
                "sh",
                "-c",
                "grep -E 'Max (open files|core file size)' /proc/self/limits; grep 'Max open files' /proc/1/limits",
            ],
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        // "Max open files  40  50  files": the soft and hard limits before the unit.
        let limits: Vec<(String, String)> = o
            .stdout
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w[w.len() - 3].to_string(), w[w.len() - 2].to_string())
            })
            .collect();
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(limits.len(), 3, "{o:?}");
        assert_eq!(limits[0], pair("0", "0"), "core: {o:?}");
        assert_eq!(limits[1], pair("40", "50"), "nofile: {o:?}");
        assert_ne!(
            limits[2],
            pair("40", "50"),
            "pid 1 keeps hutch's limits: {o:?}"
        );
    }
}

#[test]
fn rlimit_above_the_hard_limit_is_a_clean_error() {
    for user in users() {
        if user == User::Root {
            continue; // root may raise it
        }
        let o = run_sandboxed(user, &["--rlimit", "nofile=100000000"], &["true"]);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(
            o.stderr.starts_with(
                "hutch: --rlimit nofile=100000000:100000000: setrlimit failed: Operation not permitted (only root can raise the hard limit, which is "
            ),
            "{o:?}"
        );
        assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
    }
}

#[test]
fn timeout_kills_the_command_and_exits_124() {
    let nss: [&[&str]; 3] = [&[], &["--unshare-pid"], &["--unshare-pid", "--as-pid-1"]];
    for_each_user_with(&nss, |user, ns| {
        let n = marker();
        let o = run_sandboxed(user, ns, &["--timeout", "1s", "sleep", &n]);
        assert_eq!(o.code, 124, "{user:?} {ns:?}: {o:?}");
        assert_eq!(o.stderr, "hutch: timeout after 1s\n", "{user:?} {ns:?}");
        // Long before the sleep would end (years), with room for a loaded 2-core machine
        // or a VM without KVM.
        assert!(
            o.took >= Duration::from_millis(950) && o.took < Duration::from_secs(15),
            "{user:?} {ns:?}: {o:?}"
        );
        assert_eq!(left_behind(&n), Vec::<i32>::new(), "{user:?} {ns:?}");
    });
}

#[test]
fn timeout_leaves_no_descendant_behind() {
    // Background children, one in its own session, with and without a pid namespace,
    // with pid 1 (--lock-file) and without.
    let nss: [&[&str]; 3] = [&[], &["--unshare-pid"], &["--lock-file", "/etc/passwd"]];
    for_each_user_with(&nss, |user, ns| {
        let (a, b, c) = (marker(), marker(), marker());
        let script = format!("sleep {a} & setsid sleep {b} & sleep {c}");
        let o = run_sandboxed(user, ns, &["--timeout", "0.5", "sh", "-c", &script]);
        assert_eq!(o.code, 124, "{user:?} {ns:?}: {o:?}");
        assert!(o.stderr.contains("hutch: timeout after 500ms\n"), "{o:?}");
        for n in [&a, &b, &c] {
            assert_eq!(
                left_behind(n),
                Vec::<i32>::new(),
                "{user:?} {ns:?} sleep {n}"
            );
        }
    });
}

#[test]
fn timeout_not_reached_keeps_the_status() {
    for user in users() {
        // A long timeout, and a bound well below it (a loaded machine is slow to start).
        let o = run_sandboxed(user, &["--timeout", "25"], &["sh", "-c", "exit 7"]);
        assert_eq!((o.code, o.stderr.as_str()), (7, ""), "{user:?}: {o:?}");
        assert!(o.took < Duration::from_secs(20), "{o:?}");
    }
}

#[test]
fn stats_show_the_cpu_time_of_a_busy_loop() {
    if !have_python() {
        return;
    }
    // The machine is shared (other tests, other builds): a loop that stops after one
    // second of its own CPU time gives a figure that does not depend on the load.
    let bounded = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass";
    for_each_user_with(&[&[], &["--unshare-pid"]], |user, ns| {
        let o = run_sandboxed(
            user,
            ns,
            &["--stats", "--timeout", "60", PYTHON, "-c", bounded],
        );
        assert_eq!(o.code, 0, "{user:?} {ns:?}: {o:?}");
        let s = stats_line(&o.stderr);
        let cpu = json_num(s, "user_cpu_s") + json_num(s, "system_cpu_s");
        assert!(cpu >= 1.0, "{user:?} {ns:?}: {s}");
        assert!(json_num(s, "wall_time_s") >= cpu - 0.1, "{s}");
        assert_eq!(json_raw(s, "limits_hit"), "[]", "{s}");
        // An endless loop ended by --timeout: its CPU time is still counted (with a
        // pid namespace, pid 1 reaps the command before it goes).
        let endless = [
            "--stats",
            "--timeout",
            "1.5",
            PYTHON,
            "-c",
            "while True: pass",
        ];
        let o = run_sandboxed(user, ns, &endless);
        assert_eq!(o.code, 124, "{user:?} {ns:?}: {o:?}");
        let s = stats_line(&o.stderr);
        // (User and system time together: in a VM without KVM much of it is
        // accounted as system time.)
        let cpu = json_num(s, "user_cpu_s") + json_num(s, "system_cpu_s");
        assert!(cpu >= 0.2, "{user:?} {ns:?}: {s}");
        assert!(json_num(s, "wall_time_s") >= 1.5, "{s}");
        assert_eq!(json_num(s, "exit_status"), 124.0, "{s}");
        assert_eq!(json_raw(s, "limits_hit"), "[\"timeout\"]", "{s}");
    });
}

#[test]
fn stats_show_the_peak_memory() {
    if !have_python() {
        return;
    }
    for_each_user_with(&[&[], &["--unshare-pid"]], |user, ns| {
        let o = run_sandboxed(
            user,
            ns,
            &["--stats", PYTHON, "-c", "b = b'x' * (200 << 20)"],
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        let s = stats_line(&o.stderr);
        assert!(
            json_num(s, "peak_memory_bytes") >= (200u64 << 20) as f64,
            "{user:?} {ns:?}: {s}"
        );
    });
}

#[test]
fn stats_fd_gets_the_json_and_stderr_does_not() {
    for user in users() {
        let out = support::base().join(format!("stats-{user:?}"));
        let args = sandboxed(
            &["--stats-fd", "3"],
            &["sh", "-c", "ls /proc/self/fd/3 2>/dev/null; exit 5"],
        );
        let o = run_as(user, "hutch", &args, Some(Fd3::Write(&out)));
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (5, "", ""),
            "{user:?}: {o:?}"
        );
        let json = fs::read_to_string(&out).unwrap();
        assert!(json.starts_with("{\"wall_time_s\": "), "{json}");
        assert!(json.ends_with("}\n"), "{json}");
        assert_eq!(json_num(&json, "exit_status"), 5.0);
        let _ = fs::remove_file(&out);
    }
}

#[test]
fn rlimit_cpu_is_reported_as_hit() {
    if !have_python() {
        return;
    }
    let o = run_sandboxed(
        users()[0],
        &["--rlimit", "cpu=1", "--stats"],
        &[PYTHON, "-c", "while True: pass"],
    );
    assert_eq!(o.code, 137, "{o:?}");
    assert_eq!(
        json_raw(stats_line(&o.stderr), "limits_hit"),
        "[\"rlimit-cpu\"]",
        "{o:?}"
    );
}

/// A SIGKILL from elsewhere, long before the CPU limit, is not the limit. (hutch counts
/// a SIGKILL as the limit from half of it: a limit of 60 s keeps a slow start, such as
/// 2.4 s of system time under an emulated CPU, well below that.)
#[test]
fn an_early_sigkill_is_not_the_cpu_limit() {
    for user in users() {
        let o = run_sandboxed(
            user,
            &["--rlimit", "cpu=60", "--stats"],
            &["sh", "-c", "kill -KILL $$"],
        );
        assert_eq!(o.code, 137, "{o:?}");
        assert_eq!(json_raw(stats_line(&o.stderr), "limits_hit"), "[]", "{o:?}");
    }
}

// ---------------------------------------------------------------------------------------
// cgroup v2

/// Whether the caller's cgroup offers a controller (and so `--memory` can work).
fn controller_available(name: &str) -> bool {
    own_cgroup_dir()
        .and_then(|d| fs::read_to_string(d.join("cgroup.controllers")).ok())
        .is_some_and(|c| c.split_whitespace().any(|w| w == name))
}

#[test]
fn cgroup_is_made_joined_and_removed() {
    if !can_make_cgroups_or_skip() {
        return;
    }
    let cat = ["cat", "/proc/self/cgroup"];
    let o = run_sandboxed(User::Root, &["--cgroup", "required", "--stats"], &cat);
    assert_eq!(o.code, 0, "{o:?}");
    let s = stats_line(&o.stderr);
    let dir = json_raw(s, "cgroup").trim_matches('"').to_string();
    let name = Path::new(&dir)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with("hutch-"), "{s}");
    let inside = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap();
    assert!(inside.ends_with(&format!("/{name}/sandbox")), "{o:?}");
    assert_eq!(json_raw(s, "cpu_from"), "\"cgroup\"", "{s}");
    assert!(!Path::new(&dir).exists(), "{dir} is left behind");
    // With a cgroup namespace, the sandbox's cgroup is its root.
    let o = run_sandboxed(
        User::Root,
        &["--cgroup", "required", "--unshare-cgroup"],
        &cat,
    );
    assert!(o.stdout.lines().any(|l| l == "0::/"), "{o:?}");
}

#[test]
fn cgroup_kills_what_the_command_left_running() {
    if !can_make_cgroups_or_skip() {
        return;
    }
    // No pid namespace: without a cgroup the background sleep outlives the sandbox...
    let n = marker();
    let script = format!("sleep {n} & exit 0");
    let o = run_sandboxed(User::Root, &["--share-pid"], &["sh", "-c", &script]);
    assert_eq!(o.code, 0, "{o:?}");
    // The shell may exit before its child has become sleep (a slow machine).
    let mut left = sleepers(&n);
    for _ in 0..500 {
        if !left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        left = sleepers(&n);
    }
    assert_eq!(left.len(), 1, "{o:?}");
    for pid in left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // ... with one, cgroup.kill ends it.
    let n = marker();
    let script = format!("sleep {n} & exit 0");
    let o = run_sandboxed(
        User::Root,
        &["--cgroup", "required"],
        &["sh", "-c", &script],
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(left_behind(&n), Vec::<i32>::new());
}

#[test]
fn cgroup_timeout_kills_the_whole_cgroup() {
    if !can_make_cgroups_or_skip() {
        return;
    }
    let (a, b) = (marker(), marker());
    let script = format!("setsid sleep {a} & sleep {b}");
    let flags = ["--cgroup", "required", "--timeout", "1", "--stats"];
    let o = run_sandboxed(User::Root, &flags, &["sh", "-c", &script]);
    assert_eq!(o.code, 124, "{o:?}");
    let s = stats_line(&o.stderr);
    assert_eq!(json_raw(s, "limits_hit"), "[\"timeout\"]");
    assert!(!Path::new(json_raw(s, "cgroup").trim_matches('"')).exists());
    assert_eq!(left_behind(&a), Vec::<i32>::new());
    assert_eq!(left_behind(&b), Vec::<i32>::new());
}

#[test]
fn memory_without_a_usable_controller() {
    if controller_available("memory") && root_can_make_cgroups() {
        // A fully delegated host: the limit applies.
        let flags = ["--memory", "64M", "--cgroup", "required", "--stats"];
        let o = run_sandboxed(User::Root, &flags, &["true"]);
        assert_eq!(o.code, 0, "{o:?}");
        return;
    }
    // This machine: best-effort warns once and runs; required fails with the cause.
    for user in users() {
        let echo = ["sh", "-c", "echo ran"];
        let o = run_sandboxed(user, &["--memory", "64M", "--stats"], &echo);
        assert_eq!((o.code, o.stdout.as_str()), (0, "ran\n"), "{user:?}: {o:?}");
        let warnings: Vec<&str> = o
            .stderr
            .lines()
            .filter(|l| l.starts_with("hutch: "))
            .collect();
        assert_eq!(warnings.len(), 1, "{o:?}");
        assert!(
            warnings[0].starts_with("hutch: --memory not applied: "),
            "{o:?}"
        );
        let s = stats_line(&o.stderr);
        assert_eq!(json_raw(s, "not_applied"), "[\"--memory\"]", "{s}");
        assert_ne!(json_raw(s, "cgroup_error"), "null", "{s}");

        let o = run_sandboxed(user, &["--memory", "64M", "--cgroup", "required"], &echo);
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{user:?}: {o:?}");
        assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
        if root_can_make_cgroups() && user == User::Root {
            assert!(
                o.stderr
                    .starts_with("hutch: cgroup controller memory (for --memory) is not "),
                "{o:?}"
            );
        } else if user == User::Nobody {
            assert!(
                o.stderr.contains("is not writable by you (not delegated)"),
                "{o:?}"
            );
            assert!(
                o.stderr
                    .contains("systemd-run --user --scope -p Delegate=yes"),
                "{o:?}"
            );
        }
    }
}

#[test]
fn cgroup_required_without_delegation_names_the_fix() {
    for user in users() {
        if user != User::Nobody {
            continue;
        }
        let o = run_sandboxed(user, &["--cgroup", "required"], &["true"]);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(
            o.stderr.contains("is not writable by you (not delegated)"),
            "{o:?}"
        );
        // And --cgroup best-effort alone warns and runs.
        let o = run_sandboxed(user, &["--cgroup", "best-effort"], &["true"]);
        assert_eq!(o.code, 0, "{o:?}");
        assert!(
            o.stderr.starts_with("hutch: running without a cgroup: "),
            "{o:?}"
        );
    }
}

#[test]
fn cgroup_without_clone3_moves_hutch_in_and_out() {
    // Where clone3 is missing (before Linux 5.7, or hidden by a container's seccomp
    // filter) hutch steps into the sandbox's cgroup for the clone and back out. An
    // outer sandbox whose filter fails clone3 with ENOSYS stands in for such a host.
    if !can_make_cgroups_or_skip() {
        return;
    }
    // ld [nr]; jeq 435 (clone3) ? errno(ENOSYS) : allow
    let prog: [(u16, u8, u8, u32); 4] = [
        (0x20, 0, 0, 0),
        (0x15, 0, 1, 435),
        (0x06, 0, 0, 0x0005_0000 | libc::ENOSYS as u32),
        (0x06, 0, 0, 0x7fff_0000),
    ];
    let mut bpf = Vec::new();
    for (code, jt, jf, k) in prog {
        bpf.extend(code.to_ne_bytes());
        bpf.extend([jt, jf]);
        bpf.extend(k.to_ne_bytes());
    }
    let filter = support::base().join("no-clone3.bpf");
    fs::write(&filter, bpf).unwrap();
    let mount = cgroup2_mount().unwrap();
    let mount = mount.to_str().unwrap();
    let inner = support::hutch_path().display().to_string();
    let n = marker();
    let script =
        format!("grep 0:: /proc/self/cgroup; grep 0:: /proc/$PPID/cgroup; sleep {n} & exit 0");
    // The outer sandbox (as bwrap: no policy of its own) only adds the filter.
    let mut args = sandbox(&["--bind", mount, mount, "--add-seccomp-fd", "3", &inner]);
    // --share-pid: $PPID is the monitor.
    args.extend(sandbox(&[
        "--share-pid",
        "--cgroup",
        "required",
        "--stats",
        "sh",
        "-c",
        &script,
    ]));
    let o = run_as(User::Root, "bwrap", &args, Some(Fd3::Read(&filter)));
    assert_eq!(o.code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines[0].starts_with("0::/") && lines[0].ends_with("/sandbox"),
        "{o:?}"
    );
    assert!(
        !lines[1].contains("hutch-"),
        "the monitor stepped back out: {o:?}"
    );
    let s = stats_line(&o.stderr);
    assert!(!Path::new(json_raw(s, "cgroup").trim_matches('"')).exists());
    assert_eq!(left_behind(&n), Vec::<i32>::new());
}

// ---------------------------------------------------------------------------------------
// cgroup v2 with real controllers: cgroup2 alone, memory, pids, cpu and io enabled, and
// for the unprivileged user a cgroup delegated the way systemd's Delegate=yes does it.
// This machine has none (its v2 has no controllers): the tests say they skip. In the
// VM of tests/vm/run 6.12, HUTCH_TEST_CGROUP_V2=1 says they must run, and they fail
// if the controllers are not there.

const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "io"];

/// Whether the tests below can run here; false after printing why they skip.
fn real_cgroup() -> bool {
    // The controllers are available here and enabled for the cgroups made below.
    let enabled = own_cgroup_dir()
        .and_then(|d| fs::read_to_string(d.join("cgroup.subtree_control")).ok())
        .unwrap_or_default();
    let ok = root_can_make_cgroups()
        && CONTROLLERS
            .iter()
            .all(|c| enabled.split_whitespace().any(|w| w == *c));
    if support::vm_says("HUTCH_TEST_CGROUP_V2", "1") {
        assert!(
            ok,
            "HUTCH_TEST_CGROUP_V2=1 but root cannot make cgroups with {CONTROLLERS:?} enabled \
             below {:?}",
            own_cgroup_dir()
        );
    } else if !ok {
        // Not support::skip: with CI=true on this machine kind it would fail.
        eprintln!(
            "skipped: no cgroup v2 with the memory, pids, cpu and io controllers enabled for \
             root's children here (tests/vm/run 6.1 and 6.12 have one)"
        );
    }
    ok
}

/// A cgroup below the test's own, given to `user` as systemd's `Delegate=yes` gives one:
/// the directory and its cgroup.procs, cgroup.subtree_control and cgroup.threads are
/// the user's. Commands started with [`Delegated::run`] are born in it. Its processes
/// are killed and it is removed on drop.
struct Delegated {
    dir: PathBuf,
}

impl Delegated {
    fn new(user: User) -> Delegated {
        let dir = own_cgroup_dir()
            .unwrap()
            .join(format!("test-delegated-{}", marker()));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let (uid, gid) = user.ids();
        for p in [
            dir.clone(),
            dir.join("cgroup.procs"),
            dir.join("cgroup.subtree_control"),
            dir.join("cgroup.threads"),
        ] {
            std::os::unix::fs::chown(&p, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
        }
        Delegated { dir }
    }

    /// `hutch ARGS` as `user`, moved into the cgroup (by the shell, as root) first;
    /// `also` runs in the background in the same cgroup.
    fn run(&self, user: User, args: &[&str], also: Option<&str>) -> Out {
        let script = format!(
            "echo $$ >\"$0/cgroup.procs\" || exit 99; {} exec \"$@\"",
            also.map(|a| format!("{a} &")).unwrap_or_default()
        );
        support::hutch(user)
            .args(args)
            .wrap(["sh", "-c", &script])
            .wrap([&self.dir])
            .timeout(Duration::from_secs(60))
            .in_test_group()
            .run()
    }

    /// The cgroups left below it.
    fn children(&self) -> Vec<String> {
        fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
        fn rm(dir: &Path) {
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    rm(&e.path());
                }
            }
            for _ in 0..200 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        rm(&self.dir);
    }
}

/// Run `hutch ARGS` as root (in the test's cgroup) and as nobody (in a delegated one).
fn each_user(args: &[&str], check: impl Fn(User, &Out)) {
    for user in users() {
        let o = if user == User::Root {
            run(user, args)
        } else {
            let d = Delegated::new(user);
            let o = d.run(user, args, None);
            assert_eq!(d.children(), Vec::<String>::new(), "{user:?}: left behind");
            o
        };
        check(user, &o);
    }
}

/// For each user, a new [`Delegated`] cgroup of its own, handed to `f` (removed when
/// `f` drops it). Nothing (after saying why) without a [`real_cgroup`].
fn each_delegated(mut f: impl FnMut(User, Delegated)) {
    if !real_cgroup() {
        return;
    }
    for user in users() {
        f(user, Delegated::new(user));
    }
}

/// A shell line that prints the sandbox's limits cgroup's FILE (`hutch-PID`, the
/// parent of the sandbox's own cgroup).
fn cat_limit(file: &str) -> String {
    format!("cat /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/../{file}")
}

/// `sh -c SCRIPT` with `flags` prints `want` (the limits cgroup's files) and exits 0, as
/// each user ([`each_user`]).
fn cgroup_files_are(flags: &[&str], script: &str, want: &str) {
    each_user(&sandboxed(flags, &["sh", "-c", script]), |user, o| {
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, want),
            "{user:?} {flags:?}: {o:?}"
        );
    });
}

#[test]
fn memory_limit_oom_kills_and_is_reported() {
    if !real_cgroup() {
        return;
    }
    // 200 MiB written under a 32 MiB limit (no swap: --memory-swap 0).
    let flags = ["--memory", "32M", "--memory-swap", "0", "--stats"];
    let python = [PYTHON, "-c", "b = b'x' * (200 << 20); print('survived')"];
    each_user(&sandboxed(&flags, &python), |user, o| {
        assert_eq!(o.code, 128 + 9, "{user:?}: {o:?}");
        assert!(!o.stdout.contains("survived"), "{user:?}: {o:?}");
        let s = stats_line(&o.stderr);
        assert_eq!(json_raw(s, "limits_hit"), "[\"memory\"]", "{user:?}: {s}");
        assert_eq!(json_raw(s, "not_applied"), "[]", "{user:?}: {s}");
        assert!(
            json_num(s, "peak_memory_bytes") <= (33u64 << 20) as f64,
            "{s}"
        );
    });
    // Under the limit, the same command runs.
    let python = [PYTHON, "-c", "b = b'x' * (100 << 20); print('survived')"];
    each_user(
        &sandboxed(&["--memory", "512M", "--stats"], &python),
        |user, o| {
            assert_eq!(
                (o.code, o.stdout.as_str()),
                (0, "survived\n"),
                "{user:?}: {o:?}"
            );
            assert_eq!(json_raw(stats_line(&o.stderr), "limits_hit"), "[]");
        },
    );
}

#[test]
fn memory_peak_comes_from_the_cgroup() {
    if !real_cgroup() {
        return;
    }
    let python = [PYTHON, "-c", "b = b'x' * (100 << 20)"];
    each_user(
        &sandboxed(&["--memory", "512M", "--stats"], &python),
        |user, o| {
            assert_eq!(o.code, 0, "{user:?}: {o:?}");
            let s = stats_line(&o.stderr);
            assert_eq!(json_raw(s, "peak_memory_from"), "\"cgroup\"", "{s}");
            let peak = json_num(s, "peak_memory_bytes");
            assert!(
                (100u64 << 20) as f64 <= peak && peak <= (512u64 << 20) as f64,
                "{user:?}: {s}"
            );
        },
    );
}

#[test]
fn memory_max_and_swap_max_are_written() {
    if !real_cgroup() {
        return;
    }
    let script = format!(
        "{}; {}",
        cat_limit("memory.max"),
        cat_limit("memory.swap.max")
    );
    let flags = ["--memory", "64M", "--memory-swap", "16M"];
    cgroup_files_are(&flags, &script, "67108864\n16777216\n");
}

#[test]
fn pids_limit_stops_forks_and_is_reported() {
    if !real_cgroup() {
        return;
    }
    let script = "n=0; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & n=$((n+1)); done; \
                  echo started; wait";
    each_user(
        &sandboxed(&["--pids", "4", "--stats"], &["sh", "-c", script]),
        |user, o| {
            let s = stats_line(&o.stderr);
            assert_eq!(json_raw(s, "limits_hit"), "[\"pids\"]", "{user:?}: {o:?}");
            assert!(
                o.stderr.contains("Resource temporarily unavailable")
                    || o.stderr.contains("Cannot fork")
                    || o.stderr.contains("fork"),
                "{user:?}: {o:?}"
            );
        },
    );
    cgroup_files_are(&["--pids", "4"], &cat_limit("pids.max"), "4\n");
}

#[test]
fn cpus_limit_throttles() {
    if !real_cgroup() {
        return;
    }
    // A busy loop of the shell (no forks) under a tenth of a CPU: any burst longer
    // than 10 ms in a 100 ms period is throttled, and cpu.stat says so.
    let script = format!(
        "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; {}",
        cat_limit("cpu.stat")
    );
    each_user(
        &sandboxed(&["--cpus", "0.1", "--stats"], &["sh", "-c", &script]),
        |user, o| {
            assert_eq!(o.code, 0, "{user:?}: {o:?}");
            let stat = |k: &str| -> u64 {
                o.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{k} ")))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("no {k} in {o:?}"))
            };
            assert!(stat("nr_throttled") > 0, "{user:?}: {o:?}");
            assert!(stat("throttled_usec") > 0, "{user:?}: {o:?}");
            // At most a tenth of the wall time (and a margin for a loaded machine).
            let s = stats_line(&o.stderr);
            let cpu = json_num(s, "user_cpu_s") + json_num(s, "system_cpu_s");
            assert!(cpu < 0.5 * json_num(s, "wall_time_s"), "{user:?}: {s}");
        },
    );
    cgroup_files_are(&["--cpus", "1.5"], &cat_limit("cpu.max"), "150000 100000\n");
}

#[test]
fn io_weight_is_written() {
    if !real_cgroup() {
        return;
    }
    cgroup_files_are(
        &["--io-weight", "250"],
        &cat_limit("io.weight"),
        "default 250\n",
    );
}

#[test]
fn cgroup_kill_ends_what_the_command_left_running_in_a_delegated_cgroup() {
    each_delegated(|user, d| {
        let n = marker();
        let script = format!("setsid sleep {n} & exit 0");
        let o = d.run(
            user,
            &sandboxed(&["--pids", "100"], &["sh", "-c", &script]),
            None,
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert_eq!(left_behind(&n), Vec::<i32>::new(), "{user:?}");
        assert_eq!(d.children(), Vec::<String>::new(), "{user:?}");
    });
}

#[test]
fn a_delegated_cgroup_holding_only_hutch_takes_the_monitor_leaf() {
    each_delegated(|user, d| {
        let before = fs::read_to_string(d.dir.join("cgroup.subtree_control")).unwrap();
        // hutch is alone in the delegated cgroup: it steps into hutch-PID-monitor to
        // enable the controllers, and back out at the end.
        // --share-pid: the command's parent is then the monitor, not hutch's pid 1.
        let args = sandboxed(
            &["--share-pid", "--memory", "64M", "--pids", "50", "--stats"],
            &["sh", "-c", "grep 0:: /proc/self/cgroup /proc/$PPID/cgroup"],
        );
        let o = d.run(user, &args, None);
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert!(lines[0].ends_with("/sandbox"), "{user:?}: {o:?}");
        assert!(
            lines[1].ends_with("-monitor"),
            "{user:?}: the monitor's leaf: {o:?}"
        );
        assert_eq!(json_raw(stats_line(&o.stderr), "not_applied"), "[]");
        assert_eq!(d.children(), Vec::<String>::new(), "{user:?}");
        let after = fs::read_to_string(d.dir.join("cgroup.subtree_control")).unwrap();
        assert_eq!(before, after, "{user:?}: subtree_control restored");
    });
}

#[test]
fn a_delegated_cgroup_holding_other_processes_is_named() {
    each_delegated(|user, d| {
        let n = marker();
        let args = sandboxed(
            &["--memory", "64M", "--cgroup", "required"],
            &["sh", "-c", "echo ran"],
        );
        let o = d.run(user, &args, Some(&format!("sleep {n}")));
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{user:?}: {o:?}");
        assert_eq!(o.stderr.lines().count(), 1, "{user:?}: {o:?}");
        assert!(
            o.stderr.contains("it holds other processes besides hutch")
                && o.stderr
                    .contains("systemd-run --user --scope -p Delegate=yes"),
            "{user:?}: {o:?}"
        );
        drop(d);
        assert_eq!(left_behind(&n), Vec::<i32>::new());
    });
}

#[test]
fn an_undelegated_cgroup_is_named_with_the_fix() {
    if !real_cgroup() {
        return;
    }
    // Nobody, in root's cgroup: nothing delegated.
    let args = sandboxed(
        &["--memory", "64M", "--cgroup", "required"],
        &["sh", "-c", "echo ran"],
    );
    let o = run(User::Nobody, &args);
    assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{o:?}");
    assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
    assert!(
        o.stderr.contains("is not writable by you (not delegated)"),
        "{o:?}"
    );
    // A delegated cgroup without the controller: named, with the drop-in.
    let d = Delegated::new(User::Nobody);
    let inner = Delegated {
        dir: d.dir.join("inner"),
    };
    fs::create_dir(&inner.dir).unwrap();
    let (uid, gid) = User::Nobody.ids();
    for f in [
        "",
        "cgroup.procs",
        "cgroup.subtree_control",
        "cgroup.threads",
    ] {
        let p = if f.is_empty() {
            inner.dir.clone()
        } else {
            inner.dir.join(f)
        };
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
    }
    // d enables only pids for its children: inner has no memory controller.
    fs::write(d.dir.join("cgroup.subtree_control"), "+pids").unwrap();
    let o = inner.run(User::Nobody, &args, None);
    assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{o:?}");
    assert!(
        o.stderr
            .starts_with("hutch: cgroup controller memory (for --memory) is not delegated to "),
        "{o:?}"
    );
    assert!(o.stderr.contains("Delegate="), "{o:?}");
    drop(inner);
}

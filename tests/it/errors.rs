//! Bad input: one line on stderr (`bwrap: ...`), exit status 1, nothing on stdout, no
//! panic or backtrace, and nothing left behind on the host. Run as every user.

use crate::support::*;

const HOST_DIRS: &[&str] = &["/tmp", "/var/tmp", "/", "/dev/shm"];

/// Run `args` (after the root given by `root`) and check the clean failure; `message` is
/// the exact line expected, when given.
#[track_caller]
fn fails_cleanly(root: &[&str], args: &[&str], message: Option<&str>) {
    let before: Vec<_> = HOST_DIRS.iter().map(|d| listing(d)).collect();
    let mounts_before = host_mounts();
    for_each_user(|u| {
        let o = bwrap(u)
            .args(root)
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .run();
        check_clean_failure(&o, message);
    });
    for (d, before) in HOST_DIRS.iter().zip(&before) {
        assert_eq!(
            hutchs_new_entries(d, before, &[root, args].concat()),
            Vec::<String>::new(),
            "new entries in the host's {d}"
        );
    }
    let new_mounts: Vec<_> = host_mounts().difference(&mounts_before).cloned().collect();
    assert!(
        new_mounts.is_empty(),
        "new mounts on the host: {new_mounts:?}"
    );
}

#[track_caller]
fn check_clean_failure(o: &Out, message: Option<&str>) {
    o.code(1);
    assert_eq!(o.stdout, "", "nothing on stdout{o:?}");
    assert!(
        !o.stderr.contains("panicked") && !o.stderr.contains("backtrace"),
        "a panic{o:?}"
    );
    assert_eq!(
        o.stderr.lines().count(),
        1,
        "exactly one line on stderr{o:?}"
    );
    assert!(o.stderr.ends_with('\n'), "a complete line{o:?}");
    assert!(
        o.stderr.starts_with("bwrap: "),
        "prefixed with the program name{o:?}"
    );
    if let Some(m) = message {
        assert_eq!(o.stderr.strip_suffix('\n').unwrap_or(&o.stderr), m, "{o:?}");
    }
}

/// A command line parsed without any root (fails before anything is set up).
#[track_caller]
fn bad(args: &[&str], message: &str) {
    fails_cleanly(&[], args, Some(message));
}

/// A command line that fails while the sandbox is set up (writable minimal root).
#[track_caller]
fn bad_setup(args: &[&str], message: Option<&str>) {
    fails_cleanly(MINIMAL_ROOT, args, message);
}

// --- sources and destinations

#[test]
fn nonexistent_bind_source() {
    bad_setup(
        &["--ro-bind", "/nonexistent", "/x", "true"],
        Some("bwrap: Can't find source path /nonexistent: No such file or directory"),
    );
    bad_setup(
        &["--bind", "/nonexistent/deeper", "/x", "true"],
        Some("bwrap: Can't find source path /nonexistent/deeper: No such file or directory"),
    );
}

#[test]
fn destination_on_a_read_only_root() {
    fails_cleanly(
        &["--ro-bind", "/", "/"],
        &["--tmpfs", "/nonexistent-dir", "true"],
        Some("bwrap: Can't mkdir /nonexistent-dir: Read-only file system"),
    );
}

#[test]
fn remount_ro_of_a_missing_path() {
    bad_setup(&["--remount-ro", "/nonexistent", "true"], None);
}

#[test]
fn chmod_of_a_missing_path() {
    bad_setup(
        &["--chmod", "0755", "/nope", "true"],
        Some("bwrap: Can't chmod 0755 /nope: No such file or directory"),
    );
}

#[test]
fn missing_lock_file() {
    bad_setup(
        &["--lock-file", "/nope", "true"],
        Some("bwrap: Unable to open lock file /nope: No such file or directory"),
    );
}

#[test]
fn missing_chdir() {
    bad_setup(
        &["--chdir", "/nonexistent", "true"],
        Some("bwrap: Can't chdir to /nonexistent: No such file or directory"),
    );
}

#[test]
fn missing_command() {
    bad_setup(
        &["/nonexistent"],
        Some("bwrap: execvp /nonexistent: No such file or directory"),
    );
}

// --- numbers and modes

#[test]
fn bad_octal() {
    bad(
        &["--perms", "0999", "--dir", "/x", "true"],
        "bwrap: --perms takes an octal argument <= 07777",
    );
    bad(
        &["--perms", "017777", "--dir", "/x", "true"],
        "bwrap: --perms takes an octal argument <= 07777",
    );
    bad(
        &["--perms", "", "--dir", "/x", "true"],
        "bwrap: --perms takes an octal argument <= 07777",
    );
    bad(
        &["--chmod", "rwx", "/x", "true"],
        "bwrap: --chmod takes an octal argument <= 07777",
    );
}

#[test]
fn bad_ids() {
    bad(&["--uid", "abc", "true"], "bwrap: Invalid uid: abc");
    bad(&["--gid", "-1", "true"], "bwrap: Invalid gid: -1");
    bad(&["--uid", "", "true"], "bwrap: Invalid uid: ");
}

#[test]
fn bad_fd_numbers() {
    bad(&["--sync-fd", "abc", "true"], "bwrap: Invalid fd: abc");
    bad(&["--info-fd", "-1", "true"], "bwrap: Invalid fd: -1");
    bad(&["--file", "3x", "/x", "true"], "bwrap: Invalid fd: 3x");
}

#[test]
fn bad_size() {
    bad(
        &["--size", "0", "--tmpfs", "/x", "true"],
        "bwrap: --size takes a non-zero number of bytes",
    );
    bad(
        &["--size", "lots", "--tmpfs", "/x", "true"],
        "bwrap: --size takes a non-zero number of bytes",
    );
}

#[test]
fn unknown_capability() {
    bad(
        &["--cap-add", "CAP_FOO", "true"],
        "bwrap: unknown cap: CAP_FOO",
    );
    bad(&["--cap-drop", "NOPE", "true"], "bwrap: unknown cap: NOPE");
}

#[test]
fn uid_without_a_user_namespace_as_root() {
    if !is_root() {
        skip("only real root runs without an implied user namespace");
        return;
    }
    for args in [
        &["--uid", "5", "true"][..],
        &["--uid", "5", "--gid", "5", "true"][..],
    ] {
        let o = bwrap(User::Root).args(args).run();
        check_clean_failure(
            &o,
            Some("bwrap: Specifying --uid requires --unshare-user or --userns"),
        );
    }
    let o = bwrap(User::Root).args(["--gid", "5", "true"]).run();
    check_clean_failure(
        &o,
        Some("bwrap: Specifying --gid requires --unshare-user or --userns"),
    );
}

// --- modifiers and combinations

#[test]
fn perms_not_followed_by_an_op_that_creates_a_file() {
    let m = "bwrap: --perms must be followed by an option that creates a file";
    bad(&["--perms", "0755", "--bind", "/", "/", "true"], m);
    bad(&["--perms", "0755", "--setenv", "A", "B", "true"], m);
    bad(&["--perms", "0755", "--symlink", "a", "/b", "true"], m);
    bad(
        &["--perms", "0755", "--perms", "0700", "--dir", "/x", "true"],
        "bwrap: --perms given twice for the same action",
    );
}

#[test]
fn size_not_followed_by_tmpfs() {
    bad(
        &["--size", "100", "--dir", "/x", "true"],
        "bwrap: --size must be followed by --tmpfs",
    );
    bad(
        &["--size", "100", "--perms", "0700", "--dir", "/x", "true"],
        "bwrap: --size must be followed by --tmpfs",
    );
}

#[test]
fn options_that_need_a_namespace() {
    bad(
        &["--hostname", "x", "true"],
        "bwrap: Specifying --hostname requires --unshare-uts",
    );
    bad(
        &["--as-pid-1", "true"],
        "bwrap: Specifying --as-pid-1 requires --unshare-pid",
    );
    bad(
        &["--unshare-pid", "--as-pid-1", "--lock-file", "/x", "true"],
        "bwrap: Specifying --as-pid-1 and --lock-file is not permitted",
    );
    bad(
        &["--userns-block-fd", "3", "true"],
        "bwrap: --userns-block-fd requires --unshare-user",
    );
}

#[test]
fn seccomp_modes_cannot_mix() {
    bad(
        &["--seccomp", "3", "--add-seccomp-fd", "4", "true"],
        "bwrap: --add-seccomp-fd cannot be combined with --seccomp",
    );
    bad(
        &["--add-seccomp-fd", "0", "--seccomp", "3", "true"],
        "bwrap: --seccomp cannot be combined with --add-seccomp-fd",
    );
}

#[test]
fn argv0_twice() {
    bad(
        &["--argv0", "a", "--argv0", "b", "true"],
        "bwrap: --argv0 used multiple times",
    );
}

#[test]
fn dangling_overlay_src() {
    bad(
        &["--overlay-src", "/usr", "true"],
        "bwrap: --overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay",
    );
}

// --- descriptors that are not open

#[test]
fn data_fd_not_open() {
    bad_setup(
        &["--file", "77", "/x", "true"],
        Some("bwrap: Can't write data to file /x: Bad file descriptor"),
    );
    bad_setup(
        &["--bind-data", "77", "/x", "true"],
        Some("bwrap: Can't write data to file /x: Bad file descriptor"),
    );
    bad_setup(
        &["--ro-bind-data", "77", "/x", "true"],
        Some("bwrap: Can't write data to file /x: Bad file descriptor"),
    );
}

#[test]
fn report_fds_not_open() {
    bad_setup(&["--info-fd", "77", "true"], None);
    bad_setup(&["--json-status-fd", "77", "true"], None);
}

#[test]
fn process_fds_not_open() {
    // bubblewrap 0.8 does not check these and fails later or not at all; hutch refuses
    // them up front, which is at least as safe.
    bad_setup(&["--sync-fd", "77", "true"], None);
    bad_setup(&["--block-fd", "77", "true"], None);
}

#[test]
fn args_fd_not_open() {
    bad(
        &["--args", "77", "true"],
        "bwrap: Can't read --args data: Bad file descriptor",
    );
}

#[test]
fn seccomp_fd_not_open() {
    bad(
        &["--seccomp", "77", "true"],
        "bwrap: Can't read seccomp data: Bad file descriptor",
    );
    bad(
        &["--add-seccomp-fd", "77", "true"],
        "bwrap: Can't read seccomp data: Bad file descriptor",
    );
}

#[test]
fn bind_fd_not_open() {
    bad_setup(&["--bind-fd", "77", "/x", "true"], None);
}

// --- parsing

#[test]
fn unknown_options() {
    bad(&["--frob", "true"], "bwrap: Unknown option --frob");
    bad(&["--bind=/", "/", "true"], "bwrap: Unknown option --bind=/");
    bad(&["-b", "true"], "bwrap: Unknown option -b");
}

#[test]
fn missing_values() {
    bad(&["--bind", "/x"], "bwrap: --bind takes two arguments");
    bad(
        &["--ro-bind-try", "/x"],
        "bwrap: --ro-bind-try takes two arguments",
    );
    bad(&["--uid"], "bwrap: --uid takes an argument");
    bad(&["--setenv", "A"], "bwrap: --setenv takes two arguments");
    bad(&["--chdir"], "bwrap: --chdir takes one argument");
    bad(&["--args"], "bwrap: --args takes an argument");
    bad(&["--perms"], "bwrap: --perms takes an argument");
    bad(&["--file", "3"], "bwrap: --file takes two arguments");
    bad(
        &["--overlay", "a", "b"],
        "bwrap: --overlay takes three arguments",
    );
    bad(
        &["--ro-bind-fd", "3"],
        "bwrap: --bind-fd takes two arguments",
    );
}

#[test]
fn nested_args() {
    for_each_user(|u| {
        let o = bwrap(u)
            .args(["--args", "3", "true"])
            .fd_in(3, &fixture().join("args-nested"))
            .run();
        check_clean_failure(&o, Some("bwrap: --args not supported in arguments file"));
    });
}

#[test]
fn bad_seccomp_program() {
    for_each_user(|u| {
        let o = bwrap(u)
            .args(["--seccomp", "3", "true"])
            .fd_in(3, &fixture().join("seccomp-bad.bpf"))
            .run();
        check_clean_failure(
            &o,
            Some("bwrap: Invalid seccomp data, must be multiple of 8"),
        );
    });
}

#[test]
fn no_arguments_prints_the_usage_on_stderr() {
    for_each_user(|u| {
        for args in [&[][..], &["--unshare-pid"][..]] {
            let o = bwrap(u).args(args).run();
            o.code(1);
            assert_eq!(o.stdout, "", "{o:?}");
            assert!(
                o.stderr.starts_with(&format!(
                    "usage: {} [OPTIONS...] [--] COMMAND [ARGS...]\n",
                    bwrap_path().display()
                )),
                "{o:?}"
            );
            assert!(!o.stderr.contains("panicked"), "{o:?}");
        }
    });
}

#[test]
fn the_hutch_name_prefixes_messages_with_hutch() {
    for_each_user(|u| {
        let o = Cmd::new(hutch_path(), u).args(["--frob", "true"]).run();
        o.code(1).stderr_is("hutch: Unknown option --frob\n");
    });
}

/// hutch inside a hutch sandbox (whose Landlock rules and seccomp policy refuse every
/// mount, and new user namespaces): one line that names the enclosing sandbox (by its
/// user namespace, or, where root made it without one, by no_new_privs and its seccomp
/// filter), not the container this machine may be (a bound /.dockerenv is visible
/// inside).
#[test]
fn nested_in_a_hutch_sandbox_says_so() {
    let inner = hutch_path().display().to_string();
    for_each_user(|u| {
        let o = hutch(u)
            .args([
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--",
            ])
            .args([&inner, "--ro-bind", "/", "/", "--", "true"])
            .run();
        o.code(1);
        assert_eq!(o.stderr.lines().count(), 1, "{u:?}: {o:?}");
        assert!(
            o.stderr
                .contains("is not permitted here: hutch runs inside another sandbox (")
                && o.stderr.contains("), whose seccomp filter")
                && !o.stderr.contains("container"),
            "{u:?}: {o:?}"
        );
    });
}

//! Landlock-only mode (`--landlock-only`, `--landlock-only-fallback`, the profile key
//! `landlock_only`): no namespaces, the host's file system confined by Landlock rules
//! made from the binds, the seccomp policy and no_new_privs. Each test runs as root
//! and as nobody (through `setpriv`).
//!
//! - From inside: reading an allowed path works, writing outside the binds and
//!   executing outside them fail with EACCES; the same attempts succeed when the
//!   binds allow them; nothing is mounted (the host's mount and user namespaces).
//! - Options that need namespaces or mounts are refused with exit status 1 and one
//!   line naming them; the command never runs.
//! - `--report` and `--explain` say which mode is in force.
//! - Metadata changes (chmod, chown, touch, setxattr) fail beneath a read-only rule
//!   and through a symlink to it, and are made beneath a write rule (a compiler run
//!   too); with `--landlock-only-metadata allow` (no protection) they work beneath the
//!   read-only rule. Inside another Landlock-only hutch, the enclosing supervisor.
//! - Where user namespaces are blocked (inside `hutch --disable-userns`, with and
//!   without its seccomp policy, and inside bubblewrap's `--disable-userns`), a
//!   plain hutch fails with a one-line diagnosis offering `--landlock-only`; with it,
//!   or with `--landlock-only-fallback` or `landlock_only = "auto"` in a profile, the
//!   command runs confined. On the host the same profile uses namespaces.

use crate::support;

use crate::support::{chmod, hutch_path, users, Out, TempDir, User};
use std::fs;
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

fn h() -> String {
    hutch_path().display().to_string()
}

/// `prog ARGS...` as `user`, in `/`, with a clean environment for nobody.
fn run_prog<S: AsRef<std::ffi::OsStr>>(user: User, prog: &str, args: &[S]) -> Out {
    user.cmd(prog)
        .reset_env()
        .args(args)
        .timeout(TIMEOUT)
        .in_test_group()
        .run()
}

fn run<S: AsRef<std::ffi::OsStr>>(user: User, args: &[S]) -> Out {
    run_prog(user, &h(), args)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The words of `s`, then `more`.
fn words(s: &str, more: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    v.extend(strings(more));
    v
}

/// A test tree: `ro/f` (readable), `rw/` (writable), `bin/true` (a copy of true
/// that no rule covers), all usable by nobody.
struct Tree {
    dir: TempDir,
}

impl Tree {
    fn new(tag: &str) -> Tree {
        let dir = support::tempdir_mode(tag, 0o777);
        for d in ["ro", "rw", "bin"] {
            fs::create_dir(dir.path().join(d)).unwrap();
            chmod(&dir.path().join(d), 0o777);
        }
        // Profiles: in a directory only its owner may write (others are refused).
        fs::create_dir(dir.path().join("prof")).unwrap();
        chmod(&dir.path().join("prof"), 0o755);
        fs::write(dir.path().join("ro/f"), "hello\n").unwrap();
        chmod(&dir.path().join("ro/f"), 0o644);
        fs::copy("/usr/bin/true", dir.path().join("bin/true")).unwrap();
        chmod(&dir.path().join("bin/true"), 0o755);
        Tree { dir }
    }
    fn p(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.dir.path().display().to_string()
        } else {
            self.dir.path().join(rel).display().to_string()
        }
    }
}

/// The attempts, each printing what happened: `read hello`, `ro-write refused`...
fn attempts(t: &Tree) -> String {
    format!(
        r#"
printf 'read %s\n' "$(cat {f})"
(echo x > {ro}/new) 2>/dev/null && echo ro-write done || echo ro-write refused
(echo x > {top}/outside) 2>/dev/null && echo outside-write done || echo outside-write refused
(echo x > {rw}/new) 2>/dev/null && echo rw-write done || echo rw-write refused
{bin}/true 2>/dev/null && echo exec-outside done || echo exec-outside refused
(cat /etc/hostname >/dev/null) 2>/dev/null && echo etc-read done || echo etc-read refused
printf 'ns %s %s\n' "$(readlink /proc/self/ns/mnt)" "$(readlink /proc/self/ns/user)"
"#,
        f = t.p("ro/f"),
        ro = t.p("ro"),
        top = t.p(""),
        rw = t.p("rw"),
        bin = t.p("bin"),
    )
}

/// `--landlock-only` with read-only /usr and /proc, `ro/` read-only, `rw/` writable.
fn confined_args(t: &Tree) -> Vec<String> {
    let (ro, rw) = (t.p("ro"), t.p("rw"));
    words(
        "--landlock-only --ro-bind /usr /usr --ro-bind /proc /proc --dev-bind /dev/null /dev/null",
        &["--ro-bind", &ro, &ro, "--bind", &rw, &rw],
    )
}

/// [`confined_args`], then `rest`.
fn confined(t: &Tree, rest: &[&str]) -> Vec<String> {
    let mut args = confined_args(t);
    args.extend(strings(rest));
    args
}

/// The first six lines of [`attempts`] under [`confined_args`].
const CONFINED: [&str; 6] = [
    "read hello",
    "ro-write refused",
    "outside-write refused",
    "rw-write done",
    "exec-outside refused",
    "etc-read refused",
];

/// Write `content` to `path`, mode 0644.
fn write_644(path: &str, content: &str) {
    fs::write(path, content).unwrap();
    chmod(Path::new(path), 0o644);
}

/// [`attempts`] as a script file, `ro/attempts.sh`; its path.
fn attempts_file(t: &Tree) -> String {
    let f = t.p("ro/attempts.sh");
    write_644(&f, &attempts(t));
    f
}

/// A profile at `path` with `landlock_only = "auto"` and the binds of [`confined_args`].
fn write_auto_profile(t: &Tree, path: &str) {
    write_644(
        path,
        &format!(
            "landlock_only = \"auto\"\nro_bind = [\"/usr\", \"/proc\"]\n\
             dev_bind = [\"/dev/null\"]\nbind = [\"{}\"]\n",
            t.p("rw")
        ),
    );
}

/// What the command run with [`write_auto_profile`]'s profile does: it prints `profile
/// ran`, writes `rw/profile`, and prints `outside refused` when it cannot write outside.
fn profile_script(t: &Tree) -> String {
    format!(
        "echo profile ran; echo x > {rw}/profile; (echo x > {top}/profile) 2>/dev/null || echo outside refused",
        rw = t.p("rw"),
        top = t.p("")
    )
}

/// `hutch --profile PROFILE --report -- /bin/sh -c SCRIPT` as `user`.
fn run_profile(user: User, profile: &str, script: &str) -> Out {
    run(
        user,
        &[
            "--profile",
            profile,
            "--report",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    )
}

fn host_ns(user: User) -> String {
    let o = run_prog(
        user,
        "/bin/sh",
        &[
            "-c",
            "printf 'ns %s %s\\n' \"$(readlink /proc/self/ns/mnt)\" \"$(readlink /proc/self/ns/user)\"",
        ],
    );
    o.ok();
    o.stdout.trim().to_string()
}

#[test]
fn binds_become_landlock_rules_and_nothing_else_is_allowed() {
    for user in users() {
        let t = Tree::new("rules");
        let o = run(user, &confined(&t, &["--", "/bin/sh", "-c", &attempts(&t)]));
        o.ok();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(&lines[..6], CONFINED, "{user:?}: {o:#?}");
        // No namespace: the host's mount and user namespaces, and the write in rw/
        // went to the host's directory.
        assert_eq!(lines[6], host_ns(user), "{user:?}");
        assert_eq!(fs::read_to_string(t.p("rw/new")).unwrap(), "x\n");
        assert!(!Path::new(&t.p("outside")).exists());

        // The same attempts with binds that allow them all succeed.
        let mut wide = strings(&["--landlock-only", "--bind", "/", "/", "--", "/bin/sh", "-c"]);
        wide.push(attempts(&t));
        let o = run(user, &wide);
        o.ok();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(
            &lines[..6],
            [
                "read hello",
                "ro-write done",
                "outside-write done",
                "rw-write done",
                "exec-outside done",
                "etc-read done",
            ],
            "{user:?}: {o:#?}"
        );
    }
}

#[test]
fn the_seccomp_policy_and_no_new_privs_apply() {
    for user in users() {
        let t = Tree::new("seccomp");
        let args = confined(
            &t,
            &[
                "--",
                "/bin/sh",
                "-c",
                "grep NoNewPrivs /proc/self/status; unshare -U true 2>/dev/null && echo unshare done || echo unshare refused",
            ],
        );
        let o = run(user, &args);
        o.ok();
        assert_eq!(
            o.stdout, "NoNewPrivs:\t1\nunshare refused\n",
            "{user:?}: {o:#?}"
        );
        // Without the policy, the same unshare works (user namespaces work here).
        let unshare = "unshare -U true && echo unshare done";
        let o = run(
            user,
            &confined(
                &t,
                &["--seccomp-policy", "none", "--", "/bin/sh", "-c", unshare],
            ),
        );
        o.ok();
        assert_eq!(o.stdout, "unshare done\n", "{user:?}: {o:#?}");
    }
}

#[test]
fn options_that_need_namespaces_or_mounts_are_refused_by_name() {
    for user in users() {
        let t = Tree::new("refused");
        let marker = t.p("rw/ran");
        let cases: &[(&[&str], &str)] = &[
            (&["--tmpfs", "/tmp"], "--tmpfs /tmp"),
            (&["--proc", "/proc"], "--proc /proc"),
            (&["--dev", "/dev"], "--dev /dev"),
            (
                &["--ro-bind", "/usr", "/opt/usr"],
                "--ro-bind /usr /opt/usr",
            ),
            (&["--symlink", "usr/bin", "/bin"], "--symlink usr/bin /bin"),
            (&["--dir", "/newdir"], "--dir /newdir"),
            (&["--unshare-net"], "--unshare-net"),
            (&["--unshare-all"], "--unshare-all"),
            (&["--unshare-pid"], "--unshare-pid"),
            (&["--unshare-user"], "--unshare-user"),
            (&["--unshare-uts", "--hostname", "box"], "--unshare-uts"),
            (&["--uid", "12345"], "--uid 12345"),
            (
                &["--bind", "/", "/", "--remount-ro", "/usr"],
                "--remount-ro /usr",
            ),
            (
                &["--seccomp-policy", "none", "--disable-userns"],
                "--disable-userns",
            ),
        ];
        for (opts, named) in cases {
            let mut args = strings(&["--landlock-only", "--bind", &t.p("rw"), &t.p("rw")]);
            args.extend(strings(opts));
            args.extend(strings(&[
                "--",
                "/bin/sh",
                "-c",
                &format!("touch {marker}"),
            ]));
            let o = run(user, &args);
            assert_eq!(o.code, 1, "{user:?} {opts:?}: {o:#?}");
            assert_eq!(o.stderr.lines().count(), 1, "{user:?} {opts:?}: {o:#?}");
            assert!(
                o.stderr.starts_with(&format!(
                    "hutch: {named}: not possible in Landlock-only mode ("
                )),
                "{user:?} {opts:?}: {o:#?}"
            );
            assert!(!Path::new(&marker).exists(), "{opts:?} ran the command");
        }
        let o = run(user, &["--landlock-only", "--landlock", "off", "true"]);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .contains("--landlock off cannot be combined with --landlock-only"));
        // The -try forms, and --disable-userns kept by the seccomp policy, are fine.
        let args = confined(
            &t,
            &[
                "--unshare-user-try",
                "--unshare-cgroup-try",
                "--disable-userns",
                "--assert-userns-disabled",
                "--",
                "/bin/sh",
                "-c",
                &format!("touch {marker}"),
            ],
        );
        run(user, &args).ok();
        assert!(Path::new(&marker).exists());
    }
}

#[test]
fn report_and_explain_say_which_mode_is_in_force() {
    for user in users() {
        let t = Tree::new("report");
        let o = run(user, &confined(&t, &["--report", "--", "/usr/bin/true"]));
        o.ok();
        let r = o.report();
        let landlock = format!(
            r#""abi": {}, "status": "{}", "fs": "derived", "rules": 5"#,
            support::landlock_abi(),
            support::default_landlock_status()
        );
        for want in [
            r#""namespaces": [], "mode": "landlock-only""#,
            &landlock,
            r#""seccomp": {"policy": "default", "action": "errno", "programs": 1}"#,
            // Root keeps no capability either.
            r#""capabilities": [], "no_new_privs": true"#,
        ] {
            assert!(r.contains(want), "{user:?}: {want} not in {r}");
        }
        // The usual mode says so too.
        let o = run(
            user,
            &["--ro-bind", "/", "/", "--report", "--", "/usr/bin/true"],
        );
        o.ok();
        assert!(o.report().contains(r#""mode": "namespaces""#), "{o:#?}");

        let o = run(user, &confined(&t, &["--explain", "--", "/usr/bin/true"]));
        o.ok();
        for want in [
            "Landlock-only: no namespaces",
            "metadata changes: ",
            "mount    the host's: nothing is mounted",
            "/usr                     read, execute",
            "capabilities  none",
        ] {
            assert!(
                o.stdout.contains(want),
                "{user:?}: {want:?} in {}",
                o.stdout
            );
        }
        assert!(!o.stdout.contains("ERROR"), "{}", o.stdout);
        assert_eq!(
            o.stdout.contains("metadata changes: supervised"),
            user_notif(),
            "{}",
            o.stdout
        );
        let o = run(
            user,
            &["--landlock-only", "--tmpfs", "/tmp", "--explain", "true"],
        );
        o.ok();
        assert!(
            o.stdout
                .contains("ERROR: --tmpfs /tmp: not possible in Landlock-only mode"),
            "{}",
            o.stdout
        );
    }
}

/// The outer sandboxes where user namespaces are blocked: hutch's --disable-userns
/// (ENOSPC), the same with hutch's seccomp policy (EPERM), and bubblewrap's.
fn blocked_outer(user: User, t: &Tree, how: &str) -> (String, Vec<String>) {
    let top = t.p("");
    let mut common = words(
        "--unshare-user --disable-userns --uid 1000 --gid 1000 --ro-bind / / --dev /dev --proc /proc",
        &["--bind", &top, &top],
    );
    let _ = user;
    match how {
        "hutch" => {
            common.splice(0..0, strings(&["--seccomp-policy", "none"]));
            (h(), common)
        }
        "hutch-seccomp" => (h(), common),
        _ => ("/usr/bin/bwrap".to_string(), common),
    }
}

#[test]
fn inside_a_sandbox_that_blocks_user_namespaces() {
    for user in users() {
        for how in ["hutch", "hutch-seccomp", "bwrap"] {
            let t = Tree::new("nested");
            let profile = t.p("prof/auto.toml");
            write_auto_profile(&t, &profile);
            let script_file = attempts_file(&t);
            let confined = confined_args(&t).join(" ");
            let fallback = confined_args(&t)[1..].join(" ");
            let script = format!(
                r#"
{h} --ro-bind / / -- true 2>plain.err; echo "plain $?"
{h} {confined} -- /bin/sh {script_file}
echo "confined $?"
{h} --landlock-only-fallback {fallback} --report -- /bin/sh -c 'echo fallback ran' 2>fallback.err
echo "fallback $?"
{h} --profile {profile} --report -- /bin/sh -c '{profile_script}' 2>profile.err
echo "profile $?"
"#,
                h = h(),
                profile_script = profile_script(&t),
            );
            let (prog, mut args) = blocked_outer(user, &t, how);
            args.extend(strings(&[
                "--chdir",
                &t.p(""),
                "--",
                "/bin/sh",
                "-c",
                &script,
            ]));
            let o = run_prog(user, &prog, &args);
            o.ok();
            let ctx = format!("{user:?} in {how}: {o:#?}");
            // Without --landlock-only: exit 1 and one line that says why and offers it.
            let plain = fs::read_to_string(t.p("plain.err")).unwrap();
            assert!(o.stdout.contains("plain 1\n"), "{ctx}");
            assert_eq!(plain.lines().count(), 1, "{plain}");
            let why = if how == "hutch-seccomp" {
                "hutch runs inside another sandbox (in a user namespace), whose seccomp filter forbids it"
            } else {
                "no more user namespaces can be made here: hutch runs inside another sandbox that allows none (as --disable-userns does)"
            };
            assert!(
                plain.starts_with("hutch: Creating new namespace failed: ") && plain.contains(why),
                "{how}: {plain}"
            );
            assert!(plain.trim_end().ends_with("add --landlock-only"), "{plain}");
            // With it: the command runs, confined.
            let lines: Vec<&str> = o.stdout.lines().collect();
            let at = lines.iter().position(|l| *l == "read hello").expect(&ctx);
            assert_eq!(&lines[at..at + 6], CONFINED, "{ctx}");
            assert!(o.stdout.contains("confined 0\n"), "{ctx}");
            // --landlock-only-fallback: one warning line, then Landlock-only mode.
            assert!(o.stdout.contains("fallback ran\nfallback 0\n"), "{ctx}");
            let fb = fs::read_to_string(t.p("fallback.err")).unwrap();
            assert!(
                fb.starts_with("hutch: no namespaces here (Creating new namespace failed: "),
                "{fb}"
            );
            assert!(fb.contains(r#""mode": "landlock-only""#), "{fb}");
            // The profile key landlock_only = "auto": the same.
            assert!(
                o.stdout
                    .contains("profile ran\noutside refused\nprofile 0\n"),
                "{ctx}"
            );
            let pe = fs::read_to_string(t.p("profile.err")).unwrap();
            assert!(pe.contains(r#""mode": "landlock-only""#), "{pe}");
            assert!(pe.contains("--landlock-only-fallback"), "{pe}");
            assert_eq!(fs::read_to_string(t.p("rw/profile")).unwrap(), "x\n");
            assert!(!Path::new(&t.p("profile")).exists());
        }
    }
}

#[test]
fn the_fallback_uses_namespaces_where_they_work() {
    for user in users() {
        let t = Tree::new("host");
        let profile = t.p("prof/auto.toml");
        write_644(
            &profile,
            "landlock_only = \"auto\"\nro_bind = [\"/\"]\nproc = \"/proc\"\ndev = \"/dev\"\n",
        );
        let o = run_profile(user, &profile, "readlink /proc/self/ns/mnt");
        o.ok();
        assert!(o.report().contains(r#""mode": "namespaces""#), "{o:#?}");
        assert!(!o.stderr.contains("no namespaces here"), "{o:#?}");
        let inside = o.stdout.trim();
        assert!(inside.starts_with("mnt:["), "{o:#?}");
        assert!(!host_ns(user).contains(inside), "{o:#?}");
        // --explain says which mode it would be.
        let o = run(user, &["--profile", &profile, "--explain", "true"]);
        o.ok();
        assert!(
            o.stdout.contains("namespaces: they can be made here"),
            "{}",
            o.stdout
        );
    }
}

/// Whether the kernel has seccomp user notification (5.0), which the metadata
/// supervisor needs.
fn user_notif() -> bool {
    fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
        .is_ok_and(|a| a.split_whitespace().any(|w| w == "user_notif"))
}

/// Metadata changes of `f`, each printing `NAME done` or `NAME refused`.
fn metadata_attempts(f: &str) -> String {
    format!(
        r#"
chmod 000 {f} 2>/dev/null && echo chmod done || echo chmod refused
chown "$(id -u)" {f} 2>/dev/null && echo chown done || echo chown refused
touch -c -d 2000-01-01 {f} 2>/dev/null && echo touch done || echo touch refused
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.x", b"1")' {f} 2>/dev/null && echo setxattr done || echo setxattr refused
"#
    )
}

/// `f`'s mode, owner, mtime and extended attributes (through python3, as `user`).
fn metadata(user: User, f: &str) -> String {
    let o = run_prog(
        user,
        "/usr/bin/python3",
        &[
            "-c",
            "import os, sys; s = os.stat(sys.argv[1]); print(oct(s.st_mode), s.st_uid, s.st_gid, s.st_mtime_ns, os.listxattr(sys.argv[1]))",
            f,
        ],
    );
    o.ok();
    o.stdout
}

/// chmod, chown, utimes and setxattr are metadata changes Landlock has no right for:
/// in Landlock-only mode the supervisor refuses them beneath read-only rules (also
/// through a symlink from a writable place) and does them beneath write rules;
/// with `--landlock-only-metadata allow` (no protection) they change a read-only file.
#[test]
fn metadata_changes_only_beneath_write_rules() {
    if !user_notif() {
        // Without user notification the report says so (see below); nothing to test.
        for user in users() {
            let t = Tree::new("meta-none");
            let args = confined(&t, &["--report", "--", "/usr/bin/true"]);
            assert!(run(user, &args).report().contains(r#""metadata": "none""#));
        }
        return;
    }
    for user in users() {
        let t = Tree::new("meta");
        // The files are the user's own: only Landlock-only mode stands in the way.
        let setup = format!(
            "set -e; for f in {ro}/f {rw}/f {rw}/h {ro}/g; do rm -f $f; echo hi > $f; chmod 644 $f; done; \
             ln -s {ro}/f {rw}/link",
            ro = t.p("ro"),
            rw = t.p("rw"),
        );
        run_prog(user, "/bin/sh", &["-c", &setup]).ok();
        let before = metadata(user, &t.p("ro/f"));
        let script = format!(
            "{ro}\necho --\n{rwf}\necho --\n\
             chmod 000 {link} 2>/dev/null && echo link done || echo link refused\n\
             cp /usr/bin/true {rw}/t && chmod -x {rw}/t && chmod +x {rw}/t && {rw}/t && echo build done\n\
             if [ -x /usr/bin/cc ]; then printf 'int main(void) {{ return 0; }}\\n' > {rw}/a.c; \
             cc -o {rw}/a {rw}/a.c && {rw}/a && echo cc done; else echo cc done; fi",
            ro = metadata_attempts(&t.p("ro/f")),
            rwf = metadata_attempts(&t.p("rw/f")),
            link = t.p("rw/link"),
            rw = t.p("rw"),
        );
        // Without the protection: every change of ro/g works (the file system may
        // lack user extended attributes: then setxattr fails everywhere).
        let args = confined(
            &t,
            &[
                "--landlock-only-metadata",
                "allow",
                "--report",
                "--",
                "/bin/sh",
                "-c",
                &metadata_attempts(&t.p("ro/g")),
            ],
        );
        let o = run(user, &args);
        o.ok();
        assert!(o.report().contains(r#""metadata": "allowed""#), "{o:#?}");
        let unprotected: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(
            &unprotected[..3],
            ["chmod done", "chown done", "touch done"],
            "{user:?}: {o:#?}"
        );
        let xattr = unprotected[3];
        assert_ne!(metadata(user, &t.p("ro/g")), before);

        let args = confined(
            &t,
            &[
                "--setenv",
                "TMPDIR",
                &t.p("rw"),
                "--report",
                "--",
                "/bin/sh",
                "-c",
                &script,
            ],
        );
        let o = run(user, &args);
        o.ok();
        assert!(o.report().contains(r#""metadata": "supervised""#), "{o:#?}");
        let refused = [
            "chmod refused",
            "chown refused",
            "touch refused",
            "setxattr refused",
        ];
        let done = ["chmod done", "chown done", "touch done", xattr];
        let mut want: Vec<&str> = refused.to_vec();
        want.push("--");
        want.extend(done);
        want.extend(["--", "link refused", "build done", "cc done"]);
        assert_eq!(
            o.stdout.lines().collect::<Vec<_>>(),
            want,
            "{user:?}: {o:#?}"
        );
        // Nothing changed beneath the read-only rule; beneath the write rule the
        // changes were made.
        assert_eq!(metadata(user, &t.p("ro/f")), before, "{user:?}");
        let m = fs::metadata(t.p("rw/f")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(m.mode() & 0o7777, 0);
        // Through descriptors: fchmod, fchown, futimens, and chmod relative to a dirfd.
        let fd_calls = r#"
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    d = os.open(os.path.dirname(path), os.O_RDONLY)
    for name, call in [
        ("fchmod", lambda: os.fchmod(fd, 0o600)),
        ("fchown", lambda: os.chown(fd, os.getuid(), -1)),
        ("futimens", lambda: os.utime(fd, (1, 1))),
        ("chmodat", lambda: os.chmod(os.path.basename(path), 0o600, dir_fd=d)),
    ]:
        try:
            call()
            print(name, "done")
        except OSError as e:
            print(name, e.errno)
"#;
        let args = confined(
            &t,
            &[
                "--",
                "/usr/bin/python3",
                "-c",
                fd_calls,
                &t.p("ro/f"),
                &t.p("rw/h"),
            ],
        );
        let o = run(user, &args);
        o.ok();
        assert_eq!(
            o.stdout.lines().collect::<Vec<_>>(),
            [
                "fchmod 1",
                "fchown 1",
                "futimens 1",
                "chmodat 1",
                "fchmod done",
                "fchown done",
                "futimens done",
                "chmodat done"
            ],
            "{user:?}: {o:#?}"
        );
        assert_eq!(metadata(user, &t.p("ro/f")), before, "{user:?}");

        // 2000-01-01, in whatever time zone touch found.
        let y2k = 946_684_800;
        assert!(
            (y2k - 86_400..y2k + 86_400).contains(&m.mtime()),
            "{user:?}: {m:?}"
        );
    }
}

/// A Landlock-only hutch inside another: one listener per filter chain, so the
/// inner one says the enclosing supervisor checks the calls (with its rules), and
/// the command runs.
#[test]
fn nested_landlock_only_names_the_enclosing_supervisor() {
    if !user_notif() {
        // The kernel decides (5.0): metadata_changes_only_beneath_write_rules checks
        // what the report says then.
        support::skip("the kernel has no seccomp user notification, so no supervisor to nest");
        return;
    }
    for user in users() {
        let t = Tree::new("meta-nested");
        let bin = support::bin_dir().display().to_string();
        let mut args = confined(&t, &["--ro-bind", &bin, &bin, "--", &h()]);
        args.extend(confined_args(&t));
        args.extend(strings(&["--report", "--", "/bin/sh", "-c"]));
        args.push(format!(
            "echo x > {f} && chmod 600 {f} && echo done",
            f = t.p("rw/f")
        ));
        let o = run(user, &args);
        o.ok();
        assert!(o.report().contains(r#""metadata": "enclosing""#), "{o:#?}");
        assert_eq!(o.stdout, "done\n", "{user:?}: {o:#?}");
    }
}

/// Whether `user` can make a user namespace here (`unshare --user true`).
fn can_make_userns(user: User) -> bool {
    run_prog(user, "/usr/bin/unshare", &["--user", "true"]).code == 0
}

/// On a host whose sysctls forbid user namespaces (`kernel.unprivileged_userns_clone=0`,
/// `user.max_user_namespaces=0`; tests/vm/run boots one of each, where
/// HUTCH_TEST_USERNS=off says this test must not skip): a plain hutch fails with a
/// one-line diagnosis naming the sysctl and offering --landlock-only; --landlock-only,
/// --landlock-only-fallback and a profile with `landlock_only = "auto"` run the
/// command confined, for whoever cannot make a user namespace.
#[test]
fn host_policy_without_user_namespaces() {
    // Real root runs hutch without a user namespace: only the others are blocked.
    let blocked: Vec<User> = users()
        .into_iter()
        .filter(|u| *u != User::Root && !can_make_userns(*u))
        .collect();
    if support::vm_says("HUTCH_TEST_USERNS", "off") {
        assert!(
            blocked.contains(users().last().unwrap()),
            "HUTCH_TEST_USERNS=off, but the unprivileged user can make user namespaces"
        );
    } else if blocked.is_empty() {
        eprintln!("skipped: user namespaces are allowed here (tests/vm/run 6.1-nouserns has none)");
        return;
    }
    let sysctl = if fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .is_ok_and(|v| v.trim() == "0")
    {
        "user.max_user_namespaces = 0"
    } else {
        "kernel.unprivileged_userns_clone = 0"
    };
    for user in blocked {
        let t = Tree::new("policy");
        let ctx = |o: &Out| format!("{user:?}: {o:#?}");
        // Plain: exit 1, one line naming the sysctl and offering --landlock-only.
        let o = run(user, &["--ro-bind", "/", "/", "--", "/usr/bin/true"]);
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{}", ctx(&o));
        assert_eq!(o.stderr.lines().count(), 1, "{}", ctx(&o));
        assert!(
            o.stderr
                .starts_with("hutch: Creating new namespace failed: ")
                && o.stderr.contains(sysctl)
                && o.stderr.trim_end().ends_with("add --landlock-only"),
            "{}",
            ctx(&o)
        );
        // --landlock-only: confined as on any host.
        let o = run(user, &confined(&t, &["--", "/bin/sh", &attempts_file(&t)]));
        o.ok();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(&lines[..6], CONFINED, "{}", ctx(&o));
        assert_eq!(
            lines[6],
            host_ns(user),
            "the host's namespaces: {}",
            ctx(&o)
        );
        // --landlock-only-fallback: one warning, then Landlock-only mode.
        let mut args = strings(&["--landlock-only-fallback"]);
        args.extend(confined_args(&t)[1..].iter().cloned());
        args.extend(strings(&[
            "--report",
            "--",
            "/bin/sh",
            "-c",
            "echo fallback ran",
        ]));
        // Exit status 0, `stdout`, and a report that says Landlock-only mode.
        let ran_landlock_only = |o: &Out, stdout: &str| {
            assert_eq!((o.code, o.stdout.as_str()), (0, stdout), "{}", ctx(o));
            let confined = o.report().contains(r#""mode": "landlock-only""#);
            assert!(confined, "{}", ctx(o));
        };
        let o = run(user, &args);
        ran_landlock_only(&o, "fallback ran\n");
        assert!(
            o.stderr
                .starts_with("hutch: no namespaces here (Creating new namespace failed: "),
            "{}",
            ctx(&o)
        );
        // A profile with landlock_only = "auto": the same. In a directory only its owner
        // may write (hutch refuses a profile beside which everyone may write).
        let dir = t.p("profiles");
        let _ = fs::create_dir(&dir);
        chmod(Path::new(&dir), 0o755);
        let profile = t.p("profiles/auto.toml");
        write_auto_profile(&t, &profile);
        let o = run_profile(user, &profile, &profile_script(&t));
        ran_landlock_only(&o, "profile ran\noutside refused\n");
        assert_eq!(fs::read_to_string(t.p("rw/profile")).unwrap(), "x\n");
        assert!(!Path::new(&t.p("profile")).exists());
    }
}

//! The same command lines through the installed bubblewrap (`/usr/bin/bwrap`, 0.8.0 here)
//! and through hutch invoked as `bwrap`, as the unprivileged user: exit status, stdout and
//! stderr must match (both print `bwrap: ...`, since hutch takes its name from argv[0]).
//!
//! Placeholders in arguments, redirections and the working directory: `$F` is the read-only
//! fixture tree, `$W` a fresh directory writable by the sandbox user (one per run). Both are
//! put back in the outputs before comparing, as is the path of the program.
//!
//! Options that bubblewrap 0.8 lacks (`--argv0`, `--level-prefix`, the overlays) and
//! behaviour that changed after 0.8 (an identical `--symlink` is accepted since 0.9, the
//! messages for an existing symlink destination) are checked directly in `core` instead.

use std::path::Path;

use crate::support::*;

fn installed_bwrap() -> Option<&'static Path> {
    let p = Path::new(SYSTEM_BWRAP);
    if p.exists() {
        return Some(p);
    }
    skip(&format!(
        "{SYSTEM_BWRAP} is missing (install bubblewrap to run the differential tests)"
    ));
    None
}

/// How stderr is compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stderr {
    Exact,
    /// bwrap names internal steps and its `/newroot` paths in some mount errors
    /// ("Can't remount readonly on /newroot/x: realpath(destination): No such file or
    /// directory"): compare the part before the first ": " (without `/newroot`) and the
    /// errno text after the last one.
    HeadAndErrno,
    /// Only the first line (the usage text lists hutch's extra options).
    FirstLine,
}

struct Case {
    args: Vec<String>,
    redirs: Vec<String>,
    cwd: Option<String>,
    stderr: Stderr,
    stdout_first_line: bool,
    /// Files in `$W` compared after the run, with every number replaced by `N`.
    files: Vec<&'static str>,
    /// Environment variables set for the run (after the fixed PATH and LC_ALL).
    env: Vec<(String, String)>,
    /// Compare as root too, not only as the unprivileged user.
    every_user: bool,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// A raw command line.
fn c(args: &[&str]) -> Case {
    Case {
        args: s(args),
        redirs: vec![],
        cwd: None,
        stderr: Stderr::Exact,
        stdout_first_line: false,
        files: vec![],
        env: vec![],
        every_user: false,
    }
}

/// With the host's root bound read-only.
fn r(args: &[&str]) -> Case {
    let mut v = vec!["--ro-bind", "/", "/"];
    v.extend_from_slice(args);
    c(&v)
}

/// With [`MINIMAL_ROOT`] (a writable tmpfs root with /usr and /etc).
fn m(args: &[&str]) -> Case {
    let mut v = MINIMAL_ROOT.to_vec();
    v.extend_from_slice(args);
    c(&v)
}

/// An awk filter on [`MOUNTS`]: the listed mount points only.
fn mnt(points: &[&str]) -> String {
    let cond: Vec<String> = points.iter().map(|p| format!("$1==\"{p}\"")).collect();
    format!("{MOUNTS} | awk '{}'", cond.join(" || "))
}

const SESSION: &str = "read -r pid comm state ppid pgrp session rest < /proc/self/stat; \
                       if [ $pid = $session ]; then echo leader; else echo not-leader; fi";

fn digits_to_n(s: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(ch);
        }
    }
    out
}

fn head_and_errno(s: &str) -> (String, String) {
    let line = s.lines().next().unwrap_or("").replace("/newroot", "");
    let head = line.split(": ").take(2).collect::<Vec<_>>().join(": ");
    let errno = line.rsplit(": ").next().unwrap_or("").to_string();
    (head, errno)
}

struct Outcome {
    out: Out,
    files: Vec<(String, String)>,
}

impl Case {
    fn fd(mut self, fd: u32, path: &str) -> Self {
        self.redirs.push(format!("{fd}<{path}"));
        self
    }
    fn fd_out(mut self, fd: u32, path: &str) -> Self {
        self.redirs.push(format!("{fd}>{path}"));
        self
    }
    fn redir(mut self, r: &str) -> Self {
        self.redirs.push(r.to_string());
        self
    }
    fn cwd(mut self, d: &str) -> Self {
        self.cwd = Some(d.to_string());
        self
    }
    fn stderr(mut self, mode: Stderr) -> Self {
        self.stderr = mode;
        self
    }
    fn stdout_first_line(mut self) -> Self {
        self.stdout_first_line = true;
        self
    }
    fn file(mut self, name: &'static str) -> Self {
        self.files.push(name);
        self
    }
    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
    /// Compare as root as well (when the tests run as root).
    fn every_user(mut self) -> Self {
        self.every_user = true;
        self
    }

    fn run_one(&self, prog: &Path, u: User) -> Outcome {
        let w = tempdir(u);
        let f = fixture().display().to_string();
        let subst = |a: &str| a.replace("$W", &w.s()).replace("$F", &f);
        let mut cmd = Cmd::new(prog, u).args(self.args.iter().map(|a| subst(a)));
        for r in &self.redirs {
            cmd = cmd.redir(subst(r));
        }
        if let Some(d) = &self.cwd {
            cmd = cmd.cwd(subst(d));
        }
        for (k, v) in &self.env {
            cmd = cmd.env(k, subst(v));
        }
        let mut out = cmd.run();
        let back = |t: &str| {
            t.replace(&w.s(), "$W")
                .replace(&f, "$F")
                .replace(&prog.display().to_string(), "bwrap")
        };
        out.stdout = back(&out.stdout);
        out.stderr = back(&out.stderr);
        let files = self
            .files
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(w.join(name))
                    .unwrap_or_else(|e| format!("<unreadable: {e}>"));
                (name.to_string(), digits_to_n(&back(&text)))
            })
            .collect();
        Outcome { out, files }
    }

    #[track_caller]
    fn check(self) {
        if self.every_user {
            for u in users() {
                self.check_as(u);
            }
        } else {
            self.check_as(unprivileged());
        }
    }

    #[track_caller]
    fn check_as(&self, u: User) {
        let Some(bwrap) = installed_bwrap() else {
            return;
        };
        let want = self.run_one(bwrap, u);
        let got = self.run_one(bwrap_path(), u);
        let (w, g) = (&want.out, &got.out);
        let ctx = || format!("\n=== as {u:?}\n=== bubblewrap:{w:?}\n=== hutch:{g:?}");
        assert_eq!(g.status(), w.status(), "exit status differs{}", ctx());
        if self.stdout_first_line {
            assert_eq!(
                g.stdout.lines().next(),
                w.stdout.lines().next(),
                "stdout differs{}",
                ctx()
            );
        } else {
            assert_eq!(g.stdout, w.stdout, "stdout differs{}", ctx());
        }
        match self.stderr {
            Stderr::Exact => assert_eq!(g.stderr, w.stderr, "stderr differs{}", ctx()),
            Stderr::FirstLine => {
                assert_eq!(
                    g.stderr.lines().next(),
                    w.stderr.lines().next(),
                    "stderr differs{}",
                    ctx()
                )
            }
            Stderr::HeadAndErrno => {
                assert_eq!(
                    g.stderr.lines().count(),
                    w.stderr.lines().count(),
                    "stderr differs{}",
                    ctx()
                );
                assert_eq!(
                    head_and_errno(&g.stderr),
                    head_and_errno(&w.stderr),
                    "stderr differs{}",
                    ctx()
                );
            }
        }
        assert_eq!(got.files, want.files, "output files differ{}", ctx());
    }
}

// ---------------------------------------------------------------------------------------
// Binds

#[test]
fn ro_bind_root_is_read_only() {
    r(&["sh", "-c", "touch /x 2>&1; echo $?"]).check();
}

#[test]
fn ro_bind_root_mount_options() {
    r(&["sh", "-c", &mnt(&["/", "/proc", "/dev", "/sys", "/tmp"])]).check();
}

#[test]
fn bind_writes_through() {
    r(&[
        "--bind",
        "$W",
        "$W",
        "sh",
        "-c",
        "echo hi > $W/f && cat $W/f && stat -c '%a %U' $W/f",
    ])
    .check();
}

#[test]
fn bind_mount_options() {
    r(&["--bind", "$W", "$W", "sh", "-c", &mnt(&["$W"])]).check();
}

#[test]
fn dev_bind_allows_devices() {
    r(&[
        "--dev-bind",
        "/dev",
        "/dev",
        "sh",
        "-c",
        &format!("echo x > /dev/null && echo ok; {}", mnt(&["/dev"])),
    ])
    .check();
}

#[test]
fn bind_is_nodev() {
    r(&[
        "--bind",
        "/dev",
        "/dev",
        "sh",
        "-c",
        "echo x > /dev/null; echo $?",
    ])
    .check();
}

#[test]
fn try_binds_skip_missing_sources() {
    m(&[
        "--tmpfs",
        "/t",
        "--bind-try",
        "/nonexistent",
        "/t/a",
        "--ro-bind-try",
        "/nonexistent",
        "/t/b",
        "--dev-bind-try",
        "/nonexistent",
        "/t/c",
        "sh",
        "-c",
        "ls -A /t; echo end",
    ])
    .check();
}

#[test]
fn bind_missing_source() {
    m(&["--bind", "/nonexistent", "/x", "true"]).check();
}

#[test]
fn try_bind_unreadable_source() {
    m(&["--ro-bind-try", "$F/private/x", "/x", "true"]).check();
}

#[test]
fn bind_file_creates_parents() {
    m(&[
        "--ro-bind",
        "$F/file",
        "/a/b/f",
        "sh",
        "-c",
        "cat /a/b/f; stat -c '%n %a %F' /a /a/b /a/b/f",
    ])
    .check();
}

#[test]
fn bind_dir_creates_parents() {
    m(&[
        "--ro-bind",
        "$F/dir",
        "/a/b",
        "sh",
        "-c",
        "ls /a/b; stat -c '%n %a %F' /a /a/b",
    ])
    .check();
}

#[test]
fn bind_source_symlink_is_resolved() {
    m(&[
        "--ro-bind",
        "$F/link",
        "/l",
        "sh",
        "-c",
        "cat /l; stat -c %F /l",
    ])
    .check();
}

#[test]
fn bind_relative_source() {
    m(&["--ro-bind", "file", "/f", "cat", "/f"])
        .cwd("$F")
        .check();
}

#[test]
fn later_bind_covers_earlier() {
    m(&[
        "--ro-bind",
        "$F/file",
        "/f",
        "--ro-bind",
        "$F/data",
        "/f",
        "cat",
        "/f",
    ])
    .check();
}

#[test]
fn bind_fd() {
    m(&["--bind-fd", "3", "/x", "ls", "/x"])
        .fd(3, "$F/dir")
        .check();
}

#[test]
fn ro_bind_fd() {
    m(&[
        "--ro-bind-fd",
        "3",
        "/x",
        "sh",
        "-c",
        "ls /x; touch /x/n 2>&1",
    ])
    .fd(3, "$F/dir")
    .check();
}

#[test]
fn remount_ro() {
    m(&[
        "--tmpfs",
        "/t",
        "--remount-ro",
        "/t",
        "sh",
        "-c",
        "touch /t/x 2>&1; echo $?",
    ])
    .check();
}

#[test]
fn remount_ro_is_not_recursive() {
    m(&[
        "--tmpfs",
        "/t",
        "--tmpfs",
        "/t/s",
        "--remount-ro",
        "/t",
        "sh",
        "-c",
        "touch /t/s/x && echo ok",
    ])
    .check();
}

#[test]
fn remount_ro_missing_destination() {
    m(&["--remount-ro", "/nonexistent", "true"])
        .stderr(Stderr::HeadAndErrno)
        .check();
}

#[test]
fn symlink_on_a_read_only_root() {
    r(&["--symlink", "x", "/usr/hutch-test-link", "true"]).check();
}

#[test]
fn file_on_a_read_only_root() {
    r(&["--file", "3", "/usr/hutch-test-file", "true"])
        .fd(3, "$F/data")
        .check();
}

#[test]
fn bind_data_on_a_read_only_root() {
    r(&["--bind-data", "3", "/usr/hutch-test-file", "true"])
        .fd(3, "$F/data")
        .check();
}

#[test]
fn bind_file_on_a_read_only_root() {
    r(&["--ro-bind", "$F/file", "/hutch-test-file", "true"]).check();
}

#[test]
fn tmpfs_over_a_file() {
    m(&["--ro-bind", "$F/file", "/f", "--tmpfs", "/f", "true"]).check();
}

#[test]
fn tmpfs_hides_a_bound_directory() {
    m(&[
        "--ro-bind",
        "$F/dir",
        "/d",
        "--tmpfs",
        "/d/sub",
        "sh",
        "-c",
        "ls -A /d /d/sub",
    ])
    .check();
}

// ---------------------------------------------------------------------------------------
// proc, dev, tmpfs, mqueue

#[test]
fn proc_in_a_pid_namespace() {
    r(&[
        "--unshare-pid",
        "--proc",
        "/proc",
        "sh",
        "-c",
        "echo $$; cat /proc/1/comm; test -d /proc/2 && echo has-2",
    ])
    .check();
}

#[test]
fn proc_mounts() {
    let m_ = mnt(&[
        "/proc",
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/irq",
        "/proc/bus",
    ]);
    m(&["--unshare-pid", "--proc", "/proc", "sh", "-c", &m_]).check();
}

#[test]
fn proc_without_a_pid_namespace() {
    m(&[
        "--proc",
        "/proc",
        "sh",
        "-c",
        &format!("test -e /proc/1/comm && echo yes; {}", mnt(&["/proc"])),
    ])
    .check();
}

#[test]
fn as_pid_1() {
    r(&["--unshare-pid", "--as-pid-1", "sh", "-c", "echo $$"]).check();
}

#[test]
fn dev_listing() {
    m(&["--dev", "/dev", "ls", "-A", "/dev"]).check();
}

#[test]
fn dev_modes_and_links() {
    m(&[
        "--dev",
        "/dev",
        "sh",
        "-c",
        "stat -c '%n %a %F %U' /dev /dev/pts /dev/shm /dev/null /dev/pts/ptmx; \
         readlink /dev/ptmx /dev/fd /dev/stdin /dev/stdout /dev/stderr /dev/core",
    ])
    .check();
}

#[test]
fn dev_mounts() {
    let points = [
        "/dev",
        "/dev/pts",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ];
    m(&["--dev", "/dev", "sh", "-c", &mnt(&points)]).check();
}

#[test]
fn dev_nodes_work() {
    m(&[
        "--dev",
        "/dev",
        "sh",
        "-c",
        "echo x > /dev/null && head -c 3 /dev/zero | od -An -tx1 && exec 3<>/dev/ptmx && echo ptmx",
    ])
    .check();
}

#[test]
fn tmpfs_default() {
    m(&[
        "--tmpfs",
        "/t",
        "sh",
        "-c",
        &format!("stat -c '%a %U' /t; {}", mnt(&["/t"])),
    ])
    .check();
}

#[test]
fn tmpfs_perms_and_size() {
    m(&[
        "--perms",
        "01777",
        "--size",
        "4096000",
        "--tmpfs",
        "/t",
        "sh",
        "-c",
        &format!("stat -c %a /t; stat -f -c '%b %S' /t; {}", mnt(&["/t"])),
    ])
    .check();
}

#[test]
fn tmpfs_parents_follow_perms() {
    m(&[
        "--perms",
        "0700",
        "--tmpfs",
        "/a/b",
        "sh",
        "-c",
        "stat -c '%n %a' /a /a/b",
    ])
    .check();
}

#[test]
fn size_and_perms_in_either_order() {
    m(&[
        "--size",
        "1048576",
        "--perms",
        "0750",
        "--tmpfs",
        "/t",
        "sh",
        "-c",
        "stat -c %a /t; stat -f -c '%b %S' /t",
    ])
    .check();
}

#[test]
fn mqueue() {
    m(&[
        "--unshare-ipc",
        "--mqueue",
        "/mq",
        "sh",
        "-c",
        &mnt(&["/mq"]),
    ])
    .check();
}

#[test]
fn mqueue_without_an_ipc_namespace() {
    m(&["--mqueue", "/mq", "true"])
        .stderr(Stderr::HeadAndErrno)
        .check();
}

// ---------------------------------------------------------------------------------------
// dir, symlink, chmod, file, bind-data

#[test]
fn dir_creates_parents() {
    m(&[
        "--dir",
        "/a/b/c",
        "sh",
        "-c",
        "stat -c '%n %a' /a /a/b /a/b/c",
    ])
    .check();
}

#[test]
fn dir_perms_and_existing_dirs() {
    m(&[
        "--perms",
        "0700",
        "--dir",
        "/p/q",
        "--perms",
        "0750",
        "--dir",
        "/e",
        "--perms",
        "0700",
        "--dir",
        "/e",
        "--perms",
        "01777",
        "--dir",
        "/s",
        "sh",
        "-c",
        "stat -c '%n %a' /p /p/q /e /s",
    ])
    .check();
}

#[test]
fn dir_on_a_read_only_root() {
    r(&["--dir", "/nonexistent-dir", "true"]).check();
}

#[test]
fn dir_over_a_file() {
    m(&["--ro-bind", "$F/file", "/f", "--dir", "/f", "true"]).check();
}

#[test]
fn symlinks() {
    m(&[
        "--symlink",
        "/usr",
        "/u",
        "--symlink",
        "rel/x",
        "/sub/l",
        "sh",
        "-c",
        "readlink /u /sub/l; stat -c %a /sub; ls /u/bin/sh",
    ])
    .check();
}

#[test]
fn parents_of_proc_dev_and_mqueue() {
    m(&[
        "--proc",
        "/x/proc",
        "--dev",
        "/y/dev",
        "--unshare-ipc",
        "--mqueue",
        "/z/mq",
        "stat",
        "-c",
        "%n %a",
        "/x",
        "/y",
        "/z",
    ])
    .check();
}

#[test]
fn chmod() {
    m(&[
        "--dir", "/d", "--chmod", "1750", "/d", "--file", "3", "/f", "--chmod", "0600", "/f",
        "stat", "-c", "%n %a", "/d", "/f",
    ])
    .fd(3, "$F/data")
    .check();
}

#[test]
fn chmod_missing_path() {
    m(&["--chmod", "0755", "/nope", "true"]).check();
}

#[test]
fn chmod_bad_octal() {
    c(&["--chmod", "9", "/x", "true"]).check();
}

#[test]
fn file_from_fd() {
    m(&["--file", "3", "/f", "sh", "-c", "cat /f; stat -c %a /f"])
        .fd(3, "$F/data")
        .check();
}

#[test]
fn file_perms_and_parents() {
    m(&[
        "--perms", "0640", "--file", "3", "/p/f", "stat", "-c", "%n %a", "/p", "/p/f",
    ])
    .fd(3, "$F/data")
    .check();
}

#[test]
fn file_twice_truncates() {
    m(&["--file", "3", "/f", "--file", "4", "/f", "cat", "/f"])
        .fd(3, "$F/data")
        .fd(4, "$F/file")
        .check();
}

#[test]
fn file_from_an_empty_fd_and_a_pipe() {
    m(&[
        "--file",
        "3",
        "/e",
        "--file",
        "4",
        "/p",
        "sh",
        "-c",
        "wc -c < /e; cat /p",
    ])
    .fd(3, "$F/empty")
    .redir("4< <(printf piped)")
    .check();
}

#[test]
fn bind_data() {
    m(&[
        "--bind-data",
        "3",
        "/b",
        "sh",
        "-c",
        "cat /b; stat -c %a /b; echo more >> /b && cat /b",
    ])
    .fd(3, "$F/data")
    .check();
}

#[test]
fn ro_bind_data() {
    m(&[
        "--ro-bind-data",
        "3",
        "/r",
        "sh",
        "-c",
        "cat /r; echo more >> /r 2>&1; echo $?; stat -c %a /r",
    ])
    .fd(3, "$F/data")
    .check();
}

#[test]
fn bind_data_perms_and_parents() {
    m(&[
        "--perms",
        "0444",
        "--ro-bind-data",
        "3",
        "/q/r",
        "stat",
        "-c",
        "%n %a",
        "/q",
        "/q/r",
    ])
    .fd(3, "$F/data")
    .check();
}

#[test]
fn same_data_fd_twice() {
    m(&["--file", "3", "/a", "--file", "3", "/b", "true"])
        .fd(3, "$F/data")
        .check();
}

#[test]
fn file_from_a_closed_fd() {
    m(&["--file", "77", "/x", "true"]).check();
}

#[test]
fn bind_data_from_a_closed_fd() {
    m(&["--bind-data", "77", "/x", "true"]).check();
}

// ---------------------------------------------------------------------------------------
// Namespaces and identity

#[test]
fn unshare_net() {
    r(&[
        "--unshare-net",
        "sh",
        "-c",
        "ip -o link | awk '{print $2, $3}'; ip -o addr | awk '{print $2, $3, $4}'",
    ])
    .check();
}

#[test]
fn unshare_net_loopback_answers() {
    r(&[
        "--unshare-net",
        "bash",
        "-c",
        "exec 3<>/dev/tcp/127.0.0.1/9",
    ])
    .check();
}

/// A bind from /proc made while the sandbox's network namespace is not entered yet
/// would show the host's devices (src/netns.rs).
#[test]
fn unshare_net_bind_from_proc() {
    r(&[
        "--unshare-net",
        "--tmpfs",
        "/mnt",
        "--ro-bind",
        "/proc/net/dev",
        "/mnt/dev",
        "awk",
        "NR > 2 {print $1}",
        "/mnt/dev",
    ])
    .check();
}

#[test]
fn hostname() {
    r(&[
        "--unshare-uts",
        "--hostname",
        "sandbox-name",
        "sh",
        "-c",
        "hostname; uname -n",
    ])
    .check();
}

#[test]
fn hostname_without_uts() {
    c(&["--hostname", "x", "true"]).check();
}

#[test]
fn unshare_uts_keeps_the_name() {
    r(&["--unshare-uts", "hostname"]).check();
}

#[test]
fn unshare_ipc() {
    r(&["--unshare-ipc", "ipcs", "-m"]).check();
}

#[test]
fn unshare_cgroup() {
    r(&["--unshare-cgroup", "cat", "/proc/self/cgroup"]).check();
}

#[test]
fn unshare_all() {
    r(&[
        "--unshare-all",
        "sh",
        "-c",
        "ip -o link | wc -l; echo $$; ipcs -q | wc -l",
    ])
    .check();
}

#[test]
fn unshare_all_share_net() {
    r(&[
        "--unshare-all",
        "--share-net",
        "sh",
        "-c",
        "ip -o link | wc -l",
    ])
    .check();
}

#[test]
fn unshare_user_try_and_cgroup_try() {
    r(&[
        "--unshare-user-try",
        "--unshare-cgroup-try",
        "sh",
        "-c",
        "id -u; cat /proc/self/cgroup",
    ])
    .check();
}

#[test]
fn uid_and_gid() {
    r(&[
        "--uid",
        "1234",
        "--gid",
        "5678",
        "sh",
        "-c",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map",
    ])
    .check();
}

#[test]
fn uid_with_dev() {
    r(&[
        "--uid",
        "1234",
        "--dev",
        "/dev",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; stat -c '%u %g' /dev /dev/pts",
    ])
    .check();
}

#[test]
fn uid_0_has_no_capabilities() {
    r(&[
        "--uid",
        "0",
        "--gid",
        "0",
        "sh",
        "-c",
        "id -u; grep Cap /proc/self/status",
    ])
    .check();
}

#[test]
fn unshare_user_explicitly() {
    r(&[
        "--unshare-user",
        "sh",
        "-c",
        "id -u; cat /proc/self/setgroups",
    ])
    .check();
}

#[test]
fn uid_not_a_number() {
    c(&["--uid", "abc", "true"]).check();
}

#[test]
fn disable_userns() {
    r(&[
        "--unshare-user",
        "--disable-userns",
        "sh",
        "-c",
        "unshare -U true 2>&1; echo $?",
    ])
    .check();
}

#[test]
fn assert_userns_disabled_fails_when_not_disabled() {
    r(&["--unshare-user", "--assert-userns-disabled", "true"]).check();
}

// ---------------------------------------------------------------------------------------
// Environment and working directory

#[test]
fn env_ops_in_order() {
    r(&[
        "--setenv",
        "A",
        "1",
        "--clearenv",
        "--setenv",
        "B",
        "2",
        "/usr/bin/env",
    ])
    .check();
}

#[test]
fn unsetenv() {
    r(&[
        "--setenv",
        "FOO",
        "bar",
        "--unsetenv",
        "FOO",
        "sh",
        "-c",
        "echo ${FOO-unset}",
    ])
    .check();
}

#[test]
fn command_is_found_on_the_sandbox_path() {
    m(&[
        "--dir",
        "/mybin",
        "--symlink",
        "/usr/bin/echo",
        "/mybin/myecho",
        "--setenv",
        "PATH",
        "/mybin",
        "myecho",
        "hi",
    ])
    .check();
}

#[test]
fn chdir() {
    r(&["--chdir", "/usr/share", "sh", "-c", "pwd; echo $PWD"]).check();
}

#[test]
fn chdir_relative() {
    r(&["--chdir", "usr", "sh", "-c", "pwd; echo $PWD"]).check();
}

#[test]
fn setenv_empty_value() {
    r(&[
        "--setenv",
        "EMPTY",
        "",
        "sh",
        "-c",
        "echo \"[${EMPTY-unset}]\"",
    ])
    .check();
}

#[test]
fn chdir_missing() {
    r(&["--chdir", "/nonexistent", "true"]).check();
}

#[test]
fn chdir_twice_warns() {
    r(&["--chdir", "/", "--chdir", "/usr", "pwd"]).check();
}

#[test]
fn cwd_is_kept() {
    r(&["sh", "-c", "pwd; echo $PWD"]).cwd("/usr/lib").check();
}

#[test]
fn cwd_falls_back_to_home() {
    m(&["--setenv", "HOME", "/usr", "sh", "-c", "pwd; echo $PWD"])
        .cwd("$F")
        .check();
}

#[test]
fn cwd_falls_back_to_root() {
    m(&["--unsetenv", "HOME", "sh", "-c", "pwd; echo $PWD"])
        .cwd("$F")
        .check();
}

// ---------------------------------------------------------------------------------------
// Process tree and exit status

#[test]
fn exit_status() {
    r(&["sh", "-c", "exit 3"]).check();
}

#[test]
fn exit_status_in_a_pid_namespace() {
    r(&["--unshare-pid", "sh", "-c", "exit 3"]).check();
}

#[test]
fn killed_by_a_signal() {
    r(&["sh", "-c", "kill -9 $$"]).check();
}

#[test]
fn killed_by_a_signal_in_a_pid_namespace() {
    r(&["--unshare-pid", "sh", "-c", "kill -9 $$"]).check();
}

#[test]
fn exit_status_as_pid_1() {
    r(&["--unshare-pid", "--as-pid-1", "sh", "-c", "exit 5"]).check();
}

#[test]
fn background_process_does_not_hold_the_exit() {
    // (/dev is a device-capable bind so that the background shell can open /dev/null.)
    r(&[
        "--dev-bind",
        "/dev",
        "/dev",
        "--unshare-pid",
        "sh",
        "-c",
        "sleep 30 & exit 3",
    ])
    .check();
}

#[test]
fn exec_missing_command() {
    r(&["/nonexistent"]).check();
}

#[test]
fn exec_not_executable() {
    r(&["$F/noexec.sh"]).check();
}

#[test]
fn exec_script() {
    r(&["$F/exec.sh", "a", "b"]).check();
}

#[test]
fn exec_not_on_path() {
    r(&["--setenv", "PATH", "/usr/bin", "no-such-command-here"]).check();
}

#[test]
fn double_dash_ends_options() {
    r(&["--", "sh", "-c", "echo \"$0 $1\"", "a", "--unshare-net"]).check();
}

#[test]
fn new_session() {
    r(&["--new-session", "sh", "-c", SESSION]).check();
}

#[test]
fn no_new_session_by_default() {
    r(&["sh", "-c", SESSION]).check();
}

#[test]
fn no_new_privs() {
    r(&["grep", "NoNewPrivs", "/proc/self/status"]).check();
}

#[test]
fn die_with_parent() {
    r(&["--die-with-parent", "--unshare-pid", "sh", "-c", "echo ok"]).check();
}

#[test]
fn lock_file_missing() {
    m(&["--lock-file", "/nope", "true"]).check();
}

#[test]
fn lock_file() {
    m(&[
        "--file",
        "3",
        "/l",
        "--lock-file",
        "/l",
        "sh",
        "-c",
        "echo ok",
    ])
    .fd(3, "$F/data")
    .check();
}

#[test]
fn lock_file_as_pid_1() {
    c(&["--unshare-pid", "--as-pid-1", "--lock-file", "/x", "true"]).check();
}

#[test]
fn as_pid_1_without_a_pid_namespace() {
    c(&["--as-pid-1", "true"]).check();
}

#[test]
fn sync_fd_is_closed_in_the_command() {
    r(&[
        "--sync-fd",
        "3",
        "sh",
        "-c",
        "test -e /proc/self/fd/3 && echo open || echo closed",
    ])
    .fd_out(3, "/dev/null")
    .check();
}

#[test]
fn sync_fd_as_pid_1_stays_open() {
    r(&[
        "--unshare-pid",
        "--as-pid-1",
        "--sync-fd",
        "3",
        "sh",
        "-c",
        "test -e /proc/self/fd/3 && echo open || echo closed",
    ])
    .fd_out(3, "/dev/null")
    .check();
}

#[test]
fn block_fd() {
    r(&["--block-fd", "3", "echo", "ran"])
        .redir("3< <(sleep 0.2; printf x)")
        .check();
}

#[test]
fn info_fd() {
    r(&["--unshare-net", "--unshare-pid", "--info-fd", "3", "true"])
        .fd_out(3, "$W/info")
        .file("info")
        .check();
}

#[test]
fn info_fd_not_open() {
    c(&["--info-fd", "77", "true"]).check();
}

#[test]
fn json_status_fd() {
    r(&[
        "--unshare-pid",
        "--json-status-fd",
        "3",
        "sh",
        "-c",
        "exit 3",
    ])
    .fd_out(3, "$W/status")
    .file("status")
    .check();
}

#[test]
fn json_status_fd_failed_exec() {
    r(&["--json-status-fd", "3", "/nonexistent"])
        .fd_out(3, "$W/status")
        .file("status")
        .check();
}

#[test]
fn json_status_fd_not_open() {
    c(&["--json-status-fd", "77", "true"]).check();
}

// ---------------------------------------------------------------------------------------
// Capabilities and seccomp

#[test]
fn capabilities_by_default() {
    r(&["grep", "Cap", "/proc/self/status"]).check();
}

#[test]
fn cap_add() {
    r(&[
        "--cap-add",
        "CAP_NET_ADMIN",
        "grep",
        "Cap",
        "/proc/self/status",
    ])
    .check();
}

#[test]
fn cap_add_all() {
    r(&["--cap-add", "ALL", "grep", "Cap", "/proc/self/status"]).check();
}

#[test]
fn cap_add_all_then_drop() {
    r(&[
        "--cap-add",
        "ALL",
        "--cap-drop",
        "CAP_SYS_ADMIN",
        "grep",
        "Cap",
        "/proc/self/status",
    ])
    .check();
}

#[test]
fn cap_add_is_usable() {
    r(&[
        "--unshare-net",
        "--cap-add",
        "CAP_NET_ADMIN",
        "sh",
        "-c",
        "ip link set lo mtu 1280 && echo admin",
    ])
    .check();
}

#[test]
fn cap_unknown() {
    c(&["--cap-add", "CAP_FOO", "true"]).check();
}

#[test]
fn cap_name_without_prefix() {
    c(&["--cap-add", "net_admin", "true"]).check();
}

#[test]
fn seccomp_filter() {
    r(&["--seccomp", "3", "uname"])
        .fd(3, "$F/seccomp-uname.bpf")
        .check();
}

#[test]
fn seccomp_bad_length() {
    r(&["--seccomp", "3", "true"])
        .fd(3, "$F/seccomp-bad.bpf")
        .check();
}

#[test]
fn add_seccomp_fd_twice() {
    r(&["--add-seccomp-fd", "3", "--add-seccomp-fd", "4", "uname"])
        .fd(3, "$F/seccomp-allow.bpf")
        .fd(4, "$F/seccomp-uname.bpf")
        .check();
}

#[test]
fn seccomp_and_add_seccomp_fd() {
    c(&["--seccomp", "3", "--add-seccomp-fd", "4", "true"]).check();
}

#[test]
fn seccomp_fd_not_open() {
    c(&["--seccomp", "77", "true"]).check();
}

// ---------------------------------------------------------------------------------------
// --args

#[test]
fn args_with_many_operations() {
    m(&["--args", "3", "sh", "-c", "ls /many | wc -l; cat /many/f99"])
        .fd(3, "$F/args-many")
        .check();
}

#[test]
fn args_and_argv_together() {
    r(&["--args", "3", "sh", "-c", "echo $FROM_ARGS"])
        .fd(3, "$F/args-env")
        .check();
}

#[test]
fn args_with_a_command_in_the_file() {
    r(&["--args", "3", "echo", "command-in-argv", "$A"])
        .fd(3, "$F/args-cmd")
        .check();
}

#[test]
fn args_nested() {
    c(&["--args", "3", "true"]).fd(3, "$F/args-nested").check();
}

#[test]
fn args_fd_not_open() {
    c(&["--args", "77", "true"]).check();
}

// ---------------------------------------------------------------------------------------
// Command-line errors

#[test]
fn unknown_option() {
    c(&["--frob", "true"]).check();
}

#[test]
fn option_with_equals() {
    c(&["--chdir=/", "true"]).check();
}

#[test]
fn missing_values() {
    c(&["--bind", "/x"]).check();
    c(&["--uid"]).check();
    c(&["--setenv", "A"]).check();
    c(&["--chdir"]).check();
    c(&["--file", "3"]).check();
}

#[test]
fn perms_bad_octal() {
    c(&["--perms", "0888", "--dir", "/x", "true"]).check();
}

#[test]
fn perms_before_a_bind() {
    c(&["--perms", "0755", "--bind", "/", "/", "true"]).check();
}

#[test]
fn perms_twice() {
    c(&["--perms", "0755", "--perms", "0700", "--dir", "/x", "true"]).check();
}

#[test]
fn size_before_dir() {
    c(&["--size", "100", "--dir", "/x", "true"]).check();
}

#[test]
fn size_zero() {
    c(&["--size", "0", "--tmpfs", "/x", "true"]).check();
}

#[test]
fn fd_not_a_number() {
    c(&["--sync-fd", "abc", "true"]).check();
    c(&["--info-fd", "-1", "true"]).check();
}

#[test]
fn exec_label_unsupported() {
    c(&["--exec-label", "x", "true"]).check();
}

#[test]
fn userns_block_fd_needs_unshare_user() {
    c(&["--userns-block-fd", "3", "true"]).check();
}

#[test]
fn no_arguments() {
    c(&[]).stderr(Stderr::FirstLine).check();
}

#[test]
fn no_command() {
    c(&["--ro-bind", "/", "/"])
        .stderr(Stderr::FirstLine)
        .check();
}

#[test]
fn help() {
    c(&["--help"]).stdout_first_line().check();
}

// ---------------------------------------------------------------------------------------
// Drop-in details that real clients and bubblewrap's own suite catch (issue 15)

/// A directory `real` and a symlink `alias` to it, in a fresh directory under `parent`
/// that everyone can traverse; also a script without `#!` in `real`.
fn alias_tree(parent: &Path) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::Builder::new()
        .prefix(TEST_PREFIX)
        .tempdir_in(parent)
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(d.path().join("real")).unwrap();
    std::os::unix::fs::symlink("real", d.path().join("alias")).unwrap();
    let script = d.path().join("real/noshebang");
    std::fs::write(&script, "echo \"ran $0 $*\"\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// The caller's logical working directory: `$PWD` names it through a symlink, and
/// bwrap keeps that name (glibc's get_current_dir_name), inside and in `PWD`.
/// Outside /tmp: bwrap looks after mounting its setup tmpfs there.
#[test]
fn cwd_through_a_symlink_keeps_its_name() {
    let d = alias_tree(Path::new("/var/tmp"));
    let alias = d.path().join("alias").display().to_string();
    let show = ["sh", "-c", "echo $PWD; pwd"];
    r(&show).cwd(&alias).env("PWD", &alias).every_user().check();
    // $PWD naming another directory is not used; nor is one removed by --unsetenv.
    r(&show).cwd(&alias).env("PWD", "/usr").every_user().check();
    let mut unset = vec!["--unsetenv", "PWD"];
    unset.extend(show);
    r(&unset)
        .cwd(&alias)
        .env("PWD", &alias)
        .every_user()
        .check();
    // Not inside: $HOME, then /.
    let mut hidden = vec!["--tmpfs", d.path().to_str().unwrap()];
    hidden.extend(show);
    r(&hidden)
        .cwd(&alias)
        .env("PWD", &alias)
        .every_user()
        .check();
}

/// `--chdir DIR` sets `PWD` to DIR as given, through a symlink or relative.
#[test]
fn chdir_sets_pwd_as_given() {
    let d = alias_tree(Path::new("/var/tmp"));
    let alias = d.path().join("alias").display().to_string();
    r(&["--chdir", &alias, "sh", "-c", "echo $PWD; pwd"])
        .every_user()
        .check();
    r(&["--chdir", "alias", "/usr/bin/env"])
        .cwd(d.path().to_str().unwrap())
        .every_user()
        .stdout_first_line()
        .check();
    r(&["--chdir", "alias", "/usr/bin/printenv", "PWD"])
        .cwd(d.path().to_str().unwrap())
        .every_user()
        .check();
}

/// Under /tmp bwrap's setup tmpfs hides `$PWD` when it looks: the physical path.
#[test]
fn cwd_through_a_symlink_in_tmp_is_resolved() {
    let d = alias_tree(base());
    let alias = d.path().join("alias").display().to_string();
    r(&["sh", "-c", "echo $PWD; pwd"])
        .cwd(&alias)
        .env("PWD", &alias)
        .every_user()
        .check();
}

/// A script without `#!` runs through /bin/sh (execvp's ENOEXEC fallback), by path
/// and found on PATH.
#[test]
fn script_without_shebang_runs_through_sh() {
    let d = alias_tree(Path::new("/var/tmp"));
    let real = d.path().join("real");
    let script = real.join("noshebang").display().to_string();
    r(&[&script, "a", "b"]).every_user().check();
    r(&["--setenv", "PATH", real.to_str().unwrap(), "noshebang", "a"])
        .every_user()
        .check();
}

/// bwrap calls setsid before it forks its pid 1: the command is not the session leader.
#[test]
fn new_session_with_a_pid_namespace() {
    r(&["--unshare-pid", "--new-session", "sh", "-c", SESSION])
        .every_user()
        .check();
    r(&[
        "--unshare-pid",
        "--new-session",
        "--as-pid-1",
        "sh",
        "-c",
        SESSION,
    ])
    .every_user()
    .check();
}

/// bwrap's --size: at most SIZE_MAX/2 (its suite checks 2^63+1), strtoull base 0.
#[test]
fn size_bounds() {
    r(&["--size", "9223372036854775809", "--tmpfs", "/tmp", "true"]).check();
    r(&["--size", "18446744073709551616", "--tmpfs", "/tmp", "true"]).check();
    r(&["--size", " 5", "--tmpfs", "/tmp", "true"]).check();
    let df = "df --output=size -B1 /tmp | tail -1";
    r(&["--size", "0x100000", "--tmpfs", "/tmp", "sh", "-c", df])
        .every_user()
        .check();
    r(&["--size", "04000000", "--tmpfs", "/tmp", "sh", "-c", df]).check();
}

/// The same fd twice: the first read consumes it, the second fails.
#[test]
fn seccomp_fd_named_twice() {
    r(&["--add-seccomp-fd", "3", "--add-seccomp-fd", "3", "true"])
        .redir("3</dev/null")
        .check();
    r(&["--seccomp", "3", "true"])
        .fd(3, "$F/seccomp-bad.bpf")
        .check();
}

/// bwrap ignores a --perms or --size left before the command (or `--`).
#[test]
fn perms_and_size_left_dangling_are_ignored() {
    r(&["--perms", "0700", "echo", "ran"]).every_user().check();
    r(&["--size", "100", "--", "echo", "ran"])
        .every_user()
        .check();
    r(&["--perms", "0700", "--size", "100", "echo", "ran"]).check();
}

/// bwrap keeps --uid/--gid in an int: the overflow id (uid_t)-2 and anything from 2^31
/// is refused; 2^31-1 is taken.
#[test]
fn uid_range() {
    for id in ["4294967294", "2147483648"] {
        r(&["--unshare-user", "--uid", id, "true"]).check();
        r(&["--unshare-user", "--gid", id, "true"]).check();
    }
    r(&["--unshare-user", "--uid", "2147483647", "id", "-u"])
        .every_user()
        .check();
    r(&["--unshare-user", "--uid", "+7", "--gid", " 8", "id"]).check();
}

//! Real sandboxes: each behaviour is checked from inside the sandbox (or on the host,
//! where the point is what reaches the host), as root and as an unprivileged user.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

// ---------------------------------------------------------------------------------------
// Binds

#[test]
fn ro_bind_root_is_read_only_with_every_submount() {
    for_each_user(|u| {
        let o = rooted(u)
            .sh("touch /hutch-it-created 2>&1; echo status=$?")
            .run();
        o.ok()
            .stdout_has("Read-only file system")
            .stdout_has("status=1");
        assert!(!Path::new("/hutch-it-created").exists());

        let o = rooted(u).sh(MOUNTS).run();
        o.ok();
        let mounts = parse_mounts(&o.stdout);
        assert!(mounts.len() > 1, "expected the host's submounts too{o:?}");
        for m in &mounts {
            assert!(
                m.has("ro") && m.has("nosuid") && m.has("nodev"),
                "{u:?}: {m:?} should be ro,nosuid,nodev{o:?}"
            );
        }
        mount_at(&mounts, "/");
        mount_at(&mounts, "/proc");
    });
}

#[test]
fn bind_writes_reach_the_host() {
    for_each_user(|u| {
        let d = tempdir(u);
        let o = rooted(u)
            .args(["--bind", &d.s(), &d.s()])
            .sh(&format!("echo hi > {0}/f && cat {0}/f && {MOUNTS}", d.s()))
            .run();
        o.ok();
        assert_eq!(o.lines()[0], "hi");
        assert_eq!(read(d.join("f")), "hi\n");
        assert_eq!(
            fs::metadata(d.join("f")).unwrap().uid(),
            u.uid(),
            "owner on the host"
        );
        let mounts = parse_mounts(&o.stdout);
        let m = mount_at(&mounts, &d.s());
        assert!(
            m.has("rw") && m.has("nosuid") && m.has("nodev"),
            "{m:?}{o:?}"
        );
    });
}

#[test]
fn bind_to_a_new_path_creates_it_with_the_source_type() {
    for_each_user(|u| {
        let f = fixture().display().to_string();
        let o = minimal(u)
            .args([
                "--ro-bind",
                &format!("{f}/file"),
                "/x/y/file",
                "--ro-bind",
                &format!("{f}/dir"),
                "/x/z/dir",
            ])
            .sh("cat /x/y/file; ls /x/z/dir; stat -c '%n %F' /x /x/y /x/y/file /x/z/dir")
            .run();
        o.ok().stdout_is("hello\na\nsub\n/x directory\n/x/y directory\n/x/y/file regular file\n/x/z/dir directory\n");
    });
}

#[test]
fn dev_bind_allows_devices_and_bind_does_not() {
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--dev-bind", "/dev", "/dev"])
            .sh(&format!("echo x > /dev/null && echo ok; {MOUNTS}"))
            .run();
        o.ok();
        assert_eq!(o.lines()[0], "ok");
        let m = parse_mounts(&o.stdout);
        assert!(!mount_at(&m, "/dev").has("nodev"), "{o:?}");

        let o = rooted(u)
            .args(["--bind", "/dev", "/dev"])
            .sh("echo x > /dev/null")
            .run();
        assert_ne!(o.status(), 0, "a device on a nodev bind must not open{o:?}");
        o.stderr_has("Permission denied");
    });
}

#[test]
fn try_binds_skip_missing_sources() {
    for_each_user(|u| {
        let file = fixture().join("file").display().to_string();
        let o = minimal(u)
            .args(["--tmpfs", "/t"])
            .args(["--bind-try", "/nonexistent/a", "/t/a"])
            .args(["--ro-bind-try", "/nonexistent/b", "/t/b"])
            .args(["--dev-bind-try", "/nonexistent/c", "/t/c"])
            .args(["--ro-bind-try", &file, "/t/present"])
            .sh("ls -A /t; cat /t/present")
            .run();
        o.ok().stdout_is("present\nhello\n");

        let o = minimal(u)
            .args(["--bind", "/nonexistent/a", "/t/a", "true"])
            .run();
        o.code(1)
            .stderr_is("bwrap: Can't find source path /nonexistent/a: No such file or directory\n");
    });
}

#[test]
fn try_binds_only_forgive_a_missing_source() {
    // bwrap's -try tolerates ENOENT only: a source it may not look at is still an error.
    if !is_root() {
        skip("needs root to make a directory the sandbox user cannot enter");
        return;
    }
    let src = fixture().join("private/x").display().to_string();
    let o = minimal(User::Nobody)
        .args(["--ro-bind-try", &src, "/x", "true"])
        .run();
    o.code(1).stderr_is(&format!(
        "bwrap: Can't find source path {src}: Permission denied\n"
    ));
}

#[test]
fn submounts_of_a_bind_get_its_flags() {
    if !is_root() {
        skip("needs root to mount on the host (the ro-bind of / test covers /proc)");
        return;
    }
    let d = tempdir(User::Root);
    let _m = HostMount::tmpfs(&d.join("sub"));
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--ro-bind", &d.s(), &d.s()])
            .sh(&format!("touch {}/sub/x 2>&1; {MOUNTS}", d.s()))
            .run();
        o.ok().stdout_has("Read-only file system");
        let mounts = parse_mounts(&o.stdout);
        let m = mount_at(&mounts, &format!("{}/sub", d.s()));
        assert!(
            m.has("ro") && m.has("nosuid") && m.has("nodev") && m.fstype == "tmpfs",
            "{m:?}{o:?}"
        );

        let o = rooted(u)
            .args(["--bind", &d.s(), &d.s()])
            .sh(&format!("touch {}/sub/from-{u:?} && {MOUNTS}", d.s()))
            .run();
        o.ok();
        let mounts = parse_mounts(&o.stdout);
        let m = mount_at(&mounts, &format!("{}/sub", d.s()));
        assert!(
            m.has("rw") && m.has("nosuid") && m.has("nodev"),
            "{m:?}{o:?}"
        );
        assert!(
            d.join(format!("sub/from-{u:?}")).exists(),
            "the write reached the host's submount"
        );
    });
}

#[test]
fn remount_ro_is_not_recursive() {
    for_each_user(|u| {
        let o = minimal(u)
            .args(["--tmpfs", "/t", "--tmpfs", "/t/s", "--remount-ro", "/t"])
            .sh("touch /t/s/x && echo sub-writable; touch /t/y 2>&1 || echo top-read-only")
            .run();
        o.ok()
            .stdout_has("sub-writable\n")
            .stdout_has("Read-only file system")
            .stdout_has("top-read-only\n");
    });
}

// ---------------------------------------------------------------------------------------
// proc, dev, tmpfs, mqueue

#[test]
fn proc_in_a_pid_namespace_shows_only_the_sandbox() {
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--unshare-pid", "--proc", "/proc"])
            .sh("echo $$; ls /proc | grep -c '^[0-9][0-9]*$'; cat /proc/1/comm")
            .run();
        o.ok();
        let l = o.lines();
        assert_eq!(l[0], "2", "the command is pid 2 (pid 1 is the reaper){o:?}");
        let n: u32 = l[1].parse().unwrap();
        assert!(
            (2..=4).contains(&n),
            "only init, sh, ls (and grep) are visible{o:?}"
        );
        assert_eq!(l[2], "bwrap", "pid 1 is hutch's reaper{o:?}");
    });
}

#[test]
fn proc_sys_is_not_writable() {
    for_each_user(|u| {
        // --unshare-uts: if the write went through, it would only rename the sandbox.
        let o = rooted(u)
            .args(["--unshare-pid", "--unshare-uts", "--proc", "/proc"])
            .sh(&format!(
                "echo renamed > /proc/sys/kernel/hostname 2>&1 || echo refused; {MOUNTS}"
            ))
            .run();
        o.ok();
        if !u.is_root() {
            o.stdout_has("refused\n");
        }
        // (Real root may write there, with bwrap too: bwrap covers only the entries that
        // access(W_OK) reports writable, and on this kernel /proc/sys is not among them.)
        let mounts = parse_mounts(&o.stdout);
        let p = mount_at(&mounts, "/proc");
        assert_eq!(p.fstype, "proc");
        assert!(
            p.has("nosuid") && p.has("nodev") && p.has("noexec"),
            "{p:?}"
        );
        for cover in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"] {
            for m in mounts.iter().filter(|m| m.point == cover) {
                assert!(m.has("ro"), "{cover} is covered read-only{o:?}");
            }
        }
    });
}

#[test]
fn as_pid_1_runs_the_command_as_pid_1() {
    for_each_user(|u| {
        rooted(u)
            .args(["--unshare-pid", "--as-pid-1"])
            .sh("echo $$")
            .run()
            .ok()
            .stdout_is("1\n");
    });
}

#[test]
fn dev_has_the_standard_nodes() {
    for_each_user(|u| {
        let script = r#"
            echo x > /dev/null && echo null-ok
            for n in zero full random urandom tty null; do test -c /dev/$n || echo "missing $n"; done
            test -d /dev/pts && test -c /dev/pts/ptmx && echo pts-ok
            test -d /dev/shm && echo shm-ok
            exec 3<>/dev/ptmx && echo ptmx-opens
            readlink /dev/ptmx /dev/stdin /dev/stdout /dev/stderr /dev/fd /dev/core
            head -c 4 /dev/zero | od -An -tx1
            stat -c '%a' /dev
            ls -A /dev | tr '\n' ' '; echo
        "#;
        let o = minimal(u)
            .args(["--unshare-pid", "--proc", "/proc", "--dev", "/dev"])
            .sh(script)
            .run();
        o.ok().stdout_is(
            "null-ok\npts-ok\nshm-ok\nptmx-opens\npts/ptmx\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n\
             /proc/self/fd\n/proc/kcore\n 00 00 00 00\n755\n\
             core fd full null ptmx pts random shm stderr stdin stdout tty urandom zero \n",
        );
        let o = minimal(u)
            .args(["--proc", "/proc", "--dev", "/dev"])
            .sh(MOUNTS)
            .run();
        o.ok();
        let mounts = parse_mounts(&o.stdout);
        let dev = mount_at(&mounts, "/dev");
        assert!(
            dev.fstype == "tmpfs" && dev.has("nosuid") && dev.has("nodev"),
            "{dev:?}"
        );
        let pts = mount_at(&mounts, "/dev/pts");
        assert_eq!(pts.fstype, "devpts");
        assert!(pts.super_opts.iter().any(|o| o == "mode=620"), "{pts:?}");
        assert!(
            pts.super_opts.iter().any(|o| o == "ptmxmode=666"),
            "{pts:?}"
        );
    });
}

#[test]
fn tmpfs_takes_perms_and_size() {
    for_each_user(|u| {
        let o = minimal(u)
            .args(["--proc", "/proc"])
            .args([
                "--perms", "0700", "--size", "1048576", "--tmpfs", "/t", "--tmpfs", "/d",
            ])
            .sh(&format!(
                "stat -c '%a' /t /d; stat -f -c '%b %S' /t; touch /t/x && echo writable; {MOUNTS}"
            ))
            .run();
        o.ok();
        let l = o.lines();
        assert_eq!(&l[..2], ["700", "755"], "{o:?}");
        let (blocks, bsize) = l[2].split_once(' ').unwrap();
        assert_eq!(
            blocks.parse::<u64>().unwrap() * bsize.parse::<u64>().unwrap(),
            1048576,
            "{o:?}"
        );
        assert_eq!(l[3], "writable");
        let mounts = parse_mounts(&o.stdout);
        let t = mount_at(&mounts, "/t");
        assert!(
            t.fstype == "tmpfs" && t.has("nosuid") && t.has("nodev"),
            "{t:?}"
        );
        assert!(t.super_opts.iter().any(|o| o == "size=1024k"), "{t:?}");
        assert!(t.super_opts.iter().any(|o| o == "mode=700"), "{t:?}");
    });
}

#[test]
fn mqueue_mounts_an_mqueue() {
    for_each_user(|u| {
        let o = minimal(u)
            .args([
                "--proc",
                "/proc",
                "--unshare-ipc",
                "--mqueue",
                "/dev/mqueue",
            ])
            .sh(MOUNTS)
            .run();
        o.ok();
        assert_eq!(
            mount_at(&parse_mounts(&o.stdout), "/dev/mqueue").fstype,
            "mqueue",
            "{o:?}"
        );
    });
}

// ---------------------------------------------------------------------------------------
// dir, symlink, chmod, file, bind-data

#[test]
fn dir_creates_parents_and_keeps_existing_modes() {
    for_each_user(|u| {
        let o = minimal(u)
            .args(["--dir", "/a/b/c"])
            .args(["--perms", "0700", "--dir", "/p/q"])
            .args([
                "--perms", "0750", "--dir", "/e", "--perms", "0700", "--dir", "/e",
            ])
            .args(["--perms", "01777", "--dir", "/sticky"])
            .sh("stat -c '%n %a' /a /a/b /a/b/c /p /p/q /e /sticky")
            .run();
        o.ok()
            .stdout_is("/a 755\n/a/b 755\n/a/b/c 755\n/p 700\n/p/q 700\n/e 750\n/sticky 1777\n");
    });
}

#[test]
fn created_modes_do_not_depend_on_the_callers_umask() {
    for_each_user(|u| {
        // bwrap sets up the new root with umask 0; the command gets the caller's umask.
        let o = minimal(u)
            .umask(0o077)
            .args(["--dir", "/a/b", "--perms", "0755", "--dir", "/c"])
            .args(["--perms", "01777", "--dir", "/d", "--tmpfs", "/t"])
            .args(["--file", "3", "/f", "--symlink", "x", "/s/l"]);
        let o = with_data(o, &[3])
            .sh("stat -c '%n %a' /a /a/b /c /d /t /f /s; umask")
            .run();
        o.ok()
            .stdout_is("/a 755\n/a/b 755\n/c 755\n/d 1777\n/t 755\n/f 666\n/s 700\n0077\n");
    });
}

#[test]
fn dir_under_a_bind_is_created_on_the_host() {
    for_each_user(|u| {
        let d = tempdir(u);
        minimal(u)
            .args(["--bind", &d.s(), "/b", "--dir", "/b/x/y", "true"])
            .run()
            .ok();
        assert!(d.join("x/y").is_dir());
        assert_eq!(fs::metadata(d.join("x/y")).unwrap().uid(), u.uid());
    });
}

#[test]
fn symlink_is_created_and_an_identical_one_is_accepted() {
    for_each_user(|u| {
        // An identical existing link is accepted since bubblewrap 0.9 (0.8 refuses it).
        let o = minimal(u)
            .args([
                "--symlink",
                "target",
                "/l",
                "--symlink",
                "target",
                "/l",
                "--symlink",
                "/usr",
                "/sub/abs",
            ])
            .sh("readlink /l /sub/abs")
            .run();
        o.ok().stdout_is("target\n/usr\n");
    });
}

#[test]
fn symlink_over_a_different_link_fails() {
    for_each_user(|u| {
        let o = minimal(u)
            .args(["--symlink", "a", "/l", "--symlink", "b", "/l", "true"])
            .run();
        o.code(1)
            .stderr_is("bwrap: Can't make symlink at /l: existing destination is a\n");
    });
}

#[test]
fn symlink_over_a_directory_fails() {
    for_each_user(|u| {
        let o = minimal(u)
            .args(["--dir", "/d", "--symlink", "x", "/d", "true"])
            .run();
        o.code(1).stderr_is(
            "bwrap: Can't make symlink at /d: destination exists and is not a symlink\n",
        );
    });
}

#[test]
fn chmod_changes_modes_and_follows_symlinks() {
    for_each_user(|u| {
        let o = minimal(u)
            .args(["--dir", "/d", "--chmod", "1750", "/d"])
            .args([
                "--dir",
                "/e",
                "--symlink",
                "e",
                "/l",
                "--chmod",
                "0700",
                "/l",
            ])
            .sh("stat -c '%n %a' /d /e")
            .run();
        o.ok().stdout_is("/d 1750\n/e 700\n");
        let o = minimal(u).args(["--chmod", "0755", "/nope", "true"]).run();
        o.code(1)
            .stderr_is("bwrap: Can't chmod 0755 /nope: No such file or directory\n");
    });
}

/// `cmd` with the fixture's `data` file open on each of `fds`.
fn with_data(cmd: Cmd, fds: &[u32]) -> Cmd {
    let data = fixture().join("data");
    fds.iter().fold(cmd, |cmd, fd| cmd.fd_in(*fd, &data))
}

/// The words of `s`: a fixed command line written on one line.
fn words(s: &str) -> std::str::SplitWhitespace<'_> {
    s.split_whitespace()
}

/// The fixture's overlay layer `name` (`lower1`, `lower2`).
fn lower(name: &str) -> String {
    fixture().join(name).display().to_string()
}

#[test]
fn file_copies_fd_data() {
    for_each_user(|u| {
        let o = minimal(u).args(words("--file 3 /f --perms 0640 --file 4 /p/g"));
        let o = with_data(o, &[3, 4])
            .sh("cat /f /p/g; stat -c '%n %a' /f /p /p/g; echo more >> /f && cat /f")
            .run();
        o.ok()
            .stdout_is("some data\nsome data\n/f 666\n/p 750\n/p/g 640\nsome data\nmore\n");
    });
}

#[test]
fn bind_data_and_ro_bind_data() {
    for_each_user(|u| {
        let o = minimal(u).args(words(
            "--proc /proc --bind-data 3 /b --ro-bind-data 4 /r --perms 0444 --ro-bind-data 5 /q",
        ));
        let o = with_data(o, &[3, 4, 5])
            .sh(&format!(
                "cat /b /r /q; stat -c '%n %a' /b /r /q; echo more >> /b && echo b-writable; \
                 echo more >> /r 2>&1 || echo r-read-only; {MOUNTS}"
            ))
            .run();
        o.ok();
        let l = o.lines();
        assert_eq!(
            l[..8],
            [
                "some data",
                "some data",
                "some data",
                "/b 600",
                "/r 600",
                "/q 444",
                "b-writable",
                "r-read-only"
            ][..],
            "{o:?}"
        );
        let mounts = parse_mounts(&o.stdout);
        assert!(mount_at(&mounts, "/b").has("rw"), "{o:?}");
        assert!(mount_at(&mounts, "/r").has("ro"), "{o:?}");
    });
}

#[test]
fn a_data_fd_is_used_once() {
    for_each_user(|u| {
        let o = minimal(u).args(["--file", "3", "/a", "--file", "3", "/b", "true"]);
        let o = with_data(o, &[3]).run();
        o.code(1)
            .stderr_is("bwrap: Can't write data to file /b: Bad file descriptor\n");
    });
}

// ---------------------------------------------------------------------------------------
// Namespaces and identity

#[test]
fn unshare_net_leaves_only_a_working_loopback() {
    for_each_user(|u| {
        let script = "ip -o link | awk '{print $2}'; ip -o -4 addr | awk '{print $2, $4}'; \
                      ip -o link show lo | grep -q 'LOWER_UP' && echo lo-up; \
                      bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>&1 | grep -o 'Connection refused' | head -n1; \
                      readlink /proc/self/ns/net";
        let o = rooted(u).arg("--unshare-net").sh(script).run();
        o.ok();
        let l = o.lines();
        assert_eq!(
            l[..4],
            ["lo:", "lo 127.0.0.1/8", "lo-up", "Connection refused"][..],
            "{o:?}"
        );
        assert_ne!(
            l[4],
            format!("net:[{}]", own_ns("net")),
            "a new network namespace"
        );
    });
}

/// `--bind-create SRC DEST`: SRC (and its parents) is made on the host, 0700, then
/// bound read-write at DEST.
#[test]
fn bind_create_makes_the_source_and_binds_it() {
    for_each_user(|u| {
        let t = tempdir(u);
        let src = t.join("made/here");
        let o = rooted(u)
            .args(["--tmpfs", "/mnt", "--bind-create"])
            .arg(&src)
            .arg("/mnt/x")
            .sh("echo hi > /mnt/x/f && ls /mnt/x")
            .run();
        o.ok().stdout_is("f\n");
        assert_eq!(fs::read_to_string(src.join("f")).unwrap(), "hi\n", "{u:?}");
        let mode = fs::metadata(&src).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{u:?}");
    });
}

/// The network namespace may be made beside the setup and entered after the binds
/// (src/netns.rs): a bind whose source is in /proc, where `net` shows the reader's
/// namespace, must still show the sandbox's, as under bwrap.
#[test]
fn a_bind_from_proc_shows_the_new_network_namespace() {
    let devices = |table: &str| -> Vec<String> {
        table
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|d| d.trim().to_string())
            .collect()
    };
    let host = devices(&fs::read_to_string("/proc/net/dev").unwrap());
    if host == ["lo"] {
        eprintln!("skipped: the host has no network device but lo, so both views are the same");
        return;
    }
    for_each_user(|u| {
        for src in ["/proc/net/dev", "/proc/self/net/dev", "/proc/net"] {
            let file = if src == "/proc/net" {
                "/mnt/x/dev"
            } else {
                "/mnt/x"
            };
            let o = rooted(u)
                .args([
                    "--unshare-net",
                    "--tmpfs",
                    "/mnt",
                    "--ro-bind",
                    src,
                    "/mnt/x",
                ])
                .args(["cat", file])
                .run();
            o.ok();
            assert_eq!(devices(&o.stdout), ["lo"], "{u:?} {src}{o:?}");
        }
    });
}

#[test]
fn hostname_in_a_new_uts_namespace() {
    let host = nix::unistd::gethostname().unwrap();
    for_each_user(|u| {
        rooted(u)
            .args(["--unshare-uts", "--hostname", "hutch-box"])
            .sh("hostname; uname -n")
            .run()
            .ok()
            .stdout_is("hutch-box\nhutch-box\n");
    });
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        host,
        "the host's name is untouched"
    );
}

#[test]
fn unshare_ipc_makes_a_new_ipc_namespace() {
    let host = format!("ipc:[{}]\n", own_ns("ipc"));
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--unshare-ipc", "readlink", "/proc/self/ns/ipc"])
            .run();
        o.ok();
        assert_ne!(o.stdout, host, "{o:?}");
        rooted(u)
            .args(["readlink", "/proc/self/ns/ipc"])
            .run()
            .ok()
            .stdout_is(&host);
    });
}

fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `o` succeeded and printed `want`, once [`squash`]ed.
#[track_caller]
fn squashed_is(o: &Out, want: &str) {
    assert_eq!(squash(&o.ok().stdout), want, "{o:?}");
}

#[test]
fn uid_and_gid_in_a_user_namespace() {
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--unshare-user", "--uid", "1234", "--gid", "5678"])
            .sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map")
            .run();
        let want = format!("1234\n5678\n1234 {} 1\n5678 {} 1", u.uid(), u.gid());
        squashed_is(&o, &want);
    });
}

#[test]
fn uid_with_dev_uses_a_nested_user_namespace() {
    for_each_user(|u| {
        let o = rooted(u)
            .args([
                "--unshare-user",
                "--uid",
                "1234",
                "--gid",
                "5678",
                "--dev",
                "/dev",
            ])
            .sh("id -u; id -g; cat /proc/self/uid_map; echo x > /dev/null && ls /dev/pts")
            .run();
        // The final ids map onto uid 0 of the first namespace, which owns the devpts.
        squashed_is(&o, "1234\n5678\n1234 0 1\nptmx");
    });
}

#[test]
fn unprivileged_default_maps_the_caller() {
    let u = unprivileged();
    let o = rooted(u)
        .sh("id -u; id -g; cat /proc/self/uid_map; cat /proc/self/setgroups")
        .run();
    squashed_is(&o, &format!("{0}\n{1}\n{0} {0} 1\ndeny", u.uid(), u.gid()));
}

// ---------------------------------------------------------------------------------------
// Environment, working directory, argv0

#[test]
fn env_ops_apply_in_order() {
    for_each_user(|u| {
        let o = rooted(u)
            .env("KEEP_ME_NOT", "1")
            .args([
                "--setenv",
                "A",
                "1",
                "--clearenv",
                "--setenv",
                "B",
                "2",
                "/usr/bin/env",
            ])
            .run();
        o.ok();
        let mut lines = o.lines();
        lines.sort();
        assert_eq!(lines, ["B=2", "PWD=/"], "{o:?}");

        let o = rooted(u)
            .env("FOO", "host")
            .env("X", "host")
            .args([
                "--unsetenv",
                "FOO",
                "--setenv",
                "X",
                "sandbox",
                "--setenv",
                "Y",
                "a b",
            ])
            .sh("echo ${FOO-unset} $X \"$Y\"")
            .run();
        o.ok().stdout_is("unset sandbox a b\n");
    });
}

#[test]
fn chdir_and_pwd() {
    for_each_user(|u| {
        rooted(u)
            .args(["--chdir", "/usr/share"])
            .sh("pwd; echo $PWD")
            .run()
            .ok()
            .stdout_is("/usr/share\n/usr/share\n");
        // Without --chdir: the caller's cwd when it exists inside...
        rooted(u)
            .cwd("/usr/lib")
            .sh("pwd; echo $PWD")
            .run()
            .ok()
            .stdout_is("/usr/lib\n/usr/lib\n");
        // ... else $HOME (after the env ops) ...
        minimal(u)
            .cwd(fixture())
            .args(["--setenv", "HOME", "/usr"])
            .sh("pwd; echo $PWD")
            .run()
            .ok()
            .stdout_is("/usr\n/usr\n");
        // ... else /.
        minimal(u)
            .cwd(fixture())
            .args(["--unsetenv", "HOME"])
            .sh("pwd; echo $PWD")
            .run()
            .ok()
            .stdout_is("/\n/\n");
        minimal(u)
            .cwd(fixture())
            .args(["--setenv", "HOME", "/nonexistent"])
            .sh("pwd")
            .run()
            .ok()
            .stdout_is("/\n");
    });
}

#[test]
fn argv0_sets_argv0() {
    for_each_user(|u| {
        // bubblewrap 0.9+ (not in 0.8).
        rooted(u)
            .args(["--argv0", "custom-name", "sh", "-c", "echo $0"])
            .run()
            .ok()
            .stdout_is("custom-name\n");
        let o = rooted(u)
            .args(["--argv0", "a", "--argv0", "b", "true"])
            .run();
        o.code(1).stderr_is("bwrap: --argv0 used multiple times\n");
    });
}

// ---------------------------------------------------------------------------------------
// Process tree and exit status

#[test]
fn exit_status_propagates() {
    for_each_user(|u| {
        for extra in [
            &[][..],
            &["--unshare-pid"][..],
            &["--unshare-pid", "--as-pid-1"][..],
        ] {
            rooted(u).args(extra).sh("exit 3").run().code(3);
            rooted(u).args(extra).arg("false").run().code(1);
            if !extra.contains(&"--as-pid-1") {
                // (pid 1 of a namespace cannot be killed from inside it)
                rooted(u).args(extra).sh("kill -9 $$").run().code(137);
                rooted(u).args(extra).sh("kill -TERM $$").run().code(143);
            }
        }
    });
}

#[test]
fn the_command_exit_ends_the_sandbox_even_with_background_processes() {
    for_each_user(|u| {
        for extra in [&[][..], &["--unshare-pid"][..]] {
            let o = rooted(u).args(extra).sh("sleep 100 & exit 3").run();
            o.code(3);
            assert!(o.took < Duration::from_secs(5), "took {:?}{o:?}", o.took);
        }
    });
}

#[test]
fn exec_failure_is_reported() {
    for_each_user(|u| {
        let o = rooted(u).arg("/nonexistent/cmd").run();
        o.code(1)
            .stderr_is("bwrap: execvp /nonexistent/cmd: No such file or directory\n");
        let o = rooted(u)
            .args(["--setenv", "PATH", "/usr/bin", "no-such-command-here"])
            .run();
        o.code(1)
            .stderr_is("bwrap: execvp no-such-command-here: No such file or directory\n");
    });
}

fn process_state(pid: i32) -> Option<(String, char)> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    Some((comm.trim().to_string(), state))
}

fn alive_sleep(pid: i32) -> bool {
    matches!(process_state(pid), Some((c, s)) if c == "sleep" && s != 'Z' && s != 'X')
}

/// Start `hutch ARGS sh -c '...; exec sleep 60'` from a shell run by `u`, and return the
/// running shell with the host pid of the sleep.
fn sandboxed_sleep(u: User, args: &[&str], d: &TempDir) -> (Running, i32) {
    // The sandbox's /proc is the host's (--ro-bind / /): /proc/self/stat gives the host pid.
    let script = format!(
        "read -r pid rest < /proc/self/stat; echo $pid > {}/pid; exec sleep 60",
        d.s()
    );
    let running = Cmd::new(Path::new("/bin/bash"), u)
        .args(["-c", "\"$@\" & wait", "bash"])
        .arg(bwrap_path())
        .args(["--ro-bind", "/", "/", "--bind", &d.s(), &d.s()])
        .args(args)
        .args(["sh", "-c", &script])
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = fs::read_to_string(d.join("pid")) {
            if let Ok(pid) = s.trim().parse::<i32>() {
                if alive_sleep(pid) {
                    return (running, pid);
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the sandboxed sleep did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn die_with_parent_kills_the_sandbox_when_the_parent_dies() {
    for_each_user(|u| {
        for extra in [
            &["--die-with-parent"][..],
            &["--die-with-parent", "--unshare-pid"][..],
        ] {
            let d = tempdir(u);
            let (mut parent, pid) = sandboxed_sleep(u, extra, &d);
            parent.kill_leader();
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive_sleep(pid) {
                assert!(
                    Instant::now() < deadline,
                    "{u:?} {extra:?}: the sandbox outlived its parent"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // The control: without the flag the sandbox survives its parent.
        let d = tempdir(u);
        let (mut parent, pid) = sandboxed_sleep(u, &[], &d);
        parent.kill_leader();
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            alive_sleep(pid),
            "without --die-with-parent the sandbox keeps running"
        );
        drop(parent); // kills the rest of the process group
    });
}

const SESSION: &str = "read -r pid comm state ppid pgrp session rest < /proc/self/stat; \
                       if [ $pid = $session ]; then echo leader; else echo not-leader; fi";

#[test]
fn new_session_makes_the_command_a_session_leader() {
    for_each_user(|u| {
        rooted(u)
            .arg("--new-session")
            .sh(SESSION)
            .run()
            .ok()
            .stdout_is("leader\n");
        rooted(u).sh(SESSION).run().ok().stdout_is("not-leader\n");
    });
}

fn lock_holder(path: &Path) -> Option<libc::flock> {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut fl = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GETLK(&mut fl)).unwrap();
    (fl.l_type != libc::F_UNLCK as libc::c_short).then_some(fl)
}

#[test]
fn lock_file_is_read_locked_while_the_sandbox_runs() {
    for_each_user(|u| {
        let d = tempdir(u);
        let lock = d.join("lock");
        fs::write(&lock, "").unwrap();
        fs::set_permissions(&lock, fs::Permissions::from_mode(0o644)).unwrap();
        let mut running = rooted(u)
            .args([
                "--bind",
                &d.s(),
                &d.s(),
                "--lock-file",
                &lock.display().to_string(),
            ])
            .sh(&format!(
                "while [ ! -e {}/stop ]; do sleep 0.02; done",
                d.s()
            ))
            .spawn();
        let deadline = Instant::now() + Duration::from_secs(10);
        let held = loop {
            if let Some(fl) = lock_holder(&lock) {
                break fl;
            }
            assert!(!running.poll(), "the sandbox ended early");
            assert!(Instant::now() < deadline, "the lock was never taken");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(held.l_type, libc::F_RDLCK as libc::c_short, "a read lock");
        fs::write(d.join("stop"), "").unwrap();
        running.wait().ok();
        assert!(
            lock_holder(&lock).is_none(),
            "the lock goes with the sandbox"
        );
    });
}

#[test]
fn sync_fd_is_held_by_pid_1_and_closed_in_the_command() {
    for_each_user(|u| {
        let d = tempdir(User::Root);
        let sync = d.join("sync");
        let check = "test -e /proc/self/fd/3 && echo command-has-it || echo command-closed";
        let o = rooted(u)
            .args(["--unshare-pid", "--proc", "/proc", "--sync-fd", "3"])
            .fd_out(3, &sync)
            .sh(&format!("{check}; readlink /proc/1/fd/3"))
            .run();
        o.ok()
            .stdout_is(&format!("command-closed\n{}\n", sync.display()));
        // With --as-pid-1 there is no reaper: the command keeps it.
        let o = rooted(u)
            .args(["--unshare-pid", "--as-pid-1", "--sync-fd", "3"])
            .fd_out(3, &sync)
            .sh(check)
            .run();
        o.ok().stdout_is("command-has-it\n");
    });
}

#[test]
fn block_fd_waits_for_data() {
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--block-fd", "3"])
            .redir("3< <(sleep 0.5; printf x)")
            .sh("echo ran")
            .run();
        o.ok().stdout_is("ran\n");
        assert!(
            o.took >= Duration::from_millis(450),
            "did not wait: {:?}{o:?}",
            o.took
        );
    });
}

// ---------------------------------------------------------------------------------------
// Reporting fds

#[test]
fn info_fd_reports_the_child_and_its_namespaces() {
    for_each_user(|u| {
        let d = tempdir(User::Root);
        let info = d.join("info");
        let o = rooted(u)
            .args([
                "--unshare-net",
                "--unshare-pid",
                "--unshare-uts",
                "--unshare-ipc",
                "--info-fd",
                "3",
            ])
            .fd_out(3, &info)
            .sh("for n in ipc mnt net pid uts; do readlink /proc/self/ns/$n; done")
            .run();
        o.ok();
        let text = read(&info);
        assert!(
            text.starts_with("{\n    \"child-pid\": ") && text.ends_with("\n}\n"),
            "layout: {text:?}"
        );
        let obj = parse_flat_json(&text).unwrap();
        assert_eq!(
            json_keys(&obj),
            [
                "child-pid",
                "ipc-namespace",
                "mnt-namespace",
                "net-namespace",
                "pid-namespace",
                "uts-namespace"
            ],
            "{text}"
        );
        assert!(json_get(&obj, "child-pid").unwrap() > 1);
        for (line, ns) in o.lines().iter().zip(["ipc", "mnt", "net", "pid", "uts"]) {
            let id = json_get(&obj, &format!("{ns}-namespace")).unwrap();
            assert_eq!(*line, format!("{ns}:[{id}]"), "{text}{o:?}");
        }

        // Only the namespaces that were created (never the user namespace).
        let o = rooted(u)
            .args(["--info-fd", "3"])
            .fd_out(3, &info)
            .arg("true")
            .run();
        o.ok();
        let obj = parse_flat_json(&read(&info)).unwrap();
        assert_eq!(json_keys(&obj), ["child-pid", "mnt-namespace"]);
    });
}

#[test]
fn json_status_fd_reports_the_exit_code_only_after_exec() {
    for_each_user(|u| {
        let d = tempdir(User::Root);
        let status = d.join("status");
        rooted(u)
            .args(["--unshare-pid", "--json-status-fd", "3"])
            .fd_out(3, &status)
            .sh("exit 3")
            .run()
            .code(3);
        let text = read(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with("{ \"child-pid\": ") && lines[0].ends_with(" }"),
            "{text}"
        );
        let first = parse_flat_json(lines[0]).unwrap();
        assert_eq!(
            json_keys(&first),
            ["child-pid", "mnt-namespace", "pid-namespace"]
        );
        assert_eq!(lines[1], "{ \"exit-code\": 3 }");

        // A failed exec writes no exit-code.
        rooted(u)
            .args(["--json-status-fd", "3"])
            .fd_out(3, &status)
            .arg("/nonexistent")
            .run()
            .code(1);
        let text = read(&status);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("exit-code"), "{text}");

        // Neither does a failed setup.
        rooted(u)
            .args([
                "--json-status-fd",
                "3",
                "--bind",
                "/nonexistent",
                "/x",
                "true",
            ])
            .fd_out(3, &status)
            .run()
            .code(1);
        assert!(!read(&status).contains("exit-code"));
    });
}

// ---------------------------------------------------------------------------------------
// Capabilities, no_new_privs, seccomp

fn caps_of(o: &Out) -> Vec<(String, u64)> {
    o.lines()
        .iter()
        .filter_map(|l| l.split_once(":\t"))
        .map(|(k, v)| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap()))
        .collect()
}

fn cap(o: &Out, set: &str) -> u64 {
    caps_of(o)
        .into_iter()
        .find(|(k, _)| k == set)
        .unwrap_or_else(|| panic!("no {set}{o:?}"))
        .1
}

const CAPS: &str = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status";
const CAP_NET_ADMIN: u64 = 1 << 12;
const CAP_SYS_ADMIN: u64 = 1 << 21;

/// One capability set of the test process itself.
fn own_cap(set: &str) -> u64 {
    read("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{set}:\t")).map(String::from))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap()
}

/// Every capability this kernel knows.
fn all_caps() -> u64 {
    let last: u32 = read("/proc/sys/kernel/cap_last_cap")
        .trim()
        .parse()
        .unwrap();
    (1u64 << (last + 1)) - 1
}

#[test]
fn capabilities_by_default() {
    for_each_user(|u| {
        let o = rooted(u).sh(CAPS).run();
        o.ok();
        if u.is_root() {
            assert_eq!(
                cap(&o, "CapEff"),
                own_cap("CapEff"),
                "root keeps its capabilities{o:?}"
            );
        } else {
            for (k, v) in caps_of(&o) {
                assert_eq!(v, 0, "{k}{o:?}");
            }
        }
    });
}

#[test]
fn cap_add_and_cap_drop() {
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--cap-drop", "ALL", "--cap-add", "CAP_NET_ADMIN"])
            .sh(CAPS)
            .run();
        o.ok();
        for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
            assert_eq!(cap(&o, set), CAP_NET_ADMIN, "{set}{o:?}");
        }
        if !u.is_root() {
            assert_eq!(
                cap(&o, "CapBnd"),
                CAP_NET_ADMIN,
                "the bounding set is limited{o:?}"
            );
        }
        // A capability the sandbox user could not have had otherwise works inside the namespace.
        let admin = "ip link set lo mtu 1280 2>&1 && echo admin";
        let o = rooted(u)
            .args([
                "--unshare-net",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CAP_NET_ADMIN",
            ])
            .sh(admin)
            .run();
        o.ok().stdout_is("admin\n");
        let o = rooted(u)
            .args(["--unshare-net", "--cap-drop", "ALL"])
            .sh(admin)
            .run();
        assert_ne!(o.status(), 0, "without the capability{o:?}");
        o.stdout_has("Operation not permitted");
    });
}

#[test]
fn cap_add_all_in_a_user_namespace() {
    for_each_user(|u| {
        // In a new user namespace every capability exists; added ones are also ambient,
        // so that they survive the exec of the command by a non-root uid.
        let o = rooted(u)
            .args(["--unshare-user", "--cap-add", "ALL"])
            .sh(CAPS)
            .run();
        o.ok();
        for set in ["CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"] {
            assert_eq!(cap(&o, set), all_caps(), "{set}{o:?}");
        }
        let o = rooted(u)
            .args([
                "--unshare-user",
                "--cap-add",
                "ALL",
                "--cap-drop",
                "CAP_SYS_ADMIN",
            ])
            .sh(CAPS)
            .run();
        o.ok();
        for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
            assert_eq!(cap(&o, set), all_caps() & !CAP_SYS_ADMIN, "{set}{o:?}");
        }
    });
}

#[test]
fn cap_add_all_as_root_is_limited_to_the_bounding_set() {
    if !is_root() {
        skip("needs real root");
        return;
    }
    // Real root without a user namespace: ALL can only mean what the bounding set still
    // has (containers often lack some, this machine lacks CAP_SYS_RESOURCE), and the
    // --cap-drop after it must be applied.
    let bounding = own_cap("CapBnd");
    let o = rooted(User::Root)
        .args(["--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN"])
        .sh(CAPS)
        .run();
    o.ok();
    assert_eq!(cap(&o, "CapEff"), bounding & !CAP_SYS_ADMIN, "{o:?}");
}

#[test]
fn no_new_privs_is_set() {
    for_each_user(|u| {
        rooted(u)
            .args(["grep", "^NoNewPrivs:", "/proc/self/status"])
            .run()
            .ok()
            .stdout_is("NoNewPrivs:\t1\n");
    });
}

#[test]
fn seccomp_program_from_fd_is_applied() {
    for_each_user(|u| {
        let bpf = fixture().join("seccomp-uname.bpf");
        let o = rooted(u)
            .args(["--seccomp", "3", "uname"])
            .fd_in(3, &bpf)
            .run();
        o.code(1).stderr_has("Operation not permitted");
        rooted(u)
            .args(["--seccomp", "3"])
            .fd_in(3, &bpf)
            .sh("echo other-syscalls-work")
            .run()
            .ok()
            .stdout_is("other-syscalls-work\n");

        let allow = fixture().join("seccomp-allow.bpf");
        let o = rooted(u)
            .args(["--add-seccomp-fd", "3", "--add-seccomp-fd", "4", "uname"])
            .fd_in(3, &allow)
            .fd_in(4, &bpf)
            .run();
        o.code(1).stderr_has("Operation not permitted");
    });
}

#[test]
fn seccomp_data_must_be_whole_instructions() {
    for_each_user(|u| {
        let o = rooted(u)
            .args(["--seccomp", "3", "true"])
            .fd_in(3, &fixture().join("seccomp-bad.bpf"))
            .run();
        o.code(1)
            .stderr_is("bwrap: Invalid seccomp data, must be multiple of 8\n");
    });
}

// ---------------------------------------------------------------------------------------
// --args, --level-prefix

#[test]
fn args_fd_splices_many_operations() {
    for_each_user(|u| {
        // Each row: the fixture file given to --args (which names it), the script, its stdout.
        for (file, script, want) in [
            (
                "args-many",
                "ls /many | wc -l; cat /many/f99",
                "400\nhello\n",
            ),
            ("args-env", "echo $FROM_ARGS", "yes\n"),
        ] {
            let o = minimal(u)
                .args(["--args", "3"])
                .fd_in(3, &fixture().join(file))
                .sh(script)
                .run();
            assert_eq!(o.code, 0, "{u:?} {file}{o:?}");
            assert_eq!(o.stdout, want, "{u:?} {file}{o:?}");
        }
    });
}

/// Each row, as each user: `rooted` with the row's arguments (which name it) exits with
/// its status and prints its stderr.
fn statuses_and_stderr(rows: &[(&str, i32, &str)]) {
    for_each_user(|u| {
        for (args, code, stderr) in rows {
            let o = rooted(u).args(args.split_whitespace()).run();
            assert_eq!(
                (o.code, o.stderr.as_str()),
                (*code, *stderr),
                "{u:?} {args}{o:?}"
            );
        }
    });
}

#[test]
fn level_prefix_marks_errors_and_warnings() {
    statuses_and_stderr(&[
        (
            "--level-prefix --chdir / --chdir / true",
            0,
            "<4>bwrap: Only the last --chdir option will take effect\n",
        ),
        (
            "--level-prefix --bind /nonexistent /x true",
            1,
            "<3>bwrap: Can't find source path /nonexistent: No such file or directory\n",
        ),
    ]);
}

#[test]
fn level_prefix_applies_from_where_it_is_parsed() {
    statuses_and_stderr(&[
        // bwrap sets the prefix when it parses --level-prefix: a warning emitted before is plain.
        (
            "--chdir / --chdir / --level-prefix true",
            0,
            "bwrap: Only the last --chdir option will take effect\n",
        ),
        // A parse error after --level-prefix is prefixed, one before it is not.
        (
            "--level-prefix --frob true",
            1,
            "<3>bwrap: Unknown option --frob\n",
        ),
        (
            "--level-prefix --uid abc true",
            1,
            "<3>bwrap: Invalid uid: abc\n",
        ),
        (
            "--frob --level-prefix true",
            1,
            "bwrap: Unknown option --frob\n",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// Overlays (bubblewrap 0.11; not in the installed 0.8, so checked directly)

#[test]
fn tmp_overlay_keeps_writes_in_the_sandbox() {
    for_each_user(|u| {
        let lower = fixture().join("lower1");
        let lower_s = lower.display().to_string();
        let in_overlay = |script: &str| {
            minimal(u)
                .args(["--overlay-src", &lower_s, "--tmp-overlay", "/o"])
                .sh(script)
                .run()
        };
        let o = in_overlay("cat /o/one; echo new > /o/new; cat /o/new");
        o.ok().stdout_is("lower1\nnew\n");
        if u.is_root() {
            // (Copy-up of a file whose owner is not mapped fails with EOVERFLOW, so only
            // root changes a lower file.)
            let o = in_overlay("echo changed > /o/one; cat /o/one");
            o.ok().stdout_is("changed\n");
        }
        assert_eq!(read(lower.join("one")), "lower1\n");
        assert!(!lower.join("new").exists());
    });
}

#[test]
fn ro_overlay_stacks_later_sources_on_top() {
    for_each_user(|u| {
        let (l1, l2) = (lower("lower1"), lower("lower2"));
        let o = minimal(u)
            .args([
                "--overlay-src",
                &l1,
                "--overlay-src",
                &l2,
                "--ro-overlay",
                "/o",
            ])
            .sh("ls /o | tr '\\n' ' '; cat /o/both; touch /o/x 2>&1 || echo read-only")
            .run();
        o.ok()
            .stdout_has("both one two from lower2\n")
            .stdout_has("Read-only file system")
            .stdout_has("read-only\n");
    });
}

#[test]
fn overlay_writes_go_to_the_upper_dir() {
    for_each_user(|u| {
        let d = tempdir(u);
        fs::create_dir(d.join("upper")).unwrap();
        fs::create_dir(d.join("work")).unwrap();
        if is_root() {
            for p in ["upper", "work"] {
                std::os::unix::fs::chown(d.join(p), Some(u.uid()), Some(u.gid())).unwrap();
            }
        }
        let o = minimal(u)
            .args([
                "--overlay-src",
                &lower("lower1"),
                "--overlay",
                &d.join("upper").display().to_string(),
                &d.join("work").display().to_string(),
                "/o",
            ])
            .sh("echo new > /o/new && cat /o/one /o/new")
            .run();
        o.ok().stdout_is("lower1\nnew\n");
        assert_eq!(read(d.join("upper/new")), "new\n");
    });
}

// ---------------------------------------------------------------------------------------
// The host stays clean

#[test]
fn no_host_visible_leftovers() {
    let _ = fixture(); // the test directory exists before the snapshot
    let dirs = ["/tmp", "/var/tmp", "/", "/run", "/dev/shm"];
    let before: Vec<_> = dirs.iter().map(|d| listing(d)).collect();
    let mounts_before = host_mounts();
    let lower = lower("lower1");
    for_each_user(|u| {
        let everything = minimal(u)
            .args(words(
                "--tmpfs /t --bind-data 3 /t/b --ro-bind-data 4 /t/r --file 5 /t/f",
            ))
            .args(["--overlay-src", &lower, "--tmp-overlay", "/o"])
            .args(words(
                "--dev /dev --unshare-pid --proc /proc --mqueue /mq --unshare-ipc \
                 --lock-file /t/f --sync-fd 6",
            ));
        with_data(everything, &[3, 4, 5])
            .fd_out(6, Path::new("/dev/null"))
            .sh("echo x > /o/new && cat /t/b /t/r /t/f > /dev/null && ls / > /dev/null")
            .run()
            .ok();
        let tmp_data = rooted(u).args(words("--tmpfs /tmp --bind-data 3 /tmp/b"));
        with_data(tmp_data, &[3]).arg("true").run().ok();
        // Failures part-way through the setup.
        let bad_bind = rooted(u).args(words(
            "--tmpfs /tmp --bind-data 3 /tmp/b --bind /nonexistent /x true",
        ));
        with_data(bad_bind, &[3]).run().code(1);
        let bad_dir = minimal(u).args(words("--bind-data 3 /b --dir /usr/cannot true"));
        with_data(bad_dir, &[3]).run().code(1);
    });
    for (d, before) in dirs.iter().zip(&before) {
        assert_eq!(
            hutchs_new_entries(
                d,
                before,
                &["/t", "/b", "/r", "/f", "/o", "/new", "/mq", "/x", "/cannot", "/usr"]
            ),
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

/// The command inherits the caller's SIGPIPE disposition, as with bwrap: the default
/// when the caller has the default, "ignore" when the caller ignores it. (hutch does
/// not start through Rust's runtime, which would set it to "ignore", and an ignored
/// signal stays ignored across exec: `yes | head -1` would then make `yes` fail with
/// EPIPE instead of ending quietly.) The standard descriptors the caller closed are
/// open on /dev/null, so that nothing hutch opens can take their place.
#[test]
fn sigpipe_disposition_passes_through_and_closed_stdio_is_dev_null() {
    const SIGPIPE_BIT: u64 = 1 << (libc::SIGPIPE - 1);
    for_each_user(|u| {
        for bin in [bwrap_path(), hutch_path()] {
            for ignored in [false, true] {
                let trap = if ignored { "trap '' PIPE; " } else { "" };
                let o = Cmd::new(Path::new("/bin/sh"), u)
                    .args(["-c", &format!("{trap}exec \"$0\" \"$@\"")])
                    .arg(bin)
                    .args(["--ro-bind", "/", "/", "--dev", "/dev", "sh", "-c"])
                    .arg("sed -n 's/^SigIgn:\t//p' /proc/self/status; yes | head -n 1 >/dev/null")
                    .run();
                o.code(0);
                let mask = u64::from_str_radix(o.stdout.trim(), 16).unwrap();
                assert_eq!(
                    mask & SIGPIPE_BIT != 0,
                    ignored,
                    "{bin:?} ignored={ignored}: {o:?}"
                );
                // `yes` dies of SIGPIPE quietly, or complains of EPIPE where it is ignored.
                assert_eq!(o.stderr.contains("Broken pipe"), ignored, "{o:?}");
            }
            let o = Cmd::new(bin, u)
                .args(["--ro-bind", "/", "/", "sh", "-c"])
                .arg("readlink /proc/self/fd/0 /proc/self/fd/2")
                .redir("0<&-")
                .redir("2>&-")
                .run();
            assert_eq!(o.stdout, "/dev/null\n/dev/null\n", "{o:?}");
        }
    });
}

/// The drop-in details of issue 15 hold under the `hutch` name too (the differential
/// tests cover the `bwrap` name): the logical working directory, a script without
/// `#!`, `--new-session` with a pid namespace, a relative `--overlay-src` after
/// `--tmpfs /tmp`, and `--size` bounded at SIZE_MAX/2.
#[test]
fn drop_in_details_under_the_hutch_name() {
    for_each_user(|u| {
        let d = tempfile::Builder::new()
            .prefix(TEST_PREFIX)
            .tempdir_in("/var/tmp")
            .unwrap();
        let p = d.path();
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["real", "lower", "upper", "work"] {
            fs::create_dir(p.join(sub)).unwrap();
        }
        fs::write(p.join("lower/a"), "from lower\n").unwrap();
        std::os::unix::fs::symlink("real", p.join("alias")).unwrap();
        let script = p.join("real/noshebang");
        fs::write(&script, "echo \"ran $0 $*\"\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        if u.uid() != 0 {
            for sub in ["upper", "work"] {
                std::os::unix::fs::chown(p.join(sub), Some(u.uid()), Some(u.gid())).unwrap();
            }
        }
        let alias = p.join("alias").display().to_string();
        let h = || Cmd::new(hutch_path(), u).args(["--ro-bind", "/", "/"]);
        h().sh("echo $PWD; pwd")
            .cwd(&alias)
            .env("PWD", &alias)
            .run()
            .ok()
            .stdout_is(&format!("{alias}\n{alias}\n"));
        h().args(["--chdir", &alias])
            .sh("echo $PWD")
            .run()
            .ok()
            .stdout_is(&format!("{alias}\n"));
        h().args([script.to_str().unwrap(), "x"])
            .run()
            .ok()
            .stdout_is(&format!("ran {} x\n", script.display()));
        h().args(["--unshare-pid", "--new-session", "sh", "-c"])
            .arg(
                "read -r pid comm state ppid pgrp session rest < /proc/self/stat; \
                 [ $pid != $session ] && echo not-leader",
            )
            .run()
            .ok()
            .stdout_is("not-leader\n");
        Cmd::new(hutch_path(), u)
            .args(["--bind", "/", "/", "--tmpfs", "/tmp"])
            .args([
                "--overlay-src",
                "lower",
                "--overlay",
                "upper",
                "work",
                "/tmp/o",
            ])
            .args(["cat", "/tmp/o/a"])
            .cwd(p)
            .run()
            .ok()
            .stdout_is("from lower\n");
        // A source through an absolute symlink is found from the host's root, as
        // bwrap's realpath finds it (under both names).
        std::os::unix::fs::symlink(p.join("lower"), p.join("abslink")).unwrap();
        for bin in [hutch_path(), bwrap_path()] {
            Cmd::new(bin, u)
                .args(["--ro-bind", "/", "/", "--tmpfs", "/tmp"])
                .args(["--overlay-src", "abslink", "--tmp-overlay", "/tmp/o"])
                .args(["cat", "/tmp/o/a"])
                .cwd(p)
                .run()
                .ok()
                .stdout_is("from lower\n");
        }
        h().args(["--size", "9223372036854775809", "--tmpfs", "/tmp", "true"])
            .run()
            .code(1)
            .stderr_is("hutch: --size (for tmpfs) is limited to 9223372036854775807\n");
        h().args(["--perms", "0700", "true"])
            .run()
            .code(1)
            .stderr_is("hutch: --perms must be followed by an option that creates a file\n");
        h().args(["--size", "100", "--", "true"])
            .run()
            .code(1)
            .stderr_is("hutch: --size must be followed by --tmpfs\n");
    });
}

/// `--version`, under both names and after other options: hutch's own name and the
/// version it was built as, on one line, exit 0 (bwrap prints `bubblewrap X.Y.Z` the
/// same way, which a caller that parses it finds in the same shape).
#[test]
fn version_names_hutch_and_its_version_under_both_names() {
    let expected = format!("hutch {}\n", env!("CARGO_PKG_VERSION"));
    for_each_user(|user| {
        for prog in [bwrap_path(), hutch_path()] {
            for args in [
                &["--version"][..],
                &["--ro-bind", "/", "/", "--version", "true"],
            ] {
                let o = Cmd::new(prog, user).args(args).run();
                o.ok().stdout_is(&expected).stderr_is("");
            }
        }
    });
    if Path::new(SYSTEM_BWRAP).exists() {
        let o = Cmd::new(Path::new(SYSTEM_BWRAP), unprivileged())
            .args(["--ro-bind", "/", "/", "--version", "true"])
            .run();
        o.ok().stderr_is("");
        let words: Vec<&str> = o.stdout.trim_end().split(' ').collect();
        assert_eq!(words.len(), 2, "{o:?}");
        assert_eq!(words[1].split('.').count(), 3, "{o:?}");
        assert_eq!(
            expected
                .trim_end()
                .split(' ')
                .nth(1)
                .unwrap()
                .split('.')
                .count(),
            3
        );
    }
}

/// The runner of tests/support (tests/README.md's example): stdin, the environment,
/// setpriv's `--reset-env` and the user, as each user.
#[test]
fn the_test_runner_passes_stdin_env_and_user() {
    for_each_user(|u| {
        let o = bwrap(u)
            .args(["--ro-bind", "/", "/"])
            .sh("cat; echo $X; id -u")
            .stdin("hi\n")
            .env("X", "1")
            .run();
        o.ok().stdout_is(&format!("hi\n1\n{}\n", u.uid()));
        // What is set before --reset-env is dropped; what is set after it is passed.
        let o = u
            .cmd("sh")
            .args(["-c", "echo ${X-unset} ${Y-unset}"])
            .env("X", "2")
            .reset_env()
            .env("Y", "3")
            .run();
        o.ok().stdout_is("unset 3\n");
    });
}

//! The escape suite: attempts, made from inside a sandbox, to get out of it or to do
//! more than it allows. Each must fail. Each test also makes the same attempt where the
//! protection is missing, and shows that it works there, so the test can fail.
//!
//! Each attempt runs as an unprivileged user (nobody, or the current user when the
//! tests do not run as root). It runs under the default `hutch` settings, with the
//! binary invoked as `hutch`, and, where it applies, under bwrap's defaults, with the
//! binary invoked as `bwrap`. When the suite runs as root, the attempts run as root
//! too, as uid 0 in a user namespace without capabilities (`--unshare-user --cap-drop
//! ALL`). Real root without a user namespace keeps its capabilities, as with bwrap,
//! and no sandbox holds it.
//!
//! Run it with `cargo test --release --test it escape`.
//!
//! # What hutch promises, and what it does not
//!
//! - Under both names, nothing the sandbox builds leads to the host. This covers
//!   read-only mounts, /proc links, symlinks met while building the root, hutch's own
//!   descriptors, its binary, other processes and the host's namespaces.
//! - Under the `hutch` name, Landlock, the seccomp policy, no inherited descriptors,
//!   a pid namespace (unless `--share-pid`), a pid 1 that is not dumpable,
//!   masked host unix sockets and no_new_privs apply as well.
//! - Under the `bwrap` name, the descriptors the caller passes reach the command, as
//!   with bwrap. The caller hands them over; hutch adds none of its own.
//! - Without `--unshare-pid`, under the `bwrap` name, the sandbox can send signals to
//!   the caller's other processes, as with bwrap.
//! - A capability added with `--cap-add` is really granted. Under the `bwrap` name,
//!   `--cap-add CAP_SYS_ADMIN` lets the command remount a read-only bind read-write.
//!   Only what the user could write anyway becomes writable.
//!
//! # Index of every escape case in the tests
//!
//! | Attempt | Test |
//! |---|---|
//! | write through a read-only bind and its submounts | `it::escape::read_only_binds_refuse_writes_and_so_do_their_submounts` |
//! | (flags of the bind of `/`, bwrap name) | `it::core::ro_bind_root_is_read_only_with_every_submount` |
//! | (flags of a host submount) | `it::core::submounts_of_a_bind_get_its_flags` |
//! | write to /proc/sys | `it::core::proc_sys_is_not_writable` |
//! | mount, remount a read-only bind read-write | `it::escape::mounting_and_remounting_read_write_fail` |
//! | reach the host through /proc/1/root, /proc/self/root, /proc/self/cwd, /proc/PPID/root | `it::escape::proc_links_do_not_lead_to_the_host` |
//! | follow a symlinked parent out of the new root while hutch creates a destination | `it::escape::symlinked_parents_never_create_anything_on_the_host` |
//! | mount or create through a destination that is a symlink out of the new root | `it::escape::symlinked_destinations_stay_in_the_new_root` |
//! | overwrite the hutch binary through /proc/1/exe, /proc/PPID/exe (runc CVE-2019-5736) | `it::escape::the_hutch_binary_cannot_be_overwritten_through_proc_exe` |
//! | use an inherited or leaked descriptor (runc CVE-2024-21626) | `it::escape::no_descriptor_leads_out` |
//! | (inherited fds closed unless `--keep-fd`) | `it::harden::inherited_descriptors_are_closed_unless_named` |
//! | TIOCSTI / TIOCLINUX into the controlling terminal (CVE-2017-5226, CVE-2019-10063) | `it::escape::terminal_injection_is_refused` |
//! | (TIOCSTI on a pty of one's own) | `it::harden::tiocsti_is_denied_by_the_default_policy` |
//! | see host processes, ptrace or signal them | `it::escape::host_processes_are_invisible_and_unreachable` |
//! | (pid namespace contents) | `it::core::proc_in_a_pid_namespace_shows_only_the_sandbox` |
//! | (signals, abstract sockets; Landlock scoping) | `it::harden::signals_do_not_leave_the_sandbox`, `it::harden::abstract_unix_sockets_outside_are_unreachable` |
//! | change a host process's priority, CPU affinity, limits or I/O priority by pid (hutch's default pid namespace) | `it::harden::host_processes_cannot_be_changed_by_pid` |
//! | (a thread's own id still works) | `it::harden::threads_still_set_their_own_affinity_and_priority` |
//! | renice or ionice the caller's process group or user | `it::harden::priority_by_process_group_or_user_is_refused` |
//! | (the pid namespace in `--report` and `--explain`) | `it::harden::report_and_explain_show_the_default_pid_namespace` |
//! | read or ptrace hutch's pid 1 (`/proc/1/mem`, `environ`, `exe`, `fd`) | `it::harden::pid_1_cannot_be_read_or_ptraced`, `it::escape::no_descriptor_leads_out`, `it::escape::the_hutch_binary_cannot_be_overwritten_through_proc_exe` |
//! | TIOCSETD (a new line discipline) on a terminal | `it::harden::tiocsetd_is_denied_by_the_default_policy` |
//! | modify_ldt | `it::harden::modify_ldt_is_denied` |
//! | execute a memfd where the Landlock rules forbid executing a writable place | `it::harden::memfd_execution_is_refused_where_writable_places_may_not_execute` |
//! | gain privileges through a setuid binary | `it::escape::setuid_binaries_grant_nothing` |
//! | (no_new_privs) | `it::core::no_new_privs_is_set` |
//! | create a user namespace when disabled | `it::escape::new_user_namespaces_stay_disabled` |
//! | (`unshare -U`, `clone(CLONE_NEWUSER)` under the policy) | `it::harden::no_new_user_namespaces` |
//! | change the host's hostname | `it::escape::the_hosts_hostname_cannot_change` |
//! | (a hostname inside a new UTS namespace) | `it::core::hostname_in_a_new_uts_namespace` |
//! | bind a privileged port without the capability | `it::escape::privileged_ports_need_the_capability` |
//! | weaken hutch's seccomp filter with one's own | `it::escape::an_allow_all_seccomp_filter_does_not_weaken_hutchs` |
//! | (keyctl, bpf refused; kill action) | `it::harden::keyctl_and_bpf_are_denied`, `it::harden::seccomp_kill_action_kills` |
//! | write outside the Landlock rules, create in the sandbox's root | `it::harden::explicit_rules_deny_a_write_the_mount_allows`, `it::harden::sandbox_root_is_list_only_under_landlock` |
//! | in Landlock-only mode, chmod, chown, touch or setxattr a file beneath a read-only rule, directly or through a symlink from a writable place | `it::landlock_only::metadata_changes_only_beneath_write_rules` |
//! | (a Landlock-only hutch inside another: the enclosing supervisor) | `it::landlock_only::nested_landlock_only_names_the_enclosing_supervisor` |
//! | connect to a TCP port not allowed | `it::harden::tcp_connect_is_limited_to_allowed_ports` |
//! | with `--allow-host`/`--allow-net`: reach a name, an address or a port not allowed, over TCP or UDP, from a client that ignores proxies (the same attempts succeed with the network shared) | `it::net_allow::only_allowed_names_and_addresses_are_reached`, `it::net_allow::wildcards_port_rules_udp_and_ipv6` |
//! | (DNS rebinding: an allowed name that resolves to the host's loopback; it works once `--allow-net` allows the address) | `it::net_allow::rebinding_is_refused_and_cname_chains_are_followed` |
//! | outlive the process that started the sandbox | `it::harden::sandbox_dies_with_its_parent_by_default`, `it::core::die_with_parent_kills_the_sandbox_when_the_parent_dies` |
//! | leave files or mounts on the host | `it::core::no_host_visible_leftovers` |
//! | reach host services through pathname sockets (session bus, ssh-agent, docker-like, datagram) | `it::escape::host_unix_sockets_are_unreachable_unless_granted` |
//! | (the same through the `build` profile; the `desktop` profile's grants) | `it::profiles::build_profile_cannot_reach_a_session_bus`, `it::profiles::desktop_profile_reaches_real_wayland_pulseaudio_and_pipewire_servers` |
//! | fill the host's memory through /tmp, /dev/shm, a `--tmp-overlay` | `it::escape::tmpfs_writes_stop_at_the_bound` |
//! | (the default bound: min(RAM/4, 4 GiB) per tmpfs) | `it::escape::the_default_tmpfs_bound_is_a_quarter_of_ram_at_most_4g` |
//! | fork (or start threads) past the process bound | `it::escape::processes_stop_at_the_process_bound` |
//! | (the default bound in a sandbox without /proc) | `it::escape::the_process_bound_holds_without_proc` |
//! | weaken the next sandbox: write hutch's own configuration through `--bind ~ ~` | `it::escape::hutchs_configuration_is_read_only_inside` |
//! | (a profile another user may write) | `it::profiles::profiles_others_may_write_are_refused_or_warned_about` |

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::support::*;

/// The name the binary is invoked under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    /// `hutch`: Landlock, the seccomp policy, closed fds, die-with-parent.
    Hutch,
    /// `bwrap`: bubblewrap's defaults.
    Bwrap,
}

const BOTH: [Name; 2] = [Name::Hutch, Name::Bwrap];

/// The binary under `name`.
fn bin(name: Name) -> &'static Path {
    match name {
        Name::Hutch => hutch_path(),
        Name::Bwrap => bwrap_path(),
    }
}

/// How root runs: as uid 0 in a user namespace, without capabilities, like everyone
/// else (uid 0 would otherwise keep every capability over its namespace).
const ROOT_IN_USERNS: &[&str] = &["--unshare-user", "--cap-drop", "ALL"];

/// A sandbox under `name`, run by `u`. Root runs in a user namespace.
fn sandbox(name: Name, u: User) -> Cmd {
    let c = Cmd::new(bin(name), u);
    if u.is_root() {
        c.args(ROOT_IN_USERNS)
    } else {
        c
    }
}

/// `sandbox` with the host's root read-only, a /proc of a new pid namespace and /dev.
fn system(name: Name, u: User) -> Cmd {
    sandbox(name, u).args([
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ])
}

/// `sandbox` with only /usr and /etc of the host (see [`MINIMAL_ROOT`]).
fn small(name: Name, u: User) -> Cmd {
    sandbox(name, u).args(MINIMAL_ROOT)
}

/// Python helpers for the attempts: `attempt(NAME, FN)` prints `NAME ok` or
/// `NAME errno N`, `sc(NR, ARGS...)` makes a raw system call with 64-bit arguments.
const PY_PRELUDE: &str = r#"
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def arg(a):
    if isinstance(a, int):
        return ctypes.c_ulong(a & 0xffffffffffffffff)
    return a
def sc(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
def attempt(name, f):
    try:
        f()
        print(name, 'ok', flush=True)
    except OSError as e:
        print(name, 'errno', e.errno, flush=True)
"#;

/// `python3 -c PRELUDE+BODY` as the command.
fn py(c: Cmd, body: &str) -> Cmd {
    c.args(["python3", "-c", &format!("{PY_PRELUDE}{body}")])
}

/// Shell helper: `t NAME CMD...` prints `NAME ok` or `NAME fail`.
/// (Its output is captured, not sent to /dev/null: the sandboxes may have no /dev.)
const SH_PRELUDE: &str =
    "t() { n=$1; shift; if out=$(\"$@\" 2>&1); then echo \"$n ok\"; else echo \"$n fail\"; fi; }; ";

/// The `NAME RESULT` lines of an output.
fn results(o: &Out) -> BTreeMap<String, String> {
    o.stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// The result of attempt `name`; panics if it is missing.
#[track_caller]
fn result(o: &Out, name: &str) -> String {
    results(o)
        .remove(name)
        .unwrap_or_else(|| panic!("no result for {name}{o:?}"))
}

#[track_caller]
fn refused(o: &Out, names: &[&str]) {
    for n in names {
        let r = result(o, n);
        assert!(r != "ok", "{n} succeeded: {r}{o:?}");
    }
}

#[track_caller]
fn allowed(o: &Out, names: &[&str]) {
    for n in names {
        assert_eq!(result(o, n), "ok", "{n}{o:?}");
    }
}

fn errno(e: i32) -> String {
    format!("errno {e}")
}

/// A host directory owned by `u` with a file `secret` in it, never bound into a sandbox.
fn host_secret(u: User) -> TempDir {
    let d = tempdir(u);
    fs::write(d.join("secret"), "host secret\n").unwrap();
    fs::set_permissions(d.join("secret"), fs::Permissions::from_mode(0o644)).unwrap();
    d
}

// ---------------------------------------------------------------------------------------
// Read-only binds, mounts

/// Tries to change a read-only bind: append, create, mkdir, unlink, rename, chmod,
/// symlink and utimes, in the bind, in a subdirectory, and in a host mount below it.
/// The bind is read-only with each submount, and the user namespace locks those flags.
/// Under the `hutch` name the test also runs with `--landlock off`, so that the mount
/// flag alone is tested. The same attempts through `--bind` reach the host.
#[test]
fn read_only_binds_refuse_writes_and_so_do_their_submounts() {
    // Real root can mount on the host: a tmpfs below the bound directory.
    let root_dir = tempdir(User::Root);
    let _m = is_root().then(|| HostMount::tmpfs(&root_dir.join("mnt")));
    for_each_user(|u| {
        let own;
        let d = if u.is_root() {
            &root_dir
        } else {
            own = tempdir(u);
            &own
        };
        fs::write(d.join("f"), "host\n").unwrap();
        fs::create_dir_all(d.join("sub")).unwrap();
        if !u.is_root() {
            std::os::unix::fs::chown(d.join("f"), Some(u.uid()), Some(u.gid())).unwrap();
            std::os::unix::fs::chown(d.join("sub"), Some(u.uid()), Some(u.gid())).unwrap();
        }
        let at = "/data";
        let mut attempts = vec![
            ("append", format!("sh -c 'echo x >> {at}/f'")),
            ("create", format!("touch {at}/new")),
            ("mkdir", format!("mkdir {at}/newdir")),
            ("chmod", format!("chmod 777 {at}/f")),
            ("symlink", format!("ln -s x {at}/ln")),
            ("utimes", format!("touch -m -d @0 {at}/f")),
            ("in-sub", format!("touch {at}/sub/x")),
            ("rename", format!("mv {at}/f {at}/g")),
            ("unlink", format!("rm -f {at}/g {at}/f")),
        ];
        if u.is_root() {
            attempts.push(("in-submount", format!("touch {at}/mnt/x")));
        }
        let names: Vec<&str> = attempts.iter().map(|(n, _)| *n).collect();
        let script: String = SH_PRELUDE.to_string()
            + &attempts
                .iter()
                .map(|(n, c)| format!("t {n} {c}; "))
                .collect::<String>();
        for name in BOTH {
            let variants: &[&[&str]] = match name {
                Name::Hutch => &[&[], &["--landlock", "off"]],
                Name::Bwrap => &[&[]],
            };
            for extra in variants {
                let o = small(name, u)
                    .args(*extra)
                    .args(["--ro-bind", &d.s(), at])
                    .sh(&script)
                    .run();
                o.ok();
                refused(&o, &names);
                assert_eq!(read(d.join("f")), "host\n", "{name:?} {u:?}{o:?}");
                assert!(!d.join("new").exists() && !d.join("sub/x").exists());
            }
            // /dev/shm, a host tmpfs under the host's root, bound read-only with it.
            let o = sandbox(name, u)
                .args(["--ro-bind", "/", "/"])
                .sh(&format!(
                    "{SH_PRELUDE} t shm touch /dev/shm/hutch-escape-{u:?}"
                ))
                .run();
            o.ok();
            refused(&o, &["shm"]);
            assert!(!Path::new(&format!("/dev/shm/hutch-escape-{u:?}")).exists());
        }
        // Without the protection: the same attempts through a read-write bind.
        let o = small(Name::Hutch, u)
            .args(["--bind", &d.s(), at])
            .sh(&script)
            .run();
        o.ok();
        allowed(&o, &names);
        assert!(d.join("new").exists() && d.join("sub/x").exists() && !d.join("f").exists());
    });
}

/// Tries to mount a tmpfs, and to remount a read-only bind read-write.
/// Without capabilities, mount(2) fails with EPERM under both names. Under the `hutch`
/// name the seccomp policy refuses every mount call, even with `--cap-add CAP_SYS_ADMIN`.
/// Under the `bwrap` name that capability lets both succeed: it is what the capability
/// grants in the sandbox's own mount namespace.
#[test]
fn mounting_and_remounting_read_write_fail() {
    for_each_user(|u| {
        let d = tempdir(u);
        let script = format!(
            "{SH_PRELUDE} t remount mount -o remount,bind,rw /t/ro; t write touch /t/ro/x; \
             t mount mount -t tmpfs none /t/m; t umount umount /t/ro"
        );
        let run = |name: Name, caps: &[&str]| {
            let o = small(name, u)
                .args([
                    "--tmpfs",
                    "/t",
                    "--dir",
                    "/t/m",
                    "--ro-bind",
                    &d.s(),
                    "/t/ro",
                ])
                .args(caps)
                .sh(&script)
                .run();
            o.ok();
            o
        };
        for name in BOTH {
            let o = run(name, &[]);
            refused(&o, &["remount", "write", "mount", "umount"]);
        }
        let o = run(Name::Hutch, &["--cap-add", "CAP_SYS_ADMIN"]);
        refused(&o, &["remount", "write", "mount", "umount"]);
        assert!(!d.join("x").exists(), "{o:?}");
        // Without the protection (a capability granted, no policy): all of it works.
        let o = run(Name::Bwrap, &["--cap-add", "CAP_SYS_ADMIN"]);
        allowed(&o, &["remount", "write", "mount"]);
        assert!(d.join("x").exists(), "{o:?}");
    });
}

// ---------------------------------------------------------------------------------------
// /proc links, symlinks

/// Tries to reach a host directory that is not in the sandbox through /proc magic links.
/// These are /proc/1/root, /proc/self/root, /proc/1/cwd, /proc/self/cwd (hutch started
/// from that directory), `..` above /proc/self/cwd, and, without `--unshare-pid`,
/// /proc/PPID/root and /proc/PPID/cwd of hutch's own process outside. Each must fail:
/// every process in the sandbox has its root and cwd in the new root. The processes
/// outside are in another user namespace, so their links need CAP_SYS_PTRACE there;
/// under the `hutch` name Landlock's ptrace scoping refuses them too. The same probes
/// run directly on the host find the file.
#[test]
fn proc_links_do_not_lead_to_the_host() {
    for_each_user(|u| {
        let h = host_secret(u);
        let hs = h.s();
        let probes = format!(
            "t p1root cat /proc/1/root{hs}/secret; t selfroot cat /proc/self/root{hs}/secret; \
             t p1cwd cat /proc/1/cwd/secret; t selfcwd cat /proc/self/cwd/secret; \
             t dotdot cat /proc/self/cwd/../../../../../../..{hs}/secret; "
        );
        for name in BOTH {
            let o = small(name, u)
                .args(["--unshare-pid", "--proc", "/proc"])
                .cwd(h.path())
                .sh(&format!(
                    "{SH_PRELUDE}{probes} readlink /proc/self/cwd; readlink /proc/1/root; true"
                ))
                .run();
            o.ok();
            refused(&o, &["p1root", "selfroot", "p1cwd", "selfcwd", "dotdot"]);
            // The links point into the sandbox (hutch starts in $HOME or / when the
            // caller's directory is not inside).
            assert!(o.stdout.contains("\n/\n"), "{o:?}");
            // No pid namespace: hutch's own process outside is visible as the parent.
            let o = small(name, u)
                .args(["--share-pid", "--proc", "/proc"])
                .cwd(h.path())
                .sh(&format!(
                    "{SH_PRELUDE} t pproot cat /proc/$PPID/root{hs}/secret; \
                     t ppcwd cat /proc/$PPID/cwd/secret; t ppls ls /proc/$PPID/root/; \
                     cat /proc/$PPID/comm"
                ))
                .run();
            o.ok();
            refused(&o, &["pproot", "ppcwd", "ppls"]);
            let comm = hutch_path().file_name().unwrap().to_string_lossy();
            let bcomm = bwrap_path().file_name().unwrap().to_string_lossy();
            assert!(
                o.stdout.contains(&*comm) || o.stdout.contains(&*bcomm),
                "the parent is hutch's monitor{o:?}"
            );
        }
        // Without the protection: the same probes on the host, from the directory.
        let o = Cmd::new(Path::new("/bin/sh"), u)
            .cwd(h.path())
            .args([
                "-c",
                &format!("{SH_PRELUDE}{probes} t pproot cat /proc/$$/root{hs}/secret"),
            ])
            .run();
        o.ok();
        allowed(&o, &["selfroot", "selfcwd", "dotdot", "pproot"]);
    });
}

/// Tries to make hutch create a destination outside the new root, through a bound
/// source tree whose entries are symlinks: to a host directory (absolute), to it
/// relative past the root, to where the host root is kept during setup (/oldroot),
/// through a chain, and to `/` then down to the host directory (bubblewrap's
/// symlinked-parent class). Every op that creates something (dir, file, bind-data,
/// symlink, bind, tmpfs, mqueue, chmod) must create nothing on the host and change no
/// mode there: destinations are resolved inside the new root (openat2 RESOLVE_IN_ROOT).
#[test]
fn symlinked_parents_never_create_anything_on_the_host() {
    for_each_user(|u| {
        let target = tempdir(u);
        let t = target.s();
        let d = tempdir(u);
        // Ways to point at the host directory: its absolute path, a relative climb
        // past the new root to where the host root is kept during setup, that
        // directory by absolute path, a chain, and `/` followed by the path.
        symlink(&t, d.join("abs")).unwrap();
        symlink(format!("{}oldroot{t}", "../".repeat(16)), d.join("rel")).unwrap();
        symlink(format!("/oldroot{t}"), d.join("old")).unwrap();
        symlink("abs", d.join("chain")).unwrap();
        symlink("/", d.join("slash")).unwrap();
        let dir = fixture().join("dir").display().to_string();
        let data = fixture().join("data");
        let links = [
            "/b/abs".to_string(),
            "/b/rel".to_string(),
            "/b/old".to_string(),
            "/b/chain".to_string(),
            format!("/b/slash{t}"),
        ];
        for l in links {
            let ops: Vec<Vec<String>> = vec![
                vec!["--dir".into(), format!("{l}/sub")],
                vec![
                    "--perms".into(),
                    "0700".into(),
                    "--dir".into(),
                    format!("{l}/p/q"),
                ],
                vec!["--tmpfs".into(), format!("{l}/sub")],
                vec!["--file".into(), "3".into(), format!("{l}/file")],
                vec!["--bind-data".into(), "3".into(), format!("{l}/data")],
                vec!["--symlink".into(), "x".into(), format!("{l}/sym")],
                vec!["--bind".into(), dir.clone(), format!("{l}/sub")],
                vec![
                    "--ro-bind".into(),
                    data.display().to_string(),
                    format!("{l}/f"),
                ],
                vec!["--mqueue".into(), format!("{l}/mq"), "--unshare-ipc".into()],
                vec!["--chmod".into(), "0777".into(), l.clone()],
                vec!["--chmod".into(), "0777".into(), format!("{l}/")],
            ];
            for name in BOTH {
                for op in &ops {
                    let o = small(name, u)
                        .args(["--bind", &d.s(), "/b"])
                        .args(op)
                        .fd_in(3, &data)
                        .arg("true")
                        .run();
                    let left: Vec<_> = fs::read_dir(target.path())
                        .unwrap()
                        .flatten()
                        .map(|e| e.file_name())
                        .collect();
                    assert!(
                        left.is_empty(),
                        "{name:?} {u:?} {op:?} created {left:?} on the host{o:?}"
                    );
                    let mode = fs::metadata(target.path()).unwrap().permissions().mode() & 0o7777;
                    assert_eq!(
                        mode, 0o755,
                        "{name:?} {u:?} {op:?} changed the host directory's mode{o:?}"
                    );
                }
            }
        }
        // Without the protection: the same op through a real path to the directory.
        small(Name::Hutch, u)
            .args(["--bind", &t, "/b", "--dir", "/b/sub", "true"])
            .run()
            .ok();
        assert!(target.join("sub").is_dir());
    });
}

/// A destination that is itself a symlink (bubblewrap 0.12 refuses it; hutch follows it,
/// inside the new root). Inside: a relative and an absolute link to a directory, and a
/// link to a file, get the mount on their target. Outside: links in a bound tree to a
/// host directory (absolute, a relative climb to where the host root is kept during
/// setup, /oldroot by path), dangling to a new name there: no mount, bind or file lands
/// on the host. Without the protection, bubblewrap 0.8 creates the file on the host
/// through the relative climb (or, without it installed, a real path does).
#[test]
fn symlinked_destinations_stay_in_the_new_root() {
    for_each_user(|u| {
        let data = fixture().join("data");
        let dir = fixture().join("dir").display().to_string();
        for name in BOTH {
            let inside = [
                "--dir",
                "/t/real",
                "--symlink",
                "real",
                "/t/rel",
                "--symlink",
                "/t/real",
                "/t/abs",
                "--file",
                "3",
                "/t/f",
                "--symlink",
                "f",
                "/t/flink",
                "--symlink",
                "/t/f",
                "/t/fabs",
            ];
            for (op, check) in [
                (
                    vec!["--tmpfs", "/t/rel"],
                    "grep -c ' /t/real ' /proc/self/mountinfo",
                ),
                (
                    vec!["--tmpfs", "/t/abs"],
                    "grep -c ' /t/real ' /proc/self/mountinfo",
                ),
                (vec!["--bind", &dir, "/t/abs"], "cat /t/real/a"),
                (
                    vec!["--ro-bind", data.to_str().unwrap(), "/t/flink"],
                    "cat /t/f",
                ),
                (
                    vec!["--ro-bind", data.to_str().unwrap(), "/t/fabs"],
                    "cat /t/f",
                ),
            ] {
                let o = small(name, u)
                    .args(["--proc", "/proc"])
                    .args(inside)
                    .args(&op)
                    .fd_in(3, &fixture().join("empty"))
                    .sh(check)
                    .run();
                o.ok();
                assert!(
                    ["1\n", "a\n", "some data\n"].contains(&o.stdout.as_str()),
                    "{name:?} {u:?} {op:?}: the mount is not on the link's target{o:?}"
                );
            }
        }
        let target = tempdir(u);
        let t = target.s();
        let d = tempdir(u);
        symlink(format!("{t}/new"), d.join("abs")).unwrap();
        symlink(format!("../../oldroot{t}/new"), d.join("rel")).unwrap();
        symlink(
            format!("{}oldroot{t}/new", "../".repeat(16)),
            d.join("deep"),
        )
        .unwrap();
        symlink(format!("/oldroot{t}/new"), d.join("old")).unwrap();
        symlink(&t, d.join("dirabs")).unwrap();
        symlink(format!("../../oldroot{t}"), d.join("dirrel")).unwrap();
        let empty = || {
            fs::read_dir(target.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        };
        for name in BOTH {
            for l in ["abs", "rel", "deep", "old"] {
                let l = format!("/b/{l}");
                for op in [
                    vec![
                        "--ro-bind".to_string(),
                        data.display().to_string(),
                        l.clone(),
                    ],
                    vec!["--bind".to_string(), dir.clone(), l.clone()],
                    vec!["--tmpfs".to_string(), l.clone()],
                    vec!["--file".to_string(), "3".to_string(), l.clone()],
                    vec!["--bind-data".to_string(), "3".to_string(), l.clone()],
                ] {
                    let o = small(name, u)
                        .args(["--bind", &d.s(), "/b"])
                        .args(&op)
                        .fd_in(3, &data)
                        .arg("true")
                        .run();
                    assert!(
                        empty().is_empty(),
                        "{name:?} {u:?} {op:?} created {:?} on the host{o:?}",
                        empty()
                    );
                }
            }
            for l in ["/b/dirabs", "/b/dirrel"] {
                let o = small(name, u)
                    .args(["--bind", &d.s(), "/b", "--tmpfs", l])
                    .sh(&format!("touch {l}/x"))
                    .run();
                assert!(empty().is_empty(), "{name:?} {u:?} {l}: {:?}{o:?}", empty());
            }
        }
        // Without the protection.
        if Path::new(SYSTEM_BWRAP).exists() {
            let o = Cmd::new(Path::new(SYSTEM_BWRAP), u)
                .args(if u.is_root() { ROOT_IN_USERNS } else { &[] })
                .args(MINIMAL_ROOT)
                .args([
                    "--bind",
                    &d.s(),
                    "/b",
                    "--ro-bind",
                    data.to_str().unwrap(),
                    "/b/rel",
                ])
                .arg("true")
                .run();
            assert!(
                target.join("new").exists(),
                "bubblewrap 0.8 did not escape{o:?}"
            );
        } else {
            small(Name::Hutch, u)
                .args([
                    "--bind",
                    &t,
                    "/b",
                    "--ro-bind",
                    data.to_str().unwrap(),
                    "/b/new",
                ])
                .arg("true")
                .run()
                .ok();
            assert!(target.join("new").exists());
        }
    });
}

// ---------------------------------------------------------------------------------------
// The hutch binary, descriptors

/// A copy of hutch owned by `u`, in a directory owned by `u`, with a `bwrap` symlink:
/// the case where the sandbox's user could overwrite the binary (`cargo install`).
fn own_copy(u: User) -> (TempDir, PathBuf) {
    let d = tempdir(u);
    let bin = d.join("hutch");
    fs::copy(hutch_path(), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&bin, Some(u.uid()), Some(u.gid())).unwrap();
    }
    symlink("hutch", d.join("bwrap")).unwrap();
    (d, bin)
}

/// runc's CVE-2019-5736 class: tries to open the hutch binary for writing through
/// /proc/1/exe (pid 1 is hutch's reaper) and /proc/PPID/exe (hutch's own process,
/// without a pid namespace). It tries directly, with O_TRUNC, and through an O_PATH
/// descriptor reopened by /proc/self/fd. The binary belongs to the sandbox's user here,
/// so only these protections stop the write. The kernel refuses to write a file that a
/// process executes (ETXTBSY), and hutch runs until every process of the sandbox has
/// ended. Processes outside are in another user namespace, and under the `hutch` name
/// Landlock covers no path there. The binary's bytes are unchanged afterwards. The same
/// write, made while the binary is not running, succeeds.
#[test]
fn the_hutch_binary_cannot_be_overwritten_through_proc_exe() {
    for_each_user(|u| {
        let (dir, bin) = own_copy(u);
        let before = fs::read(&bin).unwrap();
        let body = r#"
for link in ('/proc/1/exe', '/proc/%d/exe' % os.getppid()):
    tag = 'p1' if link == '/proc/1/exe' else 'pp'
    attempt(tag + '-wronly', lambda: os.close(os.open(link, os.O_WRONLY)))
    attempt(tag + '-trunc', lambda: os.close(os.open(link, os.O_WRONLY | os.O_TRUNC)))
    attempt(tag + '-rdwr', lambda: os.close(os.open(link, os.O_RDWR)))
    def reopen():
        p = os.open(link, os.O_PATH)
        os.close(os.open('/proc/self/fd/%d' % p, os.O_WRONLY))
    attempt(tag + '-reopen', reopen)
"#;
        for name in BOTH {
            let prog = match name {
                Name::Hutch => bin.clone(),
                Name::Bwrap => dir.join("bwrap"),
            };
            // With a pid namespace pid 1 is the reaper; the parent is outside (ppid 0),
            // so the second link is /proc/0/exe, absent.
            let mut c = Cmd::new(&prog, u);
            if u.is_root() {
                c = c.args(ROOT_IN_USERNS);
            }
            let o = py(
                c.args(MINIMAL_ROOT)
                    .args(["--unshare-pid", "--proc", "/proc"]),
                &format!(
                    "{body}attempt('p1exe', lambda: print('p1exe', os.readlink('/proc/1/exe')))"
                ),
            )
            .run();
            o.ok();
            refused(&o, &["p1-wronly", "p1-trunc", "p1-rdwr", "p1-reopen"]);
            match name {
                // pid 1 is not dumpable: not even its link can be read.
                Name::Hutch => assert_eq!(result(&o, "p1exe"), errno(libc::EACCES), "{o:?}"),
                Name::Bwrap => {
                    let line = o.lines().into_iter().find(|l| l.starts_with("p1exe /"));
                    let want = format!("p1exe {}", bin.display());
                    assert_eq!(line, Some(want.as_str()), "{o:?}");
                }
            }
            // Without a pid namespace: the parent is hutch's monitor.
            let mut c = Cmd::new(&prog, u);
            if u.is_root() {
                c = c.args(ROOT_IN_USERNS);
            }
            let o = py(
                c.args(MINIMAL_ROOT)
                    .args(["--share-pid", "--proc", "/proc"]),
                body,
            )
            .run();
            o.ok();
            refused(&o, &["pp-wronly", "pp-trunc", "pp-rdwr", "pp-reopen"]);
            assert_eq!(
                fs::read(&bin).unwrap(),
                before,
                "{name:?} {u:?}: the binary changed"
            );
        }
        // Without the protection: the binary is not running, and its directory is bound.
        let o = py(
            small(Name::Hutch, u).args(["--bind", &dir.s(), "/d"]),
            "attempt('write', lambda: os.close(os.open('/d/hutch', os.O_WRONLY)))",
        )
        .run();
        allowed(&o, &["write"]);
    });
}

/// The fd numbers listed by `ls /proc/PID/fd` in an output's lines after `marker`.
fn fd_set(o: &Out, marker: &str) -> Vec<u32> {
    let line = o
        .lines()
        .into_iter()
        .find_map(|l| l.strip_prefix(marker).map(String::from))
        .unwrap_or_else(|| panic!("no {marker}{o:?}"));
    let mut v: Vec<u32> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    v.sort_unstable();
    v
}

/// runc's CVE-2024-21626 class: a descriptor of a host directory (`7<DIR`, the
/// directory not in the sandbox) is left open by the caller, and the sandbox tries to
/// use it: /proc/self/fd/7/secret, /proc/1/fd/7/secret (pid 1, hutch's reaper), and cd
/// into it.
///
/// - Under the `hutch` name every attempt fails. Neither the command nor pid 1 holds
///   anything but 0, 1 and 2. Before this suite, pid 1 kept every inherited descriptor
///   and the command could open them through /proc/1/fd; it now closes them, as
///   bwrap's pid 1 does.
/// - Under the `bwrap` name the command gets the caller's descriptors, as with bwrap.
///   That is the attempt succeeding where the protection is absent. pid 1 holds none of
///   them, and hutch adds no descriptor of its own: the command has exactly the caller's.
#[test]
fn no_descriptor_leads_out() {
    for_each_user(|u| {
        let h = host_secret(u);
        let script = format!(
            "{SH_PRELUDE} t self cat /proc/self/fd/7/secret; t pid1 cat /proc/1/fd/7/secret; \
             t cd cd /proc/1/fd/7; echo self: $(ls /proc/self/fd); echo init: $(ls /proc/1/fd)"
        );
        let run = |name: Name, extra: &[&str]| {
            let o = small(name, u)
                .args(["--unshare-pid", "--proc", "/proc"])
                .args(extra)
                .sh(&script)
                .fd_in(7, h.path())
                .run();
            o.ok();
            o
        };
        let o = run(Name::Hutch, &[]);
        refused(&o, &["self", "pid1", "cd"]);
        // ls's own descriptor for the directory it reads is 3.
        assert_eq!(fd_set(&o, "self: "), [0, 1, 2, 3], "{o:?}");
        // pid 1 is not dumpable under the hutch name: its fds cannot be opened, and
        // listed only by uid 0 (its /proc files are then root's): 0, 1, 2 at most.
        let init = fd_set(&o, "init:");
        assert!(init.is_empty() || init == [0, 1, 2], "{o:?}");
        // A --sync-fd stays with pid 1, as in bwrap; under the hutch name Landlock
        // covers no path outside the sandbox, so it leads nowhere either.
        let o = run(Name::Hutch, &["--sync-fd", "7"]);
        refused(&o, &["self", "pid1"]);
        // Without the protection: bwrap's defaults pass the caller's descriptors on.
        let o = run(Name::Bwrap, &[]);
        refused(&o, &["pid1", "cd"]);
        allowed(&o, &["self"]);
        assert_eq!(fd_set(&o, "init: "), [0, 1, 2], "{o:?}");
        // ... and no more than the caller's: the same listing outside a sandbox.
        let outside = Cmd::new(Path::new("/bin/sh"), u)
            .args(["-c", "echo self: $(ls /proc/self/fd)"])
            .fd_in(7, h.path())
            .run();
        assert_eq!(
            fd_set(&o, "self: "),
            fd_set(&outside, "self: "),
            "{o:?}{outside:?}"
        );
        // Under the hutch name, naming it passes it on (Landlock off: a kept host
        // directory is outside every rule).
        let o = run(Name::Hutch, &["--keep-fd", "7", "--landlock", "off"]);
        allowed(&o, &["self"]);
    });
}

// ---------------------------------------------------------------------------------------
// The terminal

/// Runs its arguments with a new pty as controlling terminal and stdin. When they
/// end, it prints what is waiting to be read on the terminal (`INJECTED b'...'`),
/// which is what a shell there would read and run next.
const PTY_DRIVER: &str = r#"
import os, pty, select, subprocess, sys
pid, fd = pty.fork()
if pid == 0:
    subprocess.run(sys.argv[1:])
    got = b''
    while select.select([0], [], [], 0.3)[0]:
        got += os.read(0, 100)
    print('INJECTED', repr(got), flush=True)
    os._exit(0)
out = b''
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
"#;

/// Inside: ioctl(0, REQ, "Z") then ioctl(0, REQ, "\n") through syscall(2), so that
/// the request's high bits reach the kernel.
fn ioctl_payload(req: u64) -> String {
    format!(
        "{PY_PRELUDE}\nimport ctypes\ndef inject():\n    for c in b'Z\\n':\n        \
         sc({}, 0, {req:#x}, ctypes.byref(ctypes.c_char(c)))\nattempt('ioctl', inject)\n",
        libc::SYS_ioctl
    )
}

/// CVE-2017-5226 and CVE-2019-10063: tries to push input into the terminal the sandbox
/// was started from, with TIOCSTI. It also uses TIOCSTI with high bits set in the
/// request (0x1_0000_5412, which the kernel truncates to 32 bits) and TIOCLINUX. Under
/// the `hutch` name the seccomp policy refuses all three (EPERM), comparing the low 32
/// bits. Under the `bwrap` name `--new-session` (bwrap's fix) takes the terminal away,
/// and the kernel refuses TIOCSTI on a terminal that is not the caller's controlling
/// one. Without either, the input arrives: the same attempt under bwrap's defaults.
/// (On a kernel with `dev.tty.legacy_tiocsti=0`, TIOCSTI fails there with EIO; before
/// Linux 6.2 there is no such sysctl, and TIOCSTI is always legacy.)
#[test]
fn terminal_injection_is_refused() {
    const TIOCSTI: u64 = 0x5412;
    const TIOCLINUX: u64 = 0x541c;
    const HIGH: u64 = 0x1_0000_5412;
    let legacy =
        fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").map_or(true, |v| v.trim() == "1");
    for_each_user(|u| {
        let run = |name: Name, extra: &[&str], req: u64| {
            let mut argv: Vec<String> = vec![bin(name).display().to_string()];
            if u.is_root() {
                argv.extend(ROOT_IN_USERNS.iter().map(|s| s.to_string()));
            }
            argv.extend(["--ro-bind", "/", "/"].map(String::from));
            argv.extend(extra.iter().map(|s| s.to_string()));
            argv.extend(["python3", "-c", &ioctl_payload(req)].map(String::from));
            let o = Cmd::new(Path::new("/usr/bin/python3"), u)
                .args(["-c", PTY_DRIVER])
                .args(&argv)
                .run();
            o.ok();
            let injected = o
                .lines()
                .into_iter()
                .find_map(|l| l.strip_prefix("INJECTED ").map(String::from))
                .unwrap_or_else(|| panic!("no INJECTED line{o:?}"));
            (result(&o, "ioctl"), injected, o)
        };
        for req in [TIOCSTI, HIGH, TIOCLINUX] {
            let (r, injected, o) = run(Name::Hutch, &[], req);
            assert_eq!(r, errno(libc::EPERM), "{req:#x}{o:?}");
            assert_eq!(injected, "b''", "{req:#x}{o:?}");
        }
        for req in [TIOCSTI, HIGH] {
            let (r, injected, o) = run(Name::Bwrap, &["--new-session"], req);
            // With dev.tty.legacy_tiocsti=0 the kernel's EIO comes before its EPERM.
            let want = if legacy { libc::EPERM } else { libc::EIO };
            assert_eq!(r, errno(want), "{req:#x}{o:?}");
            assert_eq!(injected, "b''", "{req:#x}{o:?}");
        }
        // Without the protection: bwrap's defaults keep the terminal.
        for req in [TIOCSTI, HIGH] {
            let (r, injected, o) = run(Name::Bwrap, &[], req);
            if legacy {
                assert_eq!(r, "ok", "{req:#x}{o:?}");
                assert_eq!(injected, "b'Z\\n'", "{req:#x}{o:?}");
            } else {
                assert_eq!(r, errno(libc::EIO), "{req:#x}{o:?}");
            }
        }
        // TIOCLINUX needs a virtual console: on a pty the kernel answers, but not EPERM.
        let (r, _, o) = run(Name::Bwrap, &[], TIOCLINUX);
        assert!(r != errno(libc::EPERM) && r.starts_with("errno"), "{o:?}");
    });
}

// ---------------------------------------------------------------------------------------
// Processes

/// A host process run by `u` (`sleep TAG`), killed on drop.
struct HostSleeper(Child);

impl HostSleeper {
    fn start(u: User, tag: &str) -> HostSleeper {
        let mut c = if u == User::Nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "sleep"]);
            c
        } else {
            Command::new("sleep")
        };
        HostSleeper(c.arg(tag).stdin(Stdio::null()).spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for HostSleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tries to see a host process of the same user (`sleep TAG`), to signal it and to
/// ptrace it.
///
/// - With `--unshare-pid` it is invisible to ps and has no pid in the sandbox, under
///   both names.
/// - Without it, it is visible (the host's /proc). Under the `hutch` name there is a
///   pid namespace by default, so its pid names nothing; with `--share-pid` it cannot
///   be ptraced under either name: it is in another user namespace, and under the
///   `hutch` name Landlock's scoping refuses signals to it (Landlock ABI 6; on older
///   kernels the signal reaches it, and `--report` lists scope:signal as dropped).
///   Under the `bwrap` name a signal reaches it, as with bwrap; that is the attempt
///   succeeding where the protection is absent.
/// - ptrace of a process inside the sandbox works, under both names.
#[test]
fn host_processes_are_invisible_and_unreachable() {
    for_each_user(|u| {
        let tag = format!("{}", 600000 + std::process::id() % 100000);
        let sleeper = HostSleeper::start(u, &tag);
        let pid = sleeper.pid();
        // Wait until it runs sleep (not setpriv any more).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with("sleep"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{u:?}: sleep never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let body = format!(
            r#"
import signal, subprocess, time
ps = subprocess.run(['ps', '-eo', 'args'], capture_output=True, text=True).stdout
# (The needle is built here: this program's own text must not match.)
print('visible', 'ok' if ('sleep %d' % {tag}) in ps.splitlines() else 'no')
attempt('signal', lambda: os.kill({pid}, 0))
attempt('ptrace', lambda: sc({ptrace}, 0x4206, {pid}, 0, 0))
child = subprocess.Popen(['sleep', '30'])
attempt('ptrace-inside', lambda: sc({ptrace}, 0x4206, child.pid, 0, 0))
child.kill()
"#,
            ptrace = libc::SYS_ptrace
        );
        for name in BOTH {
            let o = py(system(name, u), &body).run();
            o.ok();
            assert_eq!(result(&o, "visible"), "no", "{name:?} {u:?}{o:?}");
            assert_eq!(result(&o, "signal"), errno(libc::ESRCH), "{name:?}{o:?}");
            refused(&o, &["ptrace"]);
            allowed(&o, &["ptrace-inside"]);
            // /proc is the host's. As hutch there is a pid namespace all the same
            // (the default): the pid names nothing.
            let o = py(sandbox(name, u).args(["--ro-bind", "/", "/"]), &body).run();
            o.ok();
            allowed(&o, &["visible", "ptrace-inside"]);
            match name {
                Name::Hutch => {
                    assert_eq!(result(&o, "signal"), errno(libc::ESRCH), "{o:?}");
                    assert_eq!(result(&o, "ptrace"), errno(libc::ESRCH), "{o:?}");
                }
                Name::Bwrap => {
                    allowed(&o, &["signal"]);
                    assert_eq!(result(&o, "ptrace"), errno(libc::EPERM), "{o:?}");
                }
            }
            // No pid namespace (--share-pid): Landlock's scoping refuses the signal.
            let o = py(
                sandbox(name, u).args(["--ro-bind", "/", "/", "--share-pid"]),
                &body,
            )
            .run();
            o.ok();
            allowed(&o, &["visible", "ptrace-inside"]);
            assert_eq!(result(&o, "ptrace"), errno(libc::EPERM), "{name:?}{o:?}");
            match name {
                Name::Hutch if landlock_abi() >= 6 => {
                    assert_eq!(result(&o, "signal"), errno(libc::EPERM), "{o:?}")
                }
                Name::Hutch | Name::Bwrap => allowed(&o, &["signal"]),
            }
        }
        drop(sleeper);
    });
}

// ---------------------------------------------------------------------------------------
// Privileges

/// A setuid-root program that prints its effective uid and whether setuid(0) worked.
fn setuid_root_program() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = base().join("euid.c");
        let bin = base().join("euid");
        fs::write(
            &src,
            "#include <stdio.h>\n#include <unistd.h>\nint main(void) {\n  int r = setuid(0);\n  \
             printf(\"euid %d\\nsetuid0 %s\\n\", (int)geteuid(), r == 0 ? \"ok\" : \"fail\");\n  \
             return 0;\n}\n",
        )
        .unwrap();
        let st = Command::new("cc")
            .arg("-o")
            .arg(&bin)
            .arg(&src)
            .status()
            .expect("run cc");
        assert!(st.success(), "cc failed");
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o4755)).unwrap();
        bin
    })
}

/// Tries to gain root through a setuid-root binary inside the sandbox. Three things
/// stop it: every bind is nosuid, no_new_privs is set, and uid 0 is not mapped in the
/// sandbox's user namespace. The effective uid stays the user's, under both names and
/// also with the binary bound by `--dev-bind`. The same binary run by the same user
/// outside the sandbox gets euid 0. Only root can make a setuid-root binary, and for
/// root the question does not arise.
#[test]
fn setuid_binaries_grant_nothing() {
    if !is_root() {
        skip("only root can make the setuid-root binary this test needs");
        return;
    }
    let bin = setuid_root_program();
    let u = User::Nobody;
    let b = bin.display().to_string();
    for name in BOTH {
        for bind in ["--ro-bind", "--dev-bind"] {
            let o = small(name, u).args([bind, &b, "/euid", "/euid"]).run();
            o.ok();
            assert_eq!(
                result(&o, "euid"),
                NOBODY.to_string(),
                "{name:?} {bind}{o:?}"
            );
            assert_eq!(result(&o, "setuid0"), "fail", "{name:?} {bind}{o:?}");
        }
    }
    // Without the protection: outside the sandbox.
    let o = Cmd::new(bin, u).run();
    o.ok();
    assert_eq!(result(&o, "euid"), "0", "{o:?}");
}

/// Tries to create a user namespace (`unshare -U`) when that is disabled.
/// Under the `bwrap` name, `--disable-userns` lowers user.max_user_namespaces inside the
/// sandbox's own namespace. Under the `hutch` name the seccomp policy refuses it anyway,
/// and `--disable-userns` holds alone with the policy off. Without either, it works.
#[test]
fn new_user_namespaces_stay_disabled() {
    for_each_user(|u| {
        let script = format!("{SH_PRELUDE} t userns unshare -U true");
        let run = |name: Name, extra: &[&str]| {
            let o = small(name, u)
                .arg("--unshare-user")
                .args(extra)
                .sh(&script)
                .run();
            o.ok();
            o
        };
        refused(&run(Name::Bwrap, &["--disable-userns"]), &["userns"]);
        refused(&run(Name::Hutch, &[]), &["userns"]);
        refused(
            &run(
                Name::Hutch,
                &["--disable-userns", "--seccomp-policy", "none"],
            ),
            &["userns"],
        );
        // Without the protection.
        allowed(&run(Name::Bwrap, &[]), &["userns"]);
        allowed(
            &run(Name::Hutch, &["--seccomp-policy", "none"]),
            &["userns"],
        );
    });
}

/// Tries to rename the host with sethostname(2), even with `--cap-add CAP_SYS_ADMIN`.
/// Without `--unshare-uts` the UTS namespace is the host's, owned by a user namespace
/// where the sandbox has no capability: EPERM. With `--unshare-uts` the call works,
/// and renames only the sandbox. The host's name is the same afterwards.
#[test]
fn the_hosts_hostname_cannot_change() {
    let host = nix::unistd::gethostname().unwrap();
    let body = "attempt('sethostname', lambda: socket.sethostname('hutch-escaped'))\n\
                print('name', socket.gethostname())";
    for_each_user(|u| {
        for name in BOTH {
            for caps in [&[][..], &["--cap-add", "CAP_SYS_ADMIN"][..]] {
                let o = py(small(name, u).args(caps), body).run();
                let now = nix::unistd::gethostname().unwrap();
                if now != host {
                    let _ = nix::unistd::sethostname(&host);
                    panic!("{name:?} {u:?} {caps:?} renamed the host to {now:?}{o:?}");
                }
                o.ok();
                assert_eq!(result(&o, "sethostname"), errno(libc::EPERM), "{o:?}");
            }
            // Its own UTS namespace: the call works there.
            let o = py(
                small(name, u).args(["--unshare-uts", "--cap-add", "CAP_SYS_ADMIN"]),
                body,
            )
            .run();
            o.ok();
            allowed(&o, &["sethostname"]);
            assert_eq!(result(&o, "name"), "hutch-escaped", "{o:?}");
            assert_eq!(nix::unistd::gethostname().unwrap(), host);
        }
    });
}

/// Tries to bind TCP port 1 (below ip_unprivileged_port_start). In the host's network
/// namespace the sandbox has no CAP_NET_BIND_SERVICE, even when it adds it, because the
/// namespace belongs to the host's user namespace: EACCES. In its own network
/// namespace (`--unshare-net`) it fails without the capability, and with
/// `--cap-add CAP_NET_BIND_SERVICE` it works.
#[test]
fn privileged_ports_need_the_capability() {
    let body = "s = socket.socket()\n\
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                attempt('bind', lambda: s.bind(('127.0.0.1', 1)))";
    for_each_user(|u| {
        for name in BOTH {
            let cap: &[&str] = &["--cap-add", "CAP_NET_BIND_SERVICE"];
            for extra in [&[][..], cap, &["--unshare-net"][..]] {
                let o = py(small(name, u).args(extra), body).run();
                o.ok();
                assert_eq!(
                    result(&o, "bind"),
                    errno(libc::EACCES),
                    "{name:?} {extra:?}{o:?}"
                );
            }
            let o = py(small(name, u).arg("--unshare-net").args(cap), body).run();
            o.ok();
            allowed(&o, &["bind"]);
        }
    });
}

/// Tries to weaken the sandbox's seccomp filter by installing an allow-everything filter
/// of its own (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)). Installing works, but filters
/// stack and the strictest answer wins. keyctl stays EPERM under the `hutch` name's
/// policy, and uname stays EPERM under a `--seccomp` program given under the `bwrap`
/// name. With no filter of hutch's, the same calls go through.
#[test]
fn an_allow_all_seccomp_filter_does_not_weaken_hutchs() {
    let body = format!(
        r#"
import struct
insn = struct.pack('HBBI', 0x06, 0, 0, 0x7fff0000)  # BPF_RET | BPF_K, SECCOMP_RET_ALLOW
buf = ctypes.create_string_buffer(insn)
class Prog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
prog = Prog(1, ctypes.addressof(buf))
def install():
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
attempt('install', install)
attempt('keyctl', lambda: sc({keyctl}, 0, 0xfffffffd, 0))
attempt('uname', lambda: os.uname())
"#,
        keyctl = libc::SYS_keyctl
    );
    for_each_user(|u| {
        let o = py(small(Name::Hutch, u), &body).run();
        o.ok();
        allowed(&o, &["install", "uname"]);
        assert_eq!(result(&o, "keyctl"), errno(libc::EPERM), "{o:?}");
        let o = py(small(Name::Bwrap, u).args(["--seccomp", "3"]), &body)
            .fd_in(3, &fixture().join("seccomp-uname.bpf"))
            .run();
        o.ok();
        allowed(&o, &["install"]);
        assert_eq!(result(&o, "uname"), errno(libc::EPERM), "{o:?}");
        // Without the protection: no filter of hutch's.
        let o = py(
            small(Name::Hutch, u).args(["--seccomp-policy", "none"]),
            &body,
        )
        .run();
        o.ok();
        allowed(&o, &["install", "uname"]);
        assert_ne!(result(&o, "keyctl"), errno(libc::EPERM), "{o:?}");
        let o = py(small(Name::Bwrap, u), &body).run();
        o.ok();
        allowed(&o, &["install", "uname"]);
    });
}

// ---------------------------------------------------------------------------------------
// Host unix sockets

/// Real servers on host pathname sockets, started by `u` in a fresh directory of the
/// test's own (under the per-process test directory, traversable by everyone): a session
/// bus, an ssh-agent, a stream listener where docker would have docker.sock, and a
/// datagram socket like journald's. Dropping it ends them.
struct HostServers {
    dir: TempDir,
    _running: Vec<Running>,
}

fn host_servers(u: User) -> HostServers {
    let dir = tempdir(u);
    let d = dir.s();
    let servers = [
        Cmd::new(Path::new("/usr/bin/dbus-daemon"), u).args([
            "--session",
            "--nofork",
            "--nopidfile",
            &format!("--address=unix:path={d}/bus"),
        ]),
        Cmd::new(Path::new("/usr/bin/ssh-agent"), u).args(["-D", "-a", &format!("{d}/agent.sock")]),
        Cmd::new(Path::new("/usr/bin/python3"), u).args([
            "-c",
            "import socket, sys\n\
             s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
             s.bind(sys.argv[1]); s.listen(16)\n\
             while True:\n    c, _ = s.accept(); c.sendall(b'pong\\n'); c.close()",
            &format!("{d}/docker.sock"),
        ]),
        Cmd::new(Path::new("/usr/bin/python3"), u).args([
            "-c",
            "import socket, sys, time\n\
             s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
             s.bind(sys.argv[1])\n\
             while True: s.recv(100)",
            &format!("{d}/dgram.sock"),
        ]),
    ];
    let running: Vec<Running> = servers.into_iter().map(|c| c.spawn()).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for name in ["bus", "agent.sock", "docker.sock", "dgram.sock"] {
        while !dir.join(name).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{name} never appeared in {d}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    HostServers {
        dir,
        _running: running,
    }
}

/// The attempts on the host's sockets, bound at /tmp/host inside: a D-Bus method call,
/// `ssh-add -l` (1: connected, no identities; 2: no agent), a request on the docker-like
/// socket, a datagram; and a server of the sandbox's own on a socket in its /tmp.
const SOCKET_ATTEMPTS: &str = "t bus dbus-send --bus=unix:path=/tmp/host/bus --print-reply \
       --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames; \
     t agent sh -c 'SSH_AUTH_SOCK=/tmp/host/agent.sock ssh-add -l; [ $? -eq 1 ]'; \
     t docker sh -c 'python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); \
       s.connect(\\\"/tmp/host/docker.sock\\\"); assert s.recv(10) == b\\\"pong\\\\n\\\"\"'; \
     t dgram python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"x\", \"/tmp/host/dgram.sock\")'; \
     t inner sh -c 'python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.bind(\\\"/tmp/in.sock\\\"); s.listen(1); c, _ = s.accept(); c.sendall(b\\\"in\\\")\" & \
       i=0; while [ ! -S /tmp/in.sock ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; \
       python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect(\\\"/tmp/in.sock\\\"); assert s.recv(2) == b\\\"in\\\"\"'";

const HOST_SOCKETS: [&str; 4] = ["bus", "agent", "docker", "dgram"];

/// Tries to reach host services through their pathname sockets, which `--ro-bind / /`
/// leaves in view (connect(2) needs no writable mount): a session bus (from which
/// `systemd-run --user` would run code outside), an ssh-agent, a docker-like socket, a
/// datagram socket. The host's directory is bound at /tmp/host, over the sandbox's own
/// /tmp, so the masks follow a bind whose source and destination differ.
///
/// - Under the `hutch` name every attempt fails; a server the sandbox starts on a socket
///   in its own /tmp still works; `--report` says the mount masks hold them. The same
///   with the host's sockets read from /proc/net/unix (sock_diag failing, injected).
/// - `--allow-socket` grants one socket by its path inside (only that one is reachable),
///   or every socket beneath a directory.
/// - Without the protection (`--host-sockets allow`, the default under the `bwrap` name,
///   and /usr/bin/bwrap itself) every attempt succeeds; `--host-sockets block` turns the
///   protection on under the `bwrap` name.
#[test]
fn host_unix_sockets_are_unreachable_unless_granted() {
    let bwrap = Path::new(SYSTEM_BWRAP).exists();
    for_each_user(|u| {
        let servers = host_servers(u);
        let run = |c: Cmd, extra: &[&str]| {
            let o = c
                .args([
                    "--tmpfs",
                    "/tmp",
                    "--ro-bind",
                    &servers.dir.s(),
                    "/tmp/host",
                ])
                .args(extra)
                .sh(&format!("{SH_PRELUDE}{SOCKET_ATTEMPTS}"))
                .run();
            o.ok();
            o
        };
        // The protection, under both names.
        for (name, extra) in [
            (Name::Hutch, &["--report"][..]),
            (Name::Bwrap, &["--host-sockets", "block"][..]),
        ] {
            let o = run(system(name, u), extra);
            refused(&o, &HOST_SOCKETS);
            allowed(&o, &["inner"]);
            if name == Name::Hutch {
                o.stderr_has(r#""host_sockets": {"mode": "block", "mechanism": "mount-mask""#);
            }
        }
        // Where the kernel has no sock_diag for unix sockets, /proc/net/unix is read instead.
        let o = run(
            system(Name::Hutch, u).env("HUTCH_FAULT", "socket-list"),
            &["--report"],
        );
        refused(&o, &HOST_SOCKETS);
        allowed(&o, &["inner"]);
        o.stderr_has(r#""mechanism": "mount-mask""#);
        // Granted by name: only that socket; granted by directory: all beneath it.
        let o = run(system(Name::Hutch, u), &["--allow-socket", "/tmp/host/bus"]);
        allowed(&o, &["bus", "inner"]);
        refused(&o, &["agent", "docker", "dgram"]);
        let o = run(system(Name::Hutch, u), &["--allow-socket", "/tmp/host"]);
        allowed(&o, &HOST_SOCKETS);
        // Without the protection: every attempt reaches its server.
        let o = run(system(Name::Hutch, u), &["--host-sockets", "allow"]);
        allowed(&o, &HOST_SOCKETS);
        allowed(&o, &["inner"]);
        let hutch_as_bwrap = run(system(Name::Bwrap, u), &[]);
        allowed(&hutch_as_bwrap, &HOST_SOCKETS);
        allowed(&hutch_as_bwrap, &["inner"]);
        // bubblewrap itself: the same results as hutch under its name.
        if bwrap {
            let mut c = system_bwrap(u);
            if u.is_root() {
                c = c.args(ROOT_IN_USERNS);
            }
            let c = c.args([
                "--ro-bind",
                "/",
                "/",
                "--unshare-pid",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
            ]);
            let o = run(c, &[]);
            assert_eq!(
                results(&o),
                results(&hutch_as_bwrap),
                "{o:?}{hutch_as_bwrap:?}"
            );
        }
    });
}

/// The host's RAM, from /proc/meminfo.
fn mem_total() -> u64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("MemTotal in /proc/meminfo")
        * 1024
}

#[test]
fn tmpfs_writes_stop_at_the_bound() {
    const ENOSPC: i32 = 28;
    // 2 MiB into /tmp (--tmpfs), /dev/shm (--dev) and a --tmp-overlay (its writes go to
    // the base tmpfs), each bounded at 1 MiB.
    let body = r#"
def fill(p):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(32):
            os.write(fd, b'x' * 65536)
    finally:
        os.close(fd)
        os.unlink(p)
attempt('tmp', lambda: fill('/tmp/f'))
attempt('shm', lambda: fill('/dev/shm/f'))
attempt('overlay', lambda: fill('/tmp/ov/f'))
"#;
    for_each_user(|u| {
        let lower = tempdir(u);
        let ov = ["--overlay-src", &lower.s(), "--tmp-overlay", "/tmp/ov"];
        let run = |name: Name, extra: &[&str]| {
            let o = py(system(name, u).args(extra).args(ov), body).run();
            o.ok();
            o
        };
        let o = run(Name::Hutch, &["--tmpfs-size", "1M", "--tmpfs", "/tmp"]);
        for n in ["tmp", "shm", "overlay"] {
            assert_eq!(result(&o, n), errno(ENOSPC), "{n}{o:?}");
        }
        // --size before --tmpfs overrides the bound (and takes a suffix as hutch).
        let o = run(
            Name::Hutch,
            &["--tmpfs-size", "1M", "--size", "4M", "--tmpfs", "/tmp"],
        );
        allowed(&o, &["tmp"]);
        assert_eq!(result(&o, "shm"), errno(ENOSPC), "{o:?}");
        // bwrap's own --size (plain bytes) works under its name too.
        let o = run(Name::Bwrap, &["--size", "1048576", "--tmpfs", "/tmp"]);
        assert_eq!(result(&o, "tmp"), errno(ENOSPC), "{o:?}");
        // Without the protection: the bwrap name keeps the kernel's default (half of RAM).
        let o = run(Name::Bwrap, &["--tmpfs", "/tmp"]);
        allowed(&o, &["tmp", "shm", "overlay"]);
    });
}

#[test]
fn the_default_tmpfs_bound_is_a_quarter_of_ram_at_most_4g() {
    let ram = mem_total();
    let bound = ((ram / 4).min(4 << 30) >> 20).max(64) << 20;
    for_each_user(|u| {
        let sizes = |name: Name| {
            let o = small(name, u)
                .args(["--dev", "/dev", "--tmpfs", "/tmp"])
                .args(["stat", "-f", "-c", "%n %b %S", "/tmp", "/dev/shm", "/"])
                .run();
            o.ok();
            let mut out = BTreeMap::new();
            for l in o.lines() {
                let f: Vec<&str> = l.split(' ').collect();
                let n = f[1].parse::<u64>().unwrap() * f[2].parse::<u64>().unwrap();
                out.insert(f[0].to_string(), n);
            }
            assert_eq!(out.len(), 3, "{o:?}");
            out
        };
        // /tmp (--tmpfs), /dev/shm (--dev) and the root (the base tmpfs, no op over it).
        for (path, size) in sizes(Name::Hutch) {
            assert_eq!(size, bound, "{path} as hutch, RAM {ram}");
        }
        // Without the protection: the kernel's default, half of RAM (in pages).
        let half = ram / 4096 / 2 * 4096;
        for (path, size) in sizes(Name::Bwrap) {
            assert_eq!(size, half, "{path} as bwrap, RAM {ram}");
        }
    });
}

#[test]
fn processes_stop_at_the_process_bound() {
    const EAGAIN: i32 = 11;
    // Children that wait on a pipe: forking past the bound fails with EAGAIN.
    let forks = r#"
r, w = os.pipe()
kids = []
def forks():
    for _ in range(32):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
attempt('fork', forks)
os.close(w)
for k in kids:
    os.waitpid(k, 0)
"#;
    // Threads count as processes: the default bound, without forking thousands.
    let threads = r#"
import threading
threading.stack_size(65536)
ev = threading.Event()
n = 0
try:
    for _ in range(4200):
        threading.Thread(target=ev.wait).start()
        n += 1
except RuntimeError:
    pass
ev.set()
print('threads', n)
"#;
    // 4200 threads take seconds under an emulated CPU (tests/vm/run's TCG).
    const THREADS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);
    let count = |o: &Out| result(o, "threads").parse::<u64>().unwrap();
    for_each_user(|u| {
        let o = py(system(Name::Hutch, u).args(["--rlimit", "nproc=16"]), forks).run();
        o.ok();
        if u.is_root() {
            // The kernel does not bound uid 0 (of the initial namespace) with
            // RLIMIT_NPROC, in a user namespace or not: only a pids cgroup (--pids) does.
            allowed(&o, &["fork"]);
        } else {
            assert_eq!(result(&o, "fork"), errno(EAGAIN), "{o:?}");
        }
        let o = py(system(Name::Hutch, u).args(["--report"]), threads)
            .timeout(THREADS_TIMEOUT)
            .run();
        o.ok();
        if u.is_root() {
            o.stderr_has("\"nproc\": null, \"nproc_from\": \"the kernel does not bound root");
            assert_eq!(count(&o), 4200, "{o:?}");
        } else {
            o.stderr_has("\"nproc\": 4096, \"nproc_from\": \"default\"");
            // The sandbox's pid 1 and the main thread count too.
            let n = count(&o);
            assert!((4000..4096).contains(&n), "{n} threads{o:?}");
        }
        // Without the protection: bwrap's defaults.
        let o = py(system(Name::Bwrap, u), forks).run();
        o.ok();
        allowed(&o, &["fork"]);
        let o = py(system(Name::Bwrap, u), threads)
            .timeout(THREADS_TIMEOUT)
            .run();
        o.ok();
        assert_eq!(count(&o), 4200, "{o:?}");
    });
}

/// The default process bound does not depend on what the sandbox mounts: it was once
/// decided after the pivot, from the sandbox's /proc, and without one it was not set.
#[test]
fn the_process_bound_holds_without_proc() {
    let body = "import resource\nprint('nproc', resource.getrlimit(resource.RLIMIT_NPROC)[0])\n";
    for_each_user(|u| {
        let o = py(small(Name::Hutch, u), body).run();
        o.ok();
        // Without the protection: bwrap's defaults, the caller's own limit.
        let without = py(small(Name::Bwrap, u), body).run();
        without.ok();
        if u.is_root() {
            // The kernel does not bound uid 0 with RLIMIT_NPROC: no default for root.
            assert_eq!(result(&o, "nproc"), result(&without, "nproc"), "{o:?}");
        } else {
            assert_eq!(result(&o, "nproc"), "4096", "{o:?}");
            assert_ne!(result(&without, "nproc"), "4096", "{without:?}");
        }
    });
}

/// A home for `u` with `rel` (hutch's configuration, relative to it) made, if given.
fn home_with(u: User, rel: Option<&str>) -> TempDir {
    let home = tempdir(u);
    if let Some(rel) = rel {
        let d = home.join(rel).join("profiles");
        fs::create_dir_all(&d).unwrap();
        if is_root() && !u.is_root() {
            let owner = format!("{}:{}", u.uid(), u.gid());
            let st = Command::new("chown")
                .args(["-R", &owner])
                .arg(home.path())
                .status();
            assert!(st.unwrap().success());
        }
    }
    home
}

#[test]
fn hutchs_configuration_is_read_only_inside() {
    const EROFS: i32 = 30;
    let body = r#"
def write(p):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'w') as f:
        f.write('ro_bind = ["/"]\n')
    os.unlink(p)
attempt('profile', lambda: write(sys.argv[1] + '/hutch/profiles/x.toml'))
attempt('other', lambda: write(sys.argv[1] + '/other/x'))
attempt('home', lambda: write(sys.argv[2] + '/x'))
"#;
    for_each_user(|u| {
        // (config home relative to HOME, XDG_CONFIG_HOME set, made beforehand)
        for (rel, xdg, made) in [
            (".config", false, true),
            ("xdg", true, true),
            (".config", false, false),
        ] {
            let home = home_with(u, made.then(|| format!("{rel}/hutch")).as_deref());
            let conf = home.join(rel).display().to_string();
            let run = |name: Name, dest: &str| {
                let mut c = system(name, u)
                    .args(["--bind", &home.s(), dest])
                    .env("HOME", home.s());
                c = if xdg {
                    c.env("XDG_CONFIG_HOME", &conf)
                } else {
                    c.env_remove("XDG_CONFIG_HOME")
                };
                let inside = conf.replacen(&home.s(), dest, 1);
                let o = py(c, body).args([inside.as_str(), dest]).run();
                o.ok();
                o
            };
            // At the same path, and through a bind of the home elsewhere.
            for dest in [home.s(), "/tmp".to_string()] {
                let o = run(Name::Hutch, &dest);
                assert_eq!(result(&o, "profile"), errno(EROFS), "{rel} {dest}{o:?}");
                allowed(&o, &["other", "home"]);
            }
            // Without the protection: under the bwrap name the profile is written.
            let o = run(Name::Bwrap, &home.s());
            allowed(&o, &["profile", "other", "home"]);
        }
    });
}

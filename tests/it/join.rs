//! Joining a running sandbox, as `flatpak enter` does: `--userns FD`, `--userns2 FD`
//! and `--pidns FD`, as root and as an unprivileged user (nobody via setpriv).

use crate::support;

use crate::support::{users, Cmd, User};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `sh -c SCRIPT` (with `$0` = hutch's `bwrap` symlink) as `who`.
fn sh(who: User, script: &str) -> Cmd {
    who.cmd("sh")
        .args(["-c", script])
        .arg(support::bwrap_path())
}

/// A running sandbox with its own user and pid namespaces; killed on drop.
struct Holder {
    child: std::process::Child,
    /// A process inside it, in our pid namespace.
    inside: u32,
}

impl Holder {
    fn start(who: User, tag: u32) -> Holder {
        Holder::start_with(who, tag, "")
    }

    fn start_with(who: User, tag: u32, extra: &str) -> Holder {
        let script = format!(
            "exec \"$0\" --unshare-user --unshare-pid {extra} --ro-bind / / --proc /proc -- sleep {tag}"
        );
        let child = sh(who, &script)
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Owned by the holder from here on, so that Drop waits for it on any path.
        let mut holder = Holder { child, inside: 0 };
        let start = Instant::now();
        loop {
            let out = Command::new("pgrep")
                .args(["-f", &format!("^sleep {tag}$")])
                .output()
                .unwrap();
            if let Some(pid) = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
            {
                holder.inside = pid.parse().unwrap();
                return holder;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "holder sandbox did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ns(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.inside)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if self.inside != 0 {
            let _ = Command::new("kill").arg(self.inside.to_string()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(who: User, script: &str) -> (i32, String, String) {
    let o = sh(who, script)
        .timeout(Duration::from_secs(30))
        .in_test_group()
        .run();
    (o.code, o.stdout, o.stderr)
}

#[test]
fn enter_a_running_sandbox_with_userns_and_pidns() {
    for who in users() {
        let tag = 800000 + std::process::id() % 100000 + (who == User::Nobody) as u32;
        let holder = Holder::start(who, tag);
        let (user, pid) = (holder.ns("user"), holder.ns("pid"));
        // The second sandbox sees the first one's processes: pid 1 is its reaper,
        // and `sleep TAG` is there.
        let script = format!(
            "exec \"$0\" --userns 3 --pidns 4 --ro-bind / / --proc /proc -- \
             sh -c 'cat /proc/*/cmdline | tr \"\\0\" \" \"; echo; readlink /proc/self/ns/user' 3<{user} 4<{pid}"
        );
        let (code, out, err) = run(who, &script);
        assert_eq!(code, 0, "{who:?}: {err}");
        assert!(out.contains(&format!("sleep {tag}")), "{who:?}: {out}");
        let holder_userns = fs::read_link(&user).unwrap();
        assert!(
            out.contains(&*holder_userns.to_string_lossy()),
            "{who:?}: {out}"
        );

        // The command's status comes back, also from a new pid namespace made
        // inside the joined one (where the command is pid 2 of its own reaper).
        for (extra, expect_pid) in [("", None), ("--unshare-pid", Some("2"))] {
            let script = format!(
                "exec \"$0\" --userns 3 --pidns 4 {extra} --ro-bind / / --proc /proc -- \
                 sh -c 'echo $$; exit 5' 3<{user} 4<{pid}"
            );
            let (code, out, err) = run(who, &script);
            assert_eq!(code, 5, "{who:?} {extra}: {out} {err}");
            if let Some(p) = expect_pid {
                assert_eq!(out.trim(), p, "{who:?} {extra}");
            }
        }

        // --info-fd reports the sandbox's pid in our namespace.
        let info = tempfile::NamedTempFile::new_in("/tmp").unwrap();
        fs::set_permissions(info.path(), fs::Permissions::from_mode(0o666)).unwrap();
        let script = format!(
            "exec \"$0\" --userns 3 --pidns 4 --info-fd 5 --ro-bind / / -- true 3<{user} 4<{pid} 5>{}",
            info.path().display()
        );
        let (code, _, err) = run(who, &script);
        assert_eq!(code, 0, "{err}");
        let json = fs::read_to_string(info.path()).unwrap();
        let child: u32 = json
            .split("\"child-pid\":")
            .nth(1)
            .and_then(|r| {
                r.trim()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .map(str::to_string)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no child-pid in {json}"));
        assert!(child > 1, "{json}");

        // --userns2: after setup, switch to that namespace (flatpak enter joins
        // bwrap's outer namespace, then the nested one its command runs in).
        let nested = Holder::start_with(who, tag + 7, "--uid 5 --gid 5 --dev /dev");
        let inner = nested.ns("user");
        let script = format!(
            "exec python3 -c '\
import fcntl, os, sys\n\
inner = os.open(\"{inner}\", os.O_RDONLY)\n\
outer = fcntl.ioctl(inner, 0xb702)  # NS_GET_PARENT\n\
os.set_inheritable(inner, True); os.set_inheritable(outer, True)\n\
os.execv(sys.argv[1], [\"bwrap\", \"--userns\", str(outer), \"--userns2\", str(inner),\n\
  \"--ro-bind\", \"/\", \"/\", \"readlink\", \"/proc/self/ns/user\"])' \"$0\""
        );
        let (code, out, err) = run(who, &script);
        assert_eq!(code, 0, "{who:?}: {err}");
        assert_eq!(
            out.trim(),
            fs::read_link(&inner).unwrap().to_string_lossy(),
            "{who:?}"
        );
        // The same namespace twice is not a switch: one clear line.
        let script =
            format!("exec \"$0\" --userns 3 --userns2 6 --ro-bind / / -- true 3<{user} 6<{user}");
        let (code, _, err) = run(who, &script);
        assert_eq!(
            (code, err.as_str()),
            (1, "bwrap: Setting userns2 failed: Invalid argument\n")
        );
    }
}

#[test]
fn joining_errors_are_one_line() {
    for who in users() {
        let (code, _, err) = run(
            who,
            "exec \"$0\" --userns 3 --unshare-user --ro-bind / / true 3</proc/self/ns/user",
        );
        assert_eq!(
            (code, err.as_str()),
            (1, "bwrap: --userns not compatible --unshare-user\n")
        );
        let (code, _, err) = run(who, "exec \"$0\" --pidns 9 --ro-bind / / true");
        assert_eq!(code, 1, "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("bwrap: Setting pidns failed"), "{err}");
        // Our own user namespace is not a child of itself.
        let (code, _, err) = run(
            who,
            "exec \"$0\" --userns 3 --ro-bind / / true 3</proc/self/ns/user",
        );
        assert_eq!(code, 1, "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("Joining"), "{err}");
    }
}

/// `--userns-block-fd`: the sandbox waits, with its user namespace made and
/// `--info-fd` written, until the caller writes a byte (here after 300 ms).
#[test]
fn userns_block_fd_waits_for_the_caller() {
    for who in users() {
        let info = tempfile::NamedTempFile::new_in("/tmp").unwrap();
        fs::set_permissions(info.path(), fs::Permissions::from_mode(0o666)).unwrap();
        let script = format!(
            "(sleep 0.3; echo go) | \"$0\" --unshare-user --info-fd 4 --userns-block-fd 0 \
             --ro-bind / / -- echo ran 4>{}",
            info.path().display()
        );
        let start = Instant::now();
        let (code, out, err) = run(who, &script);
        assert_eq!((code, out.as_str()), (0, "ran\n"), "{who:?}: {err}");
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "did not wait"
        );
        let json = fs::read_to_string(info.path()).unwrap();
        assert!(json.contains("\"child-pid\""), "{json}");
    }
}

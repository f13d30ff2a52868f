//! What a run may leave on the host: the names in /tmp and /dev/shm and the host's
//! mounts, without those of concurrent test runs and builds; a tmpfs mounted on the
//! host for a test.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Names that other programs running at the same time may create in /tmp: the test
/// directories of hutch's test suites (`hutch-SUITE-...`, such as support's
/// `hutch-test-CRATE-PID`, and `hutch-it-PID` of older trees) and the temporary files of Rust
/// builds. The one name hutch itself makes there, slirp4netns's socket directory
/// `hutch-net-XXXXXX` (mkdtemp), is not foreign: a leaked one counts.
fn is_foreign(name: &str) -> bool {
    const SUITES: &[&str] = &[
        "it", "harden", "flatpak", "limits", "net", "bench", "test", "profiles", "join", "faults",
        "load", "fuzz", "escape", "oci", "podman",
    ];
    if let Some(x) = name.strip_prefix("hutch-net-") {
        if x.len() == 6 && !x.contains('-') {
            return false;
        }
    }
    let suite = name
        .strip_prefix("hutch-")
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(word, _)| SUITES.contains(&word));
    suite || name.starts_with("rustc") || name.starts_with(".tmp")
}

/// The names in a host directory, without those of concurrent test runs and builds.
pub fn listing(dir: &str) -> std::collections::BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !is_foreign(n))
                .collect()
        })
        .unwrap_or_default()
}

/// The host's mount points, outside the test runs' own directories.
pub fn host_mounts() -> std::collections::BTreeSet<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|p| {
            !p.strip_prefix("/tmp/")
                .is_some_and(|r| is_foreign(r.split('/').next().unwrap_or("")))
        })
        .collect()
}

/// Names that appeared in `dir` since `before` and are still there after a grace
/// period (other processes on the machine may create short-lived files there).
pub fn persistent_new_entries(
    dir: &str,
    before: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    let mut new: Vec<String> = listing(dir).difference(before).cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !new.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = listing(dir);
        new.retain(|n| now.contains(n));
    }
    new
}

/// Of the [`persistent_new_entries`] of `dir`, those hutch could have left: the names
/// hutch makes (anything starting with `hutch` or `.hutch` that is not a test suite's,
/// such as slirp4netns's `hutch-net-XXXXXX`) and the names the test gave hutch
/// (`named`: the last components of the paths in its arguments, which a broken setup
/// could create on the host). Other programs on a shared machine create files in /tmp
/// as the same user meanwhile: those are not hutch's and do not count.
pub fn hutchs_new_entries(
    dir: &str,
    before: &std::collections::BTreeSet<String>,
    named: &[&str],
) -> Vec<String> {
    let named: Vec<&str> = named
        .iter()
        .filter_map(|a| Path::new(a).file_name().and_then(|n| n.to_str()))
        .collect();
    persistent_new_entries(dir, before)
        .into_iter()
        .filter(|n| {
            n.starts_with("hutch") || n.starts_with(".hutch") || named.contains(&n.as_str())
        })
        .collect()
}

/// Is anything at `p` (without following a final symlink)?
pub fn exists_nofollow(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// The inode of one of our own namespaces (`/proc/self/ns/NAME`).
pub fn own_ns(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(format!("/proc/self/ns/{name}")).unwrap().ino()
}

/// A tmpfs mounted on the host for the duration of a test.
pub struct HostMount(PathBuf);

impl HostMount {
    pub fn tmpfs(at: &Path) -> HostMount {
        fs::create_dir_all(at).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            at,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("mode=1777"),
        )
        .expect("mount a tmpfs on the host");
        HostMount(at.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

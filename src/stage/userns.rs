//! User namespace id maps, written with std: no setuid helper is ever needed.

use std::io::{self, Write};
use std::os::fd::BorrowedFd;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// A user id and a group id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// The id maps a sandbox gets, decided from the caller's ids and `--uid`/`--gid`.
///
/// The first user namespace maps `ns` onto the caller's `real` ids. When a nested
/// namespace follows (devpts needs uid 0 mapped, and `--disable-userns` needs the
/// nesting), `ns` is 0:0 and the nested one maps the `sandbox` ids onto it, as bwrap
/// does; otherwise `ns` is the sandbox ids themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub real: Ids,
    pub sandbox: Ids,
    pub ns: Ids,
    pub nested: bool,
}

impl Layout {
    /// `uid`/`gid`: `--uid`/`--gid`, the caller's own when absent. `nest`: whether the
    /// setup wants a nested namespace, given the sandbox ids (see `sandbox::nested_user_ns`);
    /// only asked when a user namespace is made at all (`userns`).
    pub fn new(
        real: Ids,
        uid: Option<u32>,
        gid: Option<u32>,
        userns: bool,
        nest: impl FnOnce(Ids) -> bool,
    ) -> Layout {
        let sandbox = Ids {
            uid: uid.unwrap_or(real.uid),
            gid: gid.unwrap_or(real.gid),
        };
        let nested = userns && nest(sandbox);
        let ns = if nested {
            Ids { uid: 0, gid: 0 }
        } else {
            sandbox
        };
        Layout {
            real,
            sandbox,
            ns,
            nested,
        }
    }

    /// The first namespace's `uid_map` and `gid_map` texts.
    pub fn outer_maps(&self) -> Maps {
        Maps::single(self.ns, self.real)
    }

    /// The nested namespace's maps, if there is one.
    pub fn nested_maps(&self) -> Option<Maps> {
        self.nested.then(|| Maps::single(self.sandbox, self.ns))
    }
}

/// The texts of one namespace's `uid_map` and `gid_map`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maps {
    pub uid_map: String,
    pub gid_map: String,
}

impl Maps {
    /// Map exactly one id of each kind: all an unprivileged process may map
    /// (user_namespaces(7)).
    fn single(inside: Ids, outside: Ids) -> Maps {
        Maps {
            uid_map: map_text(&[(inside.uid, outside.uid, 1)]),
            gid_map: map_text(&[(inside.gid, outside.gid, 1)]),
        }
    }
}

/// The kernel's limit on the lines of one map (user_namespaces(7), since Linux 4.15).
pub const MAX_MAP_LINES: usize = 340;

/// A map's text: one `inside outside count` line per range.
pub fn map_text(ranges: &[(u32, u32, u32)]) -> String {
    ranges
        .iter()
        .map(|(inside, outside, count)| format!("{inside} {outside} {count}\n"))
        .collect()
}

/// Write `setgroups` (deny), then `uid_map` and `gid_map` in `proc_dir`, a
/// descriptor of the process's `/proc/<pid>` directory (opened while the host's
/// /proc was reachable, so this also works after the root has changed).
///
/// An unprivileged process may map exactly its own ids, once, and only after
/// denying setgroups (user_namespaces(7)).
pub fn write_maps(proc_dir: BorrowedFd<'_>, maps: &Maps) -> io::Result<()> {
    let write = |name: &str, data: &str| -> io::Result<()> {
        let fd = nix::fcntl::openat(
            proc_dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        std::fs::File::from(fd).write_all(data.as_bytes())
    };
    match write("setgroups", "deny") {
        Ok(()) => {}
        // Kernels before 3.19 have no setgroups file; nothing to deny there.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    write("uid_map", &maps.uid_map)?;
    write("gid_map", &maps.gid_map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines() {
        assert_eq!(map_text(&[(0, 1000, 1)]), "0 1000 1\n");
        assert_eq!(
            map_text(&[(4294967294, 65534, 1), (0, 0, 1)]),
            "4294967294 65534 1\n0 0 1\n"
        );
    }

    #[test]
    fn layouts() {
        let real = Ids {
            uid: 1000,
            gid: 100,
        };
        let flat = Layout::new(real, Some(5), None, true, |_| false);
        assert_eq!(flat.outer_maps().uid_map, "5 1000 1\n");
        assert_eq!(flat.outer_maps().gid_map, "100 100 1\n");
        assert_eq!(flat.nested_maps(), None);
        let nested = Layout::new(real, Some(5), Some(6), true, |ids| ids.uid != 0);
        assert_eq!(nested.outer_maps().uid_map, "0 1000 1\n");
        let inner = nested.nested_maps().unwrap();
        assert_eq!(
            (inner.uid_map.as_str(), inner.gid_map.as_str()),
            ("5 0 1\n", "6 0 1\n")
        );
        // No user namespace: never nested.
        assert!(!Layout::new(real, None, None, false, |_| true).nested);
    }

    #[test]
    fn writes_into_a_fake_proc_dir() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        for f in ["setgroups", "uid_map", "gid_map"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let fd = std::fs::File::open(dir.path()).unwrap();
        let maps = Maps::single(
            Ids { uid: 5, gid: 6 },
            Ids {
                uid: 1000,
                gid: 1001,
            },
        );
        write_maps(fd.as_fd(), &maps).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("setgroups"), "deny");
        assert_eq!(read("uid_map"), "5 1000 1\n");
        assert_eq!(read("gid_map"), "6 1001 1\n");
    }
}

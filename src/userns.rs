//! User namespace id maps, written with std: no setuid helper is ever needed.

use std::io;
use std::path::Path;

/// One id map line: `inside outside count`.
pub fn map_line(inside: u32, outside: u32) -> String {
    format!("{inside} {outside} 1\n")
}

/// Write `setgroups` (deny), then `uid_map` and `gid_map` for the process whose
/// `/proc/<pid>` directory is `proc_dir` (usually `/proc/self`).
///
/// An unprivileged process may map exactly its own ids, once, and only after
/// denying setgroups (user_namespaces(7)).
pub fn write_maps(proc_dir: &Path, uid: (u32, u32), gid: (u32, u32)) -> io::Result<()> {
    match std::fs::write(proc_dir.join("setgroups"), "deny") {
        Ok(()) => {}
        // Kernels before 3.19 have no setgroups file; nothing to deny there.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::write(proc_dir.join("uid_map"), map_line(uid.0, uid.1))?;
    std::fs::write(proc_dir.join("gid_map"), map_line(gid.0, gid.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines() {
        assert_eq!(map_line(0, 1000), "0 1000 1\n");
        assert_eq!(map_line(4294967294, 65534), "4294967294 65534 1\n");
    }

    #[test]
    fn writes_into_a_fake_proc_dir() {
        let dir = tempfile::tempdir().unwrap();
        write_maps(dir.path(), (5, 1000), (6, 1001)).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("setgroups"), "deny");
        assert_eq!(read("uid_map"), "5 1000 1\n");
        assert_eq!(read("gid_map"), "6 1001 1\n");
    }
}

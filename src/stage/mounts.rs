//! Building the new root: the filesystem ops, applied in order.
//!
//! Layout while setting up (all inside the sandbox's private mount namespace,
//! so nothing of it is visible on the host):
//!
//! ```text
//! /            a private tmpfs ("base"), holding hidden data files
//! /oldroot     the host's root, where bind sources are found
//! /newroot     the sandbox's root, where every destination is resolved
//! ```
//!
//! Destinations are always resolved with `openat2(RESOLVE_IN_ROOT)` from a
//! descriptor of `/newroot`, so a symlink in the new root can never lead a
//! mount or a created file out of it. Binds are made with the new mount API:
//! `open_tree(OPEN_TREE_CLONE|AT_RECURSIVE)`, one recursive `mount_setattr`
//! for read-only/nosuid/nodev, and `move_mount`: constant work per op, no
//! re-reading of `/proc/self/mountinfo`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};
use crate::fault::Step;
use crate::spec::{BindKind, Op, OverlayKind};
use crate::sys;

const BASE_CANDIDATES: &[&str] = &["/tmp", "/var/tmp", "/run", "/mnt", "/dev", "/"];

/// Sources resolved on the host before the root changes (bwrap resolves them with
/// realpath too): `None` for a `-try` op whose source is missing. An overlay's paths
/// are checked here and made canonical by [`overlay_on_host`].
pub fn resolve_sources(ops: &[Op]) -> Result<Vec<Option<PathBuf>>> {
    let canon = |p: &Path| std::fs::canonicalize(p);
    ops.iter()
        .map(|op| match op {
            Op::Bind {
                src, allow_missing, ..
            } => match crate::fault::hit_io(Step::BindSource).and_then(|()| canon(src)) {
                Ok(p) => Ok(Some(p)),
                Err(e) if *allow_missing && e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(
                    format!("Can't find source path {}", src.display()),
                    e,
                )),
            },
            // bwrap binds the path the fd names, then checks the inode: an fd
            // from the host's mount namespace cannot be cloned from ours.
            Op::BindFd { fd, .. } => {
                let magic = PathBuf::from(format!("/proc/self/fd/{fd}"));
                canon(&magic)
                    .map(Some)
                    .ctx(|| format!("Can't find source path {}", magic.display()))
            }
            Op::Overlay { sources, kind, .. } => {
                for s in sources {
                    canon(s).ctx(|| format!("Can't find source path {}", s.display()))?;
                }
                if let OverlayKind::ReadWrite { upper, work } = kind {
                    canon(upper).ctx(|| format!("Can't find source path {}", upper.display()))?;
                    canon(work).ctx(|| format!("Can't find source path {}", work.display()))?;
                }
                Ok(Some(PathBuf::new()))
            }
            _ => Ok(Some(PathBuf::new())),
        })
        .collect()
}

/// An overlay op with its paths as bwrap's realpath leaves them, canonical on the host,
/// before anything is mounted: a relative path is found from the working directory
/// even after a `--tmpfs /tmp` or a bind hides it, and an absolute symlink from the
/// host's root, not from the setup root where the overlay is mounted. Other ops as given.
pub fn overlay_on_host(op: &Op) -> std::borrow::Cow<'_, Op> {
    let canon = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    match op {
        Op::Overlay {
            sources,
            kind,
            dest,
        } => std::borrow::Cow::Owned(Op::Overlay {
            sources: sources.iter().map(canon).collect(),
            kind: match kind {
                OverlayKind::ReadWrite { upper, work } => OverlayKind::ReadWrite {
                    upper: canon(upper),
                    work: canon(work),
                },
                other => other.clone(),
            },
            dest: dest.clone(),
        }),
        _ => std::borrow::Cow::Borrowed(op),
    }
}

/// Where the sandbox may see hutch's own configuration: a path inside, and the identity
/// (device, inode) it must have there, if known (an overlay's merged view has none).
pub type ConfigView = (PathBuf, Option<(u64, u64)>);

/// Before the root changes (the host's view): every place where the ops show one of
/// hutch's configuration directories (`spec.config_dirs`) or something beneath one.
pub fn config_views(dirs: &[PathBuf], ops: &[Op], sources: &[Option<PathBuf>]) -> Vec<ConfigView> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let mut out: Vec<ConfigView> = Vec::new();
    for dir in dirs {
        let Ok(conf) = std::fs::canonicalize(dir) else {
            continue;
        };
        let conf_id = id(&conf);
        out.push((dir.clone(), conf_id));
        if conf != *dir {
            out.push((conf.clone(), conf_id));
        }
        for (op, src) in ops.iter().zip(sources) {
            let (src, dest, known) = match (op, src) {
                (Op::Bind { dest, .. } | Op::BindFd { dest, .. }, Some(s)) => {
                    (s.clone(), dest, true)
                }
                (
                    Op::Overlay {
                        kind: OverlayKind::ReadWrite { upper, .. },
                        dest,
                        ..
                    },
                    _,
                ) => match std::fs::canonicalize(upper) {
                    Ok(u) => (u, dest, false),
                    Err(_) => continue,
                },
                _ => continue,
            };
            if let Ok(rest) = conf.strip_prefix(&src) {
                out.push((dest.join(rest), conf_id.filter(|_| known)));
            } else if src.starts_with(&conf) && known {
                out.push((dest.clone(), id(&src)));
            }
        }
    }
    out.dedup();
    out
}

/// The path of `p` (absolute on the host) seen from the base root.
fn oldroot(p: &Path) -> PathBuf {
    Path::new("/oldroot").join(p.strip_prefix("/").unwrap_or(p))
}

/// A path that the kernel resolves to whatever `fd` refers to (for the calls
/// that only take paths). Valid while the host's /proc is at /oldroot/proc.
fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/oldroot/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Destination paths are taken relative to the new root, whatever their form.
fn rel(dest: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    out
}

pub struct Root {
    /// `/newroot`, reopened after every mount so that it names the top mount.
    root: OwnedFd,
    data_files: usize,
    uses_new_api: bool,
    /// The empty file bound over host sockets exists (src/stage/sockets.rs).
    socket_mask: bool,
    /// `--tmpfs-size`: the size bound of every tmpfs made without `--size`.
    tmpfs_size: Option<u64>,
}

/// `mode=...` for a tmpfs, with `,size=...` when it is bounded.
fn tmpfs_data(mode: u32, size: Option<u64>) -> String {
    let mut data = format!("mode={}", c_octal(mode));
    if let Some(size) = size {
        data.push_str(&format!(",size={size}"));
    }
    data
}

fn open_root() -> Result<OwnedFd> {
    nix::fcntl::open(
        "/newroot",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "Can't open new root".into())
}

impl Root {
    /// Make mounts private to us, mount the base tmpfs and pivot into it. The base
    /// (which holds `--file` copies, `--tmp-overlay` writes and the root, unless an op
    /// covers it) is bounded by `tmpfs_size` like every tmpfs made without `--size`.
    pub fn prepare(tmpfs_size: Option<u64>) -> Result<Root> {
        // Slave, not private: host mounts made later still propagate in, none go out.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SILENT | MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| "Failed to make / slave".into())?;
        let base = BASE_CANDIDATES
            .iter()
            .find(|p| std::fs::metadata(p).map(|m| m.is_dir()).unwrap_or(false))
            .ok_or_else(|| Error::msg("No directory to mount the new root on"))?;
        mount(
            Some("tmpfs"),
            *base,
            Some("tmpfs"),
            MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
            Some(tmpfs_data(0o755, tmpfs_size).as_str()),
        )
        .ctx(|| "Failed to mount tmpfs".into())?;
        nix::unistd::chdir(*base).ctx(|| format!("chdir {base}"))?;
        for d in ["newroot", "oldroot"] {
            nix::unistd::mkdir(d, Mode::from_bits_truncate(0o755))
                .ctx(|| format!("Creating {d} failed"))?;
        }
        mount(
            Some("newroot"),
            "newroot",
            None::<&str>,
            MsFlags::MS_SILENT | MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| "setting up newroot bind".into())?;
        sys::pivot_root(Path::new("."), Path::new("oldroot")).ctx(|| "pivot_root".into())?;
        nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
        Ok(Root {
            root: open_root()?,
            data_files: 0,
            uses_new_api: true,
            socket_mask: false,
            tmpfs_size,
        })
    }

    /// Leave the base behind: the new root becomes `/`, the host's root is detached.
    ///
    /// One lazy unmount detaches the base with everything mounted in it, the host's
    /// root at /oldroot included (bwrap unmounts /oldroot first, on its own). Each
    /// unmount waits for an RCU grace period, 50-100 µs here: one is enough.
    pub fn finish(self) -> Result<()> {
        drop(self.root);
        nix::unistd::chdir("/newroot").ctx(|| "chdir /newroot".into())?;
        sys::pivot_root(Path::new("."), Path::new(".")).ctx(|| "pivot_root(/newroot)".into())?;
        umount2(".", MntFlags::MNT_DETACH).ctx(|| "unmount old root".into())?;
        nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
        Ok(())
    }

    fn resolve(&self, dest: &Path, flags: OFlag) -> io::Result<OwnedFd> {
        let r = rel(dest);
        let r = if r.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            r
        };
        sys::openat2(
            self.root.as_fd(),
            &r,
            (flags | OFlag::O_CLOEXEC).bits(),
            0,
            sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
        )
    }

    /// Create the missing parent directories of `dest`, all with `mode`.
    /// Returns the parent directory and the final name.
    fn parent(&self, dest: &Path, mode: u32) -> Result<(OwnedFd, OsString)> {
        let r = rel(dest);
        let name = r
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| ".".into());
        let parent = r.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Ok(fd) = self.resolve(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            return Ok((fd, name));
        }
        let mut cur = self
            .resolve(Path::new(""), OFlag::O_PATH | OFlag::O_DIRECTORY)
            .ctx(|| "open new root".into())?;
        let mut sofar = PathBuf::new();
        for comp in parent.components() {
            sofar.push(comp);
            match self.resolve(&sofar, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => cur = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    mkdir_exact(cur.as_fd(), comp.as_os_str(), mode)
                        .ctx(|| format!("Can't mkdir parents for {}", dest.display()))?;
                    cur = self
                        .resolve(&sofar, OFlag::O_PATH | OFlag::O_DIRECTORY)
                        .ctx(|| format!("Can't mkdir parents for {}", dest.display()))?;
                }
                Err(e) => {
                    return Err(Error::io(
                        format!("Can't mkdir parents for {}", dest.display()),
                        e,
                    ))
                }
            }
        }
        Ok((cur, name))
    }

    /// Make sure `dest` exists as a directory (0755 unless `mode`), creating parents.
    fn ensure_dir(&self, dest: &Path, mode: u32, parent_mode: u32) -> Result<OwnedFd> {
        if let Ok(fd) = self.resolve(dest, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            return Ok(fd);
        }
        let (parent, name) = self.parent(dest, parent_mode)?;
        match mkdir_exact(parent.as_fd(), &name, mode) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(Error::io(format!("Can't mkdir {}", dest.display()), e)),
        }
        self.resolve(dest, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .ctx(|| format!("Can't mkdir {}", dest.display()))
    }

    /// Make sure `dest` exists (as anything but a directory, created as an empty
    /// file with `mode`), creating parents.
    fn ensure_file(&self, dest: &Path, mode: u32, parent_mode: u32) -> Result<OwnedFd> {
        if let Ok(fd) = self.resolve(dest, OFlag::O_PATH) {
            return Ok(fd);
        }
        let (parent, name) = self.parent(dest, parent_mode)?;
        match create_file(parent.as_fd(), &name, mode) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("Can't create file at {}", dest.display()),
                    e,
                ))
            }
        }
        self.resolve(dest, OFlag::O_PATH)
            .ctx(|| format!("Can't create file at {}", dest.display()))
    }

    /// Mount `tree` (a detached mount from `open_tree`) on `dest_fd`.
    fn attach(&mut self, tree: OwnedFd, dest_fd: BorrowedFd<'_>) -> io::Result<()> {
        sys::move_mount_fd(tree.as_fd(), dest_fd)?;
        self.reopen()
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.root = open_root().map_err(|_| io::Error::from_raw_os_error(libc::EIO))?;
        Ok(())
    }

    /// A recursive bind of `src` (a path seen from the base root) on `dest_fd`,
    /// with `attrs` set on every mount in the tree.
    fn bind(&mut self, src: &Path, dest_fd: BorrowedFd<'_>, attrs: u64) -> io::Result<()> {
        if self.uses_new_api {
            match sys::open_tree(
                libc::AT_FDCWD,
                src,
                sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | sys::AT_RECURSIVE,
            ) {
                Ok(tree) => {
                    sys::mount_setattr_fd(tree.as_fd(), attrs, true)?;
                    return self.attach(tree, dest_fd);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => self.uses_new_api = false,
                Err(e) => return Err(e),
            }
        }
        self.bind_legacy(src, dest_fd, attrs)
    }

    /// For kernels without the new mount API (before 5.2/5.12): bind, then remount
    /// every mount of the new tree, found in /proc/self/mountinfo.
    fn bind_legacy(&mut self, src: &Path, dest_fd: BorrowedFd<'_>, attrs: u64) -> io::Result<()> {
        let target = fd_path(dest_fd);
        mount(
            Some(src),
            &target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(io::Error::from)?;
        self.reopen()?;
        let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
        if attrs & sys::MOUNT_ATTR_RDONLY != 0 {
            flags |= MsFlags::MS_RDONLY;
        }
        if attrs & sys::MOUNT_ATTR_NOSUID != 0 {
            flags |= MsFlags::MS_NOSUID;
        }
        if attrs & sys::MOUNT_ATTR_NODEV != 0 {
            flags |= MsFlags::MS_NODEV;
        }
        let top = std::fs::read_link(&target)?;
        let info = std::fs::read_to_string("/oldroot/proc/self/mountinfo")?;
        for line in info.lines() {
            let Some(mp) = line.split(' ').nth(4) else {
                continue;
            };
            let mp = unescape_mountinfo(mp);
            if mp == top || mp.starts_with(top.join("")) {
                let _ = mount(None::<&str>, &mp, None::<&str>, flags, None::<&str>);
            }
        }
        Ok(())
    }

    /// After the ops: hutch's own configuration, wherever it is visible on a writable
    /// mount, becomes read-only (a recursive read-only bind onto itself), so that no
    /// sandbox can weaken the next one's profile.
    pub fn protect_config(&mut self, views: &[ConfigView]) -> Result<()> {
        for (path, want) in views {
            let Ok(fd) = self.resolve(path, OFlag::O_PATH) else {
                continue;
            };
            let Ok(st) = nix::sys::stat::fstat(&fd) else {
                continue;
            };
            if want.is_some_and(|w| w != (st.st_dev, st.st_ino)) {
                continue;
            }
            let read_only = nix::sys::statvfs::fstatvfs(&fd)
                .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
            if read_only {
                continue;
            }
            self.rebind_read_only(fd.as_fd()).ctx(|| {
                format!(
                    "Can't make hutch's configuration {} read-only",
                    path.display()
                )
            })?;
        }
        Ok(())
    }

    /// A read-only (nosuid, nodev) bind of `fd`'s place onto itself.
    fn rebind_read_only(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let src = fd_path(fd);
        self.bind(
            &src,
            fd,
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        )
    }

    /// A tmpfs-like filesystem mounted on `dest_fd` with mount(2).
    fn mount_fs(
        &mut self,
        fstype: &str,
        dest_fd: BorrowedFd<'_>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        mount(Some(fstype), &fd_path(dest_fd), Some(fstype), flags, data)
            .map_err(io::Error::from)?;
        self.reopen()
    }

    /// Copy everything readable from `fd` into a new hidden file in the base.
    fn data_file(&mut self, fd: RawFd, mode: u32) -> io::Result<PathBuf> {
        self.data_files += 1;
        let path = PathBuf::from(format!("/.hutch-data-{}", self.data_files));
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)?;
        copy_fd(fd, &mut out)?;
        Ok(path)
    }

    /// `--bind-data`/`--ro-bind-data`: what `fd` holds in a file of the base, bound on
    /// `dest`. The file is unlinked once bound, as bwrap does, unless `keep` (hutch's
    /// own generated files): a nested sandbox can then mount over the bind, which the
    /// kernel refuses on an unlinked file (ENOENT). Either way the file lives on the
    /// base, which the sandbox leaves behind with its mount namespace.
    pub fn bind_data(
        &mut self,
        fd: RawFd,
        dest: &Path,
        perms: Option<u32>,
        read_only: bool,
        keep: bool,
    ) -> Result<()> {
        let perms = perms.unwrap_or(0o600);
        let tmp = self
            .data_file(fd, perms)
            .ctx(|| format!("Can't write data to file {}", dest.display()))?;
        let dest_fd = self.ensure_file(dest, 0o444, parent_mode(perms))?;
        let mut attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
        if read_only {
            attrs |= sys::MOUNT_ATTR_RDONLY;
        }
        self.bind(&tmp, dest_fd.as_fd(), attrs)
            .ctx(|| format!("Can't bind mount {}", dest.display()))?;
        if !keep {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(())
    }

    /// The mount point for a bind of `src` (a path seen from the base) on `dest`: a
    /// directory, or a file where `src` is not one, made where missing. For the OCI
    /// runtime's non-recursive binds (src/oci/runtime.rs), which mount on it themselves.
    pub fn bind_target(&self, src: &Path, dest: &Path) -> Result<OwnedFd> {
        if std::fs::metadata(src).is_ok_and(|m| m.is_dir()) {
            self.ensure_dir(dest, 0o755, parent_mode(0))
        } else {
            self.ensure_file(dest, 0o444, parent_mode(0))
        }
    }

    /// `--tmpfs-size` from here on (the OCI runtime's /dev takes its `size=` so).
    pub fn set_tmpfs_size(&mut self, size: Option<u64>) {
        self.tmpfs_size = size;
    }

    /// An `O_PATH` descriptor of `dest` in the new root (`follow`: a final symlink
    /// is followed, inside the new root), for src/stage/sockets.rs.
    pub fn find(&self, dest: &Path, follow: bool) -> io::Result<OwnedFd> {
        let nofollow = if follow {
            OFlag::empty()
        } else {
            OFlag::O_NOFOLLOW
        };
        self.resolve(dest, OFlag::O_PATH | nofollow)
    }

    /// The path of `fd` (something in the new root) as seen inside the sandbox.
    pub fn inside_path(&self, fd: BorrowedFd<'_>) -> Option<PathBuf> {
        let p = std::fs::read_link(fd_path(fd)).ok()?;
        let inside = p.strip_prefix("/newroot").ok()?;
        Some(Path::new("/").join(inside))
    }

    /// Bind an empty read-only file over `fd` (a host socket, `dest` inside): no
    /// socket is found there any more, `connect` and `sendto` are refused.
    ///
    /// The file is made once, in the base, and bound read-only on itself; each mask
    /// is a bind of that mount, whose flags the new mount keeps: one mount(2) per
    /// socket (the new mount API would take three calls).
    pub fn mask(&mut self, fd: BorrowedFd<'_>, dest: &Path) -> Result<()> {
        let mask = Path::new("/.hutch-socket-mask");
        let ctx = || format!("Can't mask the host socket at {}", dest.display());
        if !self.socket_mask {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o000)
                .open(mask)
                .ctx(ctx)?;
            let tree = sys::open_tree(
                libc::AT_FDCWD,
                mask,
                sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC,
            )
            .ctx(ctx)?;
            sys::mount_setattr_fd(
                tree.as_fd(),
                sys::MOUNT_ATTR_RDONLY
                    | sys::MOUNT_ATTR_NOSUID
                    | sys::MOUNT_ATTR_NODEV
                    | sys::MOUNT_ATTR_NOEXEC,
                false,
            )
            .ctx(ctx)?;
            sys::move_mount_fd(tree.as_fd(), file.as_fd()).ctx(ctx)?;
            self.socket_mask = true;
        }
        // Never on the new root itself: `self.root` stays valid.
        mount(
            Some(mask),
            &fd_path(fd),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(ctx)
    }

    /// Apply one op. `src` is the op's source as resolved before the pivot.
    pub fn apply(&mut self, op: &Op, src: Option<&Path>, in_pid_ns: bool) -> Result<()> {
        match op {
            Op::Bind { dest, kind, .. } => {
                let Some(src) = src else { return Ok(()) };
                let from = oldroot(src);
                let is_dir = std::fs::metadata(&from)
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
                let dest_fd = if is_dir {
                    self.ensure_dir(dest, 0o755, parent_mode(0))?
                } else {
                    self.ensure_file(dest, 0o444, parent_mode(0))?
                };
                let attrs = match kind {
                    BindKind::ReadOnly => {
                        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV
                    }
                    BindKind::ReadWrite => sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
                    BindKind::Dev => sys::MOUNT_ATTR_NOSUID,
                };
                crate::fault::hit_io(Step::Bind)
                    .and_then(|()| self.bind(&from, dest_fd.as_fd(), attrs))
                    .ctx(|| format!("Can't bind mount {} on {}", src.display(), dest.display()))
            }
            Op::BindFd {
                fd,
                dest,
                read_only,
            } => {
                let Some(src) = src else { return Ok(()) };
                let src_fd = sys::take_fd(*fd).ctx(|| format!("Can't stat fd {fd}"))?;
                let st = nix::sys::stat::fstat(&src_fd).ctx(|| format!("Can't stat fd {fd}"))?;
                let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
                let dest_fd = if is_dir {
                    self.ensure_dir(dest, 0o755, parent_mode(0))?
                } else {
                    self.ensure_file(dest, 0o444, parent_mode(0))?
                };
                let mut attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
                if *read_only {
                    attrs |= sys::MOUNT_ATTR_RDONLY;
                }
                self.bind(&oldroot(src), dest_fd.as_fd(), attrs)
                    .ctx(|| format!("Can't bind mount {} on {}", src.display(), dest.display()))?;
                let mounted = self
                    .resolve(dest, OFlag::O_PATH)
                    .ctx(|| format!("Can't stat mount at {}", dest.display()))?;
                let mst = nix::sys::stat::fstat(&mounted)
                    .ctx(|| format!("Can't stat mount at {}", dest.display()))?;
                if (mst.st_dev, mst.st_ino) != (st.st_dev, st.st_ino) {
                    return Err(Error::msg("Race condition binding dirfd"));
                }
                Ok(())
            }
            Op::RemountRo { dest } => {
                let fd = self
                    .resolve(dest, OFlag::O_PATH)
                    .ctx(|| format!("Can't remount readonly on {}", dest.display()))?;
                sys::mount_setattr_fd(fd.as_fd(), sys::MOUNT_ATTR_RDONLY, false)
                    .ctx(|| format!("Can't remount readonly on {}", dest.display()))
            }
            Op::Proc { dest } => {
                let fd = self.ensure_dir(dest, 0o755, parent_mode(0))?;
                if in_pid_ns {
                    let ctx = || format!("Can't mount proc on {}", dest.display());
                    crate::fault::hit_io(Step::Proc).ctx(ctx)?;
                    self.mount_fs(
                        "proc",
                        fd.as_fd(),
                        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
                        None,
                    )
                    .ctx(ctx)?;
                } else {
                    self.bind(
                        Path::new("/oldroot/proc"),
                        fd.as_fd(),
                        sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
                    )
                    .ctx(|| format!("Can't bind mount /oldroot/proc on {}", dest.display()))?;
                }
                // bwrap's covers: read-only binds over the parts of /proc that can
                // change the host, where they are writable at all.
                for sub in ["sys", "sysrq-trigger", "irq", "bus"] {
                    let path = dest.join(sub);
                    let Ok(fd) = self.resolve(&path, OFlag::O_PATH) else {
                        continue;
                    };
                    let writable =
                        nix::unistd::access(&fd_path(fd.as_fd()), nix::unistd::AccessFlags::W_OK);
                    if matches!(
                        writable,
                        Err(nix::errno::Errno::EACCES) | Err(nix::errno::Errno::EROFS)
                    ) {
                        continue;
                    }
                    self.rebind_read_only(fd.as_fd())
                        .ctx(|| format!("Can't remount readonly on {}", path.display()))?;
                }
                Ok(())
            }
            Op::Dev { dest } => self.dev(dest),
            Op::Tmpfs { dest, perms, size } => {
                let perms = perms.unwrap_or(0o755);
                let fd = self.ensure_dir(dest, 0o755, parent_mode(perms))?;
                let data = tmpfs_data(perms, size.or(self.tmpfs_size));
                let ctx = || format!("Can't mount tmpfs on {}", dest.display());
                crate::fault::hit_io(Step::Tmpfs).ctx(ctx)?;
                self.mount_fs(
                    "tmpfs",
                    fd.as_fd(),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some(&data),
                )
                .ctx(ctx)
            }
            Op::Mqueue { dest } => {
                let fd = self.ensure_dir(dest, 0o755, parent_mode(0))?;
                self.mount_fs("mqueue", fd.as_fd(), MsFlags::empty(), None)
                    .ctx(|| format!("Can't mount mqueue on {}", dest.display()))
            }
            Op::Dir { dest, perms } => {
                let perms = perms.unwrap_or(0o755);
                self.ensure_dir(dest, perms, parent_mode(perms))?;
                Ok(())
            }
            Op::File { fd, dest, perms } => {
                let perms = perms.unwrap_or(0o666);
                let (parent, name) = self.parent(dest, parent_mode(perms))?;
                // Like creat(2): an existing file is truncated, a symlink never followed.
                let mut file = open_file(parent.as_fd(), &name, perms, OFlag::O_TRUNC)
                    .ctx(|| format!("Can't create file {}", dest.display()))?;
                crate::fault::hit_io(Step::FileData)
                    .and_then(|()| copy_fd(*fd, &mut file))
                    .ctx(|| format!("Can't write data to file {}", dest.display()))
            }
            Op::BindData {
                fd,
                dest,
                perms,
                read_only,
            } => self.bind_data(*fd, dest, *perms, *read_only, false),
            Op::Symlink { target, dest } => {
                let (parent, name) = self.parent(dest, parent_mode(0))?;
                match nix::unistd::symlinkat(target.as_os_str(), parent.as_fd(), name.as_os_str()) {
                    Ok(()) => Ok(()),
                    Err(nix::errno::Errno::EEXIST) => {
                        let existing = nix::fcntl::readlinkat(parent.as_fd(), name.as_os_str());
                        match existing {
                            Ok(t) if t == target.as_os_str() => Ok(()),
                            Ok(t) => Err(Error::msg(format!(
                                "Can't make symlink at {}: existing destination is {}",
                                dest.display(),
                                Path::new(&t).display()
                            ))),
                            Err(nix::errno::Errno::EINVAL) => Err(Error::msg(format!(
                                "Can't make symlink at {}: destination exists and is not a symlink",
                                dest.display()
                            ))),
                            Err(e) => Err(Error::io(
                                format!(
                                    "Can't make symlink at {}: destination exists, and cannot read symlink target",
                                    dest.display()
                                ),
                                e.into(),
                            )),
                        }
                    }
                    Err(e) => Err(Error::io(
                        format!("Can't make symlink at {}", dest.display()),
                        e.into(),
                    )),
                }
            }
            Op::Chmod { perms, path } => {
                let fd = self
                    .resolve(path, OFlag::O_PATH)
                    .ctx(|| format!("Can't chmod {} {}", c_octal(*perms), path.display()))?;
                nix::sys::stat::fchmodat(
                    nix::fcntl::AT_FDCWD,
                    &fd_path(fd.as_fd()),
                    Mode::from_bits_truncate(*perms),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .ctx(|| format!("Can't chmod {} {}", c_octal(*perms), path.display()))
            }
            Op::Overlay {
                sources,
                kind,
                dest,
            } => self.overlay(sources, kind, dest),
        }
    }

    fn overlay(&mut self, sources: &[PathBuf], kind: &OverlayKind, dest: &Path) -> Result<()> {
        let fd = self.ensure_dir(dest, 0o755, parent_mode(0))?;
        let canon = |p: &Path| -> Result<String> {
            let c = std::fs::canonicalize(oldroot(p))
                .ctx(|| format!("Can't find source path {}", p.display()))?;
            Ok(escape_overlay(&c))
        };
        // bwrap stacks later --overlay-src above earlier ones; overlayfs lists the top first.
        let lower: Vec<String> = sources
            .iter()
            .rev()
            .map(|s| canon(s))
            .collect::<Result<_>>()?;
        let mut data = format!("lowerdir={}", lower.join(":"));
        match kind {
            OverlayKind::ReadWrite { upper, work } => {
                data.push_str(&format!(
                    ",upperdir={},workdir={}",
                    canon(upper)?,
                    canon(work)?
                ));
            }
            OverlayKind::Tmp => {
                self.data_files += 1;
                let base = PathBuf::from(format!("/.hutch-overlay-{}", self.data_files));
                for d in ["", "upper", "work"] {
                    std::fs::create_dir(base.join(d))
                        .ctx(|| "Can't create overlay upper dir".into())?;
                }
                data.push_str(&format!(
                    ",upperdir={},workdir={}",
                    escape_overlay(&base.join("upper")),
                    escape_overlay(&base.join("work"))
                ));
            }
            OverlayKind::ReadOnly => {}
        }
        data.push_str(",userxattr");
        self.mount_fs(
            "overlay",
            fd.as_fd(),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(&data),
        )
        .ctx(|| {
            format!(
                "Can't make overlay mount on {} with options {}",
                dest.display(),
                data
            )
        })
    }

    fn dev(&mut self, dest: &Path) -> Result<()> {
        let fd = self.ensure_dir(dest, 0o755, parent_mode(0))?;
        let ctx = || format!("Can't mount tmpfs on {}", dest.display());
        crate::fault::hit_io(Step::Dev).ctx(ctx)?;
        let data = tmpfs_data(0o755, self.tmpfs_size);
        self.mount_fs(
            "tmpfs",
            fd.as_fd(),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(&data),
        )
        .ctx(ctx)?;
        for node in ["null", "zero", "full", "random", "urandom", "tty"] {
            let path = dest.join(node);
            let fd = self.ensure_file(&path, 0o444, 0o755)?;
            let src = PathBuf::from("/oldroot/dev").join(node);
            self.bind(&src, fd.as_fd(), sys::MOUNT_ATTR_NOSUID)
                .ctx(|| format!("Can't bind mount {} on {}", src.display(), path.display()))?;
        }
        let links: [(&str, &str); 6] = [
            ("/proc/self/fd/0", "stdin"),
            ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
            ("/proc/self/fd", "fd"),
            ("/proc/kcore", "core"),
            ("pts/ptmx", "ptmx"),
        ];
        for (target, name) in links {
            self.apply(
                &Op::Symlink {
                    target: target.into(),
                    dest: dest.join(name),
                },
                None,
                false,
            )?;
        }
        self.ensure_dir(&dest.join("shm"), 0o755, 0o755)?;
        let pts = self.ensure_dir(&dest.join("pts"), 0o755, 0o755)?;
        self.mount_fs(
            "devpts",
            pts.as_fd(),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=620"),
        )
        .ctx(|| format!("Can't mount devpts on {}", dest.join("pts").display()))?;
        if let Some(tty) = sys::ttyname(1) {
            let console = dest.join("console");
            let fd = self.ensure_file(&console, 0o444, 0o755)?;
            self.bind(
                &oldroot(&tty),
                fd.as_fd(),
                sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
            )
            .ctx(|| {
                format!(
                    "Can't bind mount {} on {}",
                    tty.display(),
                    console.display()
                )
            })?;
        }
        Ok(())
    }
}

/// C's `%#o`: `0755`, and `0` for zero.
fn c_octal(n: u32) -> String {
    if n == 0 {
        "0".into()
    } else {
        format!("0{n:o}")
    }
}

/// bwrap's mode for missing parent directories: 0755, less the group/other
/// bits that the op's own mode lacks. Ops without a mode of their own (binds,
/// symlinks, proc, dev, mqueue, overlays) count as 0, so their parents are 0700.
fn parent_mode(perms: u32) -> u32 {
    let mut mode = 0o755;
    if perms & 0o070 == 0 {
        mode &= !0o050;
    }
    if perms & 0o007 == 0 {
        mode &= !0o005;
    }
    mode
}

/// mkdirat with exactly `mode`: the setup runs with umask 0 (see `sandbox`).
fn mkdir_exact(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, mode: u32) -> io::Result<()> {
    nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode)).map_err(io::Error::from)
}

/// Open `name` in `dir` for writing, creating it with `mode` (exact under umask 0),
/// never following a symlink. `extra` adds `O_EXCL` or `O_TRUNC`.
fn open_file(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    mode: u32,
    extra: OFlag,
) -> io::Result<File> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | extra,
        Mode::from_bits_truncate(mode),
    )
    .map_err(io::Error::from)?;
    Ok(File::from(fd))
}

/// Create a new empty file (a mount point) with `mode`.
fn create_file(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, mode: u32) -> io::Result<File> {
    open_file(dir, name, mode, OFlag::O_EXCL)
}

/// Read `fd` to its end into `out`, then close it: each data fd is used once.
fn copy_fd(fd: RawFd, out: &mut File) -> io::Result<()> {
    let mut src = File::from(sys::take_fd(fd)?);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
    }
}

/// Escape a path for overlayfs' option string: `\`, `,` and `:` get a backslash.
pub fn escape_overlay(p: &Path) -> String {
    let mut out = String::new();
    for ch in p.to_string_lossy().chars() {
        if matches!(ch, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsStr::from_bytes(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_relative_to_the_new_root() {
        assert_eq!(rel(Path::new("/a/b")), PathBuf::from("a/b"));
        assert_eq!(rel(Path::new("a/./b/")), PathBuf::from("a/b"));
        assert_eq!(rel(Path::new("/")), PathBuf::new());
        assert_eq!(rel(Path::new("/../x")), PathBuf::from("../x"));
    }

    #[test]
    fn parent_modes_follow_perms() {
        assert_eq!(parent_mode(0o755), 0o755);
        assert_eq!(parent_mode(0o666), 0o755);
        assert_eq!(parent_mode(0o700), 0o700);
        assert_eq!(parent_mode(0o640), 0o750);
        assert_eq!(parent_mode(0o604), 0o705);
        assert_eq!(parent_mode(0), 0o700);
    }

    #[test]
    fn overlay_escapes() {
        assert_eq!(escape_overlay(Path::new("/a,b:c\\d")), "/a\\,b\\:c\\\\d");
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo("/a\\040b"), PathBuf::from("/a b"));
        assert_eq!(unescape_mountinfo("/plain"), PathBuf::from("/plain"));
    }

    #[test]
    fn oldroot_paths() {
        assert_eq!(
            oldroot(Path::new("/usr/bin")),
            PathBuf::from("/oldroot/usr/bin")
        );
        assert_eq!(oldroot(Path::new("/")), PathBuf::from("/oldroot"));
    }
}

//! Who runs a command: when the tests run as root, every behaviour runs as root and as
//! an unprivileged user (through `setpriv`); otherwise as the current user.

use std::ffi::OsStr;
use std::fs;

use super::cmd::Cmd;

/// The uid and gid of nobody.
pub const NOBODY: u32 = 65534;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// The tests run as root, and so does the command.
    Root,
    /// uid and gid 65534, through setpriv (the tests run as root).
    Nobody,
    /// `hutchtest` if it exists, else nobody; through setpriv (the tests run as root).
    /// For tests that need a user with a home directory (flatpak, profiles).
    Unprivileged,
    /// Whoever runs the tests, when that is not root.
    Current,
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Root and nobody when the tests run as root; the current user otherwise.
pub fn users() -> Vec<User> {
    users_with(User::Nobody)
}

/// Root and `unprivileged` when the tests run as root; the current user otherwise.
pub fn users_with(unprivileged: User) -> Vec<User> {
    if is_root() {
        vec![User::Root, unprivileged]
    } else {
        vec![User::Current]
    }
}

/// Run a behaviour check once per user of [`users`].
pub fn for_each_user(f: impl Fn(User)) {
    for u in users() {
        f(u);
    }
}

/// The unprivileged user: nobody when the tests run as root, else the current user.
pub fn unprivileged() -> User {
    if is_root() {
        User::Nobody
    } else {
        User::Current
    }
}

impl User {
    /// The command is run by real root (no user namespace is implied).
    pub fn is_root(self) -> bool {
        self == User::Root
    }

    /// uid and gid.
    pub fn ids(self) -> (u32, u32) {
        match self {
            User::Root => (0, 0),
            User::Nobody => (NOBODY, NOBODY),
            // Read from /etc/passwd: no NSS in a static test binary.
            User::Unprivileged => fs::read_to_string("/etc/passwd")
                .unwrap_or_default()
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[0] == "hutchtest")
                .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .unwrap_or((NOBODY, NOBODY)),
            User::Current => (
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            ),
        }
    }

    pub fn uid(self) -> u32 {
        self.ids().0
    }

    pub fn gid(self) -> u32 {
        self.ids().1
    }

    /// What switches to this user in front of a command: `setpriv --reuid=UID
    /// --regid=GID --clear-groups` for nobody and hutchtest, nothing for the others.
    pub fn setpriv(self) -> Vec<String> {
        match self {
            User::Root | User::Current => Vec::new(),
            User::Nobody | User::Unprivileged => {
                let (uid, gid) = self.ids();
                vec![
                    "setpriv".into(),
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--clear-groups".into(),
                ]
            }
        }
    }

    /// `prog` run as this user (see [`Cmd`]).
    pub fn cmd(self, prog: impl AsRef<OsStr>) -> Cmd {
        Cmd::new(prog, self)
    }
}

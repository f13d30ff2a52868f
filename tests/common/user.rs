//! Who runs a command: the tests run as root and as an unprivileged user (through
//! `setpriv`) when they run as root, else as the current user.

use std::ffi::OsStr;
use std::fs;
use std::process::{Command, Stdio};

/// The uid and gid of nobody.
pub const NOBODY: u32 = 65534;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// The tests run as root, and so does the command.
    Root,
    /// uid and gid 65534, through setpriv (the tests run as root).
    Nobody,
    /// `hutchtest` if it exists, else nobody; through setpriv (the tests run as root).
    Unprivileged,
    /// Whoever runs the tests, when that is not root.
    Current,
}

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

impl User {
    /// [`User::Unprivileged`] when the tests run as root, else the current user.
    pub fn unprivileged() -> User {
        if is_root() {
            User::Unprivileged
        } else {
            User::Current
        }
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

    /// `prog` run as this user, from `/`, with stdin from /dev/null and the test's
    /// environment.
    pub fn command(self, prog: impl AsRef<OsStr>) -> Command {
        self.command_with(&[], prog)
    }

    /// The same, with setpriv's `--reset-env` for nobody and hutchtest: their
    /// environment is setpriv's default for them (HOME, SHELL, USER, LOGNAME, PATH).
    pub fn command_reset_env(self, prog: impl AsRef<OsStr>) -> Command {
        self.command_with(&["--reset-env"], prog)
    }

    fn command_with(self, setpriv_opts: &[&str], prog: impl AsRef<OsStr>) -> Command {
        let setpriv = self.setpriv();
        let mut c = match setpriv.split_first() {
            None => Command::new(prog),
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).args(setpriv_opts).arg(prog);
                c
            }
        };
        c.current_dir("/").stdin(Stdio::null());
        c
    }
}

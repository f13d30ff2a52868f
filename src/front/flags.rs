//! Every command-line flag, defined once (in the spirit of ripgrep's
//! `crates/core/flags/defs.rs`): one row of [`FLAGS`] per flag.
//!
//! A row says everything that is known about a flag without acting on it: its name
//! (and aliases), its values (their count is its arity, each with the parser that
//! reads it), whether it may be repeated, whether bubblewrap has it, its help line,
//! what the man page adds, and the profile key that gives it. Everything else reads
//! the table: the parser (`cli.rs`: arity, value parsing, repeats), `--help`, the
//! profile loader (`profile.rs`: its keys and their forms), and the man page, the
//! shell completions and the README option table (`docs.rs`).
//!
//! Adding a flag is adding a row here, plus the code that acts on it: an arm of
//! `Parser::apply` in `cli.rs`, or `net::parse_flag` / `Limits::parse_flag` for a row
//! handled by those modules. Then `UPDATE_DOCS=1 cargo test docs` regenerates the docs.
//!
//! Every flag is accepted under both names (`bwrap` and `hutch`): only defaults
//! differ between the two personalities, never the grammar. [`Origin`] records
//! whether bubblewrap has the flag; hutch's own are marked "hutch only" in the man page.
//!
//! A front-end module at the bottom of the front end: it imports only `spec`,
//! `units` and `error`.

use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::spec::{CapSet, Personality};

/// Where a flag is listed in the man page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    General,
    Namespaces,
    Filesystem,
    Process,
    Security,
}

/// Whether bubblewrap has the flag. Both kinds are accepted under both names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// One of bubblewrap's own options (as of bwrap 0.11).
    Bwrap,
    /// hutch's own: "hutch only" in the man page, a table of its own in the README.
    Hutch,
}

/// How often a flag may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Each use counts: it adds to a list, or sets again what it sets (a switch, or
    /// one of a group of flags of which the last wins).
    Many,
    /// One value: a repeat keeps the last one and warns "Only the last FLAG option
    /// will take effect", as bwrap does.
    Last,
    /// A repeat is an error: "FLAG used multiple times".
    Once,
}

/// Which code acts on a flag once its values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// `Parser::apply` in `cli.rs`.
    Parser,
    /// `net::parse_flag`.
    Net,
    /// `Limits::parse_flag` (`limits.rs`).
    Limits,
}

/// How one value of a flag is read: its parser (built on `units.rs`), which also
/// decides how the shell completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A path, inside or outside the sandbox, taken as given (completed as a file).
    Path,
    /// Any other word, taken as given.
    Text,
    /// A file descriptor: "Invalid fd: X".
    Fd,
    /// A uid or gid, read as bwrap does under the bwrap name: "Invalid uid: X".
    Uid,
    Gid,
    /// A file mode (`units::parse_mode`): "FLAG takes an octal argument <= 07777".
    Octal,
    /// A TCP port (`units::parse_port`).
    Port,
    /// `--size`: bwrap's `strtoull` under the bwrap name, `units::parse_size` as hutch.
    TmpfsSize,
    /// A capability name, or ALL.
    Cap,
    /// One of a fixed set of words: "FLAG takes one of a, b: X".
    OneOf(&'static [&'static str]),
    /// Read, with its own messages, by the module that acts on the flag (net.rs,
    /// limits.rs, which use the `units.rs` parsers); taken as given here.
    Module,
}

/// One value of a flag: its name in the help, and how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value {
    pub name: &'static str,
    pub kind: Kind,
}

/// The shape of a profile key's value, and the flags it becomes (`profile.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `true` gives the flag, `false` nothing.
    Bool,
    /// `true` gives `--share-net`, `false` `--unshare-net`.
    ShareNet,
    /// `true`/`false` give `FLAG on`/`FLAG off`.
    OnOff,
    /// `true` gives `--landlock-only`, `"auto"` `--landlock-only-fallback`, `false` nothing.
    LandlockOnly,
    /// One value (a string or a number), given to the flag as written.
    Word,
    /// One absolute path.
    Path,
    /// One value or an array of values, each one `FLAG VALUE`.
    Words,
    /// One absolute path or an array of them, each one `FLAG PATH`.
    Paths,
    /// Binds: `"PATH"` (the same path inside) or `{ src, dest }`; `bind` also takes `create`.
    Mounts,
    /// `"PATH"` or `{ dest, size, perms }`: `--perms`, `--size`, then the flag.
    Tmpfs,
    /// `"PATH"` or `{ dest, perms }`.
    Dir,
    /// `{ target, dest }`.
    Symlink,
    /// `{ path, perms }`.
    Chmod,
    /// `{ VAR = "value" }`, one flag per variable.
    Setenv,
    /// `{ nofile = 1024 }` or `["nofile=1024"]`, one flag per resource.
    Rlimit,
}

/// The profile key that gives a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileKey {
    pub key: &'static str,
    pub form: Form,
    /// What the value looks like, for the documentation.
    pub value: &'static str,
    /// What it does, for the documentation; the flag's name when `None`.
    pub doc: Option<&'static str>,
}

/// One command-line flag.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub name: &'static str,
    /// Other spellings, accepted as the name.
    pub aliases: &'static [&'static str],
    /// Its values, in order: their count is its arity.
    pub values: &'static [Value],
    pub times: Times,
    // Read by the docs (src/docs.rs, test-only) and the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub origin: Origin,
    pub handler: Handler,
    #[cfg_attr(not(test), allow(dead_code))]
    pub section: Section,
    /// The help line (`--help`, completions, the README table).
    pub help: &'static str,
    /// What the man page adds to the help line.
    pub man: Option<&'static str>,
    /// How far hutch implements it, for the README table ("implemented" when `None`).
    pub status: Option<&'static str>,
    pub profile: Option<ProfileKey>,
}

const fn row(
    origin: Origin,
    section: Section,
    name: &'static str,
    values: &'static [Value],
    help: &'static str,
) -> Flag {
    Flag {
        name,
        aliases: &[],
        values,
        times: Times::Many,
        origin,
        handler: Handler::Parser,
        section,
        help,
        man: None,
        status: None,
        profile: None,
    }
}

/// One of bubblewrap's options.
const fn bwrap(
    section: Section,
    name: &'static str,
    values: &'static [Value],
    help: &'static str,
) -> Flag {
    row(Origin::Bwrap, section, name, values, help)
}

/// One of hutch's own options.
const fn hutch(
    section: Section,
    name: &'static str,
    values: &'static [Value],
    help: &'static str,
) -> Flag {
    row(Origin::Hutch, section, name, values, help)
}

const fn v(name: &'static str, kind: Kind) -> Value {
    Value { name, kind }
}

impl Flag {
    /// A repeat keeps the last value and warns.
    const fn last(mut self) -> Self {
        self.times = Times::Last;
        self
    }
    /// A repeat is an error.
    const fn once(mut self) -> Self {
        self.times = Times::Once;
        self
    }
    const fn by(mut self, handler: Handler) -> Self {
        self.handler = handler;
        self
    }
    const fn man(mut self, text: &'static str) -> Self {
        self.man = Some(text);
        self
    }
    const fn status(mut self, text: &'static str) -> Self {
        self.status = Some(text);
        self
    }
    /// The profile key `key`, documented as the flag's name.
    const fn key(self, key: &'static str, form: Form, value: &'static str) -> Self {
        self.key_doc(key, form, value, None)
    }
    const fn key_doc(
        mut self,
        key: &'static str,
        form: Form,
        value: &'static str,
        doc: Option<&'static str>,
    ) -> Self {
        self.profile = Some(ProfileKey {
            key,
            form,
            value,
            doc,
        });
        self
    }
    // Read by the tests (no flag has an alias yet).
    #[allow(dead_code)]
    const fn alias(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// The names of its values, as the help gives them.
    pub fn value_names(&self) -> impl Iterator<Item = &'static str> {
        self.values.iter().map(|v| v.name)
    }
}

const FD: Value = v("FD", Kind::Fd);
const SRC: Value = v("SRC", Kind::Path);
const DEST: Value = v("DEST", Kind::Path);
const PATH: Value = v("PATH", Kind::Path);
const LABEL: Value = v("LABEL", Kind::Text);
const OCTAL: Value = v("OCTAL", Kind::Octal);
const CAP: Value = v("CAP", Kind::Cap);
const PORT: Value = v("PORT", Kind::Port);

const LIMITS: Handler = Handler::Limits;
const NET: Handler = Handler::Net;

const OVERLAY_STATUS: &str = "implemented (untested against bwrap 0.8, which lacks them)";
const OVERLAY_MAN: &str =
    "Implemented, but not yet compared with bwrap, whose version 0.8 lacks overlays.";
const LABEL_STATUS: &str =
    "exits with \"labeling not supported on this system\", as bwrap built without SELinux";
const LABEL_MAN: &str = "hutch has no SELinux support: like bwrap built without it, it fails with \
                         \"labeling not supported on this system\".";

use Section::{Filesystem, General, Namespaces, Process, Security};

/// Every flag hutch accepts, in help order.
#[rustfmt::skip]
pub static FLAGS: &[Flag] = &[
    bwrap(General, "--help", &[], "Print this help"),
    bwrap(General, "--version", &[], "Print version")
        .man("The version printed is hutch's, also when invoked as bwrap."),
    bwrap(General, "--args", &[FD], "Parse NUL-separated args from FD")
        .man("The arguments are inserted at this point of the command line. \
              hutch accepts up to 100000 arguments in total (bwrap: 9000)."),
    bwrap(General, "--argv0", &[v("VALUE", Kind::Text)], "Set argv[0] to the value VALUE before running the program").once(),
    bwrap(General, "--level-prefix", &[], "Prepend e.g. <3> to diagnostic messages"),
    hutch(General, "--profile", &[v("PROFILE", Kind::Text)], "Insert the options a TOML profile describes at this point (a NAME, looked up in ~/.config/hutch/profiles, /etc/hutch/profiles and the built-ins build, desktop, gpu, home-ro, net; or a PATH); see PROFILES in hutch(1)")
        .man("Repeatable. The profile's options take effect exactly as if written at this point, \
              so options after it add to it or override it. The format, the lookup and the \
              built-in profiles are described under PROFILES."),
    hutch(General, "--explain", &[], "Print the resolved plan (namespaces, ids, mounts in order, environment, security, limits, network) to stdout and exit without running anything")
        .man("Bind sources are resolved on the host as the sandbox would resolve them; nothing \
              is created, not even --bind-create's directory, and COMMAND is not run."),
    bwrap(Namespaces, "--unshare-all", &[], "Unshare every namespace we support by default"),
    bwrap(Namespaces, "--share-net", &[], "Retain the network namespace (can only combine with --unshare-all)")
        .key_doc("share_net", Form::ShareNet, "true or false", Some("--share-net (false: --unshare-net)")),
    bwrap(Namespaces, "--unshare-user", &[], "Create new user namespace (may be automatically implied if not setuid)"),
    bwrap(Namespaces, "--unshare-user-try", &[], "Create new user namespace if possible else continue by skipping it"),
    bwrap(Namespaces, "--unshare-ipc", &[], "Create new ipc namespace"),
    bwrap(Namespaces, "--unshare-pid", &[], "Create new pid namespace"),
    hutch(Namespaces, "--share-pid", &[], "Keep the host's pid namespace (default as bwrap; as hutch the sandbox gets a new one, so that the command cannot reach host processes by pid; the last of --share-pid, --unshare-pid and --unshare-all wins)"),
    bwrap(Namespaces, "--unshare-net", &[], "Create new network namespace"),
    bwrap(Namespaces, "--unshare-uts", &[], "Create new uts namespace"),
    bwrap(Namespaces, "--unshare-cgroup", &[], "Create new cgroup namespace"),
    bwrap(Namespaces, "--unshare-cgroup-try", &[], "Create new cgroup namespace if possible else continue by skipping it"),
    bwrap(Namespaces, "--userns", &[FD], "Use this user namespace (cannot combine with --unshare-user)").last(),
    bwrap(Namespaces, "--userns2", &[FD], "After setup switch to this user namespace, only useful with --userns").last(),
    bwrap(Namespaces, "--disable-userns", &[], "Disable further use of user namespaces inside sandbox")
        .key("disable_userns", Form::Bool, "true"),
    bwrap(Namespaces, "--assert-userns-disabled", &[], "Fail unless further use of user namespace inside sandbox is disabled")
        .key("assert_userns_disabled", Form::Bool, "true"),
    bwrap(Namespaces, "--pidns", &[FD], "Use this pid namespace (as parent namespace if using --unshare-pid)").last(),
    bwrap(Namespaces, "--uid", &[v("UID", Kind::Uid)], "Custom uid in the sandbox (requires --unshare-user or --userns)").last()
        .key("uid", Form::Word, "1000"),
    bwrap(Namespaces, "--gid", &[v("GID", Kind::Gid)], "Custom gid in the sandbox (requires --unshare-user or --userns)").last()
        .key("gid", Form::Word, "1000"),
    bwrap(Namespaces, "--hostname", &[v("NAME", Kind::Text)], "Custom hostname in the sandbox (requires --unshare-uts)").last()
        .key("hostname", Form::Word, "\"name\""),
    hutch(Namespaces, "--net", &[v("MODE", Kind::Module)], "host (the host's network, as --share-net), none (loopback only, as --unshare-net) or user (a new network connected through pasta or slirp4netns); the last of --net, --unshare-net, --share-net and --unshare-all wins").by(NET)
        .key("net", Form::Word, "\"host\", \"none\" or \"user\""),
    hutch(Namespaces, "--net-allow-host-loopback", &[], "With --net user: let the sandbox reach the host's loopback services at 10.0.2.2").by(NET)
        .key("net_allow_host_loopback", Form::Bool, "true"),
    hutch(Namespaces, "--publish", &[v("SPEC", Kind::Module)], "With --net user: forward [HOSTADDR:]HOSTPORT:SANDBOXPORT[/tcp|/udp] from the host (every address without HOSTADDR) into the sandbox (repeatable)").by(NET)
        .key("publish", Form::Words, "[\"8080:80\", ...]"),
    hutch(Namespaces, "--allow-host", &[v("NAME", Kind::Module)], "A network namespace of its own that reaches only allowed names: NAME[:PORT[,PORT...]] (ports 80 and 443 without), *.DOMAIN for every name below DOMAIN, over TCP and UDP; other names do not resolve, other addresses get EACCES (repeatable; see NETWORK BY NAME in docs/network.md)").by(NET)
        .key("allow_host", Form::Words, "[\"pypi.org\", \"*.github.com:443\", ...]"),
    hutch(Namespaces, "--allow-net", &[v("CIDR", Kind::Module)], "As --allow-host, for addresses: ADDR[/LEN][:PORT[,PORT...]] (ports 80 and 443 without; IPv6 with ports in brackets, [2001:db8::/32]:443) (repeatable)").by(NET)
        .key("allow_net", Form::Words, "[\"192.0.2.0/24:443\", ...]"),
    bwrap(Process, "--chdir", &[v("DIR", Kind::Path)], "Change directory to DIR").last()
        .key("chdir", Form::Path, "\"PATH\""),
    bwrap(Process, "--clearenv", &[], "Unset all environment variables")
        .key("clearenv", Form::Bool, "true"),
    bwrap(Process, "--setenv", &[v("VAR", Kind::Text), v("VALUE", Kind::Text)], "Set an environment variable")
        .key_doc("setenv", Form::Setenv, "{ VAR = \"value\", ... }", Some("--setenv, one per variable")),
    bwrap(Process, "--unsetenv", &[v("VAR", Kind::Text)], "Unset an environment variable")
        .key("unsetenv", Form::Words, "[\"VAR\", ...]"),
    bwrap(Process, "--lock-file", &[DEST], "Take a lock on DEST while sandbox is running")
        .key("lock_file", Form::Paths, "[\"PATH\", ...]"),
    bwrap(Process, "--sync-fd", &[FD], "Keep this fd open while sandbox is running").last(),
    bwrap(Filesystem, "--bind", &[SRC, DEST], "Bind mount the host path SRC on DEST")
        .key_doc("bind", Form::Mounts, "[\"PATH\" or { src, dest, create }, ...]", Some("--bind; with create = true, --bind-create: SRC is made on the host if missing")),
    bwrap(Filesystem, "--bind-try", &[SRC, DEST], "Equal to --bind but ignores non-existent SRC")
        .key("bind_try", Form::Mounts, "[...]"),
    hutch(Filesystem, "--bind-create", &[SRC, DEST], "Equal to --bind, but first creates SRC on the host (a directory, mode 0700) if it does not exist")
        .man("The only option that creates anything on the host, and only SRC, when it is \
              missing (the desktop profile uses it for the application's own home)."),
    bwrap(Filesystem, "--dev-bind", &[SRC, DEST], "Bind mount the host path SRC on DEST, allowing device access")
        .key("dev_bind", Form::Mounts, "[...]"),
    bwrap(Filesystem, "--dev-bind-try", &[SRC, DEST], "Equal to --dev-bind but ignores non-existent SRC")
        .key("dev_bind_try", Form::Mounts, "[...]"),
    bwrap(Filesystem, "--ro-bind", &[SRC, DEST], "Bind mount the host path SRC readonly on DEST")
        .key_doc("ro_bind", Form::Mounts, "[\"PATH\" or { src, dest }, ...]", Some("--ro-bind (a lone PATH is mounted on the same path)")),
    bwrap(Filesystem, "--ro-bind-try", &[SRC, DEST], "Equal to --ro-bind but ignores non-existent SRC")
        .key("ro_bind_try", Form::Mounts, "[...]"),
    bwrap(Filesystem, "--bind-fd", &[FD, DEST], "Bind open directory or path fd on DEST"),
    bwrap(Filesystem, "--ro-bind-fd", &[FD, DEST], "Bind open directory or path fd read-only on DEST"),
    bwrap(Filesystem, "--remount-ro", &[DEST], "Remount DEST as readonly; does not recursively remount")
        .key("remount_ro", Form::Paths, "[\"PATH\", ...]"),
    bwrap(Filesystem, "--overlay-src", &[SRC], "Read files from SRC in the following overlay")
        .man(OVERLAY_MAN).status(OVERLAY_STATUS),
    bwrap(Filesystem, "--overlay", &[v("RWSRC", Kind::Path), v("WORKDIR", Kind::Path), DEST], "Mount overlayfs on DEST, with RWSRC as the host path for writes and WORKDIR an empty directory on the same filesystem as RWSRC")
        .man(OVERLAY_MAN).status(OVERLAY_STATUS),
    bwrap(Filesystem, "--tmp-overlay", &[DEST], "Mount overlayfs on DEST, with writes going to an invisible tmpfs")
        .man(OVERLAY_MAN).status(OVERLAY_STATUS),
    bwrap(Filesystem, "--ro-overlay", &[DEST], "Mount overlayfs read-only on DEST")
        .man(OVERLAY_MAN).status(OVERLAY_STATUS),
    bwrap(Security, "--exec-label", &[LABEL], "Exec label for the sandbox").last()
        .man(LABEL_MAN).status(LABEL_STATUS),
    bwrap(Security, "--file-label", &[LABEL], "File label for temporary sandbox content").last()
        .man(LABEL_MAN).status(LABEL_STATUS),
    bwrap(Filesystem, "--proc", &[DEST], "Mount new procfs on DEST")
        .key("proc", Form::Paths, "\"/proc\""),
    bwrap(Filesystem, "--dev", &[DEST], "Mount new dev on DEST")
        .key("dev", Form::Paths, "\"/dev\""),
    bwrap(Filesystem, "--tmpfs", &[DEST], "Mount new tmpfs on DEST")
        .key_doc("tmpfs", Form::Tmpfs, "[\"PATH\" or { dest, size, perms }, ...]", Some("--tmpfs (with --size, --perms)")),
    bwrap(Filesystem, "--mqueue", &[DEST], "Mount new mqueue on DEST")
        .key("mqueue", Form::Paths, "\"/dev/mqueue\""),
    bwrap(Filesystem, "--dir", &[DEST], "Create dir at DEST")
        .key_doc("dir", Form::Dir, "[\"PATH\" or { dest, perms }, ...]", Some("--dir (with --perms)")),
    bwrap(Filesystem, "--file", &[FD, DEST], "Copy from FD to destination DEST"),
    bwrap(Filesystem, "--bind-data", &[FD, DEST], "Copy from FD to file which is bind-mounted on DEST"),
    bwrap(Filesystem, "--ro-bind-data", &[FD, DEST], "Copy from FD to file which is readonly bind-mounted on DEST"),
    bwrap(Filesystem, "--symlink", &[SRC, DEST], "Create symlink at DEST with target SRC")
        .key_doc("symlink", Form::Symlink, "[{ target, dest }, ...]", Some("--symlink TARGET DEST")),
    bwrap(Security, "--seccomp", &[FD], "Load and use seccomp rules from FD (not repeatable)").last(),
    bwrap(Security, "--add-seccomp-fd", &[FD], "Load and use seccomp rules from FD (repeatable)"),
    bwrap(Process, "--block-fd", &[FD], "Block on FD until some data to read is available").last(),
    bwrap(Process, "--userns-block-fd", &[FD], "Block on FD until the user namespace is ready").last(),
    bwrap(Process, "--info-fd", &[FD], "Write information about the running container to FD").last(),
    bwrap(Process, "--json-status-fd", &[FD], "Write container status to FD as multiple JSON documents").last(),
    bwrap(Process, "--new-session", &[], "Create a new terminal session")
        .key("new_session", Form::Bool, "true"),
    bwrap(Process, "--die-with-parent", &[], "Kills with SIGKILL child process (COMMAND) when bwrap or bwrap's parent dies.")
        .key("die_with_parent", Form::Bool, "true"),
    bwrap(Process, "--as-pid-1", &[], "Do not install a reaper process with PID=1")
        .key("as_pid_1", Form::Bool, "true"),
    hutch(Process, "--forward-signals", &[], "Pass SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 on to COMMAND (through the reaper with --unshare-pid), wait for it and exit with its status; ^C on a terminal still reaches it once (default as hutch; as bwrap, bwrap's behaviour: hutch dies of the signal, COMMAND is not told)")
        .key("forward_signals", Form::Bool, "true"),
    bwrap(Security, "--cap-add", &[CAP], "Add cap CAP when running as privileged user")
        .key("cap_add", Form::Words, "[\"CAP_NET_ADMIN\", ...]"),
    bwrap(Security, "--cap-drop", &[CAP], "Drop cap CAP when running as privileged user")
        .key("cap_drop", Form::Words, "[\"ALL\", ...]"),
    bwrap(Filesystem, "--perms", &[OCTAL], "Set permissions of next argument (--bind-data, --file, etc.)"),
    bwrap(Filesystem, "--size", &[v("BYTES", Kind::TmpfsSize)], "Set size of next argument (only for --tmpfs; as hutch also with a k/M/G suffix)"),
    hutch(Filesystem, "--tmpfs-size", &[v("SIZE", Kind::Module)], "The size bound of every tmpfs made without --size (--tmpfs, --dev and its /dev/shm, --tmp-overlay's writes, --file copies), or unlimited (default as hutch: a quarter of RAM, at most 4G; as bwrap: unlimited, the kernel's half of RAM)").last().by(LIMITS)
        .key("tmpfs_size", Form::Word, "\"8G\" or \"unlimited\""),
    bwrap(Filesystem, "--chmod", &[OCTAL, PATH], "Change permissions of PATH (must already exist)")
        .key("chmod", Form::Chmod, "[{ path, perms }, ...]"),
    hutch(Security, "--landlock", &[v("MODE", Kind::OneOf(&["auto", "off"]))], "Landlock: auto (rules from the mounts or --landlock-read/-write/-exec) or off (default: auto as hutch, off as bwrap)").last()
        .key("landlock", Form::Word, "\"auto\" or \"off\""),
    hutch(Security, "--landlock-read", &[PATH], "Landlock: allow reading beneath PATH (as seen inside); explicit path rules replace the ones derived from the mounts")
        .key("landlock_read", Form::Paths, "[\"PATH\", ...]"),
    hutch(Security, "--landlock-write", &[PATH], "Landlock: allow reading and writing (not executing) beneath PATH")
        .key("landlock_write", Form::Paths, "[\"PATH\", ...]"),
    hutch(Security, "--landlock-exec", &[PATH], "Landlock: allow reading and executing beneath PATH")
        .key("landlock_exec", Form::Paths, "[\"PATH\", ...]"),
    hutch(Security, "--landlock-connect", &[PORT], "Landlock: allow TCP connect to PORT; once given, connecting to any other port is denied")
        .key("landlock_connect", Form::Words, "[443, ...]"),
    hutch(Security, "--landlock-bind", &[PORT], "Landlock: allow TCP bind to PORT; once given, binding any other port is denied")
        .key("landlock_bind", Form::Words, "[8080, ...]"),
    hutch(Security, "--landlock-scope", &[v("MODE", Kind::OneOf(&["on", "off"]))], "Landlock: on or off: deny signals and abstract unix sockets leaving the sandbox (default: on as hutch)").last()
        .key_doc("landlock_scope", Form::OnOff, "true or false", Some("--landlock-scope on/off")),
    hutch(Security, "--landlock-strict", &[], "Fail unless the kernel enforces every Landlock restriction asked for (default: best effort, see --report)")
        .key("landlock_strict", Form::Bool, "true"),
    hutch(Security, "--landlock-only", &[], "Run COMMAND without namespaces, in the host's file system, confined by Landlock, the seccomp policy and no_new_privs: for where user namespaces are unavailable. Binds of a path onto itself become Landlock rules (--ro-bind: read and execute, --bind and --dev-bind: everything), --remount-ro takes write rights away; any other mount, a new namespace, --uid, --gid and --hostname are refused with an error naming them. Implies Landlock (with scoping) and the default seccomp policy, also as bwrap")
        .key_doc("landlock_only", Form::LandlockOnly, "true or \"auto\"", Some("--landlock-only; \"auto\": --landlock-only-fallback (only where namespaces cannot be made)")),
    hutch(Security, "--landlock-only-fallback", &[], "As --landlock-only, but only where the sandbox's namespaces cannot be made (a warning says why); elsewhere a sandbox as usual"),
    hutch(Security, "--host-sockets", &[v("MODE", Kind::OneOf(&["block", "allow"]))], "block or allow: whether COMMAND can connect to the host's unix sockets that the mounts show (session bus, docker.sock, ssh-agent...); block masks each one (default: block as hutch, allow as bwrap)").last()
        .key("host_sockets", Form::Word, "\"block\" or \"allow\""),
    hutch(Security, "--allow-socket", &[PATH], "With --host-sockets block: leave the host socket at PATH (as seen inside), or every one beneath the directory PATH, reachable (repeatable)")
        .key("allow_socket", Form::Paths, "[\"PATH\", ...]"),
    hutch(Security, "--landlock-only-metadata", &[v("MODE", Kind::OneOf(&["supervise", "allow"]))], "In Landlock-only mode, chmod, chown, utimes and setxattr calls: supervise (default: allowed only beneath a rule that grants writing, checked and done by hutch for the command) or allow (anywhere the file's owner may)").last()
        .key("landlock_only_metadata", Form::Word, "\"supervise\" or \"allow\""),
    hutch(Security, "--seccomp-policy", &[v("POLICY", Kind::Text)], "default, none, or a seccompiler JSON file (default: default as hutch, none as bwrap)").last()
        .key("seccomp_policy", Form::Word, "\"default\", \"none\" or \"PATH\""),
    hutch(Security, "--seccomp-action", &[v("ACTION", Kind::OneOf(&["errno", "kill", "log"]))], "errno, kill or log: what the default seccomp policy does to a denied call (default: errno)").last()
        .key("seccomp_action", Form::Word, "\"errno\", \"kill\" or \"log\""),
    hutch(Security, "--report", &[], "Print the protections in force as JSON to stderr before running COMMAND"),
    hutch(Security, "--report-fd", &[FD], "Write the protections in force as JSON to FD before running COMMAND").last(),
    hutch(Security, "--keep-fd", &[FD], "Let COMMAND inherit FD; all other descriptors but 0, 1 and 2 are closed (repeatable; default as hutch: close all others, as bwrap: inherit all)"),
    hutch(Security, "--inherit-fds", &[], "Let COMMAND inherit every open descriptor, as bwrap does (the default as bwrap)"),
    hutch(Process, "--memory", &[v("BYTES", Kind::Module)], "Limit the sandbox's memory (cgroup v2 memory.max; k/M/G suffixes)").last().by(LIMITS)
        .key("memory", Form::Word, "\"2G\""),
    hutch(Process, "--memory-swap", &[v("BYTES", Kind::Module)], "Limit the swap the sandbox may use on top of --memory (memory.swap.max)").last().by(LIMITS)
        .key("memory_swap", Form::Word, "\"1G\""),
    hutch(Process, "--cpus", &[v("CPUS", Kind::Module)], "Limit the sandbox to CPUS CPUs' worth of time, e.g. 1.5 (cpu.max)").last().by(LIMITS)
        .key("cpus", Form::Word, "1.5"),
    hutch(Process, "--pids", &[v("N", Kind::Module)], "Limit the number of processes and threads in the sandbox (pids.max)").last().by(LIMITS)
        .key("pids", Form::Word, "256"),
    hutch(Process, "--io-weight", &[v("WEIGHT", Kind::Module)], "Relative block I/O weight of the sandbox, 1-10000 (io.weight)").last().by(LIMITS)
        .key("io_weight", Form::Word, "100"),
    hutch(Process, "--rlimit", &[v("LIMIT", Kind::Module)], "Set NAME=SOFT[:HARD] for COMMAND; NAME is as, core, cpu, data, fsize, memlock, nofile, nproc or stack (repeatable)").by(LIMITS)
        .key_doc("rlimit", Form::Rlimit, "{ nofile = 1024, core = 0 } or [\"nofile=1024\", ...]", Some("--rlimit, one per resource")),
    hutch(Process, "--timeout", &[v("DURATION", Kind::Module)], "Kill the whole sandbox after DURATION (seconds, or a ms/s/m/h suffix) and exit 124").last().by(LIMITS)
        .key("timeout", Form::Word, "\"10m\" or 600"),
    hutch(Process, "--stats", &[], "Print wall time, CPU time, peak memory and the limits hit as JSON to stderr when the sandbox ends").by(LIMITS)
        .key("stats", Form::Bool, "true"),
    hutch(Process, "--stats-fd", &[v("FD", Kind::Module)], "Write the --stats JSON to FD").last().by(LIMITS),
    hutch(Process, "--cgroup", &[v("MODE", Kind::Module)], "required, best-effort or off: must the cgroup limits apply (default: best-effort with a cgroup limit, else off)").last().by(LIMITS)
        .key("cgroup", Form::Word, "\"required\", \"best-effort\" or \"off\""),
];

/// The flag spelled `name` (its name or one of its aliases).
pub fn flag(name: &str) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .find(|f| f.name == name || f.aliases.contains(&name))
}

/// A value as read by its [`Kind`]'s parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// [`Kind::Path`], [`Kind::Text`], [`Kind::Module`]: as given.
    Os(OsString),
    Fd(RawFd),
    Id(u32),
    Mode(u32),
    Port(u16),
    Size(u64),
    Cap(CapSet),
    /// One of [`Kind::OneOf`]'s words.
    Word(&'static str),
}

/// Taking a value out as the type its row says it has. A mismatch is a bug in the
/// table or in its handler (the tests parse every row).
impl Val {
    pub fn os(self) -> OsString {
        match self {
            Val::Os(o) => o,
            other => unreachable!("{other:?} is not a plain value"),
        }
    }
    pub fn path(self) -> PathBuf {
        PathBuf::from(self.os())
    }
    pub fn fd(&self) -> RawFd {
        match self {
            Val::Fd(fd) => *fd,
            other => unreachable!("{other:?} is not an fd"),
        }
    }
    pub fn id(&self) -> u32 {
        match self {
            Val::Id(id) => *id,
            other => unreachable!("{other:?} is not an id"),
        }
    }
    pub fn mode(&self) -> u32 {
        match self {
            Val::Mode(m) => *m,
            other => unreachable!("{other:?} is not a mode"),
        }
    }
    pub fn port(&self) -> u16 {
        match self {
            Val::Port(p) => *p,
            other => unreachable!("{other:?} is not a port"),
        }
    }
    pub fn size(&self) -> u64 {
        match self {
            Val::Size(n) => *n,
            other => unreachable!("{other:?} is not a size"),
        }
    }
    pub fn cap(self) -> CapSet {
        match self {
            Val::Cap(c) => c,
            other => unreachable!("{other:?} is not a capability"),
        }
    }
    pub fn word(&self) -> &'static str {
        match self {
            Val::Word(w) => w,
            other => unreachable!("{other:?} is not a word"),
        }
    }
}

impl Value {
    /// Read `s`, given to `flag`, with this value's parser.
    pub fn parse(&self, flag: &str, s: OsString, personality: Personality) -> Result<Val> {
        Ok(match self.kind {
            Kind::Path | Kind::Text | Kind::Module => Val::Os(s),
            Kind::Fd => Val::Fd(parse_fd(&s)?),
            Kind::Uid => Val::Id(parse_id(&s, "uid", personality)?),
            Kind::Gid => Val::Id(parse_id(&s, "gid", personality)?),
            Kind::Octal => Val::Mode(parse_octal(&s, flag)?),
            Kind::Port => Val::Port(parse_port(&s, flag)?),
            Kind::TmpfsSize => Val::Size(parse_tmpfs_size(&s, personality)?),
            Kind::Cap => Val::Cap(parse_cap(&s)?),
            Kind::OneOf(words) => Val::Word(parse_word(&s, flag, words)?),
        })
    }
}

pub fn parse_fd(s: &OsStr) -> Result<RawFd> {
    s.to_str()
        .and_then(|t| t.parse::<RawFd>().ok())
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| Error::msg(format!("Invalid fd: {}", s.to_string_lossy())))
}

/// A uid or gid. Under the hutch name any u32 but (uid_t)-1. bwrap stores the
/// `strtol` result in an `int` and refuses a negative one, so it takes leading blanks
/// and a sign but nothing from 2^31 on (4294967294, the overflow id (uid_t)-2, too);
/// where its truncation wraps (2^32 would become 0) the bwrap name refuses instead.
fn parse_id(s: &OsStr, what: &str, personality: Personality) -> Result<u32> {
    let id = match personality {
        Personality::Bwrap => s.to_str().and_then(|t| {
            let t = t.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse::<i64>()
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= i32::MAX as u32)
        }),
        _ => s
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|id| *id != u32::MAX),
    };
    id.ok_or_else(|| Error::msg(format!("Invalid {what}: {}", s.to_string_lossy())))
}

fn parse_octal(s: &OsStr, name: &str) -> Result<u32> {
    s.to_str()
        .and_then(crate::units::parse_mode)
        .ok_or_else(|| Error::msg(format!("{name} takes an octal argument <= 07777")))
}

fn parse_port(s: &OsStr, name: &str) -> Result<u16> {
    s.to_str()
        .and_then(crate::units::parse_port)
        .ok_or_else(|| {
            Error::msg(format!(
                "{name} takes a TCP port number (0-65535): {}",
                s.to_string_lossy()
            ))
        })
}

/// One value out of a fixed set of words, e.g. `--landlock auto|off`.
fn parse_word(s: &OsStr, name: &str, words: &[&'static str]) -> Result<&'static str> {
    let t = s.to_string_lossy();
    words
        .iter()
        .find(|w| **w == t)
        .copied()
        .ok_or_else(|| Error::msg(format!("{name} takes one of {}: {t}", words.join(", "))))
}

/// `--size`: as bwrap, `strtoull` with base 0 (0x… hex, 0… octal), starting with a
/// digit; under the hutch name plain bytes or a k/M/G suffix, as everywhere hutch takes
/// a size (both parsers are in units.rs). Non-zero, and at most SIZE_MAX/2 (the most a
/// tmpfs takes) under both names.
fn parse_tmpfs_size(s: &OsStr, personality: Personality) -> Result<u64> {
    const MAX_TMPFS_BYTES: u64 = u64::MAX / 2;
    let n = s
        .to_str()
        .and_then(|t| match personality {
            Personality::Bwrap => crate::units::parse_strtoull(t),
            Personality::Hutch => crate::units::parse_size(t),
        })
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Error::msg(match personality {
                Personality::Bwrap => "--size takes a non-zero number of bytes".to_string(),
                Personality::Hutch => format!(
                    "--size takes a non-zero number of bytes, with an optional k, M or G suffix: {}",
                    s.to_string_lossy()
                ),
            })
        })?;
    if n > MAX_TMPFS_BYTES {
        return Err(Error::msg(format!(
            "--size (for tmpfs) is limited to {MAX_TMPFS_BYTES}"
        )));
    }
    Ok(n)
}

pub fn parse_cap(s: &OsStr) -> Result<CapSet> {
    let t = s.to_string_lossy();
    if t.eq_ignore_ascii_case("ALL") {
        return Ok(CapSet::All);
    }
    let upper = t.to_ascii_uppercase();
    // Like libcap's cap_from_name: the CAP_ prefix is required, case is not.
    if !upper.starts_with("CAP_") {
        return Err(Error::msg(format!("unknown cap: {t}")));
    }
    upper
        .parse::<caps::Capability>()
        .map(CapSet::One)
        .map_err(|_| Error::msg(format!("unknown cap: {t}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bubblewrap's own options (as of bwrap 0.11): the rows marked [`Origin::Bwrap`]
    /// must be exactly these (an oracle, not a second definition).
    #[rustfmt::skip]
    const BWRAP_OPTIONS: &[&str] = &[
        "--help", "--version", "--args", "--argv0", "--level-prefix", "--unshare-all", "--share-net",
        "--unshare-user", "--unshare-user-try", "--unshare-ipc", "--unshare-pid", "--unshare-net",
        "--unshare-uts", "--unshare-cgroup", "--unshare-cgroup-try", "--userns", "--userns2",
        "--disable-userns", "--assert-userns-disabled", "--pidns", "--uid", "--gid", "--hostname",
        "--chdir", "--clearenv", "--setenv", "--unsetenv", "--lock-file", "--sync-fd", "--bind",
        "--bind-try", "--dev-bind", "--dev-bind-try", "--ro-bind", "--ro-bind-try", "--bind-fd",
        "--ro-bind-fd", "--remount-ro", "--overlay-src", "--overlay", "--tmp-overlay", "--ro-overlay",
        "--exec-label", "--file-label", "--proc", "--dev", "--tmpfs", "--mqueue", "--dir", "--file",
        "--bind-data", "--ro-bind-data", "--symlink", "--seccomp", "--add-seccomp-fd", "--block-fd",
        "--userns-block-fd", "--info-fd", "--json-status-fd", "--new-session", "--die-with-parent",
        "--as-pid-1", "--cap-add", "--cap-drop", "--perms", "--size", "--chmod",
    ];

    #[test]
    fn every_row_has_help_and_a_long_name() {
        for f in FLAGS {
            assert!(!f.help.trim().is_empty(), "{} has no help", f.name);
            for n in std::iter::once(f.name).chain(f.aliases.iter().copied()) {
                let rest = n.strip_prefix("--").unwrap_or("");
                assert!(
                    !rest.is_empty()
                        && rest
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{n}: a flag is --lowercase-words"
                );
            }
            if let Some(m) = f.man {
                assert!(!m.trim().is_empty(), "{}: empty man text", f.name);
            }
            for v in f.values {
                assert!(
                    !v.name.is_empty() && v.name.bytes().all(|b| b.is_ascii_uppercase()),
                    "{}: value {} must be an upper-case word",
                    f.name,
                    v.name
                );
            }
        }
    }

    #[test]
    fn names_and_profile_keys_are_unique() {
        let mut names: Vec<&str> = FLAGS
            .iter()
            .flat_map(|f| std::iter::once(f.name).chain(f.aliases.iter().copied()))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name or alias is in two rows");
        let mut keys: Vec<&str> = FLAGS
            .iter()
            .filter_map(|f| f.profile.map(|p| p.key))
            .collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "a profile key is in two rows");
        for k in keys {
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "profile key {k}: lower_case_words"
            );
        }
    }

    #[test]
    fn origin_marks_exactly_bwraps_options() {
        for f in FLAGS {
            assert_eq!(
                f.origin == Origin::Bwrap,
                BWRAP_OPTIONS.contains(&f.name),
                "{}: origin",
                f.name
            );
        }
        for name in BWRAP_OPTIONS {
            assert!(flag(name).is_some(), "bwrap's {name} is missing from FLAGS");
        }
    }

    #[test]
    fn once_and_profile_forms_fit_the_arity() {
        for f in FLAGS {
            if f.times != Times::Many {
                assert!(
                    !f.values.is_empty(),
                    "{}: a switch cannot be once-only",
                    f.name
                );
            }
            let Some(p) = f.profile else { continue };
            let arity = f.values.len();
            let fits = match p.form {
                Form::Bool | Form::ShareNet | Form::LandlockOnly => arity == 0,
                Form::OnOff => matches!(f.values[0].kind, Kind::OneOf(w) if w == ["on", "off"]),
                Form::Word | Form::Words | Form::Path | Form::Paths | Form::Rlimit => arity == 1,
                Form::Tmpfs | Form::Dir => arity == 1,
                Form::Mounts | Form::Symlink | Form::Chmod | Form::Setenv => arity == 2,
            };
            assert!(
                fits,
                "{}: profile form {:?} with {arity} values",
                f.name, p.form
            );
            if matches!(p.form, Form::Path | Form::Paths) {
                assert_eq!(f.values[0].kind, Kind::Path, "{}", f.name);
            }
        }
    }

    #[test]
    fn value_parsers() {
        let p = |kind, s: &str| v("X", kind).parse("--x", s.into(), Personality::Bwrap);
        assert_eq!(p(Kind::Fd, "3"), Ok(Val::Fd(3)));
        assert_eq!(p(Kind::Fd, "-1").unwrap_err().to_string(), "Invalid fd: -1");
        assert_eq!(p(Kind::Uid, " +5"), Ok(Val::Id(5)));
        assert_eq!(p(Kind::Gid, "x").unwrap_err().to_string(), "Invalid gid: x");
        assert_eq!(p(Kind::Octal, "0755"), Ok(Val::Mode(0o755)));
        assert_eq!(
            p(Kind::Octal, "8").unwrap_err().to_string(),
            "--x takes an octal argument <= 07777"
        );
        assert_eq!(p(Kind::Port, "80"), Ok(Val::Port(80)));
        assert_eq!(p(Kind::TmpfsSize, "0x10"), Ok(Val::Size(16)));
        assert_eq!(p(Kind::Cap, "all"), Ok(Val::Cap(CapSet::All)));
        assert_eq!(
            p(Kind::OneOf(&["a", "b"]), "c").unwrap_err().to_string(),
            "--x takes one of a, b: c"
        );
        assert_eq!(p(Kind::OneOf(&["a", "b"]), "b"), Ok(Val::Word("b")));
        assert_eq!(p(Kind::Module, "anything"), Ok(Val::Os("anything".into())));
    }
}

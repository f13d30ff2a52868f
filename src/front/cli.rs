//! The command line: a parser that follows bubblewrap's grammar exactly, driven by
//! the flag table (`flags.rs`), and the help text generated from the table.
//!
//! bwrap's grammar is not one that clap's parser can express (options with two
//! or three values applied in order, modifiers binding to the next option,
//! `--args FD` splicing, the first non-option ending the options, no
//! `--opt=value`), so the table in `flags.rs` is the single definition: it gives
//! each flag's arity, the parser of each value and whether it may be repeated; the
//! code here acts on each flag in command-line order. The man page and the shell
//! completions are generated from the same table through clap (src/docs.rs).

use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::flags::{self, Handler, Times, Val, FLAGS};
use crate::spec::*;

/// bwrap's limit is 9000 arguments; hutch raises it (never lowers it) so that
/// callers can pass thousands of mounts through `--args`.
pub const MAX_ARGS: usize = 100_000;

/// The help text, in bwrap's layout.
pub fn usage(prog: &str) -> String {
    let mut out = format!("usage: {prog} [OPTIONS...] [--] COMMAND [ARGS...]\n\n");
    for f in FLAGS {
        let left = std::iter::once(f.name)
            .chain(f.value_names())
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!("    {left:<28} {}\n", f.help));
    }
    // `hutch oci`: not under the bwrap name, where `oci` is a command to run.
    if matches!(
        Personality::from_argv0(OsStr::new(prog)),
        Personality::Hutch
    ) {
        out.push_str(&crate::oci::cli::pointer(prog));
    }
    out
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Action {
    Help,
    Version,
    Run(Box<Spec>),
}

/// Non-fatal messages produced while parsing ("Only the last --chdir ...").
/// Each with whether `--level-prefix` was in force where it arose.
pub type Warnings = Vec<(bool, String)>;

thread_local! {
    static LEVEL_PREFIX: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether `--level-prefix` had been parsed when parsing stopped: bwrap applies
/// it from where it appears, so an error before it is printed without `<3>`.
pub fn level_prefix_seen() -> bool {
    LEVEL_PREFIX.with(|p| p.get())
}

/// Why parsing of one argument list stopped.
enum ListEnd {
    /// The list ran out (or, in an `--args` file, reached a non-option).
    Exhausted,
    /// `--` or the first non-option: the command and its arguments.
    Command(Vec<OsString>),
    Help,
    Version,
}

struct Parser<'i> {
    input: &'i mut dyn Input,
    spec: Spec,
    warnings: Warnings,
    perms: Option<u32>,
    size: Option<u64>,
    overlay_srcs: Vec<PathBuf>,
    total_args: usize,
    seen_single: Vec<&'static str>,
    /// `--landlock auto|off` as given (the last one wins), resolved in `finish`.
    landlock_mode: Option<bool>,
    /// `--landlock-scope on|off` as given.
    landlock_scope: Option<bool>,
    landlock_paths: Vec<(PathBuf, PathAccess)>,
    /// `--share-pid` was given: no pid namespace by default as hutch.
    share_pid: bool,
    /// `--host-sockets block|allow` as given, resolved in `finish`.
    host_sockets: Option<bool>,
    /// `--profile`: the command (for `${NAME}`), and the variables and search path, read once.
    profile_command: Option<OsString>,
    profile_env: Option<(crate::profile::Vars, crate::profile::Search)>,
}

fn takes(name: &str, n: usize) -> Error {
    Error::msg(match (name, n) {
        ("--argv0" | "--chdir" | "--remount-ro", _) => format!("{name} takes one argument"),
        ("--ro-bind-fd", _) => "--bind-fd takes two arguments".to_string(),
        (_, 1) => format!("{name} takes an argument"),
        (_, 2) => format!("{name} takes two arguments"),
        _ => format!("{name} takes three arguments"),
    })
}

const OVERLAY_SRC_DANGLING: &str =
    "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay";

/// The most `--args FD` may hold: the longest argument list (100,000 paths of
/// PATH_MAX) fits. An endless fd (`/dev/zero`) fails here instead of exhausting memory.
pub const MAX_ARGS_BYTES: u64 = 512 << 20;

/// What the parser reads besides the command line: the contents of `--args FD`, and
/// for `--profile` the variables and where profiles are found. [`System`] is the
/// real one; tests and the fuzz targets (`fuzz/`) give their own.
pub trait Input {
    /// The whole content of `--args FD`.
    fn args_fd(&mut self, fd: RawFd) -> Result<Vec<u8>>;
    /// The profile variables (`command` gives `${NAME}`) and the search path.
    fn profile_env(
        &mut self,
        command: Option<&OsStr>,
    ) -> (crate::profile::Vars, crate::profile::Search);
}

/// The process's own fds, environment and files.
pub struct System;

impl Input for System {
    fn args_fd(&mut self, fd: RawFd) -> Result<Vec<u8>> {
        use std::io::Read;
        let owned = crate::sys::take_fd(fd).map_err(|e| Error::io("Can't read --args data", e))?;
        let file = std::fs::File::from(owned);
        // Sized for a regular file at once (a pipe says 0): no copies while it grows.
        let size = file.metadata().map_or(0, |m| m.len()).min(MAX_ARGS_BYTES) as usize;
        let mut data = Vec::with_capacity(size + 1);
        file.take(MAX_ARGS_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| Error::io("Can't read --args data", e))?;
        if data.len() as u64 > MAX_ARGS_BYTES {
            return Err(Error::msg(format!(
                "Can't read --args data: more than {} MiB",
                MAX_ARGS_BYTES >> 20
            )));
        }
        Ok(data)
    }

    fn profile_env(
        &mut self,
        command: Option<&OsStr>,
    ) -> (crate::profile::Vars, crate::profile::Search) {
        let vars = crate::profile::Vars::from_env(command);
        let search = crate::profile::Search::from_vars(&vars);
        (vars, search)
    }
}

/// Split the content of an `--args FD` file into arguments, at each NUL.
pub fn split_args(data: &[u8]) -> Vec<OsString> {
    args_in(data).1.collect()
}

/// The number of arguments in the content of an `--args FD` file, and the
/// arguments, made one at a time (so that thousands of them are never all held
/// twice). A trailing NUL ends the last argument rather than starting an empty one.
fn args_in(data: &[u8]) -> (usize, impl Iterator<Item = OsString> + '_) {
    let body = match data {
        [] => None,
        [rest @ .., 0] => Some(rest),
        all => Some(all),
    };
    let count = body.map_or(0, |b| b.iter().filter(|c| **c == 0).count() + 1);
    let args = body
        .into_iter()
        .flat_map(|b| b.split(|c| *c == 0))
        .map(|a| OsString::from_vec(a.to_vec()));
    (count, args)
}

impl<'i> Parser<'i> {
    fn new(personality: Personality, input: &'i mut dyn Input) -> Self {
        Parser {
            input,
            spec: Spec::new(personality),
            warnings: Vec::new(),
            perms: None,
            size: None,
            overlay_srcs: Vec::new(),
            total_args: 0,
            seen_single: Vec::new(),
            landlock_mode: None,
            landlock_scope: None,
            landlock_paths: Vec::new(),
            share_pid: false,
            host_sockets: None,
            profile_command: None,
            profile_env: None,
        }
    }

    /// Note a single-valued option; a second use keeps the last value and warns.
    fn single(&mut self, name: &'static str) {
        if self.seen_single.contains(&name) {
            self.warnings.push((
                level_prefix_seen(),
                format!("Only the last {name} option will take effect"),
            ));
        } else {
            self.seen_single.push(name);
        }
    }

    fn take_perms(&mut self) -> Option<u32> {
        self.perms.take()
    }

    /// bwrap's check after every option: a pending modifier must have been
    /// consumed by this option, unless it is itself a modifier.
    fn check_modifiers(&self, name: &str) -> Result<()> {
        if !matches!(name, "--perms" | "--size") {
            if self.perms.is_some() {
                return Err(Error::msg(
                    "--perms must be followed by an option that creates a file",
                ));
            }
            if self.size.is_some() {
                return Err(Error::msg("--size must be followed by --tmpfs"));
            }
        }
        if name != "--overlay-src" && !self.overlay_srcs.is_empty() {
            return Err(Error::msg(OVERLAY_SRC_DANGLING));
        }
        Ok(())
    }

    /// Parse one list of arguments. `from_file` is set for the contents of `--args FD`:
    /// there a non-option stops reading that file, since the command must come from argv.
    fn parse_list(
        &mut self,
        count: usize,
        args: impl Iterator<Item = OsString>,
        from_file: bool,
    ) -> Result<ListEnd> {
        self.total_args += count;
        if self.total_args > MAX_ARGS {
            return Err(Error::msg(format!(
                "Exceeded maximum number of arguments {MAX_ARGS}"
            )));
        }
        let mut it = args;
        while let Some(arg) = it.next() {
            let bytes = arg.as_bytes();
            if bytes == b"--" {
                if from_file {
                    return Ok(ListEnd::Exhausted);
                }
                return Ok(ListEnd::Command(it.collect()));
            }
            if !bytes.starts_with(b"-") {
                if from_file {
                    return Ok(ListEnd::Exhausted);
                }
                let mut rest = vec![arg];
                rest.extend(it);
                return Ok(ListEnd::Command(rest));
            }
            let name = arg.to_string_lossy();
            let Some(flag) = flags::flag(&name) else {
                return Err(Error::msg(format!("Unknown option {name}")));
            };
            let mut raw = Vec::with_capacity(flag.values.len());
            for _ in 0..flag.values.len() {
                match it.next() {
                    Some(v) => raw.push(v),
                    None => return Err(takes(flag.name, flag.values.len())),
                }
            }
            self.before(flag, from_file)?;
            let personality = self.spec.personality;
            let vals = flag
                .values
                .iter()
                .zip(raw)
                .map(|(v, s)| v.parse(flag.name, s, personality))
                .collect::<Result<Vec<Val>>>()?;
            let end = match flag.handler {
                Handler::Parser => self.apply(flag.name, vals)?,
                // Networking (src/net.rs).
                Handler::Net => {
                    let s = &mut self.spec;
                    let vals: Vec<OsString> = vals.into_iter().map(Val::os).collect();
                    crate::net::parse_flag(&mut s.ns.net, &mut s.net, flag.name, &vals)?;
                    ListEnd::Exhausted
                }
                // Resource limits and accounting (src/limits.rs).
                Handler::Limits => {
                    let vals: Vec<OsString> = vals.into_iter().map(Val::os).collect();
                    self.spec.limits.parse_flag(flag.name, &vals)?;
                    ListEnd::Exhausted
                }
            };
            match end {
                ListEnd::Exhausted => {
                    if flag.times != Times::Many {
                        self.single(flag.name);
                    }
                    self.check_modifiers(flag.name)?
                }
                stop => return Ok(stop),
            }
        }
        Ok(ListEnd::Exhausted)
    }

    /// bwrap's checks that come after a flag's values are counted but before they are
    /// read: a repeated once-only flag, `--args` in an arguments file, a second
    /// modifier, and the two seccomp forms mixed.
    fn before(&self, flag: &flags::Flag, from_file: bool) -> Result<()> {
        if flag.times == Times::Once && self.seen_single.contains(&flag.name) {
            return Err(Error::msg(format!("{} used multiple times", flag.name)));
        }
        let s = &self.spec;
        let conflict = match flag.name {
            "--args" if from_file => "--args not supported in arguments file",
            "--seccomp" if !s.seccomp.add.is_empty() => {
                "--seccomp cannot be combined with --add-seccomp-fd"
            }
            "--add-seccomp-fd" if s.seccomp.replace.is_some() => {
                "--add-seccomp-fd cannot be combined with --seccomp"
            }
            "--perms" if self.perms.is_some() => "--perms given twice for the same action",
            "--size" if self.size.is_some() => "--size given twice for the same action",
            _ => return Ok(()),
        };
        Err(Error::msg(conflict))
    }

    /// Apply one flag of [`Handler::Parser`], its values read by the table's parsers.
    /// Returns `Exhausted` to go on parsing, `Help`/`Version` to stop.
    fn apply(&mut self, name: &'static str, mut v: Vec<Val>) -> Result<ListEnd> {
        let s = &mut self.spec;
        let mut one = || v.remove(0);
        match name {
            "--help" => return Ok(ListEnd::Help),
            "--version" => return Ok(ListEnd::Version),
            "--args" => {
                let data = self.input.args_fd(one().fd())?;
                let (count, inner) = args_in(&data);
                match self.parse_list(count, inner, true)? {
                    ListEnd::Exhausted | ListEnd::Command(_) => {}
                    stop => return Ok(stop),
                }
            }
            "--argv0" => s.argv0 = Some(one().os()),
            "--level-prefix" => {
                s.level_prefix = true;
                LEVEL_PREFIX.with(|p| p.set(true));
            }
            "--unshare-all" => {
                s.ns.user = match s.ns.user {
                    Unshare::Yes => Unshare::Yes,
                    _ => Unshare::Try,
                };
                s.ns.ipc = true;
                s.ns.pid = true;
                s.ns.net = true;
                s.ns.uts = true;
                s.net.user = false;
                if s.ns.cgroup != Unshare::Yes {
                    s.ns.cgroup = Unshare::Try;
                }
            }
            "--share-net" => {
                s.ns.net = false;
                s.net.user = false;
            }
            "--unshare-user" => s.ns.user = Unshare::Yes,
            "--unshare-user-try" => {
                if s.ns.user != Unshare::Yes {
                    s.ns.user = Unshare::Try
                }
            }
            "--unshare-ipc" => s.ns.ipc = true,
            "--unshare-pid" => s.ns.pid = true,
            "--share-pid" => {
                s.ns.pid = false;
                self.share_pid = true;
            }
            "--unshare-net" => {
                s.ns.net = true;
                s.net.user = false;
            }
            "--unshare-uts" => s.ns.uts = true,
            "--unshare-cgroup" => s.ns.cgroup = Unshare::Yes,
            "--unshare-cgroup-try" => {
                if s.ns.cgroup != Unshare::Yes {
                    s.ns.cgroup = Unshare::Try
                }
            }
            "--userns" => s.userns_fd = Some(one().fd()),
            "--userns2" => s.userns2_fd = Some(one().fd()),
            "--pidns" => s.pidns_fd = Some(one().fd()),
            "--disable-userns" => s.disable_userns = true,
            "--assert-userns-disabled" => s.assert_userns_disabled = true,
            "--uid" => s.uid = Some(one().id()),
            "--gid" => s.gid = Some(one().id()),
            "--hostname" => s.hostname = Some(one().os()),
            "--chdir" => s.chdir = Some(one().path()),
            "--clearenv" => s.env.push(EnvOp::Clear),
            "--setenv" => {
                let var = one().os();
                s.env.push(EnvOp::Set(var, one().os()));
            }
            "--unsetenv" => s.env.push(EnvOp::Unset(one().os())),
            "--lock-file" => s.lock_files.push(one().path()),
            "--sync-fd" => s.sync_fd = Some(one().fd()),
            "--block-fd" => s.block_fd = Some(one().fd()),
            "--userns-block-fd" => s.userns_block_fd = Some(one().fd()),
            "--info-fd" => s.info_fd = Some(one().fd()),
            "--json-status-fd" => s.json_status_fd = Some(one().fd()),
            "--seccomp" => s.seccomp.replace = Some(one().fd()),
            "--add-seccomp-fd" => s.seccomp.add.push(one().fd()),
            "--exec-label" => s.exec_label = Some(one().os().to_string_lossy().into_owned()),
            "--file-label" => s.file_label = Some(one().os().to_string_lossy().into_owned()),
            "--landlock" => self.landlock_mode = Some(one().word() == "auto"),
            "--landlock-read" | "--landlock-write" | "--landlock-exec" => {
                let access = match name {
                    "--landlock-read" => PathAccess::Read,
                    "--landlock-write" => PathAccess::Write,
                    _ => PathAccess::Exec,
                };
                self.landlock_paths.push((one().path(), access));
            }
            "--landlock-connect" => s.landlock.connect.push(one().port()),
            "--landlock-bind" => s.landlock.bind.push(one().port()),
            "--landlock-scope" => self.landlock_scope = Some(one().word() == "on"),
            "--landlock-strict" => s.landlock.strict = true,
            "--host-sockets" => self.host_sockets = Some(one().word() == "block"),
            "--allow-socket" => s.host_sockets.allow.push(one().path()),
            "--landlock-only" => s.landlock_only = LandlockOnly::On,
            "--landlock-only-fallback" => s.landlock_only = LandlockOnly::Fallback,
            "--landlock-only-metadata" => s.landlock_only_metadata_allow = one().word() == "allow",
            "--seccomp-policy" => {
                let given = one().path();
                s.seccomp_policy.source = match given.to_str() {
                    Some("default") => PolicySource::Default,
                    Some("none") => PolicySource::None,
                    _ => PolicySource::File(given),
                };
            }
            "--seccomp-action" => {
                s.seccomp_policy.action = match one().word() {
                    "kill" => PolicyAction::Kill,
                    "log" => PolicyAction::Log,
                    _ => PolicyAction::Errno,
                };
            }
            "--report" => s.report = Some(ReportTo::Stderr),
            "--explain" => s.explain = true,
            // A profile's options, spliced in here like --args (src/profile.rs).
            "--profile" => return self.apply_profile(&one().os()),
            "--keep-fd" => s.keep_fds.get_or_insert_with(Vec::new).push(one().fd()),
            "--inherit-fds" => s.keep_fds = None,
            "--report-fd" => s.report = Some(ReportTo::Fd(one().fd())),
            "--new-session" => s.new_session = true,
            "--die-with-parent" => s.die_with_parent = true,
            "--as-pid-1" => s.as_pid_1 = true,
            "--forward-signals" => s.forward_signals = true,
            "--cap-add" => s.caps.push(CapOp::Add(one().cap())),
            "--cap-drop" => s.caps.push(CapOp::Drop(one().cap())),
            "--perms" => self.perms = Some(one().mode()),
            "--size" => self.size = Some(one().size()),
            "--overlay-src" => self.overlay_srcs.push(one().path()),
            "--overlay" | "--tmp-overlay" | "--ro-overlay" => {
                let sources = std::mem::take(&mut self.overlay_srcs);
                let (kind, dest) = match name {
                    "--overlay" => (
                        OverlayKind::ReadWrite {
                            upper: one().path(),
                            work: one().path(),
                        },
                        one().path(),
                    ),
                    "--tmp-overlay" => (OverlayKind::Tmp, one().path()),
                    _ => (OverlayKind::ReadOnly, one().path()),
                };
                let min = if kind == OverlayKind::ReadOnly { 2 } else { 1 };
                if sources.len() < min {
                    return Err(Error::msg(if min == 2 {
                        format!("{name} requires at least two --overlay-src")
                    } else {
                        format!("{name} requires at least one --overlay-src")
                    }));
                }
                self.spec.ops.push(Op::Overlay {
                    sources,
                    kind,
                    dest,
                });
            }
            _ => self.apply_op(name, v)?,
        }
        Ok(ListEnd::Exhausted)
    }

    /// `--profile`: parse each key's options in place; an error names the file, line and key.
    fn apply_profile(&mut self, given: &OsStr) -> Result<ListEnd> {
        // A --perms or --size before --profile must not bind to the profile's first op.
        self.check_modifiers("")?;
        if self.profile_env.is_none() {
            let command = self.profile_command.clone();
            self.profile_env = Some(self.input.profile_env(command.as_deref()));
        }
        let (vars, search) = self.profile_env.clone().unwrap_or_default();
        let (used, groups) = crate::profile::load(given, &vars, &search)?;
        for w in &used.warnings {
            self.warnings.push((level_prefix_seen(), w.clone()));
        }
        for g in groups {
            self.parse_list(g.args.len(), g.args.iter().cloned(), true)
                .and_then(|_| self.check_modifiers(""))
                .map_err(|e| g.error(e))?;
        }
        self.spec.profiles.push(used);
        Ok(ListEnd::Exhausted)
    }

    /// Filesystem ops: each one appended in order, with its modifiers folded in.
    fn apply_op(&mut self, name: &'static str, v: Vec<Val>) -> Result<()> {
        // The values move into the op, in order: thousands of paths are not copied.
        let mut values = v.into_iter();
        let mut val = move || values.next().unwrap_or(Val::Os(OsString::new()));
        let op = match name {
            "--bind" | "--bind-try" | "--ro-bind" | "--ro-bind-try" | "--dev-bind"
            | "--dev-bind-try" => {
                let kind = match name {
                    "--bind" | "--bind-try" => BindKind::ReadWrite,
                    "--ro-bind" | "--ro-bind-try" => BindKind::ReadOnly,
                    _ => BindKind::Dev,
                };
                Op::Bind {
                    src: val().path(),
                    dest: val().path(),
                    kind,
                    allow_missing: name.ends_with("-try"),
                }
            }
            "--bind-create" => {
                let src = val().path();
                self.spec.host_dirs.push(src.clone());
                Op::Bind {
                    src,
                    dest: val().path(),
                    kind: BindKind::ReadWrite,
                    allow_missing: false,
                }
            }
            "--bind-fd" | "--ro-bind-fd" => Op::BindFd {
                fd: val().fd(),
                dest: val().path(),
                read_only: name == "--ro-bind-fd",
            },
            "--remount-ro" => Op::RemountRo { dest: val().path() },
            "--proc" => Op::Proc { dest: val().path() },
            "--dev" => Op::Dev { dest: val().path() },
            "--mqueue" => Op::Mqueue { dest: val().path() },
            "--symlink" => Op::Symlink {
                target: val().path(),
                dest: val().path(),
            },
            "--chmod" => Op::Chmod {
                perms: val().mode(),
                path: val().path(),
            },
            "--tmpfs" => Op::Tmpfs {
                dest: val().path(),
                perms: self.take_perms(),
                size: self.size.take(),
            },
            "--dir" => Op::Dir {
                dest: val().path(),
                perms: self.take_perms(),
            },
            "--file" => Op::File {
                fd: val().fd(),
                dest: val().path(),
                perms: self.take_perms(),
            },
            "--bind-data" | "--ro-bind-data" => Op::BindData {
                fd: val().fd(),
                dest: val().path(),
                perms: self.take_perms(),
                read_only: name == "--ro-bind-data",
            },
            other => unreachable!("flag {other} is in the table but has no handler"),
        };
        self.spec.ops.push(op);
        Ok(())
    }

    /// Checks that need the whole command line, in bwrap's order.
    fn finish(mut self, command: Vec<OsString>) -> Result<(Spec, Warnings)> {
        // bwrap silently ignores a --perms or --size left just before the command
        // (its check runs after each option, and `--` or the command ends the loop
        // first): so does the bwrap name. The hutch name refuses it like every other
        // dangling modifier: it is always a mistake.
        if self.spec.personality == Personality::Bwrap {
            self.perms = None;
            self.size = None;
        }
        self.check_modifiers("")?;
        // hutch's own configuration: read-only inside (src/stage/mounts.rs, `protect_config`).
        if self.spec.personality == Personality::Hutch {
            if self.profile_env.is_none() {
                let command = self.profile_command.clone();
                self.profile_env = Some(self.input.profile_env(command.as_deref()));
            }
            if let Some((_, search)) = &self.profile_env {
                let s = &mut self.spec;
                s.config_dirs = crate::profile::config_dirs(search);
                // A missing user configuration directory that a writable mount would let the
                // sandbox create is made first (empty, mode 0700), so that it is made
                // read-only inside like an existing one.
                if let Some(user) = s.config_dirs.first() {
                    if crate::profile::creatable_in(user, &s.ops) && !s.host_dirs.contains(user) {
                        s.host_dirs.push(user.clone());
                    }
                }
            }
        }
        let s = &mut self.spec;
        s.command = command;
        s.limits.check()?;
        s.limits.set_defaults(s.personality == Personality::Hutch);
        crate::net::check(&s.net)?;
        crate::net::check_allow(s.ns.net, &s.net)?;

        // Landlock: explicit path rules replace the derived ones; `--landlock off`
        // turns off the personality's defaults and conflicts with explicit rules.
        let ll = &mut s.landlock;
        if self.landlock_mode == Some(false) {
            let given = [
                (
                    "--landlock-read/-write/-exec",
                    !self.landlock_paths.is_empty(),
                ),
                ("--landlock-connect", !ll.connect.is_empty()),
                ("--landlock-bind", !ll.bind.is_empty()),
                ("--landlock-scope on", self.landlock_scope == Some(true)),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
                return Err(Error::msg(format!(
                    "{flag} cannot be combined with --landlock off"
                )));
            }
        }
        // Landlock-only mode has no other protection: Landlock (with scoping) and the
        // default seccomp policy are on under both names unless turned off.
        let ll_only = s.landlock_only != LandlockOnly::Off;
        if ll_only && self.landlock_mode == Some(false) {
            return Err(Error::msg(
                "--landlock off cannot be combined with --landlock-only or --landlock-only-fallback: they confine the command with Landlock",
            ));
        }
        if ll_only && !self.seen_single.contains(&"--seccomp-policy") {
            s.seccomp_policy.source = PolicySource::Default;
        }
        let hutch = s.personality == Personality::Hutch || ll_only;
        let auto = self.landlock_mode.unwrap_or(hutch);
        ll.fs = if !self.landlock_paths.is_empty() {
            LandlockFs::Explicit(std::mem::take(&mut self.landlock_paths))
        } else if auto {
            LandlockFs::Derived
        } else {
            LandlockFs::Off
        };
        ll.scope = self.landlock_scope.unwrap_or(auto && hutch);
        // Host sockets are masked in the mount plan, which Landlock-only mode has not.
        if self.host_sockets == Some(true) && s.landlock_only == LandlockOnly::On {
            return Err(Error::msg(
                "--host-sockets block cannot be combined with --landlock-only: the sockets are masked in the mount plan, which it has not",
            ));
        }
        if let Some(block) = self.host_sockets {
            s.host_sockets.block = block;
        }

        // As hutch, a pid namespace of its own unless --share-pid (or --pidns, or
        // --landlock-only): the command cannot prlimit, renice, pin or ionice host
        // processes by pid (README "Hardened by default").
        if s.personality == Personality::Hutch
            && !s.ns.pid
            && !self.share_pid
            && s.pidns_fd.is_none()
            && s.landlock_only != LandlockOnly::On
        {
            s.ns.pid = true;
            s.ns.pid_default = true;
        }

        Ok((self.spec, self.warnings))
    }
}

/// The command on a command line (the first word after the options), found before
/// parsing so that a profile can use `${NAME}`. The values of each flag are skipped
/// by the arity in the flag table.
pub fn find_command(args: &[OsString]) -> Option<&OsStr> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            return args.get(i + 1).map(|a| a.as_os_str());
        }
        if !a.as_bytes().starts_with(b"-") {
            return Some(a);
        }
        let arity = flags::flag(&a.to_string_lossy()).map_or(0, |f| f.values.len());
        i += 1 + arity;
    }
    None
}

/// Parse the arguments after argv[0].
pub fn parse(personality: Personality, args: Vec<OsString>) -> Result<(Action, Warnings)> {
    parse_with(personality, args, &mut System)
}

/// [`parse`], with `--args FD` and `--profile` served by `input`.
pub fn parse_with(
    personality: Personality,
    args: Vec<OsString>,
    input: &mut dyn Input,
) -> Result<(Action, Warnings)> {
    LEVEL_PREFIX.with(|p| p.set(false));
    let mut parser = Parser::new(personality, input);
    parser.profile_command = find_command(&args).map(OsStr::to_os_string);
    let command = match parser.parse_list(args.len(), args.into_iter(), false)? {
        ListEnd::Command(c) => c,
        ListEnd::Exhausted => Vec::new(),
        ListEnd::Help => return Ok((Action::Help, Vec::new())),
        ListEnd::Version => return Ok((Action::Version, Vec::new())),
    };
    let (spec, warnings) = parser.finish(command)?;
    Ok((Action::Run(Box::new(spec)), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    fn spec(s: &[&str]) -> Spec {
        match parse(Personality::Bwrap, args(s)).unwrap().0 {
            Action::Run(spec) => *spec,
            other => panic!("expected a spec, got {other:?}"),
        }
    }

    fn err(s: &[&str]) -> String {
        parse(Personality::Bwrap, args(s)).unwrap_err().to_string()
    }

    /// `--args` content: a NUL ends each argument, a trailing one starts none; the
    /// count (checked against MAX_ARGS before parsing) matches what is made.
    #[test]
    fn args_files_split_at_each_nul() {
        for (data, want) in [
            (&b""[..], &[][..]),
            (b"\0", &[""]),
            (b"\0\0", &["", ""]),
            (b"a", &["a"]),
            (b"a\0", &["a"]),
            (b"a\0\0", &["a", ""]),
            (b"--bind\0/a b\0/c\0", &["--bind", "/a b", "/c"]),
            (b"\0x", &["", "x"]),
        ] {
            let (count, made) = args_in(data);
            let made: Vec<OsString> = made.collect();
            assert_eq!(made, args(want), "{data:?}");
            assert_eq!(count, want.len(), "{data:?}");
            assert_eq!(split_args(data), args(want), "{data:?}");
        }
    }

    /// Every filesystem op takes its values in the order `--help` gives them
    /// (the parser moves them into the op one by one).
    #[test]
    fn op_values_land_in_their_fields() {
        let p = |s: &str| PathBuf::from(s);
        let bind = |src: &str, dest: &str, kind, allow_missing| Op::Bind {
            src: p(src),
            dest: p(dest),
            kind,
            allow_missing,
        };
        use BindKind::*;
        let cases: Vec<(&[&str], Op)> = vec![
            (&["--bind", "/s", "/d"], bind("/s", "/d", ReadWrite, false)),
            (
                &["--bind-try", "/s", "/d"],
                bind("/s", "/d", ReadWrite, true),
            ),
            (
                &["--ro-bind", "/s", "/d"],
                bind("/s", "/d", ReadOnly, false),
            ),
            (
                &["--ro-bind-try", "/s", "/d"],
                bind("/s", "/d", ReadOnly, true),
            ),
            (&["--dev-bind", "/s", "/d"], bind("/s", "/d", Dev, false)),
            (&["--dev-bind-try", "/s", "/d"], bind("/s", "/d", Dev, true)),
            (
                &["--bind-create", "/s", "/d"],
                bind("/s", "/d", ReadWrite, false),
            ),
            (
                &["--bind-fd", "5", "/d"],
                Op::BindFd {
                    fd: 5,
                    dest: p("/d"),
                    read_only: false,
                },
            ),
            (
                &["--ro-bind-fd", "5", "/d"],
                Op::BindFd {
                    fd: 5,
                    dest: p("/d"),
                    read_only: true,
                },
            ),
            (&["--remount-ro", "/d"], Op::RemountRo { dest: p("/d") }),
            (&["--proc", "/d"], Op::Proc { dest: p("/d") }),
            (&["--dev", "/d"], Op::Dev { dest: p("/d") }),
            (&["--mqueue", "/d"], Op::Mqueue { dest: p("/d") }),
            (
                &["--symlink", "t", "/d"],
                Op::Symlink {
                    target: p("t"),
                    dest: p("/d"),
                },
            ),
            (
                &["--chmod", "0750", "/d"],
                Op::Chmod {
                    perms: 0o750,
                    path: p("/d"),
                },
            ),
            (
                &["--tmpfs", "/d"],
                Op::Tmpfs {
                    dest: p("/d"),
                    perms: None,
                    size: None,
                },
            ),
            (
                &["--dir", "/d"],
                Op::Dir {
                    dest: p("/d"),
                    perms: None,
                },
            ),
            (
                &["--file", "5", "/d"],
                Op::File {
                    fd: 5,
                    dest: p("/d"),
                    perms: None,
                },
            ),
            (
                &["--bind-data", "5", "/d"],
                Op::BindData {
                    fd: 5,
                    dest: p("/d"),
                    perms: None,
                    read_only: false,
                },
            ),
            (
                &["--ro-bind-data", "5", "/d"],
                Op::BindData {
                    fd: 5,
                    dest: p("/d"),
                    perms: None,
                    read_only: true,
                },
            ),
        ];
        for (given, want) in cases {
            let mut a = given.to_vec();
            a.push("true");
            let s = spec(&a);
            assert_eq!(s.ops, [want], "{given:?}");
            let created: &[PathBuf] = if given[0] == "--bind-create" {
                &[p("/s")]
            } else {
                &[]
            };
            assert_eq!(s.host_dirs, created, "{given:?}");
        }
    }

    #[test]
    fn ops_keep_command_line_order() {
        let s = spec(&[
            "--tmpfs",
            "/a",
            "--ro-bind",
            "/x",
            "/a/x",
            "--dir",
            "/a/d",
            "true",
        ]);
        let dests: Vec<_> = s
            .ops
            .iter()
            .map(|o| o.dest().to_str().unwrap().to_string())
            .collect();
        assert_eq!(dests, ["/a", "/a/x", "/a/d"]);
        assert_eq!(s.command, args(&["true"]));
    }

    #[test]
    fn first_non_option_ends_options() {
        let s = spec(&["--unshare-pid", "sh", "--unshare-net", "-c"]);
        assert!(s.ns.pid && !s.ns.net);
        assert_eq!(s.command, args(&["sh", "--unshare-net", "-c"]));
        let s = spec(&["--", "--weird", "x"]);
        assert_eq!(s.command, args(&["--weird", "x"]));
    }

    #[test]
    fn perms_and_size_bind_to_the_next_op() {
        let s = spec(&[
            "--perms", "0700", "--size", "1024", "--tmpfs", "/t", "--dir", "/d", "x",
        ]);
        assert_eq!(
            s.ops[0],
            Op::Tmpfs {
                dest: "/t".into(),
                perms: Some(0o700),
                size: Some(1024)
            }
        );
        assert_eq!(
            s.ops[1],
            Op::Dir {
                dest: "/d".into(),
                perms: None
            }
        );
    }

    #[test]
    fn modifier_errors_match_bwrap() {
        assert_eq!(
            err(&["--perms", "0755", "--bind", "/", "/", "x"]),
            "--perms must be followed by an option that creates a file"
        );
        assert_eq!(
            err(&["--size", "10", "--dir", "/x", "x"]),
            "--size must be followed by --tmpfs"
        );
        assert_eq!(
            err(&["--perms", "0755", "--perms", "0700", "--dir", "/x"]),
            "--perms given twice for the same action"
        );
        assert_eq!(
            err(&["--perms", "888", "--dir", "/x"]),
            "--perms takes an octal argument <= 07777"
        );
        assert_eq!(
            err(&["--perms", "010000", "--dir", "/x"]),
            "--perms takes an octal argument <= 07777"
        );
        assert_eq!(
            err(&["--size", "0", "--tmpfs", "/x"]),
            "--size takes a non-zero number of bytes"
        );
        assert_eq!(
            err(&["--perms", "0755", "--setenv", "A", "B", "x"]),
            "--perms must be followed by an option that creates a file"
        );
        // bwrap ignores a modifier left just before the command; hutch does not.
        assert_eq!(spec(&["--perms", "0755", "x"]).command, args(&["x"]));
        assert_eq!(spec(&["--size", "10", "--", "x"]).command, args(&["x"]));
        let hutch_err = |s: &[&str]| parse(Personality::Hutch, args(s)).unwrap_err().to_string();
        assert_eq!(
            hutch_err(&["--perms", "0755", "x"]),
            "--perms must be followed by an option that creates a file"
        );
        assert_eq!(
            hutch_err(&["--size", "10", "--", "x"]),
            "--size must be followed by --tmpfs"
        );
        assert_eq!(err(&["--overlay-src", "/a", "x"]), OVERLAY_SRC_DANGLING);
    }

    /// `--size` as bwrap's strtoull(…, 0) and its SIZE_MAX/2 bound (its suite checks 2^63+1).
    #[test]
    fn size_bounds_match_bwrap() {
        let size = |t: &str| match &spec(&["--size", t, "--tmpfs", "/t", "x"]).ops[0] {
            Op::Tmpfs { size, .. } => size.unwrap(),
            op => panic!("{op:?}"),
        };
        assert_eq!(size("1048576"), 1 << 20);
        assert_eq!(size("0x100000"), 1 << 20);
        assert_eq!(size("010"), 8);
        assert_eq!(size("9223372036854775807"), u64::MAX / 2);
        for bad in [
            "0",
            "",
            "123bogus",
            "-12345678",
            " 5",
            "+5",
            "08",
            "0x",
            "18446744073709551616",
        ] {
            assert_eq!(
                err(&["--size", bad, "--tmpfs", "/t", "x"]),
                "--size takes a non-zero number of bytes",
                "{bad:?}"
            );
        }
        assert_eq!(
            err(&["--size", "9223372036854775809", "--tmpfs", "/t", "x"]),
            "--size (for tmpfs) is limited to 9223372036854775807"
        );
    }

    /// bwrap keeps `--uid` in an int: 2^31 and above (the overflow id 4294967294 too)
    /// are refused; the hutch name takes any id but (uid_t)-1.
    #[test]
    fn uid_range_follows_the_personality() {
        let uid = |p, t: &str| match parse(p, args(&["--unshare-user", "--uid", t, "x"])) {
            Ok((Action::Run(s), _)) => Ok(s.uid.unwrap()),
            Ok(_) => panic!(),
            Err(e) => Err(e.to_string()),
        };
        for (t, id) in [
            ("0", 0),
            ("2147483647", i32::MAX as u32),
            (" 5", 5),
            ("+5", 5),
            ("-0", 0),
        ] {
            assert_eq!(uid(Personality::Bwrap, t), Ok(id), "{t:?}");
        }
        for t in [
            "4294967294",
            "2147483648",
            "4294967296",
            "-1",
            "",
            "5x",
            "+-5",
        ] {
            assert_eq!(uid(Personality::Bwrap, t), Err(format!("Invalid uid: {t}")));
        }
        assert_eq!(uid(Personality::Hutch, "4294967294"), Ok(u32::MAX - 1));
        assert_eq!(
            uid(Personality::Hutch, "4294967295"),
            Err("Invalid uid: 4294967295".into())
        );
    }

    #[test]
    fn arity_errors() {
        assert_eq!(err(&["--bind", "/x"]), "--bind takes two arguments");
        assert_eq!(err(&["--uid"]), "--uid takes an argument");
        assert_eq!(
            err(&["--overlay", "a", "b"]),
            "--overlay takes three arguments"
        );
        assert_eq!(err(&["--chdir"]), "--chdir takes one argument");
        assert_eq!(err(&["--ro-bind-fd", "3"]), "--bind-fd takes two arguments");
        assert_eq!(err(&["--frob"]), "Unknown option --frob");
        assert_eq!(err(&["--bind=/x", "/y"]), "Unknown option --bind=/x");
    }

    #[test]
    fn numbers() {
        assert_eq!(err(&["--uid", "abc", "x"]), "Invalid uid: abc");
        assert_eq!(err(&["--gid", "-1", "x"]), "Invalid gid: -1");
        assert_eq!(
            err(&["--uid", "4294967295", "x"]),
            "Invalid uid: 4294967295"
        );
        assert_eq!(
            hutch_spec(&["--uid", "4294967294", "x"]).uid,
            Some(4294967294)
        );
        assert_eq!(err(&["--sync-fd", "abc", "x"]), "Invalid fd: abc");
        assert_eq!(err(&["--cap-add", "FOO", "x"]), "unknown cap: FOO");
    }

    #[test]
    fn unshare_all_and_share_net() {
        let s = spec(&["--unshare-all", "--share-net", "x"]);
        assert_eq!(
            s.ns,
            Namespaces {
                user: Unshare::Try,
                ipc: true,
                pid: true,
                net: false,
                uts: true,
                cgroup: Unshare::Try,
                pid_default: false,
            }
        );
        let s = spec(&["--unshare-user", "--unshare-all", "x"]);
        assert_eq!(s.ns.user, Unshare::Yes);
    }

    #[test]
    fn single_valued_options_warn() {
        let (_, w) = parse(
            Personality::Bwrap,
            args(&["--chdir", "/a", "--chdir", "/b", "x"]),
        )
        .unwrap();
        assert_eq!(
            w,
            [(
                false,
                "Only the last --chdir option will take effect".to_string()
            )]
        );
        assert_eq!(
            spec(&["--chdir", "/a", "--chdir", "/b", "x"]).chdir,
            Some("/b".into())
        );
        assert_eq!(
            err(&["--argv0", "a", "--argv0", "b", "x"]),
            "--argv0 used multiple times"
        );
    }

    #[test]
    fn env_ops_in_order() {
        let s = spec(&["--setenv", "A", "1", "--clearenv", "--unsetenv", "B", "x"]);
        assert_eq!(
            s.env,
            [
                EnvOp::Set("A".into(), "1".into()),
                EnvOp::Clear,
                EnvOp::Unset("B".into())
            ]
        );
    }

    #[test]
    fn overlay_sources_bind_to_the_overlay() {
        let s = spec(&[
            "--overlay-src",
            "/a",
            "--overlay-src",
            "/b",
            "--ro-overlay",
            "/m",
            "x",
        ]);
        assert_eq!(
            s.ops[0],
            Op::Overlay {
                sources: vec!["/a".into(), "/b".into()],
                kind: OverlayKind::ReadOnly,
                dest: "/m".into()
            }
        );
        assert!(err(&["--overlay-src", "/a", "--ro-overlay", "/m"]).contains("at least two"));
        assert!(
            err(&["--overlay-src", "/a", "--dir", "/m"]).contains("--overlay-src must be followed")
        );
        assert!(err(&["--overlay-src", "/a", "x"]).contains("--overlay-src must be followed"));
        assert!(err(&["--overlay-src", "/a"]).contains("--overlay-src must be followed"));
    }

    #[test]
    fn seccomp_modes_cannot_mix() {
        assert!(
            err(&["--seccomp", "3", "--add-seccomp-fd", "4", "x"]).contains("cannot be combined")
        );
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(
            parse(Personality::Bwrap, args(&["--help"])).unwrap().0,
            Action::Help
        ));
        assert!(matches!(
            parse(Personality::Bwrap, args(&["--unshare-pid", "--version"]))
                .unwrap()
                .0,
            Action::Version
        ));
        assert!(usage("bwrap").starts_with("usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n"));
    }

    fn hutch_spec(s: &[&str]) -> Spec {
        match parse(Personality::Hutch, args(s)).unwrap().0 {
            Action::Run(spec) => *spec,
            other => panic!("expected a spec, got {other:?}"),
        }
    }

    /// One size parser for `--size` and a profile's `size` under the hutch name; bwrap's
    /// plain bytes under the bwrap name. The bounds are hutch's defaults only.
    #[test]
    fn sizes_and_default_bounds_follow_the_personality() {
        let size = |s: &Spec| match &s.ops[0] {
            Op::Tmpfs { size, .. } => *size,
            other => panic!("{other:?}"),
        };
        for (v, n) in [
            ("1M", 1 << 20),
            ("4k", 4096),
            ("2G", 2 << 30),
            ("1000", 1000),
        ] {
            assert_eq!(
                size(&hutch_spec(&["--size", v, "--tmpfs", "/t", "x"])),
                Some(n)
            );
        }
        let herr = |s: &[&str]| parse(Personality::Hutch, args(s)).unwrap_err().to_string();
        assert_eq!(
            herr(&["--size", "1X", "--tmpfs", "/t"]),
            "--size takes a non-zero number of bytes, with an optional k, M or G suffix: 1X"
        );
        assert_eq!(
            err(&["--size", "1M", "--tmpfs", "/t"]),
            "--size takes a non-zero number of bytes"
        );
        let h = hutch_spec(&["true"]);
        assert_eq!(
            h.limits.tmpfs_size,
            Some(crate::limits::default_tmpfs_size())
        );
        assert!(h.limits.nproc_default);
        let b = spec(&["true"]);
        assert_eq!(b.limits.tmpfs_size, None);
        assert!(!b.limits.nproc_default);
        let h = hutch_spec(&[
            "--tmpfs-size",
            "unlimited",
            "--rlimit",
            "nproc=unlimited",
            "true",
        ]);
        assert_eq!(h.limits.tmpfs_size, None);
        assert!(!h.limits.nproc_default);
        assert_eq!(
            spec(&["--tmpfs-size", "64M", "true"]).limits.tmpfs_size,
            Some(64 << 20)
        );
        assert_eq!(
            err(&["--tmpfs-size", "0", "true"]),
            "--tmpfs-size: invalid size \"0\" (use bytes or a k/M/G suffix, or unlimited)"
        );
    }

    #[test]
    fn hardening_defaults_follow_the_personality() {
        let h = hutch_spec(&["true"]);
        assert_eq!(h.landlock.fs, LandlockFs::Derived);
        assert!(h.landlock.scope && !h.landlock.strict);
        assert_eq!(h.seccomp_policy.source, PolicySource::Default);
        assert_eq!(h.seccomp_policy.action, PolicyAction::Errno);
        let b = spec(&["true"]);
        assert_eq!(b.landlock.fs, LandlockFs::Off);
        assert!(!b.landlock.enabled());
        assert_eq!(b.seccomp_policy.source, PolicySource::None);
        assert_eq!(b.report, None);
    }

    #[test]
    fn share_pid_and_the_default_pid_namespace() {
        let pid = |s: &Spec| (s.ns.pid, s.ns.pid_default);
        assert_eq!(pid(&hutch_spec(&["true"])), (true, true));
        assert_eq!(pid(&hutch_spec(&["--share-pid", "true"])), (false, false));
        assert_eq!(pid(&hutch_spec(&["--unshare-pid", "true"])), (true, false));
        assert_eq!(
            pid(&hutch_spec(&["--unshare-all", "--share-pid", "x"])),
            (false, false)
        );
        assert_eq!(
            pid(&hutch_spec(&["--share-pid", "--unshare-pid", "x"])),
            (true, false)
        );
        assert_eq!(pid(&hutch_spec(&["--pidns", "0", "true"])), (false, false));
        assert_eq!(
            pid(&hutch_spec(&["--landlock-only", "true"])),
            (false, false)
        );
        assert_eq!(
            pid(&hutch_spec(&["--landlock-only-fallback", "x"])),
            (true, true)
        );
        // bwrap's default: the host's pid namespace.
        assert_eq!(pid(&spec(&["true"])), (false, false));
        assert_eq!(
            pid(&spec(&["--unshare-pid", "--share-pid", "x"])),
            (false, false)
        );
    }

    #[test]
    fn host_sockets_flags() {
        let hutch = |a: &[&str]| match parse(Personality::Hutch, args(a)).unwrap().0 {
            Action::Run(spec) => *spec,
            other => panic!("expected a spec, got {other:?}"),
        };
        assert!(hutch(&["true"]).host_sockets.block);
        assert!(!spec(&["true"]).host_sockets.block);
        assert!(
            spec(&["--host-sockets", "block", "true"])
                .host_sockets
                .block
        );
        assert!(
            !hutch(&["--host-sockets", "allow", "true"])
                .host_sockets
                .block
        );
        let s = hutch(&["--allow-socket", "/a", "--allow-socket", "/b/c", "true"]);
        assert_eq!(
            s.host_sockets.allow,
            vec![PathBuf::from("/a"), "/b/c".into()]
        );
        assert!(s.host_sockets.block);
        assert_eq!(
            err(&["--host-sockets", "no", "true"]),
            "--host-sockets takes one of block, allow: no"
        );
        assert!(err(&["--host-sockets", "block", "--landlock-only", "true"])
            .starts_with("--host-sockets block cannot be combined with --landlock-only"));
        // Landlock-only mode, where no mount plan exists, is allowed with the default.
        assert!(parse(Personality::Hutch, args(&["--landlock-only", "true"])).is_ok());
    }

    #[test]
    fn landlock_only_flags() {
        // Under the bwrap name too, Landlock-only mode turns Landlock and the policy on.
        let b = spec(&["--landlock-only", "true"]);
        assert_eq!(b.landlock_only, LandlockOnly::On);
        assert_eq!(b.landlock.fs, LandlockFs::Derived);
        assert!(b.landlock.scope);
        assert_eq!(b.seccomp_policy.source, PolicySource::Default);
        let b = spec(&[
            "--landlock-only-fallback",
            "--seccomp-policy",
            "none",
            "true",
        ]);
        assert_eq!(b.landlock_only, LandlockOnly::Fallback);
        assert_eq!(b.seccomp_policy.source, PolicySource::None);
        // The last one wins.
        let b = spec(&["--landlock-only-fallback", "--landlock-only", "true"]);
        assert_eq!(b.landlock_only, LandlockOnly::On);
        assert_eq!(spec(&["true"]).landlock_only, LandlockOnly::Off);
        assert!(!spec(&["--landlock-only", "true"]).landlock_only_metadata_allow);
        assert!(spec(&["--landlock-only-metadata", "allow", "true"]).landlock_only_metadata_allow);
        assert!(
            !spec(&["--landlock-only-metadata", "supervise", "true"]).landlock_only_metadata_allow
        );
        assert_eq!(
            err(&["--landlock-only-metadata", "yes", "true"]),
            "--landlock-only-metadata takes one of supervise, allow: yes"
        );
        assert!(err(&["--landlock-only", "--landlock", "off", "true"])
            .starts_with("--landlock off cannot be combined with --landlock-only"));
    }

    #[test]
    fn landlock_flags() {
        let h = hutch_spec(&["--landlock", "off", "true"]);
        assert!(!h.landlock.enabled());
        let b = spec(&["--landlock", "auto", "true"]);
        assert_eq!(b.landlock.fs, LandlockFs::Derived);
        assert!(!b.landlock.scope, "scoping is only a hutch default");
        let s = hutch_spec(&[
            "--landlock-read",
            "/usr",
            "--landlock-write",
            "/tmp",
            "--landlock-exec",
            "/bin",
            "--landlock-read",
            "/etc",
            "true",
        ]);
        assert_eq!(
            s.landlock.fs,
            LandlockFs::Explicit(vec![
                ("/usr".into(), PathAccess::Read),
                ("/tmp".into(), PathAccess::Write),
                ("/bin".into(), PathAccess::Exec),
                ("/etc".into(), PathAccess::Read),
            ])
        );
        // Explicit rules turn Landlock on under bwrap's name too.
        assert!(matches!(
            spec(&["--landlock-read", "/", "true"]).landlock.fs,
            LandlockFs::Explicit(_)
        ));
        let s = spec(&[
            "--landlock-connect",
            "443",
            "--landlock-connect",
            "80",
            "--landlock-bind",
            "8080",
            "--landlock-scope",
            "on",
            "--landlock-strict",
            "true",
        ]);
        assert_eq!(s.landlock.connect, [443, 80]);
        assert_eq!(s.landlock.bind, [8080]);
        assert!(s.landlock.scope && s.landlock.strict && s.landlock.enabled());
        assert_eq!(s.landlock.fs, LandlockFs::Off);
        assert!(
            !hutch_spec(&["--landlock-scope", "off", "true"])
                .landlock
                .scope
        );
    }

    #[test]
    fn landlock_flag_errors() {
        assert_eq!(
            err(&["--landlock", "on", "true"]),
            "--landlock takes one of auto, off: on"
        );
        assert_eq!(
            err(&["--landlock-scope", "yes", "true"]),
            "--landlock-scope takes one of on, off: yes"
        );
        assert_eq!(
            err(&["--landlock-connect", "65536", "true"]),
            "--landlock-connect takes a TCP port number (0-65535): 65536"
        );
        assert_eq!(
            err(&["--landlock-bind", "+80", "true"]),
            "--landlock-bind takes a TCP port number (0-65535): +80"
        );
        assert_eq!(
            err(&["--landlock-write", "/x", "--landlock", "off", "true"]),
            "--landlock-read/-write/-exec cannot be combined with --landlock off"
        );
        assert_eq!(
            err(&["--landlock", "off", "--landlock-bind", "1", "true"]),
            "--landlock-bind cannot be combined with --landlock off"
        );
    }

    #[test]
    fn seccomp_policy_and_report_flags() {
        let s = hutch_spec(&["--seccomp-policy", "none", "true"]);
        assert_eq!(s.seccomp_policy.source, PolicySource::None);
        let s = spec(&[
            "--seccomp-policy",
            "default",
            "--seccomp-action",
            "kill",
            "true",
        ]);
        assert_eq!(s.seccomp_policy.source, PolicySource::Default);
        assert_eq!(s.seccomp_policy.action, PolicyAction::Kill);
        let s = spec(&["--seccomp-policy", "/etc/p.json", "true"]);
        assert_eq!(
            s.seccomp_policy.source,
            PolicySource::File("/etc/p.json".into())
        );
        assert_eq!(
            err(&["--seccomp-action", "trap", "true"]),
            "--seccomp-action takes one of errno, kill, log: trap"
        );
        assert_eq!(spec(&["--report", "true"]).report, Some(ReportTo::Stderr));
        assert_eq!(
            spec(&["--report", "--report-fd", "7", "true"]).report,
            Some(ReportTo::Fd(7))
        );
    }

    #[test]
    fn find_command_skips_flag_values() {
        let a = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            find_command(&a(&[
                "--bind",
                "/a",
                "/b",
                "--profile",
                "x",
                "firefox",
                "-x"
            ])),
            Some(OsStr::new("firefox"))
        );
        assert_eq!(
            find_command(&a(&["--unshare-all", "--", "/usr/bin/gimp"])),
            Some(OsStr::new("/usr/bin/gimp"))
        );
        assert_eq!(find_command(&a(&["--unshare-all"])), None);
    }

    /// Every built-in profile expands to flags the parser accepts.
    #[test]
    fn builtin_profiles_parse() {
        use crate::profile::{load, Search, Vars, BUILTINS};
        let mut vars = Vars::default();
        for (k, v) in [
            ("HOME", "/home/u"),
            ("PWD", "/work/p"),
            ("UID", "1000"),
            ("GID", "1000"),
            ("NAME", "app"),
        ] {
            vars.set(k, v.into());
        }
        vars.fill_defaults();
        let search = Search {
            user: Some("/nonexistent/user".into()),
            system: "/nonexistent/system".into(),
            builtin_only: false,
        };
        for (name, _) in BUILTINS {
            let (used, _) = load(OsStr::new(name), &vars, &search).unwrap();
            let mut argv = used.args.clone();
            argv.push("true".into());
            parse(Personality::Hutch, argv).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// A plausible value for each value of a flag, from its kind in the table.
    fn sample(f: &flags::Flag, v: &flags::Value) -> String {
        use flags::Kind;
        match v.kind {
            Kind::Fd | Kind::Uid | Kind::Gid | Kind::Port | Kind::TmpfsSize => "3".into(),
            Kind::Octal => "0755".into(),
            Kind::Cap => "CAP_CHOWN".into(),
            Kind::OneOf(words) => words[0].into(),
            Kind::Path => "/x".into(),
            Kind::Text if f.name == "--profile" => "builtin:net".into(),
            Kind::Text => "x".into(),
            Kind::Module => match (f.name, v.name) {
                ("--cgroup", _) => "off".into(),
                ("--net", _) => "user".into(),
                ("--allow-host", _) => "example.org".into(),
                ("--allow-net", _) => "192.0.2.0/24".into(),
                (_, "SPEC") => "8080:80".into(),
                (_, "CPUS") => "1.5".into(),
                (_, "LIMIT") => "nofile=64".into(),
                (_, "DURATION") => "1s".into(),
                (_, "SIZE") => "64M".into(),
                _ => "3".into(),
            },
        }
    }

    /// Every row of the table is accepted by the parser, under both names, with
    /// values of its kinds (and never reaches `unreachable!`).
    #[test]
    fn every_flag_has_a_handler() {
        for f in FLAGS {
            if matches!(f.name, "--args" | "--help" | "--version") {
                continue;
            }
            for name in std::iter::once(f.name).chain(f.aliases.iter().copied()) {
                let mut a = vec![name.to_string()];
                a.extend(f.values.iter().map(|v| sample(f, v)));
                let mut full = if f.name.contains("overlay") && f.name != "--overlay-src" {
                    vec![
                        "--overlay-src".to_string(),
                        "/a".into(),
                        "--overlay-src".into(),
                        "/b".into(),
                    ]
                } else {
                    vec![]
                };
                if f.name == "--perms" {
                    a.extend(["--dir".to_string(), "/d".into()]);
                }
                if f.name == "--size" {
                    a.extend(["--tmpfs".to_string(), "/d".into()]);
                }
                if f.name == "--overlay-src" {
                    a.extend(["--tmp-overlay".to_string(), "/d".into()]);
                }
                if f.name.starts_with("--net-") || f.name == "--publish" {
                    full.extend(["--net".to_string(), "user".into()]);
                }
                full.extend(a);
                full.push("true".into());
                for personality in [Personality::Bwrap, Personality::Hutch] {
                    let r = parse_with(
                        personality,
                        full.iter().map(OsString::from).collect(),
                        &mut NoInput,
                    );
                    assert!(r.is_ok(), "{personality:?} {full:?}: {:?}", r.err());
                }
            }
        }
        assert!(matches!(
            parse(Personality::Bwrap, args(&["--help"])).unwrap().0,
            Action::Help
        ));
        assert!(matches!(
            parse(Personality::Bwrap, args(&["--version"])).unwrap().0,
            Action::Version
        ));
    }

    /// A row's `times` is what the parser does with a repeat: `Last` warns as bwrap
    /// does, `Once` refuses, `Many` says nothing.
    #[test]
    fn repeats_follow_the_table() {
        for f in FLAGS {
            // Switches and modifiers have no repeat to speak of; --args reads an fd.
            let skip = ["--args", "--perms", "--size", "--overlay-src"];
            if f.values.is_empty() || skip.contains(&f.name) {
                continue;
            }
            let mut once: Vec<String> = if f.name.contains("overlay") {
                ["--overlay-src", "/a", "--overlay-src", "/b"]
                    .map(String::from)
                    .to_vec()
            } else {
                vec![]
            };
            once.push(f.name.to_string());
            once.extend(f.values.iter().map(|v| sample(f, v)));
            let mut a = once.clone();
            if f.name == "--publish" {
                a.extend(["--net".to_string(), "user".into()]);
            }
            a.extend(once);
            a.push("true".into());
            let r = parse_with(
                Personality::Hutch,
                args(&a.iter().map(String::as_str).collect::<Vec<_>>()),
                &mut NoInput,
            );
            let warned = format!("Only the last {} option will take effect", f.name);
            match f.times {
                Times::Last => {
                    let (_, w) = r.unwrap_or_else(|e| panic!("{a:?}: {e}"));
                    assert_eq!(w, [(false, warned)], "{a:?}");
                }
                Times::Once => assert_eq!(
                    r.unwrap_err().to_string(),
                    format!("{} used multiple times", f.name)
                ),
                // A repeat may be refused for its own reason (the same port published
                // twice); it is never warned about.
                Times::Many => {
                    if let Ok((_, w)) = r {
                        assert!(!w.iter().any(|(_, m)| *m == warned), "{a:?}: {w:?}");
                    }
                }
            }
        }
    }

    /// `--args` and `--profile` served without touching the process's fds or files.
    struct NoInput;

    impl Input for NoInput {
        fn args_fd(&mut self, _fd: RawFd) -> Result<Vec<u8>> {
            Ok(b"--unshare-pid\0".to_vec())
        }
        fn profile_env(
            &mut self,
            _command: Option<&OsStr>,
        ) -> (crate::profile::Vars, crate::profile::Search) {
            let search = crate::profile::Search {
                builtin_only: true,
                ..Default::default()
            };
            (crate::profile::Vars::default(), search)
        }
    }

    /// The reverse: a name that is not in the table (a near miss of each row, another
    /// spelling, bwrap's removed or misspelled options) is refused as unknown, under
    /// both names, so every flag the parser acts on has a row.
    #[test]
    fn names_not_in_the_table_are_unknown() {
        let mut names: Vec<String> = vec![
            "-".into(),
            "-h".into(),
            "--x".into(),
            "--bind=/a".into(),
            "--Bind".into(),
            "--unshare-all ".into(),
            "--add-seccomp".into(),
            "--seccomp-fd".into(),
            "--ro-bind-data-try".into(),
        ];
        for f in FLAGS {
            names.push(format!("{}x", f.name));
            names.push(format!(
                "--{}",
                f.name.trim_start_matches('-').replace('-', "_")
            ));
            names.push(format!("-{}", f.name.trim_start_matches('-')));
            names.push(f.name[..f.name.len() - 1].to_string());
            names.push(f.name.to_ascii_uppercase());
        }
        names.retain(|n| flags::flag(n).is_none() && n.starts_with('-'));
        assert!(names.len() > 400, "{}", names.len());
        for n in &names {
            for personality in [Personality::Bwrap, Personality::Hutch] {
                let e = parse_with(
                    personality,
                    args(&[n, "3", "/a", "/b", "true"]),
                    &mut NoInput,
                )
                .unwrap_err()
                .to_string();
                assert_eq!(e, format!("Unknown option {n}"), "{personality:?}");
            }
        }
    }
}

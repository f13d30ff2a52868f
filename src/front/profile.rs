//! Profiles: `--profile NAME|PATH` reads a TOML file that describes a sandbox with the
//! same words as the flags, and turns it into a list of ordinary hutch flags, spliced
//! into the command line where `--profile` appears (as `--args FD` is). Later flags add
//! to it or override it, and every semantic stays the one of the flags: `--explain`
//! shows the flags a profile became.
//!
//! ```toml
//! description = "..."
//! unshare = ["all"]                          # --unshare-all
//! ro_bind = ["/usr", { src = "/etc", dest = "/etc" }]
//! tmpfs = ["/tmp", "${HOME}"]
//! bind = ["${PWD}"]
//! [[then]]                                   # a later group of keys
//! ro_bind_try = ["/tmp/.X11-unix"]
//! ```
//!
//! - Keys take effect in the order they are written. A key cannot appear twice in a TOML
//!   table: a `[[then]]` table starts another group of keys, applied after the ones
//!   above it.
//! - `${VAR}` in string values: see [`VARIABLES`]. `${VAR:-text}` gives a default, `$$`
//!   is a `$`, a leading `~` is `${HOME}`. An entry of a `*_try` key whose variable is
//!   not set is left out; anywhere else an unset variable is an error.
//! - Lookup: a PATH (containing `/` or ending in `.toml`) is read as given (an include
//!   relative to the including file); a NAME is looked up in
//!   `$XDG_CONFIG_HOME/hutch/profiles/NAME.toml`, `/etc/hutch/profiles/NAME.toml`, then
//!   among the built-ins (`profiles/` in the source tree); `builtin:NAME` is the built-in.
//! - Every error is one line naming the file, the line and the key:
//!   `profile /x/y.toml: line 3: unknown key "ro_bnd" (did you mean "ro_bind"?)`.
//!
//! The only I/O here is reading profile files, plus [`create_host_dirs`], which
//! `main` calls just before the sandbox starts (never for `--explain`).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::IntoDeserializer;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{Error, Result};
// What a profile became is plain data of the Spec (src/spec.rs).
use crate::flags::{self, Form, FLAGS};
pub use crate::spec::UsedProfile as Used;

/// The profiles compiled into the binary, from `profiles/` at the repository root.
pub const BUILTINS: &[(&str, &str)] = &[
    ("build", include_str!("../../profiles/build.toml")),
    ("desktop", include_str!("../../profiles/desktop.toml")),
    ("gpu", include_str!("../../profiles/gpu.toml")),
    ("home-ro", include_str!("../../profiles/home-ro.toml")),
    ("net", include_str!("../../profiles/net.toml")),
];

/// The variables a profile may use, with what they are.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "HOME",
        "your home directory: $HOME, else the password database's",
    ),
    ("PWD", "the current directory"),
    ("UID", "your user id"),
    ("GID", "your group id"),
    (
        "USER",
        "your user name: $USER, else the password database's",
    ),
    (
        "NAME",
        "the name key of the profile given to --profile, else the command's file name",
    ),
    ("XDG_RUNTIME_DIR", "$XDG_RUNTIME_DIR, else /run/user/UID"),
    ("XDG_CONFIG_HOME", "$XDG_CONFIG_HOME, else ~/.config"),
    ("XDG_DATA_HOME", "$XDG_DATA_HOME, else ~/.local/share"),
    ("XDG_CACHE_HOME", "$XDG_CACHE_HOME, else ~/.cache"),
    ("XDG_STATE_HOME", "$XDG_STATE_HOME, else ~/.local/state"),
    ("DISPLAY", "$DISPLAY, may be unset"),
    ("WAYLAND_DISPLAY", "$WAYLAND_DISPLAY, may be unset"),
    ("XAUTHORITY", "$XAUTHORITY, may be unset"),
];

/// How a key turns into flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Documentation only (`description`), or read before expanding (`name`).
    Meta,
    /// Other profiles, expanded in place.
    Include,
    /// Raw hutch flags.
    Args,
    /// A later group of keys.
    Then,
    /// Namespace names, each one `--unshare-NAME`.
    Unshare,
    /// The key of one flag (its row in `flags::FLAGS`), in the form the row gives.
    Flag(&'static str, Form),
}

/// One key of the profile format.
#[derive(Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    kind: Kind,
    /// What the value looks like, for the documentation (src/front/docs.rs, test-only).
    #[cfg_attr(not(test), allow(dead_code))]
    pub value: &'static str,
    /// What it does, for the documentation.
    #[cfg_attr(not(test), allow(dead_code))]
    pub doc: &'static str,
}

/// The keys of the profile format itself, that are not one flag; the others are
/// the profile keys of the flag table.
#[rustfmt::skip]
const OWN_KEYS: &[Key] = &[
    Key { name: "description", kind: Kind::Meta, value: "\"text\"", doc: "what the profile is for (shown by --explain)" },
    Key { name: "name", kind: Kind::Meta, value: "\"name\"", doc: "${NAME} for this profile and the ones it includes (ignored in an included profile)" },
    Key { name: "include", kind: Kind::Include, value: "[\"NAME\" or \"PATH\", ...]", doc: "other profiles, expanded at this point" },
    Key { name: "args", kind: Kind::Args, value: "[\"--flag\", \"value\", ...]", doc: "hutch flags as on the command line, for what no key says" },
    Key { name: "then", kind: Kind::Then, value: "(a [[then]] table header)", doc: "a later group of keys, applied after everything above it" },
    Key { name: "unshare", kind: Kind::Unshare, value: "[\"all\", \"user\", \"user-try\", \"ipc\", \"pid\", \"net\", \"uts\", \"cgroup\", \"cgroup-try\"]", doc: "--unshare-all, --unshare-user..." },
];

/// Every key, in the order the documentation lists them: the format's own, then the
/// flags' in the order of the flag table.
pub fn keys() -> impl Iterator<Item = Key> {
    let own = OWN_KEYS.iter().copied();
    let flags = FLAGS.iter().filter_map(|f| {
        let p = f.profile?;
        Some(Key {
            name: p.key,
            kind: Kind::Flag(f.name, p.form),
            value: p.value,
            doc: p.doc.unwrap_or(f.name),
        })
    });
    own.chain(flags)
}

fn key(name: &str) -> Option<Key> {
    keys().find(|k| k.name == name)
}

/// The values of the variables, taken once from the environment.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: HashMap<&'static str, String>,
}

impl Vars {
    /// From hutch's own environment; `command` gives `${NAME}`.
    pub fn from_env(command: Option<&OsStr>) -> Vars {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let uid = nix::unistd::getuid();
        let user = passwd_entry(uid.as_raw());
        let mut v = Vars::default();
        let home = env("HOME").or_else(|| user.as_ref().map(|u| u.1.clone()));
        if let Some(h) = home {
            v.set("HOME", h);
        }
        if let Ok(cwd) = std::env::current_dir() {
            v.set("PWD", cwd.to_string_lossy().into_owned());
        }
        v.set("UID", uid.to_string());
        v.set("GID", nix::unistd::getgid().to_string());
        if let Some(u) = env("USER").or_else(|| user.map(|u| u.0)) {
            v.set("USER", u);
        }
        if let Some(name) = command.and_then(command_name) {
            v.set("NAME", name);
        }
        for k in [
            "XDG_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_CACHE_HOME",
            "XDG_STATE_HOME",
            "DISPLAY",
            "WAYLAND_DISPLAY",
            "XAUTHORITY",
        ] {
            // The XDG base directories must be absolute; a relative one is ignored.
            if let Some(val) = env(k).filter(|val| !k.starts_with("XDG_") || val.starts_with('/')) {
                v.set(k, val);
            }
        }
        v.fill_defaults();
        v
    }

    /// Set a variable (tests, and `from_env`).
    pub fn set(&mut self, name: &str, value: String) {
        if let Some((k, _)) = VARIABLES.iter().find(|(k, _)| *k == name) {
            self.values.insert(k, value);
        }
    }

    /// The XDG directories' defaults, where unset.
    pub fn fill_defaults(&mut self) {
        let home = self.values.get("HOME").cloned();
        let uid = self.values.get("UID").cloned();
        let mut default = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                self.values.entry(k).or_insert(v);
            }
        };
        default("XDG_RUNTIME_DIR", uid.map(|u| format!("/run/user/{u}")));
        for (k, rel) in [
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_CACHE_HOME", ".cache"),
            ("XDG_STATE_HOME", ".local/state"),
        ] {
            default(k, home.as_ref().map(|h| format!("{h}/{rel}")));
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// `${NAME}` for a command: its file name.
/// The name and home directory of `uid` from /etc/passwd, for when `$USER` or `$HOME`
/// is unset. Read directly rather than through getpwuid: hutch is linked statically, and
/// glibc's NSS would need the shared libraries of the exact glibc it was built with.
fn passwd_entry(uid: u32) -> Option<(String, String)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    parse_passwd(&text, uid)
}

fn parse_passwd(text: &str, uid: u32) -> Option<(String, String)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid)).then(|| (f[0].to_string(), f[5].to_string()))
    })
}

fn command_name(cmd: &OsStr) -> Option<String> {
    Path::new(cmd)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
}

/// A string value after `${VAR}` expansion.
#[derive(Debug, PartialEq, Eq)]
enum Expanded {
    Value(String),
    /// A variable without value and without default: the entry is left out of a
    /// `*_try` key, an error elsewhere.
    Unset(&'static str),
}

/// Expand `${VAR}`, `${VAR:-default}` and `$$` in `s`. Err: the message.
fn interpolate(s: &str, vars: &Vars) -> std::result::Result<Expanded, String> {
    let mut out = String::with_capacity(s.len());
    let mut unset = None;
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            return Err(format!(
                "{s:?}: write a variable as ${{NAME}}, and a literal $ as $$"
            ));
        };
        let Some(end) = body.find('}') else {
            return Err(format!("{s:?}: unclosed ${{"));
        };
        let inner = &body[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let Some((known, _)) = VARIABLES.iter().find(|(k, _)| *k == name) else {
            let all: Vec<&str> = VARIABLES.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "unknown variable ${{{name}}} (known: {})",
                all.join(", ")
            ));
        };
        match (vars.get(name), default) {
            (Some(v), _) => out.push_str(v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => unset = unset.or(Some(*known)),
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(match unset {
        Some(name) => Expanded::Unset(name),
        None => Expanded::Value(out),
    })
}

/// A run of flags from one key of one profile, with where it came from for errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub args: Vec<OsString>,
}

impl Group {
    /// `err`, raised by the flags of this group, with the file, line and key.
    pub fn error(&self, err: Error) -> Error {
        Error::msg(format!(
            "profile {}: line {}: key \"{}\": {err}",
            self.file, self.line, self.key
        ))
    }
}

/// Where profile names are looked up.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// `$XDG_CONFIG_HOME/hutch/profiles` (or `~/.config/...`).
    pub user: Option<PathBuf>,
    /// `/etc/hutch/profiles`.
    pub system: PathBuf,
    /// Built-in profiles only: no file is read (the fuzz targets).
    pub builtin_only: bool,
}

impl Search {
    pub fn from_vars(vars: &Vars) -> Search {
        Search {
            user: vars
                .get("XDG_CONFIG_HOME")
                .map(|c| Path::new(c).join("hutch/profiles")),
            system: PathBuf::from("/etc/hutch/profiles"),
            builtin_only: false,
        }
    }
}

/// hutch's own configuration directories (the parents of the profile directories), where
/// a sandbox must not write: `$XDG_CONFIG_HOME/hutch`, then `/etc/hutch`.
pub fn config_dirs(search: &Search) -> Vec<PathBuf> {
    if search.builtin_only {
        return Vec::new();
    }
    search
        .user
        .iter()
        .chain([&search.system])
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect()
}

/// Whether `dir` is missing on the host and a writable mount of `ops` (a bind, or an
/// overlay's upper directory) holds its nearest existing ancestor: the sandbox could
/// create it.
pub fn creatable_in(dir: &Path, ops: &[crate::spec::Op]) -> bool {
    use crate::spec::{BindKind, Op, OverlayKind};
    if std::fs::symlink_metadata(dir).is_ok() {
        return false;
    }
    let Some(existing) = dir
        .ancestors()
        .skip(1)
        .find_map(|a| std::fs::canonicalize(a).ok())
    else {
        return false;
    };
    // The sandbox has no more rights on the host's files than its caller.
    if nix::unistd::access(&existing, nix::unistd::AccessFlags::W_OK).is_err() {
        return false;
    }
    ops.iter().any(|op| {
        let src = match op {
            Op::Bind { src, kind, .. } if *kind != BindKind::ReadOnly => src,
            Op::Overlay {
                kind: OverlayKind::ReadWrite { upper, .. },
                ..
            } => upper,
            _ => return false,
        };
        std::fs::canonicalize(src).is_ok_and(|s| existing.starts_with(s))
    })
}

/// A profile's text and how to name it in messages.
struct Source {
    /// `/path/to/x.toml`, or `build (built-in)`.
    label: String,
    /// The identity for cycle detection.
    id: String,
    /// The directory that relative includes are taken from (none for a built-in).
    dir: Option<PathBuf>,
    text: String,
    /// Why others than the caller (and root) may have written it.
    warning: Option<String>,
}

fn builtin(name: &str) -> Option<Source> {
    BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| Source {
            label: format!("{n} (built-in)"),
            id: format!("builtin:{n}"),
            dir: None,
            text: text.to_string(),
            warning: None,
        })
}

/// The largest profile file: an endless one (`/dev/zero`) fails instead of exhausting memory.
const MAX_FILE: u64 = 1 << 20;

fn read_file(path: &Path, given: &str) -> Result<Source> {
    use std::io::Read;
    let io = |e| Error::io(format!("profile {}", path.display()), e);
    let mut text = Vec::new();
    let file = std::fs::File::open(path).map_err(io)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let warning = ownership(
        &file.metadata().map_err(io)?,
        dir.and_then(|d| std::fs::metadata(d).ok()).as_ref(),
        nix::unistd::getuid().as_raw(),
    )
    .map_err(|why| Error::msg(format!("profile {}: refused: {why}", path.display())))?
    .map(|why| format!("profile {}: {why}", path.display()));
    file.take(MAX_FILE + 1).read_to_end(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_FILE {
        return Err(Error::msg(format!(
            "profile {}: larger than {} MiB",
            path.display(),
            MAX_FILE >> 20
        )));
    }
    let text = String::from_utf8(text).map_err(|_| {
        Error::msg(format!(
            "profile {}: not UTF-8 text (given as {given})",
            path.display()
        ))
    })?;
    let id = std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    Ok(Source {
        label: path.display().to_string(),
        id,
        dir: path.parent().map(Path::to_path_buf),
        text,
        warning,
    })
}

/// Whether `owner` is the overflow uid of a user namespace that does not map every uid
/// (inside a sandbox, root's files show as owned by it): who owns it is unknown.
fn unmapped(owner: u32) -> bool {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    read("/proc/sys/kernel/overflowuid").trim().parse() == Ok(owner)
        && read("/proc/self/uid_map")
            .split_whitespace()
            .collect::<Vec<_>>()
            != ["0", "0", "4294967295"]
}

/// Who else may have written a profile, as ssh checks its configuration: a file or
/// directory owned by another user than the caller and root, or writable by everyone
/// (a directory without the sticky bit), is refused (`Err`); one writable by its group
/// is warned about (`Ok(Some)`). A sandbox writes as its caller, so it is not caught
/// here: hutch's configuration is read-only inside every sandbox (src/stage/mounts.rs).
pub fn ownership(
    file: &std::fs::Metadata,
    dir: Option<&std::fs::Metadata>,
    uid: u32,
) -> std::result::Result<Option<String>, String> {
    use std::os::unix::fs::MetadataExt;
    let mut warning = None;
    for (what, m) in [("the file", Some(file)), ("its directory", dir)] {
        let Some(m) = m else { continue };
        let mode = m.mode() & 0o7777;
        if m.uid() != uid && m.uid() != 0 && !unmapped(m.uid()) {
            return Err(format!(
                "{what} is owned by uid {}, not by you or root",
                m.uid()
            ));
        }
        let sticky_dir = m.is_dir() && mode & 0o1000 != 0;
        if mode & 0o002 != 0 && !sticky_dir {
            return Err(format!("{what} is writable by everyone (mode {mode:04o})"));
        }
        if mode & 0o020 != 0 && !sticky_dir && warning.is_none() {
            warning = Some(format!(
                "{what} is writable by group {} (mode {mode:04o}): its members can change this sandbox",
                m.gid()
            ));
        }
    }
    Ok(warning)
}

/// Find a profile: a PATH (containing `/` or ending in `.toml`, relative to `base`),
/// `builtin:NAME`, or a NAME in the user's directory, the system's, then the built-ins.
fn find(given: &str, base: Option<&Path>, search: &Search) -> Result<Source> {
    if given.contains('/') || given.ends_with(".toml") {
        if search.builtin_only {
            return Err(Error::msg(format!(
                "profile {given}: only built-in profiles are available here"
            )));
        }
        let p = Path::new(given);
        let path = match base {
            Some(b) if p.is_relative() => b.join(p),
            _ => p.to_path_buf(),
        };
        return read_file(&path, given);
    }
    if let Some(name) = given.strip_prefix("builtin:") {
        return builtin(name).ok_or_else(|| {
            Error::msg(format!(
                "profile {given}: no such built-in profile (built-in: {})",
                builtin_names()
            ))
        });
    }
    let valid = !given.is_empty()
        && !given.starts_with('.')
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
    if !valid {
        return Err(Error::msg(format!(
            "profile {given:?}: not a profile name (letters, digits, - _ . +) nor a path (with a / or ending in .toml)"
        )));
    }
    let file = format!("{given}.toml");
    let dirs: Vec<&Path> = search
        .user
        .iter()
        .map(PathBuf::as_path)
        .chain([search.system.as_path()])
        .filter(|_| !search.builtin_only)
        .collect();
    for dir in &dirs {
        let path = dir.join(&file);
        match std::fs::metadata(&path) {
            Ok(_) => return read_file(&path, given),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("profile {}", path.display()), e)),
        }
    }
    builtin(given).ok_or_else(|| {
        let looked: Vec<String> = dirs
            .iter()
            .map(|d| d.join(&file).display().to_string())
            .collect();
        Error::msg(format!(
            "profile {given}: not found (looked for {}, and among the built-in profiles: {})",
            looked.join(", "),
            builtin_names()
        ))
    })
}

fn builtin_names() -> String {
    BUILTINS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Load `given` (a `--profile` value) and everything it includes, as groups of flags.
pub fn load(given: &OsStr, vars: &Vars, search: &Search) -> Result<(Used, Vec<Group>)> {
    let given = given.to_str().ok_or_else(|| {
        Error::msg(format!(
            "profile {}: not valid UTF-8",
            given.to_string_lossy()
        ))
    })?;
    let source = find(given, None, search)?;
    expand(given, source, vars, search)
}

/// Expand `text` as the profile given to `--profile NAME` (includes are looked up
/// in `search`): the entry point of the fuzz target `profile`.
pub fn load_text(
    name: &str,
    text: &str,
    vars: &Vars,
    search: &Search,
) -> Result<(Used, Vec<Group>)> {
    let source = Source {
        label: name.to_string(),
        id: format!("text:{name}"),
        dir: None,
        text: text.to_string(),
        warning: None,
    };
    expand(name, source, vars, search)
}

fn expand(given: &str, source: Source, vars: &Vars, search: &Search) -> Result<(Used, Vec<Group>)> {
    let mut x = Expander {
        vars: vars.clone(),
        search,
        stack: Vec::new(),
        files: Vec::new(),
        groups: Vec::new(),
        description: None,
        warnings: Vec::new(),
    };
    x.profile(source, true)?;
    let args = x.groups.iter().flat_map(|g| g.args.clone()).collect();
    Ok((
        Used {
            given: given.to_string(),
            files: x.files,
            description: x.description,
            args,
            warnings: x.warnings,
        },
        x.groups,
    ))
}

/// The state of one expansion: the include stack (for cycles) and the output.
struct Expander<'a> {
    vars: Vars,
    search: &'a Search,
    stack: Vec<String>,
    files: Vec<String>,
    groups: Vec<Group>,
    description: Option<String>,
    warnings: Vec<String>,
}

/// One file being expanded: its name and text, for messages.
struct File<'t> {
    label: String,
    text: &'t str,
    dir: Option<PathBuf>,
}

impl File<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// `profile F: line N: key "K": msg` (without the key part when `key` is empty).
    fn error(&self, span: Range<usize>, key: &str, msg: impl std::fmt::Display) -> Error {
        let line = self.line(span.start);
        if key.is_empty() {
            Error::msg(format!("profile {}: line {line}: {msg}", self.label))
        } else {
            Error::msg(format!(
                "profile {}: line {line}: key \"{key}\": {msg}",
                self.label
            ))
        }
    }

    /// A deserialization error, at its own span if it has one, else at `span`.
    fn de_error(&self, err: toml::de::Error, span: Range<usize>, key: &str) -> Error {
        let at = err.span().unwrap_or(span);
        self.error(at, key, tidy(err.message()))
    }
}

/// serde's wording, turned into the profile's: "expected X, found Y", keys in quotes,
/// one line.
fn tidy(msg: &str) -> String {
    let msg = msg.trim().replace('\n', "; ");
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {expected}, found {found}");
        }
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((name, tail)) = rest.split_once('`') {
            let expected = tail
                .trim_start_matches(", ")
                .replace("expected one of ", "")
                .replace("expected ", "")
                .replace('`', "\"");
            return format!("unknown key \"{name}\" (expected {expected})");
        }
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        return format!("missing key \"{}\"", rest.trim_end_matches('`'));
    }
    msg
}

/// The closest known key, for "did you mean".
fn suggest(name: &str) -> Option<&'static str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    let wanted = name.replace('-', "_");
    keys()
        .map(|k| (distance(&wanted, k.name), k.name))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A mount entry: `"PATH"` or `{ src, dest, create }`.
#[derive(Debug)]
struct Mount {
    src: String,
    dest: Option<String>,
    create: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a { src, dest } table")]
struct MountTable {
    src: String,
    dest: Option<String>,
    #[serde(default)]
    create: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a { dest, size, perms } table")]
struct TmpfsTable {
    dest: String,
    size: Option<Word>,
    perms: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a { dest, perms } table")]
struct DirTable {
    dest: String,
    perms: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a { target, dest } table")]
struct SymlinkTable {
    target: String,
    dest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a { path, perms } table")]
struct ChmodTable {
    path: String,
    perms: String,
}

/// A value a flag parses itself: a string, or a number as written.
#[derive(Debug)]
struct Word(String);

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Word;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Word, E> {
                Ok(Word(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Word, E> {
                Ok(Word(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Word, E> {
                Ok(Word(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Word, E> {
                Ok(Word(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Either form of a list key: one value, or an array of values (each with its span).
fn entries(v: Spanned<DeValue<'_>>) -> Vec<Spanned<DeValue<'_>>> {
    let span = v.span();
    match v.into_inner() {
        DeValue::Array(a) => a.into_iter().collect(),
        other => vec![Spanned::new(span, other)],
    }
}

fn de<T: serde::de::DeserializeOwned>(
    v: Spanned<DeValue<'_>>,
) -> std::result::Result<T, toml::de::Error> {
    T::deserialize(v.into_deserializer())
}

impl Expander<'_> {
    /// Expand one profile file: its keys in the order written.
    fn profile(&mut self, source: Source, top: bool) -> Result<()> {
        if self.stack.contains(&source.id) {
            let mut chain = self.stack.clone();
            chain.push(source.id.clone());
            return Err(Error::msg(format!(
                "profile {}: include cycle: {}",
                source.label,
                chain.join(" -> ")
            )));
        }
        if self.stack.len() >= 16 {
            return Err(Error::msg(format!(
                "profile {}: includes nested more than 16 deep",
                source.label
            )));
        }
        self.stack.push(source.id.clone());
        self.files.push(source.label.clone());
        self.warnings.extend(source.warning.clone());
        let file = File {
            label: source.label,
            text: &source.text,
            dir: source.dir,
        };
        let table = DeTable::parse(file.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            file.error(span, "", format!("invalid TOML: {}", tidy(e.message())))
        })?;
        let mut keys: Vec<_> = table.into_inner().into_iter().collect();
        keys.sort_by_key(|(k, _)| k.span().start);
        // `name` first: it is ${NAME} for every key, wherever it is written.
        if top {
            if let Some((k, v)) = keys.iter().find(|(k, _)| k.get_ref() == "name") {
                let name: String = de(v.clone()).map_err(|e| file.de_error(e, k.span(), "name"))?;
                self.vars.set("NAME", name);
            }
            if let Some((k, v)) = keys.iter().find(|(k, _)| k.get_ref() == "description") {
                let d: String =
                    de(v.clone()).map_err(|e| file.de_error(e, k.span(), "description"))?;
                self.description = Some(d);
            }
        }
        self.block(&file, keys, false)?;
        self.stack.pop();
        Ok(())
    }

    /// The keys of one table (the file's, or a `[[then]]` table's), in order.
    fn block(
        &mut self,
        file: &File<'_>,
        keys: Vec<(Spanned<std::borrow::Cow<'_, str>>, Spanned<DeValue<'_>>)>,
        in_then: bool,
    ) -> Result<()> {
        for (k, v) in keys {
            let name = k.get_ref().as_ref();
            let span = k.span();
            let Some(key) = key(name) else {
                let hint = suggest(name)
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
                return Err(file.error(span, "", format!("unknown key \"{name}\"{hint}")));
            };
            if in_then && matches!(key.kind, Kind::Meta | Kind::Then) {
                return Err(file.error(
                    span,
                    name,
                    "only allowed at the top of the profile, not in a [[then]] table",
                ));
            }
            self.key(file, &key, span, v)?;
        }
        Ok(())
    }

    fn push(&mut self, file: &File<'_>, span: &Range<usize>, key: &str, args: Vec<String>) {
        self.groups.push(Group {
            file: file.label.clone(),
            line: file.line(span.start),
            key: key.to_string(),
            args: args.into_iter().map(OsString::from).collect(),
        });
    }

    /// Expand a string value: Ok(None) when a variable is unset.
    fn string(
        &self,
        file: &File<'_>,
        span: &Range<usize>,
        key: &str,
        s: &str,
    ) -> Result<Option<String>> {
        match interpolate(s, &self.vars) {
            Ok(Expanded::Value(v)) => Ok(Some(v)),
            Ok(Expanded::Unset(_)) => Ok(None),
            Err(m) => Err(file.error(span.clone(), key, m)),
        }
    }

    /// A string value that must be set.
    fn required(&self, file: &File<'_>, span: &Range<usize>, key: &str, s: &str) -> Result<String> {
        match interpolate(s, &self.vars) {
            Ok(Expanded::Value(v)) => Ok(v),
            Ok(Expanded::Unset("NAME")) => Err(file.error(
                span.clone(),
                key,
                format!(
                    "{s:?}: ${{NAME}} is not set: no command was given, and the profile has no name key"
                ),
            )),
            Ok(Expanded::Unset(var)) => Err(file.error(
                span.clone(),
                key,
                format!("{s:?}: ${{{var}}} is not set (give a default with ${{{var}:-...}})"),
            )),
            Err(m) => Err(file.error(span.clone(), key, m)),
        }
    }

    /// An absolute path: `~` expanded, then the variables. Ok(None): a variable is
    /// unset and `optional` (a `*_try` key) says to leave the entry out.
    fn path(
        &self,
        file: &File<'_>,
        span: &Range<usize>,
        key: &str,
        s: &str,
        optional: bool,
    ) -> Result<Option<String>> {
        let raw = if s == "~" {
            "${HOME}".to_string()
        } else if let Some(rest) = s.strip_prefix("~/") {
            format!("${{HOME}}/{rest}")
        } else {
            s.to_string()
        };
        let v = if optional {
            match self.string(file, span, key, &raw)? {
                Some(v) => v,
                None => return Ok(None),
            }
        } else {
            self.required(file, span, key, &raw)?
        };
        if !v.starts_with('/') {
            return Err(file.error(span.clone(), key, format!("{v:?} is not an absolute path")));
        }
        Ok(Some(v))
    }

    fn perms(file: &File<'_>, span: &Range<usize>, key: &str, p: &str) -> Result<String> {
        if crate::units::parse_mode(p).is_none() {
            return Err(file.error(
                span.clone(),
                key,
                format!("perms must be octal digits such as \"0700\", not {p:?}"),
            ));
        }
        Ok(p.to_string())
    }

    /// One key: check its value and append its flags.
    fn key(
        &mut self,
        file: &File<'_>,
        key: &Key,
        kspan: Range<usize>,
        v: Spanned<DeValue<'_>>,
    ) -> Result<()> {
        let name = key.name;
        let ctx = |e: toml::de::Error| file.de_error(e, kspan.clone(), name);
        match key.kind {
            Kind::Meta => {
                let _: String = de(v).map_err(ctx)?;
            }
            Kind::Include => {
                for e in entries(v) {
                    let span = e.span();
                    let given: String = de(e).map_err(ctx)?;
                    let source = find(&given, file.dir.as_deref(), self.search)
                        .map_err(|err| file.error(span.clone(), name, err))?;
                    self.profile(source, false)?;
                }
            }
            Kind::Then => {
                let span = v.span();
                let tables = match v.into_inner() {
                    DeValue::Array(a) => a,
                    _ => {
                        return Err(file.error(
                            span,
                            name,
                            "write it as [[then]] tables (an array of tables)",
                        ))
                    }
                };
                for t in tables {
                    let tspan = t.span();
                    let DeValue::Table(table) = t.into_inner() else {
                        return Err(file.error(tspan, name, "each [[then]] must be a table"));
                    };
                    let mut keys: Vec<_> = table.into_iter().collect();
                    keys.sort_by_key(|(k, _)| k.span().start);
                    self.block(file, keys, true)?;
                }
            }
            Kind::Args => {
                let mut args = Vec::new();
                let span = v.span();
                for e in entries(v) {
                    let espan = e.span();
                    let s: String = de(e).map_err(ctx)?;
                    args.push(self.required(file, &espan, name, &s)?);
                }
                check_args(&args).map_err(|m| file.error(span.clone(), name, m))?;
                self.push(file, &span, name, args);
            }
            Kind::Flag(flag, Form::Bool) => {
                let span = v.span();
                if de::<bool>(v).map_err(ctx)? {
                    self.push(file, &span, name, vec![flag.into()]);
                }
            }
            Kind::Flag(_, Form::ShareNet) => {
                let span = v.span();
                let flag = if de::<bool>(v).map_err(ctx)? {
                    "--share-net"
                } else {
                    "--unshare-net"
                };
                self.push(file, &span, name, vec![flag.into()]);
            }
            Kind::Flag(flag, Form::OnOff) => {
                let span = v.span();
                let on = de::<bool>(v).map_err(ctx)?;
                let word = if on { "on" } else { "off" };
                self.push(file, &span, name, vec![flag.into(), word.into()]);
            }
            Kind::Flag(_, Form::LandlockOnly) => {
                let span = v.span();
                let flag = match v.get_ref() {
                    DeValue::String(s) if s.as_ref() == "auto" => Some("--landlock-only-fallback"),
                    DeValue::String(s) => {
                        return Err(file.error(
                            span,
                            name,
                            format!("expected true, false or \"auto\", not {:?}", s.as_ref()),
                        ))
                    }
                    _ => de::<bool>(v).map_err(ctx)?.then_some("--landlock-only"),
                };
                if let Some(flag) = flag {
                    self.push(file, &span, name, vec![flag.into()]);
                }
            }
            Kind::Unshare => {
                const NAMES: &[&str] = &[
                    "all",
                    "user",
                    "user-try",
                    "ipc",
                    "pid",
                    "net",
                    "uts",
                    "cgroup",
                    "cgroup-try",
                ];
                for e in entries(v) {
                    let span = e.span();
                    let ns: String = de(e).map_err(ctx)?;
                    if !NAMES.contains(&ns.as_str()) {
                        return Err(file.error(
                            span,
                            name,
                            format!("unknown namespace {ns:?} (one of {})", NAMES.join(", ")),
                        ));
                    }
                    self.push(file, &span, name, vec![format!("--unshare-{ns}")]);
                }
            }
            Kind::Flag(flag, Form::Word) => {
                let span = v.span();
                let w: Word = de(v).map_err(ctx)?;
                let w = self.required(file, &span, name, &w.0)?;
                self.push(file, &span, name, vec![flag.into(), w]);
            }
            Kind::Flag(flag, Form::Path) => {
                let span = v.span();
                let s: String = de(v).map_err(ctx)?;
                if let Some(p) = self.path(file, &span, name, &s, false)? {
                    self.push(file, &span, name, vec![flag.into(), p]);
                }
            }
            Kind::Flag(flag, Form::Words) => {
                for e in entries(v) {
                    let span = e.span();
                    let w: Word = de(e).map_err(ctx)?;
                    let w = self.required(file, &span, name, &w.0)?;
                    self.push(file, &span, name, vec![flag.into(), w]);
                }
            }
            Kind::Flag(flag, Form::Paths) => {
                for e in entries(v) {
                    let span = e.span();
                    let s: String = de(e).map_err(ctx)?;
                    if let Some(p) = self.path(file, &span, name, &s, false)? {
                        self.push(file, &span, name, vec![flag.into(), p]);
                    }
                }
            }
            Kind::Flag(flag, Form::Mounts) => {
                let optional = flag.ends_with("-try");
                for e in entries(v) {
                    let span = e.span();
                    let m = match e.get_ref() {
                        DeValue::String(s) => Mount {
                            src: s.to_string(),
                            dest: None,
                            create: false,
                        },
                        _ => {
                            let t: MountTable = de(e).map_err(ctx)?;
                            Mount {
                                src: t.src,
                                dest: t.dest,
                                create: t.create,
                            }
                        }
                    };
                    if m.create && flag != "--bind" {
                        return Err(file.error(
                            span,
                            name,
                            "create = true is only allowed in bind",
                        ));
                    }
                    let Some(src) = self.path(file, &span, name, &m.src, optional)? else {
                        continue;
                    };
                    let dest = match &m.dest {
                        Some(d) => match self.path(file, &span, name, d, optional)? {
                            Some(d) => d,
                            None => continue,
                        },
                        None => src.clone(),
                    };
                    let flag = if m.create { "--bind-create" } else { flag };
                    self.push(file, &span, name, vec![flag.into(), src, dest]);
                }
            }
            Kind::Flag(flag, Form::Tmpfs) => {
                for e in entries(v) {
                    let span = e.span();
                    let t = match e.get_ref() {
                        DeValue::String(s) => TmpfsTable {
                            dest: s.to_string(),
                            size: None,
                            perms: None,
                        },
                        _ => de(e).map_err(ctx)?,
                    };
                    let mut args = Vec::new();
                    if let Some(p) = &t.perms {
                        args.extend(["--perms".into(), Self::perms(file, &span, name, p)?]);
                    }
                    if let Some(size) = &t.size {
                        let bytes = crate::units::parse_size(&size.0)
                            .filter(|n| *n > 0)
                            .ok_or_else(|| {
                                file.error(
                                    span.clone(),
                                    name,
                                    format!(
                                        "size must be a number of bytes, with a k, M or G suffix, not {:?}",
                                        size.0
                                    ),
                                )
                            })?;
                        args.extend(["--size".into(), bytes.to_string()]);
                    }
                    if let Some(dest) = self.path(file, &span, name, &t.dest, false)? {
                        args.extend([flag.into(), dest]);
                        self.push(file, &span, name, args);
                    }
                }
            }
            Kind::Flag(flag, Form::Dir) => {
                for e in entries(v) {
                    let span = e.span();
                    let t = match e.get_ref() {
                        DeValue::String(s) => DirTable {
                            dest: s.to_string(),
                            perms: None,
                        },
                        _ => de(e).map_err(ctx)?,
                    };
                    let mut args = Vec::new();
                    if let Some(p) = &t.perms {
                        args.extend(["--perms".into(), Self::perms(file, &span, name, p)?]);
                    }
                    if let Some(dest) = self.path(file, &span, name, &t.dest, false)? {
                        args.extend([flag.into(), dest]);
                        self.push(file, &span, name, args);
                    }
                }
            }
            Kind::Flag(flag, Form::Symlink) => {
                for e in entries(v) {
                    let span = e.span();
                    let t: SymlinkTable = de(e).map_err(ctx)?;
                    let target = self.required(file, &span, name, &t.target)?;
                    if target.is_empty() {
                        return Err(file.error(span, name, "target is empty"));
                    }
                    if let Some(dest) = self.path(file, &span, name, &t.dest, false)? {
                        self.push(file, &span, name, vec![flag.into(), target, dest]);
                    }
                }
            }
            Kind::Flag(flag, Form::Chmod) => {
                for e in entries(v) {
                    let span = e.span();
                    let t: ChmodTable = de(e).map_err(ctx)?;
                    let perms = Self::perms(file, &span, name, &t.perms)?;
                    if let Some(p) = self.path(file, &span, name, &t.path, false)? {
                        self.push(file, &span, name, vec![flag.into(), perms, p]);
                    }
                }
            }
            Kind::Flag(flag, Form::Setenv) => {
                let span = v.span();
                let DeValue::Table(t) = v.into_inner() else {
                    return Err(file.error(
                        span,
                        name,
                        "expected a table such as { VAR = \"value\" }",
                    ));
                };
                let mut vars: Vec<_> = t.into_iter().collect();
                vars.sort_by_key(|(k, _)| k.span().start);
                for (k, val) in vars {
                    let span = val.span();
                    let w: Word = de(val).map_err(ctx)?;
                    let w = self.required(file, &span, name, &w.0)?;
                    let var = k.get_ref().to_string();
                    if var.is_empty() || var.contains('=') {
                        return Err(file.error(span, name, format!("bad variable name {var:?}")));
                    }
                    self.push(file, &span, name, vec![flag.into(), var, w]);
                }
            }
            Kind::Flag(flag, Form::Rlimit) => {
                let span = v.span();
                match v.into_inner() {
                    DeValue::Table(t) => {
                        let mut items: Vec<_> = t.into_iter().collect();
                        items.sort_by_key(|(k, _)| k.span().start);
                        for (k, val) in items {
                            let span = val.span();
                            let w: Word = de(val).map_err(ctx)?;
                            let w = self.required(file, &span, name, &w.0)?;
                            let arg = format!("{}={w}", k.get_ref());
                            self.push(file, &span, name, vec![flag.into(), arg]);
                        }
                    }
                    other => {
                        for e in entries(Spanned::new(span, other)) {
                            let span = e.span();
                            let s: String = de(e).map_err(ctx)?;
                            let s = self.required(file, &span, name, &s)?;
                            self.push(file, &span, name, vec![flag.into(), s]);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `args` key: whole flags with all their values, and none of the flags that
/// read file descriptors of the command line's own or stop parsing.
fn check_args(args: &[String]) -> std::result::Result<(), String> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let Some(flag) = flags::flag(a) else {
            return Err(if a.starts_with('-') {
                format!("unknown option {a}")
            } else {
                format!("{a:?} is not an option (the command cannot be given in a profile)")
            });
        };
        if matches!(flag.name, "--args" | "--profile" | "--help" | "--version") {
            return Err(format!(
                "{} cannot be used in a profile{}",
                flag.name,
                if flag.name == "--profile" {
                    " (use the include key)"
                } else {
                    ""
                }
            ));
        }
        if i + flag.values.len() >= args.len() {
            return Err(format!(
                "{} takes {} value(s): {}",
                flag.name,
                flag.values.len(),
                flag.value_names().collect::<Vec<_>>().join(" ")
            ));
        }
        i += 1 + flag.values.len();
    }
    Ok(())
}

/// `--bind-create`: make the sources that are missing, as directories (mode 0700,
/// parents too), on the host. Called just before the sandbox starts; the one place
/// where hutch creates anything on the host, and only when asked.
pub fn create_host_dirs(dirs: &[PathBuf]) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for d in dirs {
        match std::fs::symlink_metadata(d) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)
                    .map_err(|e| {
                        Error::io(format!("--bind-create: Can't create {}", d.display()), e)
                    })?;
            }
            Err(e) => {
                return Err(Error::io(
                    format!("--bind-create: Can't stat {}", d.display()),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// An example profile, for the documentation.
#[cfg_attr(not(test), allow(dead_code))]
pub const EXAMPLE: &str = r#"# ~/.config/hutch/profiles/ff.toml: hutch --profile ff -- firefox
description = "Firefox, with the desktop profile and my downloads"
name = "firefox"            # ${NAME}: the home is ~/.local/share/hutch/firefox
include = ["desktop"]
bind_try = ["~/Downloads"]
memory = "4G""#;

/// Each built-in profile with its `description`.
#[cfg_attr(not(test), allow(dead_code))]
pub fn builtin_descriptions() -> Vec<(&'static str, String)> {
    BUILTINS
        .iter()
        .map(|(name, text)| {
            let d = DeTable::parse(text)
                .ok()
                .and_then(|t| {
                    t.get_ref()
                        .get("description")
                        .and_then(|v| match v.get_ref() {
                            DeValue::String(s) => Some(s.to_string()),
                            _ => None,
                        })
                })
                .unwrap_or_default();
            (*name, d)
        })
        .collect()
}

/// The PROFILES section of the man page and the README, as paragraphs of plain text
/// (`docs.rs` renders them); the key list comes from [`keys`].
#[cfg_attr(not(test), allow(dead_code))]
pub fn doc_paragraphs() -> Vec<String> {
    vec![
        "A profile is a TOML file that describes a sandbox with the words of the options. \
         --profile NAME|PATH expands it into ordinary options, inserted where --profile \
         appears, so that later options add to it or override it (the last --chdir wins, \
         a later mount goes on top). --explain shows the options a profile became."
            .into(),
        "Keys take effect in the order they are written, as options do. A key cannot appear \
         twice in a TOML table: a [[then]] table starts another group of keys, applied after \
         everything above it. A key with a list also takes a single value."
            .into(),
        "In strings, ${VAR} is replaced by the value of one of the variables listed below; \
         ${VAR:-text} gives a default, $$ is a dollar sign, and a leading ~ is ${HOME}. Paths \
         must be absolute. An entry of a *_try key whose variable is not set is left out; \
         anywhere else an unset variable is an error."
            .into(),
        format!(
            "A PATH (with a / or ending in .toml) is read as given; an include is relative to \
             the including file. A NAME is looked up as $XDG_CONFIG_HOME/hutch/profiles/NAME.toml \
             (~/.config by default), then /etc/hutch/profiles/NAME.toml, then among the built-in \
             profiles: {}; builtin:NAME always names the built-in one. An unknown key, a value \
             of the wrong type or a relative path is an error naming the file, the line and the \
             key.",
            builtin_names()
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_give_name_and_home() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    # comment\n\
                    broken:x\n\
                    nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(
            parse_passwd(text, 65534),
            Some(("nobody".into(), "/nonexistent".into()))
        );
        assert_eq!(parse_passwd(text, 0), Some(("root".into(), "/root".into())));
        assert_eq!(parse_passwd(text, 1000), None);
        // The real file has root.
        assert_eq!(passwd_entry(0).map(|e| e.0).as_deref(), Some("root"));
    }

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("HOME", "/home/u".into());
        v.set("PWD", "/work/p".into());
        v.set("UID", "1000".into());
        v.set("GID", "1000".into());
        v.set("NAME", "app".into());
        v.fill_defaults();
        v
    }

    fn search(dir: &Path) -> Search {
        Search {
            user: Some(dir.join("user")),
            system: dir.join("system"),
            builtin_only: false,
        }
    }

    /// Expand `text` (written to a file in a temporary directory) with `vars()`.
    fn expand_with(text: &str, v: &Vars) -> std::result::Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        load(p.as_os_str(), v, &search(dir.path()))
            .map(|(used, _)| {
                used.args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect()
            })
            .map_err(|e| {
                e.to_string()
                    .replace(&dir.path().display().to_string(), "DIR")
            })
    }

    fn expand(text: &str) -> Vec<String> {
        expand_with(text, &vars()).unwrap()
    }

    fn err(text: &str) -> String {
        expand_with(text, &vars()).unwrap_err()
    }

    #[test]
    fn keys_expand_in_the_order_written() {
        let a = expand(
            "unshare = [\"all\"]\nro_bind = [\"/usr\", { src = \"/etc\", dest = \"/e\" }]\n\
             tmpfs = [\"/tmp\", \"${HOME}\"]\nbind = \"${PWD}\"\ndie_with_parent = true\n",
        );
        assert_eq!(
            a,
            [
                "--unshare-all",
                "--ro-bind",
                "/usr",
                "/usr",
                "--ro-bind",
                "/etc",
                "/e",
                "--tmpfs",
                "/tmp",
                "--tmpfs",
                "/home/u",
                "--bind",
                "/work/p",
                "/work/p",
                "--die-with-parent"
            ]
        );
        // Reversed in the file, reversed in the expansion.
        let a = expand("bind = [\"/b\"]\ntmpfs = \"/t\"\n");
        assert_eq!(a, ["--bind", "/b", "/b", "--tmpfs", "/t"]);
    }

    #[test]
    fn then_tables_come_after() {
        let a = expand(
            "ro_bind_try = [\"/x\"]\ntmpfs = [\"/tmp\"]\n[[then]]\nro_bind_try = \"/tmp/.X11-unix\"\n\
             [[then]]\nsetenv = { A = \"1\" }\n",
        );
        assert_eq!(
            a,
            [
                "--ro-bind-try",
                "/x",
                "/x",
                "--tmpfs",
                "/tmp",
                "--ro-bind-try",
                "/tmp/.X11-unix",
                "/tmp/.X11-unix",
                "--setenv",
                "A",
                "1"
            ]
        );
        assert!(err("[[then]]\nname = \"x\"\n").contains("not in a [[then]] table"));
    }

    #[test]
    fn landlock_only_key() {
        assert_eq!(expand("landlock_only = true\n"), ["--landlock-only"]);
        assert_eq!(
            expand("landlock_only = \"auto\"\n"),
            ["--landlock-only-fallback"]
        );
        assert!(expand("landlock_only = false\n").is_empty());
        let e = err("landlock_only = \"sometimes\"\n");
        assert!(
            e.contains("key \"landlock_only\": expected true, false or \"auto\""),
            "{e}"
        );
        assert!(err("landlock_only = 1\n").contains("landlock_only"));
    }

    #[test]
    fn every_kind_of_key() {
        let a = expand(
            r#"
share_net = false
net = "user"
publish = ["8080:80", "53:53/udp"]
uid = 0
hostname = "box"
landlock_scope = false
landlock_connect = [443, 80]
cpus = 1.5
memory = "1G"
timeout = 30
rlimit = { nofile = 64, core = 0 }
dir = [{ dest = "/d", perms = "0700" }]
symlink = [{ target = "usr/bin", dest = "/bin" }]
chmod = [{ path = "/d", perms = "0755" }]
tmpfs = [{ dest = "/t", size = "1M", perms = "01777" }]
setenv = { B = "2", A = "${UID}" }
unsetenv = "X"
chdir = "~/src"
args = ["--cap-drop", "ALL"]
"#,
        );
        let want = "--unshare-net --net user --publish 8080:80 --publish 53:53/udp --uid 0 \
                    --hostname box --landlock-scope off --landlock-connect 443 \
                    --landlock-connect 80 --cpus 1.5 --memory 1G --timeout 30 \
                    --rlimit nofile=64 --rlimit core=0 --perms 0700 --dir /d \
                    --symlink usr/bin /bin --chmod 0755 /d --perms 01777 --size 1048576 \
                    --tmpfs /t --setenv B 2 --setenv A 1000 --unsetenv X \
                    --chdir /home/u/src --cap-drop ALL";
        assert_eq!(a.join(" "), want);
    }

    #[test]
    fn variables() {
        let v = vars();
        let x = |s: &str| interpolate(s, &v);
        assert_eq!(
            x("${XDG_RUNTIME_DIR}/w"),
            Ok(Expanded::Value("/run/user/1000/w".into()))
        );
        assert_eq!(
            x("${XDG_DATA_HOME}/hutch/${NAME}"),
            Ok(Expanded::Value("/home/u/.local/share/hutch/app".into()))
        );
        assert_eq!(x("a$$b"), Ok(Expanded::Value("a$b".into())));
        assert_eq!(
            x("${WAYLAND_DISPLAY:-wayland-0}"),
            Ok(Expanded::Value("wayland-0".into()))
        );
        assert_eq!(x("${DISPLAY}"), Ok(Expanded::Unset("DISPLAY")));
        assert!(x("$HOME")
            .unwrap_err()
            .contains("write a variable as ${NAME}"));
        assert!(x("${HOM}").unwrap_err().contains("unknown variable ${HOM}"));
        assert!(x("${HOME").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn try_keys_skip_unset_variables() {
        let a = expand("ro_bind_try = [\"${XAUTHORITY}\", \"/a\"]\n");
        assert_eq!(a, ["--ro-bind-try", "/a", "/a"]);
        assert_eq!(
            err("\n\nro_bind = [\"${XAUTHORITY}\"]\n"),
            "profile DIR/p.toml: line 3: key \"ro_bind\": \"${XAUTHORITY}\": ${XAUTHORITY} is not set (give a default with ${XAUTHORITY:-...})"
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        assert_eq!(
            err("unshare = [\"all\"]\n\nro_bnd = [\"/usr\"]\n"),
            "profile DIR/p.toml: line 3: unknown key \"ro_bnd\" (did you mean \"ro_bind\"?)"
        );
        assert_eq!(
            err("share_net = \"yes\"\n"),
            "profile DIR/p.toml: line 1: key \"share_net\": expected a boolean, found string \"yes\""
        );
        assert_eq!(
            err("ro_bind = [\n  \"/usr\",\n  3,\n]\n"),
            "profile DIR/p.toml: line 3: key \"ro_bind\": expected a { src, dest } table, found integer `3`"
        );
        assert_eq!(
            err("bind = [{ src = \"/a\", dst = \"/b\" }]\n"),
            "profile DIR/p.toml: line 1: key \"bind\": unknown key \"dst\" (expected \"src\", \"dest\", \"create\")"
        );
        assert_eq!(
            err("x = \n"),
            "profile DIR/p.toml: line 1: invalid TOML: string values must be quoted, expected literal string"
        );
        assert_eq!(
            err("tmpfs = [\"tmp\"]\n"),
            "profile DIR/p.toml: line 1: key \"tmpfs\": \"tmp\" is not an absolute path"
        );
        assert!(err("unshare = [\"netz\"]\n")
            .contains("line 1: key \"unshare\": unknown namespace \"netz\""));
        assert!(err("ro_bind_try = [{ src = \"/a\", create = true }]\n")
            .contains("create = true is only allowed in bind"));
        assert!(err("args = [\"--bind\", \"/a\"]\n").contains("--bind takes 2 value(s)"));
        assert!(err("args = [\"sh\"]\n").contains("the command cannot be given"));
        assert!(err("args = [\"--profile\", \"x\"]\n").contains("use the include key"));
        assert!(err("dir = [{ dest = \"/d\", perms = \"rwx\" }]\n").contains("perms must be octal"));
    }

    #[test]
    fn lookup_order_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        let s = search(dir.path());
        let v = vars();
        let args = |given: &str| {
            load(OsStr::new(given), &v, &s)
                .map(|(u, _)| u.args)
                .map_err(|e| e.to_string())
        };
        // Built-in when nothing else has the name.
        assert_eq!(args("net").unwrap(), ["--net", "host"]);
        std::fs::create_dir_all(dir.path().join("system")).unwrap();
        std::fs::create_dir_all(dir.path().join("user")).unwrap();
        std::fs::write(dir.path().join("system/net.toml"), "net = \"none\"\n").unwrap();
        assert_eq!(args("net").unwrap(), ["--net", "none"]);
        std::fs::write(
            dir.path().join("user/net.toml"),
            "include = [\"builtin:net\"]\nnet_allow_host_loopback = false\n",
        )
        .unwrap();
        assert_eq!(args("net").unwrap(), ["--net", "host"]);
        assert_eq!(args("builtin:net").unwrap(), ["--net", "host"]);
        // Relative includes are taken from the including file's directory.
        std::fs::write(
            dir.path().join("a.toml"),
            "include = [\"sub/b.toml\"]\ndir = \"/a\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.toml"), "dir = \"/b\"\n").unwrap();
        let a = dir.path().join("a.toml");
        assert_eq!(
            args(a.to_str().unwrap()).unwrap(),
            ["--dir", "/b", "--dir", "/a"]
        );
        // Cycles.
        std::fs::write(dir.path().join("sub/b.toml"), "include = [\"../a.toml\"]\n").unwrap();
        assert!(args(a.to_str().unwrap())
            .unwrap_err()
            .contains("include cycle"));
        // Missing.
        let e = args("nosuch").unwrap_err();
        assert!(
            e.starts_with("profile nosuch: not found (looked for "),
            "{e}"
        );
        assert!(e.contains("build, desktop"), "{e}");
        let e = args("/nonexistent/x.toml").unwrap_err();
        assert_eq!(e, "profile /nonexistent/x.toml: No such file or directory");
        assert!(args("a b").unwrap_err().contains("not a profile name"));
    }

    #[test]
    fn name_key_sets_name_for_includes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("firefox.toml");
        std::fs::write(&p, "include = [\"desktop\"]\nname = \"ff\"\n").unwrap();
        let (used, _) = load(p.as_os_str(), &vars(), &search(dir.path())).unwrap();
        let s: Vec<String> = used
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let i = s.iter().position(|a| a == "--bind-create").unwrap();
        assert_eq!(s[i + 1], "/home/u/.local/share/hutch/ff");
        assert_eq!(s[i + 2], "/home/u");
        assert_eq!(used.files.len(), 3, "{:?}", used.files);
    }

    #[test]
    fn build_profile_expansion() {
        let (used, _) = load(
            OsStr::new("build"),
            &vars(),
            &search(Path::new("/nonexistent")),
        )
        .unwrap();
        let s: Vec<String> = used
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let s = s.join(" ");
        assert!(
            s.contains("--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /home/u --bind /work/p /work/p"),
            "{s}"
        );
    }

    /// The format's own keys and the flag table's are one namespace.
    #[test]
    fn keys_are_unique() {
        let mut names: Vec<&str> = keys().map(|k| k.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a profile key is defined twice");
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("ro_bnd"), Some("ro_bind"));
        assert_eq!(suggest("ro-bind-try"), Some("ro_bind_try"));
        assert_eq!(suggest("die_with_parnet"), Some("die_with_parent"));
        assert_eq!(suggest("zzzzzz"), None);
    }

    #[test]
    fn create_host_dirs_makes_missing_ones_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        create_host_dirs(std::slice::from_ref(&d)).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        create_host_dirs(&[d]).unwrap();
    }
}

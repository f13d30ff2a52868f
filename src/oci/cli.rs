//! The `hutch oci` command line (also the binary under the name `hutch-oci`), defined
//! once: the global options ([`GLOBAL`]) and the commands ([`COMMANDS`]), each with its
//! options, operands and help.
//!
//! Everything reads this table: the parser below (which options a command takes,
//! whether they take a value, their short forms, what is refused), `hutch oci --help`
//! and `hutch oci COMMAND --help` ([`usage`], [`command_usage`]), and, through
//! `src/front/docs.rs`, the man page `man/hutch-oci.1`, the shell completions and the
//! command reference in docs/oci.md. `mod.rs` acts on the parsed command.
//!
//! The grammar is runc's, as podman, conmon and containerd's shim speak it: the global
//! options, then the command, then its options and operands in any order (`--` ends
//! the options). An option is `--name value` or `--name=value`; the number of leading
//! dashes does not matter (`-root` is `--root`), and single letters are the short forms
//! of the table (`-b` is `--bundle`). A switch takes no value, or `=true`/`=false`.

use crate::error::{Error, Result};

/// How an option's value is read, and completed by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file, directory or socket path, taken as given.
    Path,
    /// Any other word, taken as given (checked by the command).
    Text,
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
}

/// One option: of the runtime (before the command) or of a command.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// The long name, without dashes.
    pub name: &'static str,
    /// The short form (`-b`), if runc and crun have one.
    pub short: Option<char>,
    /// The value's name in the help and how it is read; `None` for a switch.
    pub value: Option<(&'static str, Kind)>,
    pub help: &'static str,
    /// Refused whatever its value, with this reason (listed so that it is refused by
    /// name rather than as unknown).
    pub refused: Option<&'static str>,
}

/// One operand of a command.
#[derive(Debug, Clone, Copy)]
pub struct Operand {
    /// Its name in the synopsis.
    pub name: &'static str,
    /// What it is, in messages ("a container id is needed").
    pub what: &'static str,
    pub required: bool,
}

/// One command.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    pub name: &'static str,
    pub opts: &'static [Opt],
    pub operands: &'static [Operand],
    /// The help line.
    pub help: &'static str,
    /// What the man page and docs/oci.md add to the help line.
    pub more: Option<&'static str>,
    /// A command of runc's that hutch refuses, with the reason: listed in the help as
    /// not supported, not offered by the completions.
    pub refused: Option<&'static str>,
}

const fn opt(name: &'static str, help: &'static str) -> Opt {
    Opt {
        name,
        short: None,
        value: None,
        help,
        refused: None,
    }
}

impl Opt {
    const fn short(mut self, c: char) -> Self {
        self.short = Some(c);
        self
    }
    const fn value(mut self, name: &'static str, kind: Kind) -> Self {
        self.value = Some((name, kind));
        self
    }
    const fn refused(mut self, why: &'static str) -> Self {
        self.refused = Some(why);
        self
    }

    /// `-b, --bundle DIR`, as the help shows it.
    pub fn synopsis(&self) -> String {
        let mut s = match self.short {
            Some(c) => format!("-{c}, --{}", self.name),
            None => format!("--{}", self.name),
        };
        if let Some((v, _)) = self.value {
            s.push(' ');
            s.push_str(v);
        }
        s
    }
}

const fn command(name: &'static str, help: &'static str) -> Command {
    Command {
        name,
        opts: &[HELP],
        operands: &[],
        help,
        more: None,
        refused: None,
    }
}

impl Command {
    const fn opts(mut self, opts: &'static [Opt]) -> Self {
        self.opts = opts;
        self
    }
    const fn operands(mut self, operands: &'static [Operand]) -> Self {
        self.operands = operands;
        self
    }
    const fn more(mut self, text: &'static str) -> Self {
        self.more = Some(text);
        self
    }
    const fn refused(mut self, why: &'static str) -> Self {
        self.refused = Some(why);
        self
    }

    /// `create [OPTIONS] ID`, or `kill [OPTIONS] ID [SIGNAL]`.
    pub fn synopsis(&self) -> String {
        let mut s = self.name.to_string();
        if self.opts.iter().any(|o| o.name != "help") {
            s.push_str(" [OPTIONS]");
        }
        for o in self.operands {
            if o.required {
                s.push_str(&format!(" {}", o.name));
            } else {
                s.push_str(&format!(" [{}]", o.name));
            }
        }
        s
    }
}

const HELP: Opt = opt("help", "Print the help").short('h');
const ID: Operand = Operand {
    name: "ID",
    what: "a container id",
    required: true,
};
const PID_FILE: Opt =
    opt("pid-file", "Write the pid of the process to FILE").value("FILE", Kind::Path);
const CONSOLE_SOCKET: Opt = opt(
    "console-socket",
    "The Unix socket that receives the terminal's master side (with a terminal)",
)
.value("SOCKET", Kind::Path);
const PRESERVE_FDS: Opt = opt(
    "preserve-fds",
    "Extra descriptors to pass: only 0 is supported",
)
.value("N", Kind::Text);
const NOT_IN_PROCESS: &str = "not supported (put it in --process)";

/// The runtime's own options, before the command.
pub const GLOBAL: &[Opt] = &[
    opt(
        "root",
        "Where the containers' state is kept (default /run/hutch-oci for root, \
         $XDG_RUNTIME_DIR/hutch-oci otherwise)",
    )
    .value("DIR", Kind::Path),
    opt("log", "Also write error messages to FILE").value("FILE", Kind::Path),
    opt(
        "log-format",
        "The format of --log's lines: text (the default) or json",
    )
    .value("FORMAT", Kind::OneOf(&["text", "json"])),
    opt("systemd-cgroup", "Refused: hutch manages cgroups itself").refused(
        "not supported: hutch manages cgroups itself (use podman's --cgroup-manager=cgroupfs)",
    ),
    opt(
        "debug",
        "Accepted as runc does; no effect (the messages are the same)",
    ),
    opt("version", "Print the version and the OCI spec version").short('v'),
    HELP,
];

/// The commands, in the order of the help.
pub const COMMANDS: &[Command] = &[
    command(
        "create",
        "Create a container from a bundle; its process waits for start",
    )
    .opts(&[
        opt(
            "bundle",
            "The bundle: the directory of config.json (default: the current directory)",
        )
        .short('b')
        .value("DIR", Kind::Path),
        PID_FILE,
        CONSOLE_SOCKET,
        PRESERVE_FDS,
        opt("no-pivot", "Accepted as runc does; no effect"),
        opt("no-new-keyring", "Accepted as runc does; no effect"),
        HELP,
    ])
    .operands(&[ID])
    .more(
        "Runs the createRuntime hooks; create exits when the container's process waits for \
         start, leaving it to the caller's subreaper (conmon, containerd's shim).",
    ),
    command("start", "Start the created container's process")
        .operands(&[ID])
        .more("Runs the poststart hooks."),
    command("state", "Print the container's state as OCI state JSON")
        .operands(&[ID])
        .more(
            "The annotation org.hutch.hardening in the state says what hutch applied \
             (Landlock, seccomp).",
        ),
    command(
        "kill",
        "Send a signal to the container's process (default SIGTERM)",
    )
    .opts(&[
        opt(
            "all",
            "Also signal every other process of the container's cgroup",
        )
        .short('a'),
        HELP,
    ])
    .operands(&[
        ID,
        Operand {
            name: "SIGNAL",
            what: "a signal",
            required: false,
        },
    ])
    .more("SIGNAL is a name (TERM, SIGTERM) or a number."),
    command("delete", "Delete a stopped or created container")
        .opts(&[
            opt(
                "force",
                "Kill a running container first; no error if it does not exist",
            )
            .short('f'),
            HELP,
        ])
        .operands(&[ID])
        .more("Runs the poststop hooks and removes the container's cgroup and state."),
    command("exec", "Run another process in a running container")
        .opts(&[
            opt(
                "process",
                "The process to run, as the JSON of an OCI process (required)",
            )
            .short('p')
            .value("FILE", Kind::Path),
            opt(
                "detach",
                "Return once the process has started, without waiting for it",
            )
            .short('d'),
            PID_FILE,
            opt(
                "tty",
                "Give the process a terminal (through --console-socket)",
            )
            .short('t'),
            CONSOLE_SOCKET,
            PRESERVE_FDS,
            opt("cwd", "Refused: the working directory goes in --process")
                .value("DIR", Kind::Path)
                .refused(NOT_IN_PROCESS),
            opt("user", "Refused: the user goes in --process")
                .value("UID[:GID]", Kind::Text)
                .refused(NOT_IN_PROCESS),
            opt(
                "no-new-privs",
                "Accepted as runc does; no effect (see --process)",
            ),
            HELP,
        ])
        .operands(&[ID])
        .more(
            "Without --detach, exec waits for the process and exits with its exit status \
             (128+N if killed by signal N).",
        ),
    command("pause", "Freeze the container's processes (cgroup freezer)").operands(&[ID]),
    command("resume", "Thaw a paused container").operands(&[ID]),
    command(
        "features",
        "Print what this runtime supports, as the OCI features JSON",
    ),
    command("run", "").refused("not supported; use create then start"),
    command("update", "").refused(UNSUPPORTED),
    command("list", "").refused(UNSUPPORTED),
    command("ps", "").refused(UNSUPPORTED),
    command("events", "").refused(UNSUPPORTED),
    command("checkpoint", "").refused(UNSUPPORTED),
    command("restore", "").refused(UNSUPPORTED),
    command("spec", "").refused(UNSUPPORTED),
];

const UNSUPPORTED: &str = "not supported by hutch's OCI runtime";

/// The name of the runtime in messages and help.
pub const NAME: &str = "hutch-oci";

/// What the help and the man page say about hardening.
pub const HARDENING: &str =
    "Hardening (Landlock rules from the mounts, and hutch's seccomp policy when the \
     bundle has no profile) is on unless the bundle has the annotation org.hutch.hardening=off.";

/// The supported commands (the refused ones are only named).
pub fn supported() -> impl Iterator<Item = &'static Command> {
    COMMANDS.iter().filter(|c| c.refused.is_none())
}

fn opt_lines(out: &mut String, opts: &[Opt]) {
    for o in opts {
        out.push_str(&format!("    {:<28} {}\n", o.synopsis(), o.help));
    }
}

/// `hutch oci --help`.
pub fn usage() -> String {
    let mut out = format!(
        "usage: {NAME} [OPTIONS] COMMAND [ARGS...]\n   or: hutch oci [OPTIONS] COMMAND [ARGS...]\n\n\
         hutch as an OCI runtime, for podman, conmon and containerd.\n\nOptions:\n"
    );
    opt_lines(&mut out, GLOBAL);
    out.push_str("\nCommands:\n");
    for c in supported() {
        out.push_str(&format!("    {:<28} {}\n", c.synopsis(), c.help));
    }
    let refused: Vec<_> = COMMANDS
        .iter()
        .filter(|c| c.refused.is_some())
        .map(|c| c.name)
        .collect();
    out.push_str(&format!(
        "\nNot supported: {}.\n{HARDENING}\n\"{NAME} COMMAND --help\" prints a command's options.\n",
        refused.join(", ")
    ));
    out
}

/// The lines of `hutch --help` that point to the runtime, for the program `prog`.
pub fn pointer(prog: &str) -> String {
    let names: Vec<_> = supported().map(|c| c.name).collect();
    format!(
        "\n{prog} oci [OPTIONS] COMMAND [ARGS...]\n    \
         The OCI runtime for podman and containerd ({}): see \"{prog} oci --help\"\n",
        names.join(", ")
    )
}

/// `hutch oci COMMAND --help`.
pub fn command_usage(c: &Command) -> String {
    let mut out = format!("usage: {NAME} {}\n\n{}.\n", c.synopsis(), c.help);
    if let Some(more) = c.more {
        out.push_str(more);
        out.push('\n');
    }
    out.push_str("\nOptions:\n");
    opt_lines(&mut out, c.opts);
    out
}

/// The command line, word by word.
pub struct Line {
    args: Vec<String>,
    pos: usize,
}

impl Line {
    pub fn new(args: Vec<std::ffi::OsString>) -> Result<Line> {
        let args = args
            .into_iter()
            .map(|a| {
                a.into_string()
                    .map_err(|a| Error::msg(format!("argument is not UTF-8: {a:?}")))
            })
            .collect::<Result<_>>()?;
        Ok(Line { args, pos: 0 })
    }

    fn next(&mut self) -> Option<String> {
        let a = self.args.get(self.pos).cloned();
        self.pos += 1;
        a
    }
}

/// What was given: the options set (the last value of each wins) and the operands.
#[derive(Debug, Default)]
pub struct Matches {
    opts: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
    pub operands: Vec<String>,
}

impl Matches {
    /// The value of an option (its last one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a switch is on.
    pub fn flag(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }
}

/// Read one option word `a` (it starts with a dash) of `table` into `m`, taking its
/// value from the next word if it needs one. `cmd` is the command, for the messages
/// (`None` for the global options).
fn option(
    a: &str,
    line: &mut Line,
    table: &[Opt],
    cmd: Option<&str>,
    m: &mut Matches,
) -> Result<()> {
    let (name, inline) = match a.split_once('=') {
        Some((n, v)) => (n.trim_start_matches('-'), Some(v.to_string())),
        None => (a.trim_start_matches('-'), None),
    };
    let mut chars = name.chars();
    let found = match (chars.next(), chars.next()) {
        (Some(c), None) => table.iter().find(|o| o.short == Some(c)),
        _ => table.iter().find(|o| o.name == name),
    };
    let Some(o) = found else {
        return Err(Error::msg(match cmd {
            Some(cmd) => format!("{cmd}: unknown option {a}"),
            None => format!("unknown option {a}"),
        }));
    };
    let flag = match cmd {
        Some(cmd) => format!("{cmd} --{}", o.name),
        None => format!("--{}", o.name),
    };
    match o.value {
        Some((_, kind)) => {
            let v = match inline {
                Some(v) => v,
                None => line
                    .next()
                    .ok_or_else(|| Error::msg(format!("{flag} needs a value")))?,
            };
            if let Some(why) = o.refused {
                return Err(Error::msg(format!("{flag} {v}: {why}")));
            }
            if let Kind::OneOf(words) = kind {
                if !words.contains(&v.as_str()) {
                    return Err(Error::msg(format!(
                        "{flag} {v}: expected {}",
                        words.join(" or ")
                    )));
                }
            }
            m.opts.push((o.name, v));
        }
        None => match inline.as_deref() {
            None | Some("true") => {
                if let Some(why) = o.refused {
                    return Err(Error::msg(format!("{flag}: {why}")));
                }
                m.switches.push(o.name);
            }
            Some("false") => {}
            Some(v) => {
                return Err(Error::msg(format!("{flag}={v}: expected true or false")));
            }
        },
    }
    Ok(())
}

/// Where the global options stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// No command: the usage goes to stderr, exit status 1.
    Usage,
    Help,
    Version,
    Command(String),
}

/// The global options, into `m` (kept when a later one fails, so that `--log` still
/// receives the error), up to the command.
pub fn global(line: &mut Line, m: &mut Matches) -> Result<Start> {
    loop {
        let Some(a) = line.next() else {
            return Ok(Start::Usage);
        };
        if !a.starts_with('-') {
            return Ok(Start::Command(a));
        }
        option(&a, line, GLOBAL, None, m)?;
        if m.flag("help") {
            return Ok(Start::Help);
        }
        if m.flag("version") {
            return Ok(Start::Version);
        }
    }
}

/// What a command's words ask for.
#[derive(Debug)]
pub enum Action {
    Help(&'static Command),
    Run(&'static Command, Matches),
}

/// The command `name` and its options and operands, to the end of the line.
pub fn command_line(name: &str, line: &mut Line) -> Result<Action> {
    let Some(c) = COMMANDS.iter().find(|c| c.name == name) else {
        return Err(Error::msg(format!(
            "unknown command {name:?} (\"{NAME} --help\" lists them)"
        )));
    };
    if let Some(why) = c.refused {
        return Err(Error::msg(format!("{name}: {why}")));
    }
    let mut m = Matches::default();
    while let Some(a) = line.next() {
        if a == "--" {
            m.operands.extend(std::iter::from_fn(|| line.next()));
            break;
        }
        if !a.starts_with('-') || a == "-" {
            m.operands.push(a);
            continue;
        }
        option(&a, line, c.opts, Some(name), &mut m)?;
        if m.flag("help") {
            return Ok(Action::Help(c));
        }
    }
    if let Some(missing) = c.operands.get(m.operands.len()).filter(|o| o.required) {
        return Err(Error::msg(format!("{name}: {} is needed", missing.what)));
    }
    if let Some(extra) = m.operands.get(c.operands.len()) {
        return Err(Error::msg(format!(
            "{name}: unexpected operand {extra:?} (usage: {NAME} {})",
            c.synopsis()
        )));
    }
    Ok(Action::Run(c, m))
}

#[cfg(test)]
mod tests;

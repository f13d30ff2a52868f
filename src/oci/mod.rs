//! hutch as an OCI runtime (`hutch oci COMMAND`, or the binary under the name `hutch-oci`):
//! the commands podman, conmon and containerd call (issue 18).
//!
//! cli.rs defines the command line (the parser, its help and, through docs.rs, the man
//! page and completions); `run` below acts on each command. config.rs maps a bundle onto
//! hutch's Spec, runtime.rs runs it (create, start, kill, delete, exec), state.rs keeps
//! what is known of each container under `--root`.

pub mod cli;
pub mod config;
pub mod hooks;
pub mod resources;
pub mod runtime;
pub mod seccomp;
pub mod state;
pub mod unsupported;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether hutch was invoked as the OCI runtime (`hutch-oci`, or a name starting so).
pub fn is_runtime_name(argv0: &std::ffi::OsStr) -> bool {
    Path::new(argv0)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("hutch-oci"))
}

/// Where messages go: stderr, and the `--log` file if given.
struct Log {
    file: Option<PathBuf>,
    json: bool,
}

impl Log {
    fn error(&self, msg: &str) {
        eprintln!("hutch-oci: {msg}");
        let Some(path) = &self.file else { return };
        let line = if self.json {
            serde_json::json!({"level": "error", "msg": msg, "time": state::now_rfc3339()})
                .to_string()
        } else {
            format!("{} error: {msg}", state::now_rfc3339())
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn one_id(p: &cli::Matches) -> String {
    // The table gives these commands one operand, ID, required: the parser checked it.
    p.operands.first().cloned().unwrap_or_default()
}

/// `hutch-oci --version`.
pub fn version() -> String {
    format!(
        "hutch-oci version {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        state::OCI_VERSION
    )
}

/// `features`: what this runtime supports, as the OCI features document.
fn features() -> String {
    let v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": state::OCI_VERSION,
        "hooks": ["createRuntime", "poststart", "poststop"],
        "mountOptions": ["defaults", "ro", "rro", "rw", "bind", "rbind", "nosuid", "rnosuid", "nodev", "rnodev", "dev", "exec", "noexec", "rnoexec", "private", "rprivate", "slave", "rslave", "atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime", "diratime", "nodiratime", "mode", "size", "tmpcopyup", "newinstance", "ptmxmode", "gid"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": crate::caps::supported().iter().map(|c| c.to_string()).collect::<std::collections::BTreeSet<_>>(),
            "cgroup": {"v1": false, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": true},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
        },
        "annotations": {
            config::HARDENING: "on (default) or off: hutch's Landlock rules from the mounts and its default seccomp policy",
        },
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// Run the runtime with the arguments after `oci` (or after argv0 `hutch-oci`).
/// Returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let mut log = Log {
        file: None,
        json: false,
    };
    match run(args, &mut log) {
        Ok(code) => code,
        Err(e) => {
            log.error(&e.to_string());
            1
        }
    }
}

fn run(args: Vec<OsString>, log: &mut Log) -> Result<i32> {
    let mut line = cli::Line::new(args)?;
    let mut global = cli::Matches::default();
    let start = cli::global(&mut line, &mut global);
    log.file = global.get("log").map(PathBuf::from);
    log.json = global.get("log-format") == Some("json");
    let cmd = match start? {
        cli::Start::Usage => {
            eprint!("{}", cli::usage());
            return Ok(1);
        }
        cli::Start::Help => {
            print!("{}", cli::usage());
            return Ok(0);
        }
        cli::Start::Version => {
            print!("{}", version());
            return Ok(0);
        }
        cli::Start::Command(cmd) => cmd,
    };
    let (c, p) = match cli::command_line(&cmd, &mut line)? {
        cli::Action::Help(c) => {
            print!("{}", cli::command_usage(c));
            return Ok(0);
        }
        cli::Action::Run(c, p) => (c, p),
    };
    let store = state::Store {
        root: global
            .get("root")
            .map(PathBuf::from)
            .unwrap_or_else(state::default_root),
    };
    if let Some(n) = p.get("preserve-fds").filter(|n| *n != "0") {
        return Err(Error::msg(format!(
            "{} --preserve-fds {n}: not supported (only 0)",
            c.name
        )));
    }
    match c.name {
        "create" => {
            let opts = runtime::CreateOpts {
                id: one_id(&p),
                bundle: PathBuf::from(p.get("bundle").unwrap_or(".")),
                pid_file: p.get("pid-file").map(PathBuf::from),
                console_socket: p.get("console-socket").map(PathBuf::from),
            };
            runtime::create(&store, &opts)?;
            Ok(0)
        }
        "start" => {
            runtime::start(&store, &one_id(&p))?;
            Ok(0)
        }
        "state" => {
            let s = store.load(&one_id(&p))?;
            println!("{}", state::state_json(&store, &s));
            Ok(0)
        }
        "kill" => {
            let sig = p.operands.get(1).map_or("SIGTERM", |s| s.as_str());
            runtime::kill(&store, &one_id(&p), sig, p.flag("all"))?;
            Ok(0)
        }
        "delete" => {
            runtime::delete(&store, &one_id(&p), p.flag("force"))?;
            Ok(0)
        }
        "exec" => {
            let process = p
                .get("process")
                .ok_or_else(|| Error::msg("exec: --process FILE is needed"))?;
            let opts = runtime::ExecOpts {
                id: one_id(&p),
                process: PathBuf::from(process),
                detach: p.flag("detach"),
                pid_file: p.get("pid-file").map(PathBuf::from),
                console_socket: p.get("console-socket").map(PathBuf::from),
                tty: p.flag("tty").then_some(true),
            };
            runtime::exec(&store, &opts)
        }
        "pause" | "resume" => {
            runtime::freeze(&store, &one_id(&p), c.name == "pause")?;
            Ok(0)
        }
        "features" => {
            print!("{}", features());
            Ok(0)
        }
        // The table and this match list the same commands (a unit test runs each).
        other => Err(Error::msg(format!("{other}: not implemented"))),
    }
}

// Glue to the parts of src/oci/ that the config helper owns.

/// `linux.seccomp`: the bundle's profile, compiled and checked.
fn seccomp_program(
    profile: &oci_spec::runtime::LinuxSeccomp,
) -> Result<Vec<crate::seccomp::Program>> {
    Ok(vec![crate::seccomp::Program::from_bytes(
        seccomp::compile(profile)?,
    )?])
}

/// Run the hooks of one kind (`createRuntime`, `poststart`, `poststop`) with the state
/// on their stdin, from the bundle; the warnings of non-fatal kinds go to stderr.
fn run_hooks(
    spec: &oci_spec::runtime::Spec,
    kind: hooks::Kind,
    state: &str,
    bundle: &Path,
) -> Result<()> {
    for w in hooks::run(spec.hooks().as_ref(), kind, state.as_bytes(), bundle)? {
        eprintln!("hutch-oci: {w}");
    }
    Ok(())
}

/// Apply `linux.resources` to the container's cgroup directory.
fn apply_resources(dir: &Path, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    resources::apply(dir, r)
}

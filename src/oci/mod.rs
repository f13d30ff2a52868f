//! hutch as an OCI runtime (`hutch oci COMMAND`, or the binary under the name `hutch-oci`):
//! the commands podman, conmon and containerd call (issue 18).
//!
//! config.rs maps a bundle onto hutch's Spec, runtime.rs runs it (create, start, kill,
//! delete, exec), state.rs keeps what is known of each container under `--root`.

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

/// The usage text.
pub fn usage() -> &'static str {
    "usage: hutch-oci [--root DIR] [--log FILE] [--log-format text|json] COMMAND\n\
     (or: hutch oci ...)\n\
     commands:\n\
     \x20 create --bundle DIR [--pid-file FILE] [--console-socket SOCKET] ID\n\
     \x20 start ID\n\
     \x20 state ID\n\
     \x20 kill [--all] ID [SIGNAL]\n\
     \x20 delete [--force] ID\n\
     \x20 exec --process FILE [--detach] [--pid-file FILE] [--tty] [--console-socket SOCKET] ID\n\
     \x20 pause ID | resume ID\n\
     \x20 features\n\
     \x20 --version\n\
     hardening (Landlock rules from the mounts, hutch's seccomp policy without a profile)\n\
     is on unless the bundle has the annotation org.hutch.hardening=off\n"
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

/// The command line, split into `--name value` / `--name=value` options and operands.
struct Args {
    args: Vec<String>,
    pos: usize,
}

impl Args {
    fn new(args: Vec<OsString>) -> Result<Args> {
        let args = args
            .into_iter()
            .map(|a| {
                a.into_string()
                    .map_err(|a| Error::msg(format!("argument is not UTF-8: {a:?}")))
            })
            .collect::<Result<_>>()?;
        Ok(Args { args, pos: 0 })
    }

    fn next(&mut self) -> Option<String> {
        let a = self.args.get(self.pos).cloned();
        self.pos += 1;
        a
    }

    fn value(&mut self, name: &str, inline: Option<String>) -> Result<String> {
        match inline {
            Some(v) => Ok(v),
            None => self
                .next()
                .ok_or_else(|| Error::msg(format!("{name} needs a value"))),
        }
    }
}

/// Split `--name=value`.
fn split(a: &str) -> (String, Option<String>) {
    match a.split_once('=') {
        Some((n, v)) if a.starts_with('-') => {
            (n.trim_start_matches('-').to_string(), Some(v.into()))
        }
        _ => (a.trim_start_matches('-').to_string(), None),
    }
}

/// The options and operands of a command, with the flags (no value) it knows.
struct Parsed {
    opts: Vec<(String, String)>,
    flags: Vec<String>,
    operands: Vec<String>,
}

impl Parsed {
    fn get(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

fn parse_command(
    cmd: &str,
    args: &mut Args,
    with_value: &[&str],
    flags: &[&str],
) -> Result<Parsed> {
    let mut p = Parsed {
        opts: Vec::new(),
        flags: Vec::new(),
        operands: Vec::new(),
    };
    while let Some(a) = args.next() {
        if a == "--" {
            p.operands.extend(std::iter::from_fn(|| args.next()));
            break;
        }
        if !a.starts_with('-') || a == "-" {
            p.operands.push(a);
            continue;
        }
        let (name, inline) = split(&a);
        // Short forms runc and crun accept.
        let name = match name.as_str() {
            "b" => "bundle".to_string(),
            "p" => "process".to_string(),
            "d" => "detach".to_string(),
            "t" => "tty".to_string(),
            "f" => "force".to_string(),
            "a" => "all".to_string(),
            _ => name,
        };
        if with_value.contains(&name.as_str()) {
            let v = args.value(&format!("{cmd} --{name}"), inline)?;
            p.opts.push((name, v));
        } else if flags.contains(&name.as_str()) {
            match inline.as_deref() {
                None | Some("true") => p.flags.push(name),
                Some("false") => {}
                Some(v) => {
                    return Err(Error::msg(format!(
                        "{cmd} --{name}={v}: expected true or false"
                    )))
                }
            }
        } else {
            return Err(Error::msg(format!("{cmd}: unknown option {a}")));
        }
    }
    Ok(p)
}

fn one_id(cmd: &str, p: &Parsed) -> Result<String> {
    match p.operands.as_slice() {
        [id] => Ok(id.clone()),
        [] => Err(Error::msg(format!("{cmd}: a container id is needed"))),
        more => Err(Error::msg(format!(
            "{cmd}: one container id expected, got {}",
            more.join(" ")
        ))),
    }
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
    let mut args = Args::new(args)?;
    let mut root = None;
    let cmd = loop {
        let Some(a) = args.next() else {
            eprint!("{}", usage());
            return Ok(1);
        };
        if !a.starts_with('-') {
            break a;
        }
        let (name, inline) = split(&a);
        match name.as_str() {
            "root" => root = Some(PathBuf::from(args.value("--root", inline)?)),
            "log" => log.file = Some(PathBuf::from(args.value("--log", inline)?)),
            "log-format" => {
                let v = args.value("--log-format", inline)?;
                log.json = match v.as_str() {
                    "json" => true,
                    "text" => false,
                    _ => {
                        return Err(Error::msg(format!(
                            "--log-format {v}: expected text or json"
                        )))
                    }
                }
            }
            "systemd-cgroup" => {
                return Err(Error::msg(
                    "--systemd-cgroup is not supported: hutch manages cgroups itself (use podman's --cgroup-manager=cgroupfs)",
                ))
            }
            // Accepted as runc does: messages are already plain.
            "debug" => {}
            "version" | "v" => {
                print!("{}", version());
                return Ok(0);
            }
            "help" | "h" => {
                print!("{}", usage());
                return Ok(0);
            }
            _ => return Err(Error::msg(format!("unknown option {a}"))),
        }
    };
    let store = state::Store {
        root: root.unwrap_or_else(state::default_root),
    };
    match cmd.as_str() {
        "create" | "run" if cmd == "run" => {
            Err(Error::msg("run: not supported; use create then start"))
        }
        "create" => {
            let p = parse_command(
                "create",
                &mut args,
                &["bundle", "pid-file", "console-socket", "preserve-fds"],
                &["no-pivot", "no-new-keyring"],
            )?;
            if let Some(n) = p.get("preserve-fds") {
                if n != "0" {
                    return Err(Error::msg(format!(
                        "create --preserve-fds {n}: not supported"
                    )));
                }
            }
            let opts = runtime::CreateOpts {
                id: one_id("create", &p)?,
                bundle: PathBuf::from(p.get("bundle").unwrap_or(".")),
                pid_file: p.get("pid-file").map(PathBuf::from),
                console_socket: p.get("console-socket").map(PathBuf::from),
            };
            runtime::create(&store, &opts)?;
            Ok(0)
        }
        "start" => {
            let p = parse_command("start", &mut args, &[], &[])?;
            runtime::start(&store, &one_id("start", &p)?)?;
            Ok(0)
        }
        "state" => {
            let p = parse_command("state", &mut args, &[], &[])?;
            let id = one_id("state", &p)?;
            let s = store.load(&id)?;
            println!("{}", state::state_json(&store, &s));
            Ok(0)
        }
        "kill" => {
            let p = parse_command("kill", &mut args, &[], &["all"])?;
            let (id, sig) = match p.operands.as_slice() {
                [id] => (id.clone(), "SIGTERM".to_string()),
                [id, sig] => (id.clone(), sig.clone()),
                _ => return Err(Error::msg("kill: usage: kill [--all] ID [SIGNAL]")),
            };
            runtime::kill(&store, &id, &sig, p.flag("all"))?;
            Ok(0)
        }
        "delete" => {
            let p = parse_command("delete", &mut args, &[], &["force"])?;
            runtime::delete(&store, &one_id("delete", &p)?, p.flag("force"))?;
            Ok(0)
        }
        "exec" => {
            let p = parse_command(
                "exec",
                &mut args,
                &[
                    "process",
                    "pid-file",
                    "console-socket",
                    "preserve-fds",
                    "cwd",
                    "user",
                ],
                &["detach", "tty", "no-new-privs"],
            )?;
            for unsupported in ["preserve-fds", "cwd", "user"] {
                if let Some(v) = p.get(unsupported) {
                    if unsupported != "preserve-fds" || v != "0" {
                        return Err(Error::msg(format!(
                            "exec --{unsupported} {v}: not supported (put it in --process)"
                        )));
                    }
                }
            }
            let process = p
                .get("process")
                .ok_or_else(|| Error::msg("exec: --process FILE is needed"))?;
            let opts = runtime::ExecOpts {
                id: one_id("exec", &p)?,
                process: PathBuf::from(process),
                detach: p.flag("detach"),
                pid_file: p.get("pid-file").map(PathBuf::from),
                console_socket: p.get("console-socket").map(PathBuf::from),
                tty: p.flag("tty").then_some(true),
            };
            runtime::exec(&store, &opts)
        }
        "pause" | "resume" => {
            let p = parse_command(&cmd, &mut args, &[], &[])?;
            runtime::freeze(&store, &one_id(&cmd, &p)?, cmd == "pause")?;
            Ok(0)
        }
        "features" => {
            print!("{}", features());
            Ok(0)
        }
        "list" | "ps" | "checkpoint" | "restore" | "update" | "events" | "spec" => Err(Error::msg(
            format!("{cmd}: not supported by hutch's OCI runtime"),
        )),
        _ => Err(Error::msg(format!("unknown command {cmd:?}"))),
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

//! OCI hooks (`hooks` of config.json), run as the runtime spec says: each hook's
//! `path` (absolute) with `args` (`args[0]` is argv[0]), exactly `env` as its
//! environment, the container's state JSON on stdin, stdout and stderr captured (the
//! last 2 KiB go into the message of a failure), killed at `timeout` seconds; the hooks
//! of one kind in order.
//!
//! - `createRuntime` (with the deprecated `prestart` ones first, as runc runs them): a
//!   failure fails `create`, the later hooks do not run;
//! - `poststart`, `poststop`: a failure is a warning (returned for the caller to log),
//!   the later hooks and the lifecycle go on;
//! - `createContainer`, `startContainer` must run in the container's namespaces, which
//!   hutch does not do: refused ([`check`]).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

use crate::error::{Error, Result};

/// When hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deprecated; run with [`Kind::CreateRuntime`], first.
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    /// The field's name in config.json.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// A failure fails the operation (else it is a warning).
    pub fn fatal(self) -> bool {
        !matches!(self, Kind::Poststart | Kind::Poststop)
    }

    fn of(self, h: &Hooks) -> &[Hook] {
        let v = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        v.as_deref().unwrap_or_default()
    }
}

const ALL: [Kind; 6] = [
    Kind::Prestart,
    Kind::CreateRuntime,
    Kind::CreateContainer,
    Kind::StartContainer,
    Kind::Poststart,
    Kind::Poststop,
];

/// What hutch refuses in `hooks`, naming the field: `createContainer` and
/// `startContainer` hooks, a relative `path`, a `timeout` below 1, an `env` entry
/// without `=`.
pub fn check(h: &Hooks) -> Result<()> {
    for kind in ALL {
        for (i, hook) in kind.of(h).iter().enumerate() {
            let field = format!("hooks.{}[{i}]", kind.name());
            if matches!(kind, Kind::CreateContainer | Kind::StartContainer) {
                return Err(Error::msg(format!(
                    "{field}: {} hooks are not supported (they run in the container's \
                     namespaces, which hutch does not do; createRuntime, poststart and \
                     poststop are)",
                    kind.name()
                )));
            }
            if !hook.path().is_absolute() {
                return Err(Error::msg(format!(
                    "{field}.path: {} is not an absolute path",
                    hook.path().display()
                )));
            }
            if let Some(t) = hook.timeout() {
                if t < 1 {
                    return Err(Error::msg(format!(
                        "{field}.timeout: {t} (must be at least 1 second)"
                    )));
                }
            }
            for (j, e) in hook.env().iter().flatten().enumerate() {
                if !e.contains('=') {
                    return Err(Error::msg(format!(
                        "{field}.env[{j}]: {e:?} is not NAME=VALUE"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Run the hooks of `kind` (for [`Kind::CreateRuntime`], the `prestart` ones first)
/// with `state` (the state JSON) on stdin, from `cwd` (the bundle). A failure of a
/// [fatal](Kind::fatal) kind is the error and stops there; otherwise every hook runs and
/// the failures come back as warnings, one line each.
pub fn run(hooks: Option<&Hooks>, kind: Kind, state: &[u8], cwd: &Path) -> Result<Vec<String>> {
    let Some(h) = hooks else {
        return Ok(Vec::new());
    };
    check(h)?;
    let kinds: &[Kind] = match kind {
        Kind::CreateRuntime => &[Kind::Prestart, Kind::CreateRuntime],
        other => &[other][..],
    };
    let mut warnings = Vec::new();
    for k in kinds {
        for (i, hook) in k.of(h).iter().enumerate() {
            let field = format!("hooks.{}[{i}] ({})", k.name(), hook.path().display());
            if let Err(why) = run_one(hook, state, cwd) {
                let msg = format!("{field}: {why}");
                if kind.fatal() {
                    return Err(Error::msg(msg));
                }
                warnings.push(msg);
            }
        }
    }
    Ok(warnings)
}

/// How much of a failed hook's output its message keeps (the end).
const OUTPUT_KEPT: usize = 2048;

fn run_one(hook: &Hook, state: &[u8], cwd: &Path) -> std::result::Result<(), String> {
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("pipe: {}", crate::sys::strerror(e as i32)))?;
    nix::fcntl::fcntl(
        &out_r,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| format!("fcntl: {}", crate::sys::strerror(e as i32)))?;
    let mut cmd = Command::new(hook.path());
    let args = hook.args().as_deref().unwrap_or_default();
    if let Some((first, rest)) = args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for e in hook.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let err_w: OwnedFd = out_w
        .try_clone()
        .map_err(|e| format!("dup: {}", crate::error::strerror(&e)))?;
    cmd.current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w));
    let spawned = cmd.spawn();
    // The command holds the write ends: gone with it, so that the pipe ends with the hook.
    drop(cmd);
    let mut child =
        spawned.map_err(|e| format!("cannot run it: {}", crate::error::strerror(&e)))?;
    // The state on stdin, from a thread: a hook that does not read it must not block us.
    let mut stdin = child.stdin.take();
    let state = state.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&state);
        }
        drop(stdin);
    });
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let mut output: Vec<u8> = Vec::new();
    let mut reader = std::fs::File::from(out_r);
    let mut drain = |output: &mut Vec<u8>| {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            output.extend_from_slice(&buf[..n]);
            if output.len() > 2 * OUTPUT_KEPT {
                output.drain(..output.len() - OUTPUT_KEPT);
            }
        }
    };
    let mut pause = Duration::from_millis(1);
    let status = loop {
        drain(&mut output);
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(format!("wait: {}", crate::error::strerror(&e))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            let _ = writer.join();
            return Err(format!(
                "timed out after {} s (killed){}",
                hook.timeout().unwrap_or(0),
                tail(&output)
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    drain(&mut output);
    let _ = writer.join();
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".into(),
    };
    Err(format!("{how}{}", tail(&output)))
}

/// `: OUTPUT` (the last [`OUTPUT_KEPT`] bytes, one line), or nothing.
fn tail(output: &[u8]) -> String {
    let start = output.len().saturating_sub(OUTPUT_KEPT);
    let text = String::from_utf8_lossy(&output[start..]);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", text.replace('\n', " | "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(json: &str) -> Hooks {
        serde_json::from_str(json).unwrap()
    }

    const STATE: &[u8] =
        br#"{"ociVersion": "1.0.2", "id": "c1", "status": "created", "pid": 42, "bundle": "/b"}"#;

    /// A hook running `script` in /bin/sh, with `extra` JSON fields.
    fn sh(script: &str, extra: &str) -> String {
        let script = serde_json::to_string(script).unwrap();
        format!(r#"{{"path": "/bin/sh", "args": ["sh", "-c", {script}]{extra}}}"#)
    }

    #[test]
    fn state_on_stdin_args_env_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!(
            "cat > {o}.state; echo \"$0 $1 $FOO ${{HOME-unset}} $(pwd)\" > {o}",
            o = out.display()
        );
        let script = serde_json::to_string(&script).unwrap();
        let h = hooks(&format!(
            r#"{{"createRuntime": [{{"path": "/bin/sh", "args": ["my-hook", "-c", {script}, "zero", "one"],
                "env": ["FOO=bar=baz"], "timeout": 10}}]}}"#
        ));
        let w = run(Some(&h), Kind::CreateRuntime, STATE, dir.path()).unwrap();
        assert!(w.is_empty());
        assert_eq!(std::fs::read(out.with_extension("state")).unwrap(), STATE);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("zero one bar=baz unset {}\n", dir.path().display())
        );
        // No hooks, or none of this kind.
        assert!(run(None, Kind::Poststop, STATE, dir.path())
            .unwrap()
            .is_empty());
        assert!(run(Some(&h), Kind::Poststop, STATE, dir.path())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn create_runtime_failure_fails_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("ran");
        let h = hooks(&format!(
            r#"{{"prestart": [{first}], "createRuntime": [{fail}, {later}]}}"#,
            first = sh(&format!("echo prestart >> {}", mark.display()), ""),
            fail = sh("echo something broke >&2; echo more; exit 3", ""),
            later = sh(&format!("echo later >> {}", mark.display()), ""),
        ));
        let e = run(Some(&h), Kind::CreateRuntime, STATE, dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "hooks.createRuntime[0] (/bin/sh): exit status 3: something broke | more"
        );
        // prestart ran first; the hook after the failure did not.
        assert_eq!(std::fs::read_to_string(&mark).unwrap(), "prestart\n");
        let h = hooks(r#"{"createRuntime": [{"path": "/nonexistent/hook"}]}"#);
        let e = run(Some(&h), Kind::CreateRuntime, STATE, dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "hooks.createRuntime[0] (/nonexistent/hook): cannot run it: No such file or directory"
        );
    }

    #[test]
    fn poststart_and_poststop_failures_are_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("ran");
        for (kind, field) in [(Kind::Poststart, "poststart"), (Kind::Poststop, "poststop")] {
            let _ = std::fs::remove_file(&mark);
            let h = hooks(&format!(
                r#"{{"{field}": [{fail}, {later}]}}"#,
                fail = sh("kill -9 $$", ""),
                later = sh(&format!("echo later >> {}", mark.display()), ""),
            ));
            let w = run(Some(&h), kind, STATE, dir.path()).unwrap();
            assert_eq!(
                w,
                [format!("hooks.{field}[0] (/bin/sh): killed by signal 9")]
            );
            assert_eq!(std::fs::read_to_string(&mark).unwrap(), "later\n");
        }
    }

    #[test]
    fn timeout_kills_the_hook() {
        let dir = tempfile::tempdir().unwrap();
        let h = hooks(&format!(
            r#"{{"poststop": [{}]}}"#,
            sh("echo waiting; exec sleep 30", r#", "timeout": 1"#)
        ));
        let start = Instant::now();
        let w = run(Some(&h), Kind::Poststop, STATE, dir.path()).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            w,
            ["hooks.poststop[0] (/bin/sh): timed out after 1 s (killed): waiting"]
        );
    }

    /// Much output, and a large state the hook never reads: no deadlock.
    #[test]
    fn large_output_and_unread_state() {
        let dir = tempfile::tempdir().unwrap();
        let h = hooks(&format!(
            r#"{{"poststart": [{}]}}"#,
            sh(
                "head -c 300000 /dev/zero | tr '\\0' x; echo; echo the end; exit 1",
                r#", "timeout": 20"#
            )
        ));
        let state = vec![b' '; 1 << 20];
        let w = run(Some(&h), Kind::Poststart, &state, dir.path()).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].ends_with("xxxx | the end"), "{}", &w[0][..80]);
        assert!(w[0].len() < OUTPUT_KEPT + 100);
    }

    #[test]
    fn refusals_name_the_field() {
        for (json, want) in [
            (
                r#"{"createContainer": [{"path": "/bin/true"}]}"#,
                "hooks.createContainer[0]: createContainer hooks are not supported",
            ),
            (
                r#"{"startContainer": [{"path": "/bin/true"}]}"#,
                "hooks.startContainer[0]: startContainer hooks are not supported",
            ),
            (
                r#"{"poststart": [{"path": "/bin/true"}, {"path": "true"}]}"#,
                "hooks.poststart[1].path: true is not an absolute path",
            ),
            (
                r#"{"poststop": [{"path": "/bin/true", "timeout": 0}]}"#,
                "hooks.poststop[0].timeout: 0 (must be at least 1 second)",
            ),
            (
                r#"{"prestart": [{"path": "/bin/true", "env": ["A=1", "B"]}]}"#,
                "hooks.prestart[0].env[1]: \"B\" is not NAME=VALUE",
            ),
        ] {
            let h = hooks(json);
            let e = check(&h).unwrap_err().to_string();
            assert!(e.starts_with(want), "{json}: {e}");
            // run() checks first, whatever the kind.
            let e = run(Some(&h), Kind::Poststop, STATE, Path::new("/")).unwrap_err();
            assert!(e.to_string().starts_with(want));
        }
        check(&hooks(
            r#"{"createRuntime": [{"path": "/bin/true", "timeout": 5}], "poststop": [{"path": "/bin/true"}]}"#,
        ))
        .unwrap();
    }
}

//! The runtime's state: one directory per container under `--root`, holding
//! `state.json` (what `state` prints, and what the other commands need) and, while
//! the container waits for `start`, the `exec.fifo` its process blocks on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// The OCI spec version hutch implements (`--version`, `state`).
pub const OCI_VERSION: &str = "1.0.2";

/// What is kept about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    /// The container process, in the runtime's pid namespace.
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat): a recycled pid is not ours.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The cgroup hutch made for the container (removed by `delete`).
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// On a hybrid host, the v1 cgroups that hold the pids and memory limits.
    #[serde(default)]
    pub cgroups_v1: Vec<PathBuf>,
    /// The container's own user namespace, if it has one (for `exec`).
    #[serde(default)]
    pub own_userns: bool,
}

/// The default `--root`: /run/hutch-oci for root (in the initial user namespace),
/// $XDG_RUNTIME_DIR/hutch-oci otherwise (rootless podman runs the runtime as uid 0 of
/// its own user namespace, where /run is not writable).
pub fn default_root() -> PathBuf {
    let init_userns = std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    if nix::unistd::geteuid().is_root() && init_userns {
        return PathBuf::from("/run/hutch-oci");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("hutch-oci"),
        _ => PathBuf::from(format!("/tmp/hutch-oci-{}", nix::unistd::geteuid())),
    }
}

/// A container id: what runc accepts (letters, digits, `_+-.`), no path tricks.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!("invalid container id: {id:?}")))
    }
}

pub struct Store {
    pub root: PathBuf,
}

impl Store {
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join("exec.fifo")
    }

    /// Make the container's directory; an existing one is an error.
    pub fn create_dir(&self, id: &str) -> Result<PathBuf> {
        check_id(id)?;
        std::fs::create_dir_all(&self.root).ctx(|| format!("--root {}", self.root.display()))?;
        let dir = self.dir(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::msg(format!("container {id} already exists")))
            }
            Err(e) => Err(Error::io(format!("Can't create {}", dir.display()), e)),
        }
    }

    pub fn save(&self, s: &Saved) -> Result<()> {
        let path = self.dir(&s.id).join("state.json");
        let tmp = self.dir(&s.id).join("state.json.tmp");
        let text = serde_json::to_string(s).map_err(|e| Error::msg(e.to_string()))?;
        std::fs::write(&tmp, text).ctx(|| format!("Can't write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).ctx(|| format!("Can't write {}", path.display()))
    }

    pub fn load(&self, id: &str) -> Result<Saved> {
        check_id(id)?;
        let path = self.dir(id).join("state.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::msg(format!("container {id} does not exist")))
            }
            Err(e) => return Err(Error::io(format!("Can't read {}", path.display()), e)),
        };
        serde_json::from_str(&text).map_err(|e| Error::msg(format!("{}: {e}", path.display())))
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("Can't remove {}", dir.display()), e)),
        }
    }
}

/// Field 22 of /proc/PID/stat (start time in clock ticks), and whether it is a zombie.
pub fn proc_stat(pid: i32) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, *state == "Z" || *state == "X"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Whether the container's process is still ours and alive.
pub fn alive(s: &Saved) -> bool {
    matches!(proc_stat(s.pid), Some((start, false)) if start == s.start_time)
}

pub fn status(store: &Store, s: &Saved) -> Status {
    if !alive(s) {
        return Status::Stopped;
    }
    if store.fifo(&s.id).exists() {
        return Status::Created;
    }
    if let Some(cg) = &s.cgroup {
        if let Ok(events) = std::fs::read_to_string(cg.join("cgroup.events")) {
            if events.lines().any(|l| l == "frozen 1") {
                return Status::Paused;
            }
        }
    }
    Status::Running
}

/// The OCI state JSON (`state ID`).
pub fn state_json(store: &Store, s: &Saved) -> String {
    let st = status(store, s);
    let mut v = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": s.id,
        "status": st.name(),
        "bundle": s.bundle,
        "created": s.created,
        "annotations": s.annotations,
    });
    if st != Status::Stopped {
        v["pid"] = serde_json::json!(s.pid);
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// The state JSON that hooks read on their stdin.
pub fn hook_state(id: &str, status: &str, pid: i32, bundle: &Path) -> String {
    serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
    })
    .to_string()
}

/// RFC 3339 time in UTC, without a date crate.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

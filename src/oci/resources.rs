//! `linux.resources` onto hutch's cgroup settings ([`Limits`]: memory.max,
//! memory.swap.max, cpu.max, pids.max, io.weight, as `--memory`, `--memory-swap`,
//! `--cpus`, `--pids` and `--io-weight` set them; and [`cpu_shares`], cpu.weight, which
//! hutch's own command line does not set), and [`apply`], which writes them into the
//! container's cgroup v2 directory. Anything else is refused with the field's path:
//!
//! - `memory.limit` → memory.max; `memory.swap` (memory and swap together, as OCI and
//!   cgroup v1 count it) → memory.swap.max = swap − limit; −1 is unlimited, 0 unset;
//!   `disableOOMKiller: false` and `checkBeforeUpdate` change nothing. Refused:
//!   `reservation`, `kernel`, `kernelTCP`, `swappiness`, `disableOOMKiller: true`,
//!   `useHierarchy: true`;
//! - `cpu.quota`/`cpu.period` → cpu.max, the quota scaled to hutch's 100 ms period (the
//!   same share of a CPU; −1 or 0 is unlimited). `cpu.shares` (cgroup v1's weight,
//!   clamped to the kernel's 2-262144; 0 is unset, as Docker uses it) → cpu.weight
//!   (1-10000), converted linearly as crun and runc 1.1 do ([`shares_to_weight`]: 1024,
//!   v1's default, gives 39). Refused: `cpus` and `mems` (cpusets),
//!   `realtimeRuntime`/`realtimePeriod`, `idle`, `burst`;
//! - `pids.limit` → pids.max (−1 or 0: unlimited);
//! - `blockIO.weight` (10-1000) → io.weight (1-10000), converted as runc and crun do.
//!   Refused: `leafWeight`, `weightDevice`, the `throttle*` lists;
//! - `devices`: hutch applies no device cgroup; the container reaches the device nodes
//!   its /dev holds (the standard ones and `linux.devices`). So the rules are accepted
//!   when they deny everything first (runc's, crun's and podman's default) and then
//!   allow; a rule denying a particular device, or a deny-all after allow rules, is
//!   refused;
//! - `hugepageLimits`, `network`, `rdma`, `unified`: refused when not empty.

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use crate::error::{Error, Result};
use crate::limits::{Limits, CPU_PERIOD_US};

fn refuse(path: &str, why: impl std::fmt::Display) -> Error {
    Error::msg(format!("linux.resources.{path}: {why}"))
}

/// A byte count: `Some(n)` for n > 0, `None` for 0 (unset) and −1 (unlimited).
fn bytes(path: &str, v: Option<i64>) -> Result<Option<u64>> {
    match v {
        None | Some(0) | Some(-1) => Ok(None),
        Some(n) if n > 0 => Ok(Some(n as u64)),
        Some(n) => Err(refuse(
            path,
            format!("{n} is not a size (use -1 for unlimited)"),
        )),
    }
}

/// `linux.resources` as hutch's cgroup limits; every field hutch cannot apply is an
/// error naming it.
pub fn limits(r: &LinuxResources) -> Result<Limits> {
    let mut l = Limits::default();
    devices(r.devices().as_deref().unwrap_or_default())?;
    if let Some(m) = r.memory() {
        let unsupported = [
            ("memory.reservation", m.reservation().is_some()),
            ("memory.kernel", m.kernel().is_some()),
            ("memory.kernelTCP", m.kernel_tcp().is_some()),
            ("memory.swappiness", m.swappiness().is_some()),
            (
                "memory.disableOOMKiller",
                m.disable_oom_killer() == Some(true),
            ),
            ("memory.useHierarchy", m.use_hierarchy() == Some(true)),
        ];
        if let Some((path, _)) = unsupported.iter().find(|(_, set)| *set) {
            return Err(refuse(path, "not supported by hutch"));
        }
        l.memory = bytes("memory.limit", m.limit())?;
        match (m.swap(), l.memory) {
            (None | Some(0) | Some(-1), _) => {}
            (Some(_), None) => {
                return Err(refuse(
                    "memory.swap",
                    "a swap limit needs memory.limit (swap counts memory and swap together)",
                ))
            }
            (Some(s), Some(mem)) => {
                let s = bytes("memory.swap", Some(s))?.unwrap_or(0);
                if s < mem {
                    return Err(refuse(
                        "memory.swap",
                        format!("{s} is below memory.limit {mem} (swap counts memory and swap together)"),
                    ));
                }
                l.memory_swap = Some(s - mem);
            }
        }
    }
    if let Some(c) = r.cpu() {
        let unsupported = [
            (
                "cpu.cpus",
                c.cpus().as_ref().is_some_and(|s| !s.is_empty()),
                "hutch sets no cpuset",
            ),
            (
                "cpu.mems",
                c.mems().as_ref().is_some_and(|s| !s.is_empty()),
                "hutch sets no cpuset",
            ),
            (
                "cpu.realtimeRuntime",
                c.realtime_runtime().is_some(),
                "not supported by hutch",
            ),
            (
                "cpu.realtimePeriod",
                c.realtime_period().is_some(),
                "not supported by hutch",
            ),
            (
                "cpu.idle",
                c.idle().is_some_and(|i| i != 0),
                "not supported by hutch",
            ),
            (
                "cpu.burst",
                c.burst().is_some_and(|b| b != 0),
                "not supported by hutch",
            ),
        ];
        if let Some((path, _, why)) = unsupported.iter().find(|(_, set, _)| *set) {
            return Err(refuse(path, why));
        }
        let period = c.period().unwrap_or(CPU_PERIOD_US);
        if !(1000..=1_000_000).contains(&period) {
            return Err(refuse(
                "cpu.period",
                format!("{period} is out of range (1000 to 1000000 microseconds)"),
            ));
        }
        match c.quota() {
            None | Some(0) | Some(-1) => {}
            Some(q) if q > 0 => {
                let scaled =
                    (q as u128 * CPU_PERIOD_US as u128 + period as u128 / 2) / period as u128;
                if scaled < 1000 {
                    return Err(refuse(
                        "cpu.quota",
                        format!(
                            "{q} per {period} is below the kernel's least share (1 ms per 100 ms)"
                        ),
                    ));
                }
                l.cpu_quota = Some(u64::try_from(scaled).unwrap_or(u64::MAX));
            }
            Some(q) => return Err(refuse("cpu.quota", format!("{q} (use -1 for unlimited)"))),
        }
    }
    if let Some(p) = r.pids() {
        match p.limit() {
            0 | -1 => {}
            n if n > 0 => l.pids = Some(n as u64),
            n => return Err(refuse("pids.limit", format!("{n} (use -1 for unlimited)"))),
        }
    }
    if let Some(b) = r.block_io() {
        let unsupported = [
            ("blockIO.leafWeight", b.leaf_weight().is_some()),
            (
                "blockIO.weightDevice",
                b.weight_device().as_ref().is_some_and(|v| !v.is_empty()),
            ),
            (
                "blockIO.throttleReadBpsDevice",
                b.throttle_read_bps_device()
                    .as_ref()
                    .is_some_and(|v| !v.is_empty()),
            ),
            (
                "blockIO.throttleWriteBpsDevice",
                b.throttle_write_bps_device()
                    .as_ref()
                    .is_some_and(|v| !v.is_empty()),
            ),
            (
                "blockIO.throttleReadIOPSDevice",
                b.throttle_read_iops_device()
                    .as_ref()
                    .is_some_and(|v| !v.is_empty()),
            ),
            (
                "blockIO.throttleWriteIOPSDevice",
                b.throttle_write_iops_device()
                    .as_ref()
                    .is_some_and(|v| !v.is_empty()),
            ),
        ];
        if let Some((path, _)) = unsupported.iter().find(|(_, set)| *set) {
            return Err(refuse(path, "not supported by hutch"));
        }
        match b.weight() {
            None | Some(0) => {}
            Some(w) if (10..=1000).contains(&w) => {
                // cgroup v1's blkio.weight onto v2's io.weight, as runc and crun convert it.
                l.io_weight = Some((1 + (u32::from(w) - 10) * 9999 / 990) as u16);
            }
            Some(w) => {
                return Err(refuse(
                    "blockIO.weight",
                    format!("{w} is out of range (10 to 1000)"),
                ))
            }
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(refuse("hugepageLimits", "not supported by hutch"));
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(refuse(
                "network",
                "not supported by hutch (cgroup v1 net_cls/net_prio)",
            ));
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(refuse("rdma", "not supported by hutch"));
    }
    if let Some(u) = r.unified().as_ref().filter(|m| !m.is_empty()) {
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        return Err(refuse(
            &format!("unified.{}", keys[0]),
            "cgroup v2 files by name are not supported by hutch",
        ));
    }
    Ok(l)
}

/// cgroup v1's cpu.shares range: the kernel's MIN_SHARES and MAX_SHARES.
pub const SHARES_MIN: u64 = 2;
pub const SHARES_MAX: u64 = 1 << 18;

/// `linux.resources.cpu.shares`, clamped to the kernel's range (as v1's cpu.shares
/// clamps what is written to it); `None` when unset or 0 (Docker's "no value", which
/// crun and runc skip too). cgroup v2 takes it as [`shares_to_weight`].
pub fn cpu_shares(r: &LinuxResources) -> Option<u64> {
    r.cpu()
        .as_ref()?
        .shares()
        .filter(|s| *s != 0)
        .map(|s| s.clamp(SHARES_MIN, SHARES_MAX))
}

/// cgroup v2's cpu.weight (1-10000) for v1's cpu.shares (2-262144), linearly, as crun
/// (`convert_shares_to_weight`) and runc 1.1 (`ConvertCPUSharesToCgroupV2Value`) convert
/// it: 1 + (shares − 2) × 9999 / 262142, shares clamped first. (runc 1.3 and later, and
/// recent crun, moved to a curve through 1024 → 100; Debian 12's crun 1.8 and runc 1.1
/// are linear.)
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(SHARES_MIN, SHARES_MAX);
    1 + (s - SHARES_MIN) * 9999 / (SHARES_MAX - SHARES_MIN)
}

/// The device cgroup rules: a deny-all first, then allow rules only.
fn devices(rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let deny_all = |d: &LinuxDeviceCgroup| {
        !d.allow()
            && matches!(d.typ(), None | Some(LinuxDeviceType::A))
            && d.major().is_none_or(|m| m < 0)
            && d.minor().is_none_or(|m| m < 0)
            && d.access()
                .as_deref()
                .is_none_or(|a| a.is_empty() || ['r', 'w', 'm'].iter().all(|c| a.contains(*c)))
    };
    for (i, d) in rules.iter().enumerate() {
        if d.allow() {
            continue;
        }
        if i == 0 && deny_all(d) {
            continue;
        }
        return Err(refuse(
            &format!("devices[{i}]"),
            "hutch applies no device cgroup, so it denies no particular device (the container \
             reaches the nodes in its /dev: the standard ones and linux.devices); only a \
             deny-all first rule is accepted",
        ));
    }
    Ok(())
}

/// The cgroup v2 files for `l` and `shares`, as hutch's own cgroup code writes them
/// (src/stage/cgroup.rs); cpu.weight is the runtime's own.
fn files(l: &Limits, shares: Option<u64>) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = l.memory {
        out.push(("memory", "memory.max", m.to_string()));
    }
    if let Some(s) = l.memory_swap {
        out.push(("memory", "memory.swap.max", s.to_string()));
    }
    if let Some(q) = l.cpu_quota {
        out.push(("cpu", "cpu.max", format!("{q} {CPU_PERIOD_US}")));
    }
    if let Some(s) = shares {
        out.push(("cpu", "cpu.weight", shares_to_weight(s).to_string()));
    }
    if let Some(p) = l.pids {
        out.push(("pids", "pids.max", p.to_string()));
    }
    if let Some(w) = l.io_weight {
        out.push(("io", "io.weight", format!("default {w}")));
    }
    out
}

fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Make `controller` available in `dir`: enabled in the subtree_control of each
/// ancestor up to one that has it.
fn enable(dir: &Path, controller: &str) -> Result<()> {
    if words(&dir.join("cgroup.controllers"))
        .iter()
        .any(|c| c == controller)
    {
        return Ok(());
    }
    let parent = dir
        .parent()
        .filter(|p| p.join("cgroup.controllers").exists())
        .ok_or_else(|| {
            Error::msg(format!(
                "linux.resources: the cgroup controller {controller} is not available in {}",
                dir.display()
            ))
        })?;
    enable(parent, controller)?;
    let control = parent.join("cgroup.subtree_control");
    std::fs::write(&control, format!("+{controller}")).map_err(|e| {
        Error::io(
            format!(
                "linux.resources: cannot enable the {controller} controller in {}",
                control.display()
            ),
            e,
        )
    })
}

/// Apply `linux.resources` to the container's cgroup v2 directory `dir` (made by the
/// caller): the controllers enabled above it, then the limit files written.
pub fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    let l = limits(r)?;
    for (controller, file, value) in files(&l, cpu_shares(r)) {
        enable(dir, controller)?;
        let path = dir.join(file);
        std::fs::write(&path, &value).map_err(|e| {
            let hint = match file {
                "memory.swap.max" => {
                    " (no swap accounting in this kernel: boot with swapaccount=1)"
                }
                _ => "",
            };
            Error::io(
                format!(
                    "linux.resources: cannot write {value:?} to {}",
                    path.display()
                ),
                e,
            )
            .with_hint(hint)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn err(json: &str) -> String {
        limits(&parse(json)).unwrap_err().to_string()
    }

    #[test]
    fn the_mapping() {
        let l = limits(&parse(
            r#"{"memory": {"limit": 268435456, "swap": 536870912, "disableOOMKiller": false},
                "cpu": {"quota": 50000, "period": 100000},
                "pids": {"limit": 2048},
                "blockIO": {"weight": 500}}"#,
        ))
        .unwrap();
        assert_eq!(l.memory, Some(256 << 20));
        assert_eq!(l.memory_swap, Some(256 << 20));
        assert_eq!(l.cpu_quota, Some(50_000));
        assert_eq!(l.pids, Some(2048));
        // runc's conversion: 1 + (500 - 10) * 9999 / 990.
        assert_eq!(l.io_weight, Some(4950));
        // podman's 1.5 CPUs with another period: the same share.
        let l = limits(&parse(r#"{"cpu": {"quota": 15000, "period": 10000}}"#)).unwrap();
        assert_eq!(l.cpu_quota, Some(150_000));
        let l = limits(&parse(r#"{"cpu": {"quota": 1000}}"#)).unwrap();
        assert_eq!(l.cpu_quota, Some(1000));
        // Unlimited and unset.
        let l = limits(&parse(
            r#"{"memory": {"limit": -1, "swap": -1}, "cpu": {"quota": -1, "period": 100000},
                "pids": {"limit": -1}, "blockIO": {"weight": 0}}"#,
        ))
        .unwrap();
        assert_eq!(l, Limits::default());
        let l = limits(&parse(r#"{"memory": {"limit": 1048576, "swap": 1048576}}"#)).unwrap();
        assert_eq!((l.memory, l.memory_swap), (Some(1 << 20), Some(0)));
        assert_eq!(limits(&parse("{}")).unwrap(), Limits::default());
        assert_eq!(
            [10u16, 1000].map(|w| {
                limits(&parse(&format!(r#"{{"blockIO": {{"weight": {w}}}}}"#)))
                    .unwrap()
                    .io_weight
            }),
            [Some(1), Some(10000)]
        );
    }

    /// crun's and runc 1.1's linear conversion, at the ends of both ranges and between.
    #[test]
    fn shares_to_weight_as_crun() {
        for (shares, weight) in [
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 1),
            (28, 1),
            (29, 2),
            (1024, 39),
            (2048, 79),
            (262_142, 9999),
            (262_143, 9999),
            (262_144, 10000),
            (262_145, 10000),
            (u64::MAX, 10000),
        ] {
            assert_eq!(shares_to_weight(shares), weight, "{shares}");
        }
        // Monotonic, and onto the whole of 1-10000's ends.
        let w: Vec<u64> = (SHARES_MIN..=SHARES_MAX)
            .step_by(997)
            .map(shares_to_weight)
            .collect();
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
        let shares = |json: &str| cpu_shares(&parse(json));
        assert_eq!(shares(r#"{"cpu": {"shares": 1024}}"#), Some(1024));
        assert_eq!(shares(r#"{"cpu": {"shares": 1}}"#), Some(2));
        assert_eq!(shares(r#"{"cpu": {"shares": 300000}}"#), Some(262_144));
        // 0 is unset (Docker's "no value"), as is no cpu at all.
        assert_eq!(shares(r#"{"cpu": {"shares": 0}}"#), None);
        assert_eq!(shares(r#"{"cpu": {"quota": 1000}}"#), None);
        assert_eq!(shares("{}"), None);
        // Accepted beside the rest, and no cgroup limit of hutch's own.
        assert_eq!(
            limits(&parse(r#"{"cpu": {"shares": 1024}}"#)).unwrap(),
            Limits::default()
        );
    }

    #[test]
    fn default_device_rules_pass() {
        // runc spec, crun spec, podman.
        for json in [
            r#"{"devices": [{"allow": false, "access": "rwm"}]}"#,
            r#"{"devices": [{"allow": false, "type": "a", "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rwm"},
                {"allow": true, "type": "c", "access": "m"},
                {"allow": true, "type": "b", "access": "m"}]}"#,
            r#"{"devices": []}"#,
        ] {
            limits(&parse(json)).unwrap();
        }
    }

    #[test]
    fn refusals_name_the_field() {
        for (json, want) in [
            (
                r#"{"memory": {"reservation": 1}}"#,
                "linux.resources.memory.reservation: not supported",
            ),
            (
                r#"{"memory": {"kernel": 1}}"#,
                "linux.resources.memory.kernel: ",
            ),
            (
                r#"{"memory": {"kernelTCP": 1}}"#,
                "linux.resources.memory.kernelTCP: ",
            ),
            (
                r#"{"memory": {"swappiness": 60}}"#,
                "linux.resources.memory.swappiness: ",
            ),
            (
                r#"{"memory": {"disableOOMKiller": true}}"#,
                "linux.resources.memory.disableOOMKiller: ",
            ),
            (
                r#"{"memory": {"useHierarchy": true}}"#,
                "linux.resources.memory.useHierarchy: ",
            ),
            (
                r#"{"memory": {"limit": -5}}"#,
                "linux.resources.memory.limit: -5 is not a size",
            ),
            (
                r#"{"memory": {"swap": 100}}"#,
                "linux.resources.memory.swap: a swap limit needs memory.limit",
            ),
            (
                r#"{"memory": {"limit": 200, "swap": 100}}"#,
                "linux.resources.memory.swap: 100 is below memory.limit 200",
            ),
            (
                r#"{"cpu": {"cpus": "0-1"}}"#,
                "linux.resources.cpu.cpus: hutch sets no cpuset",
            ),
            (r#"{"cpu": {"mems": "0"}}"#, "linux.resources.cpu.mems: "),
            (
                r#"{"cpu": {"realtimeRuntime": 1}}"#,
                "linux.resources.cpu.realtimeRuntime: ",
            ),
            (
                r#"{"cpu": {"realtimePeriod": 1}}"#,
                "linux.resources.cpu.realtimePeriod: ",
            ),
            (r#"{"cpu": {"idle": 1}}"#, "linux.resources.cpu.idle: "),
            (r#"{"cpu": {"burst": 1}}"#, "linux.resources.cpu.burst: "),
            (
                r#"{"cpu": {"quota": 500}}"#,
                "linux.resources.cpu.quota: 500 per 100000 is below",
            ),
            (r#"{"cpu": {"quota": -2}}"#, "linux.resources.cpu.quota: -2"),
            (
                r#"{"cpu": {"quota": 5000, "period": 100}}"#,
                "linux.resources.cpu.period: 100 is out of range",
            ),
            (
                r#"{"pids": {"limit": -3}}"#,
                "linux.resources.pids.limit: -3",
            ),
            (
                r#"{"blockIO": {"weight": 5}}"#,
                "linux.resources.blockIO.weight: 5 is out of range",
            ),
            (
                r#"{"blockIO": {"leafWeight": 10}}"#,
                "linux.resources.blockIO.leafWeight: ",
            ),
            (
                r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 10}]}}"#,
                "linux.resources.blockIO.weightDevice: ",
            ),
            (
                r#"{"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 10}]}}"#,
                "linux.resources.blockIO.throttleReadBpsDevice: ",
            ),
            (
                r#"{"blockIO": {"throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 10}]}}"#,
                "linux.resources.blockIO.throttleWriteBpsDevice: ",
            ),
            (
                r#"{"blockIO": {"throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]}}"#,
                "linux.resources.blockIO.throttleReadIOPSDevice: ",
            ),
            (
                r#"{"blockIO": {"throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]}}"#,
                "linux.resources.blockIO.throttleWriteIOPSDevice: ",
            ),
            (
                r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
                "linux.resources.hugepageLimits: ",
            ),
            (
                r#"{"network": {"classID": 1}}"#,
                "linux.resources.network: ",
            ),
            (
                r#"{"rdma": {"mlx": {"hcaHandles": 1}}}"#,
                "linux.resources.rdma: ",
            ),
            (
                r#"{"unified": {"memory.high": "1G", "io.max": "x"}}"#,
                "linux.resources.unified.io.max: ",
            ),
            (
                r#"{"devices": [{"allow": true, "access": "rwm"}, {"allow": false, "access": "rwm"}]}"#,
                "linux.resources.devices[1]: hutch applies no device cgroup",
            ),
            (
                r#"{"devices": [{"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}"#,
                "linux.resources.devices[0]: ",
            ),
            (
                r#"{"devices": [{"allow": false, "access": "w"}]}"#,
                "linux.resources.devices[0]: ",
            ),
        ] {
            let got = err(json);
            assert!(got.starts_with(want), "{json}: {got}");
        }
    }

    /// On a fake cgroup tree: controllers enabled from the first ancestor that has them,
    /// then the files.
    #[test]
    fn apply_writes_the_files() {
        let root = tempfile::tempdir().unwrap();
        let top = root.path();
        std::fs::write(top.join("cgroup.controllers"), "cpu io memory pids").unwrap();
        let mid = top.join("libpod_parent");
        let dir = mid.join("libpod-1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(mid.join("cgroup.controllers"), "").unwrap();
        std::fs::write(dir.join("cgroup.controllers"), "").unwrap();
        let r = parse(
            r#"{"memory": {"limit": 1048576, "swap": 2097152}, "pids": {"limit": 16},
            "cpu": {"quota": 20000, "period": 50000, "shares": 1024},
            "blockIO": {"weight": 100}}"#,
        );
        apply(&dir, &r).unwrap();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&dir.join("memory.max")), "1048576");
        assert_eq!(read(&dir.join("memory.swap.max")), "1048576");
        assert_eq!(read(&dir.join("pids.max")), "16");
        assert_eq!(read(&dir.join("cpu.max")), "40000 100000");
        assert_eq!(read(&dir.join("cpu.weight")), "39");
        assert_eq!(read(&dir.join("io.weight")), "default 910");
        // A fake file keeps the last write: the last controller enabled.
        assert_eq!(read(&top.join("cgroup.subtree_control")), "+io");
        assert_eq!(read(&mid.join("cgroup.subtree_control")), "+io");
        // A controller nowhere above.
        std::fs::write(top.join("cgroup.controllers"), "memory").unwrap();
        let e = apply(&dir, &parse(r#"{"pids": {"limit": 16}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the cgroup controller pids is not available"),
            "{e}"
        );
        // The weight needs the cpu controller, as cpu.max does.
        let e = apply(&dir, &parse(r#"{"cpu": {"shares": 2}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the cgroup controller cpu is not available"),
            "{e}"
        );
        // Refusals come before any write.
        std::fs::remove_file(dir.join("cpu.weight")).unwrap();
        std::fs::write(top.join("cgroup.controllers"), "cpu memory").unwrap();
        let e = apply(&dir, &parse(r#"{"cpu": {"shares": 2, "idle": 1}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.resources.cpu.idle"), "{e}");
        assert!(!dir.join("cpu.weight").exists());
    }
}

//! What hutch reports about a sandbox: bwrap's `--info-fd` and `--json-status-fd` JSON.

use std::os::unix::fs::MetadataExt;

use crate::spec::Spec;

/// The namespaces created for the child, with their inode numbers, in bwrap's order.
pub fn namespace_ids(pid: i32, spec: &Spec, cgroup_ns: bool) -> Vec<(&'static str, u64)> {
    let wanted = [
        ("cgroup", cgroup_ns),
        ("ipc", spec.ns.ipc),
        ("mnt", true),
        ("net", spec.ns.net),
        ("pid", spec.ns.pid),
        ("uts", spec.ns.uts),
    ];
    wanted
        .iter()
        .filter(|(_, on)| *on)
        .filter_map(|(name, _)| {
            let ino = std::fs::metadata(format!("/proc/{pid}/ns/{name}"))
                .ok()?
                .ino();
            (ino != 0).then_some((*name, ino))
        })
        .collect()
}

/// `--info-fd`: one pretty-printed object.
pub fn info_json(pid: i32, ids: &[(&str, u64)]) -> String {
    let mut s = format!("{{\n    \"child-pid\": {pid}");
    for (name, ino) in ids {
        s.push_str(&format!(",\n    \"{name}-namespace\": {ino}"));
    }
    s.push_str("\n}\n");
    s
}

/// `--json-status-fd`: the first line of the stream.
pub fn status_json(pid: i32, ids: &[(&str, u64)]) -> String {
    let mut s = format!("{{ \"child-pid\": {pid}");
    for (name, ino) in ids {
        s.push_str(&format!(", \"{name}-namespace\": {ino}"));
    }
    s.push_str(" }\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_bwrap() {
        let ids = [("mnt", 4026532178u64), ("pid", 4026532181)];
        assert_eq!(
            info_json(42, &ids),
            "{\n    \"child-pid\": 42,\n    \"mnt-namespace\": 4026532178,\n    \"pid-namespace\": 4026532181\n}\n"
        );
        assert_eq!(
            status_json(42, &ids),
            "{ \"child-pid\": 42, \"mnt-namespace\": 4026532178, \"pid-namespace\": 4026532181 }\n"
        );
    }
}

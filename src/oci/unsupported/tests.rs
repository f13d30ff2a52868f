//! Bundles that must pass (podman 4.3's, as root on this machine; `crun spec` and
//! `runc spec`, with and without `--rootless`; a rootless podman shape), and each
//! unsupported field refused by its path.

use super::*;
use serde_json::{json, Value};

const PODMAN_ROOT: &str = include_str!("podman-root.json");
const SPECS: [(&str, &str); 4] = [
    ("crun spec", include_str!("spec-crun.json")),
    (
        "crun spec --rootless",
        include_str!("spec-crun-rootless.json"),
    ),
    ("runc spec", include_str!("spec-runc.json")),
    (
        "runc spec --rootless",
        include_str!("spec-runc-rootless.json"),
    ),
];

fn value(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn check_value(v: &Value) -> Result<Spec> {
    check_json(&v.to_string())
}

/// podman's root bundle made rootless the way podman 4.3 does it (PODMAN-NOTES.md):
/// namespaces joined by path, id mappings, /sys bound, no cgroup; plus `--read-only`'s
/// tmpfs with tmpcopyup and a read-only volume.
fn podman_rootless() -> Value {
    let mut v = value(PODMAN_ROOT);
    let l = &mut v["linux"];
    l["namespaces"] = json!([
        {"type": "pid"}, {"type": "network", "path": "/proc/4242/ns/net"}, {"type": "ipc"},
        {"type": "uts"}, {"type": "mount"}, {"type": "user", "path": "/proc/4241/ns/user"}
    ]);
    l["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}]);
    l["gidMappings"] = l["uidMappings"].clone();
    l.as_object_mut().unwrap().remove("resources");
    l.as_object_mut().unwrap().remove("cgroupsPath");
    let mounts = v["mounts"].as_array_mut().unwrap();
    mounts[2] = json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rprivate", "nosuid", "noexec", "nodev", "rbind", "ro"]});
    mounts.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}));
    mounts.push(json!({"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["ro", "rprivate", "nosuid", "nodev", "rbind"]}));
    v["root"]["readonly"] = json!(true);
    v["process"]["terminal"] = json!(true);
    v["process"]["consoleSize"] = json!({"height": 24, "width": 80});
    v
}

#[test]
fn typical_bundles_pass() {
    let podman = check_json(PODMAN_ROOT).unwrap();
    // Its seccomp profile is podman's own (argument conditions, defaultErrnoRet).
    assert!(podman.linux().as_ref().unwrap().seccomp().is_some());
    for (name, json) in SPECS {
        check_json(json).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    check_value(&podman_rootless()).unwrap();
}

/// Set `pointer` (a JSON pointer) in podman's bundle to `v`; the error.
fn refused(pointer: &str, v: Value) -> String {
    let mut spec = value(PODMAN_ROOT);
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let slot = spec
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{parent}"));
    match slot {
        Value::Object(o) => {
            o.insert(key.to_string(), v);
        }
        Value::Array(a) => {
            let i: usize = key.parse().unwrap();
            if i < a.len() {
                a[i] = v;
            } else {
                a.push(v);
            }
        }
        _ => panic!("{pointer}"),
    }
    check_value(&spec).unwrap_err().to_string()
}

#[test]
fn each_unsupported_field_is_named() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/ociVersion", json!("2.0.0"), "ociVersion: \"2.0.0\""),
        (
            "/domainname",
            json!("example.org"),
            "domainname: not supported",
        ),
        (
            "/process/ioPriority",
            json!({"class": "IOPRIO_CLASS_RT", "priority": 1}),
            "process.ioPriority: ",
        ),
        (
            "/process/scheduler",
            json!({"policy": "SCHED_FIFO", "priority": 1}),
            "process.scheduler: ",
        ),
        (
            "/process/execCPUAffinity",
            json!({"initial": "0"}),
            "process.execCPUAffinity: ",
        ),
        (
            "/process/apparmorProfile",
            json!("containers-default"),
            "process.apparmorProfile: ",
        ),
        (
            "/process/selinuxLabel",
            json!("system_u:system_r:container_t:s0"),
            "process.selinuxLabel: ",
        ),
        (
            "/process/commandLine",
            json!("cmd.exe"),
            "process.commandLine: Windows only",
        ),
        (
            "/process/user/username",
            json!("Administrator"),
            "process.user.username: Windows only",
        ),
        ("/process/args", json!([]), "process.args: missing or empty"),
        (
            "/process/cwd",
            json!("relative"),
            "process.cwd: relative is not an absolute path",
        ),
        (
            "/linux/intelRdt",
            json!({"closID": "x"}),
            "linux.intelRdt: ",
        ),
        (
            "/linux/personality",
            json!({"domain": "LINUX32"}),
            "linux.personality: ",
        ),
        (
            "/linux/timeOffsets",
            json!({"monotonic": {"secs": 1}}),
            "linux.timeOffsets: ",
        ),
        (
            "/linux/memoryPolicy",
            json!({"mode": "MPOL_BIND", "nodes": "0"}),
            "linux.memoryPolicy: ",
        ),
        (
            "/linux/netDevices",
            json!({"eth1": {"name": "eth1"}}),
            "linux.netDevices: ",
        ),
        (
            "/linux/mountLabel",
            json!("system_u:object_r:container_file_t:s0"),
            "linux.mountLabel: ",
        ),
        (
            "/linux/rootfsPropagation",
            json!("shared"),
            "linux.rootfsPropagation: \"shared\"",
        ),
        (
            "/linux/rootfsPropagation",
            json!("rshared"),
            "linux.rootfsPropagation: ",
        ),
        (
            "/linux/namespaces/5",
            json!({"type": "time"}),
            "linux.namespaces[5]: time namespaces",
        ),
        (
            "/linux/devices",
            json!([{"path": "dev/fuse", "type": "c", "major": 10, "minor": 229}]),
            "linux.devices[0].path: ",
        ),
        (
            "/linux/resources/cpu",
            json!({"shares": 512, "cpus": "0-1"}),
            "linux.resources.cpu.cpus: ",
        ),
        (
            "/linux/resources/hugepageLimits",
            json!([{"pageSize": "2MB", "limit": 1}]),
            "linux.resources.hugepageLimits: ",
        ),
        (
            "/linux/seccomp/defaultAction",
            json!("SCMP_ACT_NOTIFY"),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported",
        ),
        (
            "/linux/seccomp/flags",
            json!(["SECCOMP_FILTER_FLAG_LOG"]),
            "linux.seccomp.flags[0]: ",
        ),
        (
            "/hooks",
            json!({"createContainer": [{"path": "/bin/true"}]}),
            "hooks.createContainer[0]: ",
        ),
        (
            "/hooks",
            json!({"poststop": [{"path": "true"}]}),
            "hooks.poststop[0].path: ",
        ),
        ("/solaris", json!({"milestone": "x"}), "solaris: "),
        ("/windows", json!({"layerFolders": []}), "windows: "),
        ("/vm", json!({"kernel": {"path": "/vmlinuz"}}), "vm: "),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "nfs", "source": "srv:/x"}),
            "mounts[10].type: \"nfs\" on /mnt is not supported",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "overlay", "source": "overlay"}),
            "mounts[10].type: \"overlay\"",
        ),
        (
            "/mounts/10",
            json!({"destination": "mnt", "type": "bind", "source": "/x", "options": ["rbind"]}),
            "mounts[10].destination: mnt is not an absolute path",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind", "suid"]}),
            "mounts[10].options[1]: \"suid\" on the bind mount on /mnt",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind", "rshared"]}),
            "mounts[10].options[1]: \"rshared\"",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind", "idmap"]}),
            "mounts[10].options[1]: \"idmap\"",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind"], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}),
            "mounts[10].uidMappings: idmapped mounts",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["uid=1000"]}),
            "mounts[10].options[0]: \"uid=1000\" on the tmpfs mount",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["mode=8"]}),
            "mounts[10].options[0]: \"mode=8\"",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "proc", "source": "proc", "options": ["hidepid=2"]}),
            "mounts[10].options[0]: \"hidepid=2\" on the proc mount",
        ),
        (
            "/mounts/3",
            json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "gid=tty"]}),
            "mounts[3].options[1]: \"gid=tty\" on the devpts mount on /dev/pts: not a group id",
        ),
        (
            "/mounts/3",
            json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "max=10"]}),
            "mounts[3].options[1]: \"max=10\" on the devpts mount on /dev/pts: not supported",
        ),
        (
            "/mounts/3",
            json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["exec"]}),
            "mounts[3].options[0]: \"exec\" on the devpts mount on /dev/pts: hutch mounts devpts noexec",
        ),
        (
            "/mounts/0",
            json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["exec"]}),
            "mounts[0].options[0]: \"exec\" on the proc mount on /proc: hutch mounts proc noexec",
        ),
        (
            "/mounts/1",
            json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}),
            "mounts[1].options[0]: \"tmpcopyup\" on the tmpfs mount on /dev: hutch's /dev",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["dev"]}),
            "mounts[10].options[0]: \"dev\" on the tmpfs mount on /mnt: hutch mounts tmpfs nodev",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["size=lots"]}),
            "mounts[10].options[0]: \"size=lots\" on the tmpfs mount on /mnt: not a size",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "mqueue", "source": "mqueue", "options": ["tmpcopyup"]}),
            "mounts[10].options[0]: \"tmpcopyup\" on the mqueue mount",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind", "ridmap"]}),
            "mounts[10].options[1]: \"ridmap\"",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind", "unbindable"]}),
            "mounts[10].options[1]: \"unbindable\"",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind", "rexec"]}),
            "mounts[10].options[1]: \"rexec\"",
        ),
        (
            "/mounts/9",
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rw"]}),
            "mounts[9].options[0]: \"rw\" on the cgroup mount on /sys/fs/cgroup: hutch binds the host's cgroups read-only",
        ),
        (
            "/linux/devices",
            json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 3}]),
            "linux.devices[0].type: ",
        ),
        (
            "/linux/devices",
            json!([{"path": "/dev/x", "type": "c", "major": -1, "minor": 3}]),
            "linux.devices[0].major: -1 is not a device number",
        ),
        (
            "/process/consoleSize",
            json!({"height": 70000, "width": 80}),
            "process.consoleSize.height: 70000 is out of range",
        ),
        (
            "/mounts/10",
            json!({"destination": "/mnt/pts", "type": "devpts", "source": "devpts"}),
            "mounts[10].destination: devpts on /mnt/pts",
        ),
        (
            "/linux/sysctl",
            json!({"vm.overcommit_memory": "1"}),
            "linux.sysctl.vm.overcommit_memory: not a namespaced sysctl",
        ),
        (
            "/linux/sysctl",
            json!({"kernel.randomize_va_space": "0"}),
            "linux.sysctl.kernel.randomize_va_space: not a namespaced",
        ),
        (
            "/linux/maskedPaths/0",
            json!("proc/kcore"),
            "linux.maskedPaths[0]: proc/kcore is not an absolute path",
        ),
        (
            "/linux/readonlyPaths/0",
            json!("proc/sys"),
            "linux.readonlyPaths[0]: ",
        ),
        // Fields the parser does not know.
        (
            "/linux/landlock",
            json!({"ruleset": {}}),
            "linux.landlock: an unknown field",
        ),
        (
            "/process/user/sids",
            json!(["S-1"]),
            "process.user.sids: an unknown field",
        ),
        (
            "/mounts/0/flags",
            json!(["x"]),
            "mounts[0].flags: an unknown field",
        ),
    ];
    for (pointer, v, want) in cases {
        let got = refused(pointer, v.clone());
        assert!(got.starts_with(want), "{pointer} = {v}: {got}");
    }
    // Namespaced sysctls need their namespace.
    let mut spec = value(PODMAN_ROOT);
    spec["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "pid"}]);
    for (k, want) in [
        (
            "kernel.shmmax",
            "linux.sysctl.kernel.shmmax: needs an ipc namespace (new or joined)",
        ),
        (
            "fs.mqueue.msg_max",
            "linux.sysctl.fs.mqueue.msg_max: needs an ipc namespace",
        ),
        (
            "net.ipv4.ip_forward",
            "linux.sysctl.net.ipv4.ip_forward: needs a network namespace",
        ),
        (
            "kernel.hostname",
            "linux.sysctl.kernel.hostname: needs a uts namespace",
        ),
    ] {
        spec["linux"]["sysctl"] = json!({ k: "1" });
        let e = check_value(&spec).unwrap_err().to_string();
        assert!(e.starts_with(want), "{e}");
    }
    // Absent-or-empty values of known and unknown fields pass.
    let mut spec = value(PODMAN_ROOT);
    spec["linux"]["notYetInTheSpec"] = Value::Null;
    spec["domainname"] = json!("");
    spec["linux"]["timeOffsets"] = json!({});
    spec["process"]["apparmorProfile"] = json!("unconfined");
    // podman's default sysctl, and the other namespaced ones.
    spec["linux"]["sysctl"] = json!({"net.ipv4.ping_group_range": "0 0", "kernel.shmmax": "1",
        "fs.mqueue.msg_max": "10", "kernel.domainname": "x"});
    spec["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"},
        {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    check_value(&spec).unwrap();
    // Not JSON, not a spec.
    assert!(check_json("{")
        .unwrap_err()
        .to_string()
        .starts_with("config.json: "));
    assert!(check_json(r#"{"ociVersion": 1}"#)
        .unwrap_err()
        .to_string()
        .starts_with("config.json: "));
}

#[test]
fn missing_sections() {
    let mut spec = value(PODMAN_ROOT);
    spec.as_object_mut().unwrap().remove("process");
    assert_eq!(
        check_value(&spec).unwrap_err().to_string(),
        "process: missing"
    );
    let mut spec = value(PODMAN_ROOT);
    spec.as_object_mut().unwrap().remove("root");
    assert_eq!(check_value(&spec).unwrap_err().to_string(), "root: missing");
}

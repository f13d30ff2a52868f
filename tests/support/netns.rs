//! A hermetic network: a new network namespace with a loopback and an uplink that
//! leads nowhere, so that no packet of a test can reach a real network.

use super::sh;

/// Run `f` in a thread of its own in a new, private network namespace (needs root:
/// making it needs CAP_SYS_ADMIN). Its "host network" is a loopback plus a dummy, ifb
/// or veth device with 198.51.100.2/24 and a default route; 10.0.2.0/24 (the user
/// network's) is "prohibit"ed, so that a connection forwarded there fails at once
/// instead of timing out.
pub fn in_private_net(f: impl FnOnce() + Send + 'static) {
    assert!(super::is_root(), "a private network namespace needs root");
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        set_up();
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

/// Give the calling thread's new network namespace a loopback and a dead-end uplink.
fn set_up() {
    let lo = sh("ip link set lo up");
    assert!(lo.status.success(), "{lo:?}");
    let made = ["dummy", "ifb"]
        .iter()
        .any(|kind| sh(&format!("ip link add up0 type {kind}")).status.success())
        || sh("ip link add up0 type veth peer name up1 && ip link set up1 up")
            .status
            .success();
    assert!(made, "no dummy, ifb or veth device for the test's uplink");
    let o = sh("ip addr add 198.51.100.2/24 dev up0 && ip link set up0 up \
                && ip route add default via 198.51.100.1 \
                && ip route add prohibit 10.0.2.0/24");
    assert!(o.status.success(), "{o:?}");
}

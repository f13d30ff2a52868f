//! Capability sets: bwrap's defaults and `--cap-add`/`--cap-drop` in order.

use std::collections::HashSet;

use caps::{CapSet as Set, Capability};

use crate::error::{Error, Result};
use crate::spec::{CapOp, CapSet};
use crate::sys;

/// The highest capability number this kernel knows (read once).
fn last_cap() -> u8 {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

/// The capabilities this kernel knows.
pub fn supported() -> HashSet<Capability> {
    caps::all()
        .into_iter()
        .filter(|c| c.index() <= last_cap())
        .collect()
}

fn mask(set: &HashSet<Capability>) -> u64 {
    set.iter().fold(0, |m, c| m | 1u64 << c.index())
}

/// The caller's effective set (read before entering a new user namespace).
pub fn current_effective() -> HashSet<Capability> {
    caps::read(None, Set::Effective).unwrap_or_default()
}

/// The caller's permitted set: all that it can ever raise.
pub fn current_permitted() -> HashSet<Capability> {
    caps::read(None, Set::Permitted).unwrap_or_default()
}

/// What the command keeps: `initial` (the caller's effective set for real root,
/// nothing otherwise), then the user's additions and removals in order, `ALL`
/// meaning `all`.
pub fn requested(
    ops: &[CapOp],
    initial: HashSet<Capability>,
    all: HashSet<Capability>,
) -> HashSet<Capability> {
    let mut set = initial;
    for op in ops {
        match op {
            CapOp::Add(CapSet::All) => set = all.clone(),
            CapOp::Drop(CapSet::All) => set.clear(),
            CapOp::Add(CapSet::One(c)) => {
                set.insert(*c);
            }
            CapOp::Drop(CapSet::One(c)) => {
                set.remove(c);
            }
        }
    }
    set
}

/// Apply `keep` to the current thread: the bounding set (when `drop_bounding`),
/// effective, permitted, and, when `inheritable` (the user asked for capabilities),
/// inheritable and ambient so that they survive exec.
///
/// Raw syscalls, not the `caps` crate's read-modify-write helpers: one capset
/// for three sets, and no read before each bounding drop (bwrap-like counts).
pub fn apply(keep: &HashSet<Capability>, drop_bounding: bool, inheritable: bool) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| Error::io(format!("Can't {what}"), e);
    if drop_bounding {
        for c in 0..=last_cap() {
            if !keep.iter().any(|k| k.index() == c) {
                match sys::capbset_drop(c as u32) {
                    Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
                        return Err(fail("drop bounding capabilities", e))
                    }
                    _ => {}
                }
            }
        }
    }
    // Lowering inheritable also clears the ambient set of what it no longer holds.
    let k = mask(keep);
    let inh = if inheritable { k } else { 0 };
    sys::capset(k, k, inh).map_err(|e| fail("set capabilities", e))?;
    if inheritable {
        for c in keep {
            sys::ambient_raise(c.index() as u32)
                .map_err(|e| fail("raise ambient capabilities", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprivileged_default_is_empty_and_adds_apply() {
        assert!(requested(&[], HashSet::new(), supported()).is_empty());
        let s = requested(
            &[CapOp::Add(CapSet::One(Capability::CAP_NET_ADMIN))],
            HashSet::new(),
            supported(),
        );
        assert_eq!(s, HashSet::from([Capability::CAP_NET_ADMIN]));
    }

    #[test]
    fn order_matters() {
        let ops = [
            CapOp::Drop(CapSet::All),
            CapOp::Add(CapSet::One(Capability::CAP_CHOWN)),
        ];
        assert_eq!(
            requested(&ops, supported(), supported()),
            HashSet::from([Capability::CAP_CHOWN])
        );
        let ops = [
            CapOp::Add(CapSet::One(Capability::CAP_CHOWN)),
            CapOp::Drop(CapSet::All),
        ];
        assert!(requested(&ops, supported(), supported()).is_empty());
        assert_eq!(
            requested(&[CapOp::Add(CapSet::All)], HashSet::new(), supported()),
            supported()
        );
        // ALL is whatever the caller says it is (root's permitted set without a user ns).
        let some = HashSet::from([Capability::CAP_CHOWN, Capability::CAP_KILL]);
        assert_eq!(
            requested(&[CapOp::Add(CapSet::All)], HashSet::new(), some.clone()),
            some
        );
    }
}

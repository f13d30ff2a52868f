//! Capability sets: bwrap's defaults and `--cap-add`/`--cap-drop` in order.

use std::collections::HashSet;

use caps::{CapSet as Set, Capability};

use crate::error::{Error, Result};
use crate::spec::{CapOp, CapSet};

/// The capabilities this kernel knows.
fn supported() -> HashSet<Capability> {
    caps::runtime::thread_all_supported()
}

/// The caller's effective set (read before entering a new user namespace).
pub fn current_effective() -> HashSet<Capability> {
    caps::read(None, Set::Effective).unwrap_or_default()
}

/// What the command keeps: `initial` (the caller's effective set for real root,
/// nothing otherwise), then the user's additions and removals in order.
pub fn requested(ops: &[CapOp], initial: HashSet<Capability>) -> HashSet<Capability> {
    let all = supported();
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
pub fn apply(keep: &HashSet<Capability>, drop_bounding: bool, inheritable: bool) -> Result<()> {
    let fail = |what: &str, e: caps::errors::CapsError| Error::msg(format!("Can't {what}: {e}"));
    if drop_bounding {
        for c in supported() {
            if !keep.contains(&c) {
                caps::drop(None, Set::Bounding, c)
                    .map_err(|e| fail("drop bounding capabilities", e))?;
            }
        }
    }
    // Lower effective before permitted: effective must stay a subset of permitted.
    caps::set(None, Set::Effective, keep).map_err(|e| fail("set effective capabilities", e))?;
    caps::set(None, Set::Permitted, keep).map_err(|e| fail("set permitted capabilities", e))?;
    let inh = if inheritable {
        keep.clone()
    } else {
        HashSet::new()
    };
    caps::set(None, Set::Inheritable, &inh).map_err(|e| fail("set inheritable capabilities", e))?;
    caps::clear(None, Set::Ambient).map_err(|e| fail("clear ambient capabilities", e))?;
    for c in &inh {
        caps::raise(None, Set::Ambient, *c).map_err(|e| fail("raise ambient capabilities", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprivileged_default_is_empty_and_adds_apply() {
        assert!(requested(&[], HashSet::new()).is_empty());
        let s = requested(
            &[CapOp::Add(CapSet::One(Capability::CAP_NET_ADMIN))],
            HashSet::new(),
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
            requested(&ops, supported()),
            HashSet::from([Capability::CAP_CHOWN])
        );
        let ops = [
            CapOp::Add(CapSet::One(Capability::CAP_CHOWN)),
            CapOp::Drop(CapSet::All),
        ];
        assert!(requested(&ops, supported()).is_empty());
        assert_eq!(
            requested(&[CapOp::Add(CapSet::All)], HashSet::new()),
            supported()
        );
    }
}

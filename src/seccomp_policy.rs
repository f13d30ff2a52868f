//! The seccomp policy: hutch's built-in deny list (`--seccomp-policy default`) or
//! a seccompiler JSON file, compiled with seccompiler to classic BPF for the
//! running architecture and handed over as [`Program`]s, installed last before
//! exec together with any `--seccomp`/`--add-seccomp-fd` programs.
//!
//! The default policy is a deny list in the spirit of Flatpak's and Docker's:
//! everything not listed is allowed. It refuses (EPERM, or the `--seccomp-action`)
//! terminal injection (TIOCSTI, TIOCLINUX), the kernel keyring, eBPF,
//! perf events, userfaultfd, kernel modules and kexec, file handles,
//! every mount API, new namespaces (`unshare`, `setns`, `clone` with
//! CLONE_NEWUSER), personality changes, the clocks, reboot, swap, syslog, acct,
//! quotas, io_uring, and legacy or port-I/O calls. `clone3` fails with ENOSYS
//! (its flags live in memory a filter cannot read), so that the C library falls
//! back to `clone`, whose flags are checked. On x86_64, x32 system calls are refused.
//!
//! A filter compiled by seccompiler kills the process on a foreign architecture
//! (e.g. i386 calls through `int 0x80`), so 32-bit programs cannot run under a policy.

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::error::{Error, Result};
use crate::seccomp::Program;
use crate::spec::{PolicyAction, PolicySource, SeccompPolicy};

#[cfg(target_arch = "x86_64")]
const ARCH: Option<TargetArch> = Some(TargetArch::x86_64);
#[cfg(target_arch = "aarch64")]
const ARCH: Option<TargetArch> = Some(TargetArch::aarch64);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ARCH: Option<TargetArch> = None;

const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;

/// System calls the default policy refuses whatever their arguments.
fn denied_outright() -> Vec<i64> {
    // libc's numbers are `c_long`, i64 on both supported architectures.
    let mut v: Vec<i64> = vec![
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_syslog,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_lookup_dcookie,
        libc::SYS_vhangup,
        libc::SYS_nfsservctl,
    ];
    // Calls that aarch64 never had.
    #[cfg(target_arch = "x86_64")]
    v.extend([
        libc::SYS_iopl,
        libc::SYS_ioperm,
        libc::SYS_uselib,
        libc::SYS_ustat,
        libc::SYS_sysfs,
        libc::SYS__sysctl,
    ]);
    v
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(compile_err)
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule> {
    SeccompRule::new(conds).map_err(compile_err)
}

fn compile_err(e: impl std::fmt::Display) -> Error {
    Error::msg(format!("Can't compile the seccomp policy: {e}"))
}

/// The default policy as BPF programs for the running architecture (`arch`, whose
/// system call numbers are libc's): the deny list, the clone3 ENOSYS filter and
/// (x86_64) the x32 guard.
fn default_filters(action: PolicyAction, arch: TargetArch) -> Result<Vec<BpfProgram>> {
    let (deny, nosys) = match action {
        PolicyAction::Errno => (
            SeccompAction::Errno(libc::EPERM as u32),
            SeccompAction::Errno(libc::ENOSYS as u32),
        ),
        PolicyAction::Kill => (
            SeccompAction::KillProcess,
            SeccompAction::Errno(libc::ENOSYS as u32),
        ),
        PolicyAction::Log => (SeccompAction::Log, SeccompAction::Log),
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in denied_outright() {
        rules.insert(nr, Vec::new());
    }
    // ioctl's request is an `unsigned int`: compare the low 32 bits only.
    rules.insert(
        libc::SYS_ioctl,
        vec![
            rule(vec![cond(1, SeccompCmpOp::Eq, TIOCSTI)?])?,
            rule(vec![cond(1, SeccompCmpOp::Eq, TIOCLINUX)?])?,
        ],
    );
    let newuser = libc::CLONE_NEWUSER as u64;
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![cond(
            0,
            SeccompCmpOp::MaskedEq(newuser),
            newuser,
        )?])?],
    );
    // personality: only PER_LINUX (0) and the query 0xffffffff.
    rules.insert(
        libc::SYS_personality,
        vec![rule(vec![
            cond(0, SeccompCmpOp::Ne, 0)?,
            cond(0, SeccompCmpOp::Ne, 0xffff_ffff)?,
        ])?],
    );
    let deny_list =
        SeccompFilter::new(rules, SeccompAction::Allow, deny, arch).map_err(compile_err)?;
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        nosys.clone(),
        arch,
    )
    .map_err(compile_err)?;
    let mut out: Vec<BpfProgram> = vec![
        deny_list.try_into().map_err(compile_err)?,
        clone3.try_into().map_err(compile_err)?,
    ];
    if arch == TargetArch::x86_64 {
        out.push(x32_guard(nosys));
    }
    Ok(out)
}

const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// x32 calls reach the kernel as x86_64 calls with bit 30 set in the number,
/// which no rule above names: refuse them all.
fn x32_guard(action: SeccompAction) -> BpfProgram {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        ins(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        ins(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        ins(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        ins(JGE_K, 0, 1, X32_SYSCALL_BIT),
        ins(RET_K, 0, 0, u32::from(action)),
        ins(RET_K, 0, 0, u32::from(SeccompAction::Allow)),
    ]
}

/// A seccompiler program as the bytes of `struct sock_filter[]`.
fn to_program(bpf: &[sock_filter]) -> Result<Program> {
    let mut bytes = Vec::with_capacity(bpf.len() * 8);
    for i in bpf {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    Program::from_bytes(bytes)
}

/// Compile the policy for the running architecture.
pub fn programs(policy: &SeccompPolicy) -> Result<Vec<Program>> {
    if policy.source == PolicySource::None {
        return Ok(Vec::new());
    }
    let arch = ARCH.ok_or_else(|| {
        Error::msg("--seccomp-policy: no seccomp policy support on this architecture")
    })?;
    let bpf = match &policy.source {
        PolicySource::None => Vec::new(),
        PolicySource::Default => default_filters(policy.action, arch)?,
        PolicySource::File(path) => {
            let fail = |e: String| Error::msg(format!("--seccomp-policy {}: {e}", path.display()));
            let file = std::fs::File::open(path).map_err(|e| fail(crate::error::strerror(&e)))?;
            let map = seccompiler::compile_from_json(std::io::BufReader::new(file), arch)
                .map_err(|e| fail(e.to_string()))?;
            if map.is_empty() {
                return Err(fail("no filter in the file".into()));
            }
            // Every filter of the file, in name order.
            let mut named: Vec<_> = map.into_iter().collect();
            named.sort_by(|a, b| a.0.cmp(&b.0));
            named.into_iter().map(|(_, p)| p).collect()
        }
    };
    bpf.iter().map(|p| to_program(p)).collect()
}

/// The policy's name in the report.
pub fn describe(policy: &SeccompPolicy) -> String {
    match &policy.source {
        PolicySource::None => "none".into(),
        PolicySource::Default => "default".into(),
        PolicySource::File(p) => format!("file:{}", p.display()),
    }
}

// The tests interpret the x86_64 programs (libc's numbers are the host's).
#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    const RET_KILL_PROCESS: u32 = 0x8000_0000;
    const RET_LOG: u32 = 0x7ffc_0000;
    const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;

    /// A classic BPF interpreter for the instructions seccompiler emits, run on a
    /// `struct seccomp_data` built from `nr`, `arch` and `args`.
    fn run(prog: &[sock_filter], nr: i64, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&(nr as i32).to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&0u64.to_ne_bytes());
        for a in args {
            data.extend_from_slice(&a.to_ne_bytes());
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let i = &prog[pc];
            pc += 1;
            match i.code {
                0x20 => {
                    let k = i.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                }
                0x54 => acc &= i.k,
                0x05 => pc += i.k as usize,
                0x06 => return i.k,
                code => {
                    let taken = match code {
                        0x15 => acc == i.k,
                        0x25 => acc > i.k,
                        0x35 => acc >= i.k,
                        0x45 => acc & i.k != 0,
                        other => panic!("unexpected BPF opcode {other:#x}"),
                    };
                    pc += if taken { i.jt } else { i.jf } as usize;
                }
            }
        }
    }

    /// The kernel's verdict over several filters: the most restrictive wins.
    fn verdict(progs: &[BpfProgram], nr: i64, arch: u32, args: [u64; 6]) -> u32 {
        let prio = |r: u32| match r & 0xffff_0000 {
            RET_KILL_PROCESS => 0,
            RET_ERRNO => 3,
            RET_LOG => 6,
            RET_ALLOW => 7,
            _ => 1,
        };
        progs
            .iter()
            .map(|p| run(p, nr, arch, args))
            .min_by_key(|r| prio(*r))
            .unwrap()
    }

    fn native() -> u32 {
        AUDIT_ARCH_X86_64
    }

    fn errno(e: i32) -> u32 {
        RET_ERRNO | e as u32
    }

    #[test]
    fn default_policy_compiles() {
        for action in [PolicyAction::Errno, PolicyAction::Kill, PolicyAction::Log] {
            let progs = default_filters(action, TargetArch::x86_64).unwrap();
            assert_eq!(progs.len(), 3);
            for p in &progs {
                assert!(!p.is_empty() && p.len() < 4096);
                to_program(p).unwrap();
            }
        }
        let policy = SeccompPolicy {
            source: PolicySource::Default,
            action: PolicyAction::Errno,
        };
        assert_eq!(programs(&policy).unwrap().len(), 3);
    }

    #[test]
    fn tiocsti_and_tioclinux_are_denied_other_ioctls_are_not() {
        let p = default_filters(PolicyAction::Errno, TargetArch::x86_64).unwrap();
        let ioctl = |req: u64| verdict(&p, libc::SYS_ioctl, native(), [3, req, 0, 0, 0, 0]);
        assert_eq!(ioctl(TIOCSTI), errno(libc::EPERM));
        assert_eq!(ioctl(TIOCLINUX), errno(libc::EPERM));
        // Only the low 32 bits count, as in the kernel.
        assert_eq!(ioctl(0xffff_ffff_0000_0000 | TIOCSTI), errno(libc::EPERM));
        assert_eq!(ioctl(0x5401), RET_ALLOW); // TCGETS
    }

    #[test]
    fn the_deny_list() {
        let p = default_filters(PolicyAction::Errno, TargetArch::x86_64).unwrap();
        let call = |nr: i64, a0: u64| verdict(&p, nr, native(), [a0, 0, 0, 0, 0, 0]);
        let eperm = errno(libc::EPERM);
        for nr in [
            libc::SYS_keyctl,
            libc::SYS_bpf,
            libc::SYS_mount,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_io_uring_setup,
            libc::SYS_iopl,
        ] {
            assert_eq!(call(nr, 0), eperm, "syscall {nr}");
        }
        let newuser = libc::CLONE_NEWUSER as u64;
        assert_eq!(call(libc::SYS_clone, newuser | 0x11), eperm);
        assert_eq!(call(libc::SYS_clone, 0x11), RET_ALLOW);
        assert_eq!(call(libc::SYS_clone3, 0), errno(libc::ENOSYS));
        assert_eq!(call(libc::SYS_personality, 0), RET_ALLOW);
        assert_eq!(call(libc::SYS_personality, 0xffff_ffff), RET_ALLOW);
        assert_eq!(call(libc::SYS_personality, 0x0008), eperm);
        for nr in [libc::SYS_read, libc::SYS_getpid, libc::SYS_openat] {
            assert_eq!(call(nr, 0), RET_ALLOW);
        }
        // x32 numbers, and foreign architectures.
        assert_eq!(call(libc::SYS_getpid | 0x4000_0000, 0), errno(libc::ENOSYS));
        assert_eq!(verdict(&p, 20, AUDIT_ARCH_I386, [0; 6]), RET_KILL_PROCESS);
    }

    #[test]
    fn actions() {
        let p = default_filters(PolicyAction::Kill, TargetArch::x86_64).unwrap();
        assert_eq!(
            verdict(&p, libc::SYS_bpf, native(), [0; 6]),
            RET_KILL_PROCESS
        );
        // clone3 must stay ENOSYS so that threads still start (through clone).
        assert_eq!(
            verdict(&p, libc::SYS_clone3, native(), [0; 6]),
            errno(libc::ENOSYS)
        );
        let p = default_filters(PolicyAction::Log, TargetArch::x86_64).unwrap();
        assert_eq!(verdict(&p, libc::SYS_bpf, native(), [0; 6]), RET_LOG);
    }

    #[test]
    fn json_policy_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(
            &path,
            r#"{"main": {"mismatch_action": "allow", "match_action": {"errno": 1},
                "filter": [{"syscall": "getpid"}]}}"#,
        )
        .unwrap();
        let policy = SeccompPolicy {
            source: PolicySource::File(path.clone()),
            action: PolicyAction::Errno,
        };
        assert_eq!(programs(&policy).unwrap().len(), 1);
        std::fs::write(&path, "{").unwrap();
        let e = programs(&policy).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("--seccomp-policy {}: ", path.display())),
            "{e}"
        );
        let none = SeccompPolicy {
            source: PolicySource::None,
            action: PolicyAction::Errno,
        };
        assert!(programs(&none).unwrap().is_empty());
    }
}

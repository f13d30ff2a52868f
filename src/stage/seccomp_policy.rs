//! The seccomp policy: hutch's built-in deny list (`--seccomp-policy default`) or
//! a seccompiler JSON file (compiled with seccompiler), as classic BPF for the
//! running architecture, handed over as [`Program`]s and installed last before
//! exec together with any `--seccomp`/`--add-seccomp-fd` programs. The default
//! policy is one program, laid out as a binary search over the call numbers.
//!
//! The default policy names its system calls; a small table gives their numbers
//! on x86_64 and on aarch64, so that both policies are compiled and tested
//! (by a BPF interpreter in the tests) whatever hutch is built for.
//!
//! The default policy is a deny list in the spirit of Flatpak's and Docker's:
//! everything not listed is allowed. It refuses (EPERM, or the `--seccomp-action`)
//! terminal injection and line-discipline changes (TIOCSTI, TIOCLINUX, TIOCSETD,
//! TIOCCONS, TIOCVHANGUP), `modify_ldt`, priority changes by process group or user
//! (`setpriority`, `ioprio_set` other than for one process), the kernel keyring, eBPF,
//! perf events, userfaultfd, kernel modules and kexec, file handles,
//! every mount API, new namespaces (`unshare`, `setns`, `clone` with
//! CLONE_NEWUSER), personality changes, the clocks, reboot, swap, syslog, acct,
//! quotas, io_uring, and legacy or port-I/O calls. `clone3` fails with ENOSYS
//! (its flags live in memory a filter cannot read), so that the C library falls
//! back to `clone`, whose flags are checked. On x86_64, x32 system calls are refused.
//!
//! The policy kills the process on a foreign architecture
//! (e.g. i386 calls through `int 0x80`), so 32-bit programs cannot run under a policy.

use seccompiler::{sock_filter, BpfProgram, SeccompAction, TargetArch};

use crate::error::{Error, Result};
use crate::seccomp::Program;
use crate::spec::{PolicyAction, PolicySource, SeccompPolicy};

#[cfg(target_arch = "x86_64")]
const ARCH: Option<TargetArch> = Some(TargetArch::x86_64);
#[cfg(target_arch = "aarch64")]
const ARCH: Option<TargetArch> = Some(TargetArch::aarch64);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ARCH: Option<TargetArch> = None;

// The same values on x86_64 and aarch64 (asm-generic ioctls, errno and clone flags).
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;
const TIOCSETD: u64 = 0x5423;
const TIOCCONS: u64 = 0x541D;
const TIOCVHANGUP: u64 = 0x5437;
/// The terminal requests the policy refuses: input injection (TIOCSTI, and TIOCLINUX's
/// selection pasting), a new line discipline (TIOCSETD: a module autoloaded, a class
/// of kernel bugs), the console redirected (TIOCCONS), the terminal hung up (TIOCVHANGUP).
const DENIED_TTY_IOCTLS: [u64; 5] = [TIOCSTI, TIOCLINUX, TIOCSETD, TIOCCONS, TIOCVHANGUP];
/// `setpriority`'s PRIO_PROCESS and `ioprio_set`'s IOPRIO_WHO_PROCESS: the only `which`
/// allowed. By process group or user they reach processes outside the sandbox (a
/// process group is shared with the caller's shell pipeline, even in a pid namespace).
const PRIO_PROCESS: u32 = 0;
const IOPRIO_WHO_PROCESS: u32 = 1;
/// `memfd_create`'s MFD_EXEC and `execveat`'s AT_EMPTY_PATH (see [`MemfdExec`]).
const MFD_EXEC: u32 = 0x10;
const AT_EMPTY_PATH: u32 = 0x1000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// System call numbers by name, for each architecture the policy supports:
/// `(name, x86_64, aarch64)`, `None` where the architecture has no such call.
/// aarch64 uses the generic table (`include/uapi/asm-generic/unistd.h`), which never
/// had the legacy calls at the end. Not libc's `SYS_*` constants: those exist only
/// for the architecture hutch is compiled for, and the policy is compiled and tested
/// for both (the tests check both columns against seccompiler's own tables).
#[rustfmt::skip]
const SYSCALLS: &[(&str, Option<i64>, Option<i64>)] = &[
    ("keyctl", Some(250), Some(219)),
    ("add_key", Some(248), Some(217)),
    ("request_key", Some(249), Some(218)),
    ("bpf", Some(321), Some(280)),
    ("perf_event_open", Some(298), Some(241)),
    ("userfaultfd", Some(323), Some(282)),
    ("kexec_load", Some(246), Some(104)),
    ("kexec_file_load", Some(320), Some(294)),
    ("init_module", Some(175), Some(105)),
    ("finit_module", Some(313), Some(273)),
    ("delete_module", Some(176), Some(106)),
    ("open_by_handle_at", Some(304), Some(265)),
    ("name_to_handle_at", Some(303), Some(264)),
    ("mount", Some(165), Some(40)),
    ("umount2", Some(166), Some(39)),
    ("pivot_root", Some(155), Some(41)),
    ("move_mount", Some(429), Some(429)),
    ("open_tree", Some(428), Some(428)),
    ("fsopen", Some(430), Some(430)),
    ("fsmount", Some(432), Some(432)),
    ("fsconfig", Some(431), Some(431)),
    ("fspick", Some(433), Some(433)),
    ("mount_setattr", Some(442), Some(442)),
    ("unshare", Some(272), Some(97)),
    ("setns", Some(308), Some(268)),
    ("settimeofday", Some(164), Some(170)),
    ("clock_settime", Some(227), Some(112)),
    ("clock_adjtime", Some(305), Some(266)),
    ("adjtimex", Some(159), Some(171)),
    ("reboot", Some(169), Some(142)),
    ("swapon", Some(167), Some(224)),
    ("swapoff", Some(168), Some(225)),
    ("syslog", Some(103), Some(116)),
    ("acct", Some(163), Some(89)),
    ("quotactl", Some(179), Some(60)),
    ("io_uring_setup", Some(425), Some(425)),
    ("io_uring_enter", Some(426), Some(426)),
    ("io_uring_register", Some(427), Some(427)),
    ("lookup_dcookie", Some(212), Some(18)),
    ("vhangup", Some(153), Some(58)),
    ("nfsservctl", Some(180), Some(42)),
    // Legacy and port-I/O calls that aarch64 never had.
    ("modify_ldt", Some(154), None),
    ("iopl", Some(172), None),
    ("ioperm", Some(173), None),
    ("uselib", Some(134), None),
    ("ustat", Some(136), None),
    ("sysfs", Some(139), None),
    ("_sysctl", Some(156), None),
    // Refused only with some arguments (see `default_filters`).
    ("ioctl", Some(16), Some(29)),
    ("clone", Some(56), Some(220)),
    ("personality", Some(135), Some(92)),
    ("clone3", Some(435), Some(435)),
    ("setpriority", Some(141), Some(140)),
    ("ioprio_set", Some(251), Some(30)),
    ("memfd_create", Some(319), Some(279)),
    ("execveat", Some(322), Some(281)),
];

/// The system calls the default policy refuses whatever their arguments: every
/// name in [`SYSCALLS`] before `ioctl`.
const DENIED_OUTRIGHT: usize = SYSCALLS.len() - 8;

/// A system call's number on `arch`; `None` if `arch` has no such call.
fn nr(name: &str, arch: TargetArch) -> Option<i64> {
    let (_, x86_64, aarch64) = SYSCALLS.iter().find(|(n, _, _)| *n == name)?;
    match arch {
        TargetArch::x86_64 => *x86_64,
        TargetArch::aarch64 => *aarch64,
        _ => None,
    }
}

/// A call every supported architecture has.
fn must(name: &str, arch: TargetArch) -> Result<i64> {
    nr(name, arch).ok_or_else(|| compile_err(format!("no system call {name} on {arch:?}")))
}

/// System calls the default policy refuses whatever their arguments, on `arch`.
fn denied_outright(arch: TargetArch) -> Vec<i64> {
    SYSCALLS[..DENIED_OUTRIGHT]
        .iter()
        .filter_map(|(name, _, _)| nr(name, arch))
        .collect()
}

fn compile_err(e: impl std::fmt::Display) -> Error {
    Error::msg(format!("Can't compile the seccomp policy: {e}"))
}

// Classic BPF, as much of it as the default policy needs.
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`: the call number, the architecture, and the low
/// 32 bits of argument `i` (both architectures are little-endian).
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
const fn data_arg_low(i: u32) -> u32 {
    16 + 8 * i
}

const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// What the policy does with one system call.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Deny,
    NoSys,
    /// Deny [`DENIED_TTY_IOCTLS`] (the request, an `unsigned int`: its low 32 bits).
    Ioctl,
    /// Allow only `which` (argument 0, an `int`) equal to the value.
    Which(u32),
    /// Deny when argument `arg`'s low 32 bits have any of the bits set.
    FlagSet {
        arg: u32,
        bits: u32,
    },
    /// Deny CLONE_NEWUSER in the flags.
    Clone,
    /// Allow only PER_LINUX (0) and the query 0xffffffff.
    Personality,
}

/// The return values of the policy's three outcomes.
struct Returns {
    allow: u32,
    deny: u32,
    nosys: u32,
}

/// The instructions that decide one call once its number has matched (every path
/// returns, so the accumulator may be reused).
fn decide(v: Verdict, r: &Returns) -> Vec<sock_filter> {
    match v {
        Verdict::Deny => vec![ins(RET_K, 0, 0, r.deny)],
        Verdict::NoSys => vec![ins(RET_K, 0, 0, r.nosys)],
        Verdict::Ioctl => {
            let n = DENIED_TTY_IOCTLS.len();
            let mut out = vec![ins(LD_W_ABS, 0, 0, data_arg_low(1))];
            for (i, req) in DENIED_TTY_IOCTLS.iter().enumerate() {
                // Jump over the remaining comparisons and the "allow" to the "deny".
                out.push(ins(JEQ_K, (n - i) as u8, 0, *req as u32));
            }
            out.push(ins(RET_K, 0, 0, r.allow));
            out.push(ins(RET_K, 0, 0, r.deny));
            out
        }
        Verdict::Which(allowed) => vec![
            ins(LD_W_ABS, 0, 0, data_arg_low(0)),
            ins(JEQ_K, 0, 1, allowed),
            ins(RET_K, 0, 0, r.allow),
            ins(RET_K, 0, 0, r.deny),
        ],
        Verdict::FlagSet { arg, bits } => vec![
            ins(LD_W_ABS, 0, 0, data_arg_low(arg)),
            ins(JSET_K, 1, 0, bits),
            ins(RET_K, 0, 0, r.allow),
            ins(RET_K, 0, 0, r.deny),
        ],
        Verdict::Clone => vec![
            ins(LD_W_ABS, 0, 0, data_arg_low(0)),
            ins(JSET_K, 1, 0, CLONE_NEWUSER as u32),
            ins(RET_K, 0, 0, r.allow),
            ins(RET_K, 0, 0, r.deny),
        ],
        Verdict::Personality => vec![
            ins(LD_W_ABS, 0, 0, data_arg_low(0)),
            ins(JEQ_K, 2, 0, 0),
            ins(JEQ_K, 1, 0, 0xffff_ffff),
            ins(RET_K, 0, 0, r.deny),
            ins(RET_K, 0, 0, r.allow),
        ],
    }
}

/// A binary search over `calls` (sorted by number; the accumulator holds the number):
/// a few `jge` levels, then a short run of `jeq`s ending in "allow". The kernel
/// emulates a filter for every call number when it installs it (to cache the calls it
/// always allows), so the length of the path matters, not only the verdicts.
fn search(calls: &[(u32, Verdict)], r: &Returns) -> Result<Vec<sock_filter>> {
    let jump = |n: usize| u8::try_from(n).map_err(|_| compile_err("a jump too long for BPF"));
    if calls.len() <= 4 {
        let mut out = Vec::new();
        for (nr, v) in calls {
            let block = decide(*v, r);
            out.push(ins(JEQ_K, 0, jump(block.len())?, *nr));
            out.extend(block);
        }
        out.push(ins(RET_K, 0, 0, r.allow));
        return Ok(out);
    }
    let mid = calls.len() / 2;
    let (low, high) = (search(&calls[..mid], r)?, search(&calls[mid..], r)?);
    let mut out = vec![ins(JGE_K, jump(low.len())?, 0, calls[mid].0)];
    out.extend(low);
    out.extend(high);
    Ok(out)
}

/// The default policy as one BPF program for `arch` (x86_64 or aarch64): a foreign
/// architecture kills the process; on x86_64 x32 calls get ENOSYS; then the deny list.
/// With `memfd_noexec`, also `memfd_create` with MFD_EXEC and `execveat` with
/// AT_EMPTY_PATH (`fexecve`): the ways to execute a memfd that a filter can see.
fn default_filters(
    action: PolicyAction,
    arch: TargetArch,
    memfd_noexec: bool,
) -> Result<Vec<BpfProgram>> {
    let (deny, nosys) = match action {
        PolicyAction::Errno => (SeccompAction::Errno(EPERM), SeccompAction::Errno(ENOSYS)),
        PolicyAction::Kill => (SeccompAction::KillProcess, SeccompAction::Errno(ENOSYS)),
        PolicyAction::Log => (SeccompAction::Log, SeccompAction::Log),
    };
    let r = Returns {
        allow: u32::from(SeccompAction::Allow),
        deny: u32::from(deny),
        nosys: u32::from(nosys),
    };
    let audit_arch = match arch {
        TargetArch::x86_64 => AUDIT_ARCH_X86_64,
        TargetArch::aarch64 => AUDIT_ARCH_AARCH64,
        other => return Err(compile_err(format!("no policy for {other:?}"))),
    };
    let number = |n: i64| u32::try_from(n).map_err(compile_err);
    let mut calls: Vec<(u32, Verdict)> = Vec::new();
    for n in denied_outright(arch) {
        calls.push((number(n)?, Verdict::Deny));
    }
    for (name, v) in [
        ("ioctl", Verdict::Ioctl),
        ("clone", Verdict::Clone),
        ("personality", Verdict::Personality),
        ("clone3", Verdict::NoSys),
        ("setpriority", Verdict::Which(PRIO_PROCESS)),
        ("ioprio_set", Verdict::Which(IOPRIO_WHO_PROCESS)),
    ] {
        calls.push((number(must(name, arch)?)?, v));
    }
    if memfd_noexec {
        for (name, v) in [
            (
                "memfd_create",
                Verdict::FlagSet {
                    arg: 1,
                    bits: MFD_EXEC,
                },
            ),
            (
                "execveat",
                Verdict::FlagSet {
                    arg: 4,
                    bits: AT_EMPTY_PATH,
                },
            ),
        ] {
            calls.push((number(must(name, arch)?)?, v));
        }
    }
    calls.sort_by_key(|c| c.0);
    let mut prog = vec![
        ins(LD_W_ABS, 0, 0, DATA_ARCH),
        ins(JEQ_K, 1, 0, audit_arch),
        ins(RET_K, 0, 0, u32::from(SeccompAction::KillProcess)),
        ins(LD_W_ABS, 0, 0, DATA_NR),
    ];
    if arch == TargetArch::x86_64 {
        // x32 calls are x86_64 calls with bit 30 set in the number, which no entry names.
        prog.push(ins(JGE_K, 0, 1, X32_SYSCALL_BIT));
        prog.push(ins(RET_K, 0, 0, r.nosys));
    }
    prog.extend(search(&calls, &r)?);
    Ok(vec![prog])
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

/// Compile the policy for the running architecture (`memfd_noexec`: see
/// [`default_filters`]; only the default policy has it). `file`: a policy file's
/// text as read (`plan::Inputs`), or why it could not be; `None` reads it here.
pub fn programs(
    policy: &SeccompPolicy,
    memfd_noexec: bool,
    file: Option<std::result::Result<&[u8], String>>,
) -> Result<Vec<Program>> {
    if policy.source == PolicySource::None {
        return Ok(Vec::new());
    }
    let arch = ARCH.ok_or_else(|| {
        Error::msg("--seccomp-policy: no seccomp policy support on this architecture")
    })?;
    let bpf = match &policy.source {
        PolicySource::None => Vec::new(),
        PolicySource::Default => default_filters(policy.action, arch, memfd_noexec)?,
        PolicySource::File(path) => {
            let fail = |e: String| Error::msg(format!("--seccomp-policy {}: {e}", path.display()));
            let text = match file {
                Some(text) => text.map(|t| t.to_vec()),
                None => std::fs::read(path).map_err(|e| crate::error::strerror(&e)),
            }
            .map_err(fail)?;
            let map = seccompiler::compile_from_json(text.as_slice(), arch)
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

// The tests interpret the compiled programs for both architectures, whatever the host.
#[cfg(test)]
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
        run_counted(prog, nr, arch, args).0
    }

    /// [`run`], and how many instructions it took.
    fn run_counted(prog: &[sock_filter], nr: i64, arch: u32, args: [u64; 6]) -> (u32, usize) {
        let mut data = Vec::new();
        data.extend_from_slice(&(nr as i32).to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&0u64.to_ne_bytes());
        for a in args {
            data.extend_from_slice(&a.to_ne_bytes());
        }
        let (mut acc, mut pc, mut steps) = (0u32, 0usize, 0usize);
        loop {
            let i = &prog[pc];
            pc += 1;
            steps += 1;
            match i.code {
                0x20 => {
                    let k = i.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                }
                0x54 => acc &= i.k,
                0x05 => pc += i.k as usize,
                0x06 => return (i.k, steps),
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

    const ARCHES: [TargetArch; 2] = [TargetArch::x86_64, TargetArch::aarch64];

    /// `AUDIT_ARCH_*`, what the kernel puts in `seccomp_data.arch`.
    fn audit(arch: TargetArch) -> u32 {
        match arch {
            TargetArch::x86_64 => AUDIT_ARCH_X86_64,
            TargetArch::aarch64 => 183 | 0x8000_0000 | 0x4000_0000, // EM_AARCH64, 64-bit, LE
            _ => unreachable!(),
        }
    }

    fn errno(e: u32) -> u32 {
        RET_ERRNO | e
    }

    /// One call on `arch`, by name, through the default policy with `action`.
    fn call(progs: &[BpfProgram], arch: TargetArch, name: &str, args: [u64; 6]) -> u32 {
        let n = nr(name, arch).unwrap_or_else(|| panic!("{name} on {arch:?}"));
        verdict(progs, n, audit(arch), args)
    }

    #[test]
    fn default_policy_compiles_for_both_architectures() {
        for arch in ARCHES {
            for action in [PolicyAction::Errno, PolicyAction::Kill, PolicyAction::Log] {
                let progs = default_filters(action, arch, false).unwrap();
                assert_eq!(progs.len(), 1, "{arch:?}");
                for p in &progs {
                    assert!(!p.is_empty() && p.len() < 4096);
                    to_program(p).unwrap();
                }
            }
        }
        let policy = SeccompPolicy {
            source: PolicySource::Default,
            action: PolicyAction::Errno,
        };
        assert_eq!(programs(&policy, false, None).unwrap().len(), 1);
        assert_eq!(programs(&policy, true, None).unwrap().len(), 1);
    }

    /// Every call number from 0 to 1023 (and x32's on x86_64), on both architectures:
    /// the verdict is the one the table gives, and no number takes more than a short
    /// path through the program (the kernel emulates the filter for each number when
    /// it installs it; a linear chain made that cost 0.4-0.9 ms per start).
    #[test]
    fn every_call_number_gets_the_tables_verdict_by_a_short_path() {
        for (arch, memfd) in ARCHES.into_iter().flat_map(|a| [(a, false), (a, true)]) {
            let p = default_filters(PolicyAction::Errno, arch, memfd).unwrap();
            let special = |name: &str| nr(name, arch).unwrap();
            let outright = denied_outright(arch);
            let mut longest = 0;
            for n in 0..1024i64 {
                let args = [CLONE_NEWUSER, TIOCSTI, 0, 0, u64::from(AT_EMPTY_PATH), 0];
                let (got, steps) = run_counted(&p[0], n, audit(arch), args);
                longest = longest.max(steps);
                let want = if outright.contains(&n) {
                    errno(EPERM)
                } else if n == special("clone3") {
                    errno(ENOSYS)
                } else if n == special("ioctl") || n == special("clone") {
                    // TIOCSTI as the request, CLONE_NEWUSER as the flags: refused.
                    errno(EPERM)
                } else if n == special("personality") {
                    // CLONE_NEWUSER as a persona is neither 0 nor the query.
                    errno(EPERM)
                } else if n == special("setpriority") || n == special("ioprio_set") {
                    // CLONE_NEWUSER as `which` is neither a process nor allowed.
                    errno(EPERM)
                } else if memfd && (n == special("memfd_create") || n == special("execveat")) {
                    // TIOCSTI has MFD_EXEC's bit; AT_EMPTY_PATH is execveat's flag.
                    errno(EPERM)
                } else {
                    RET_ALLOW
                };
                assert_eq!(got, want, "call {n} on {arch:?} (memfd {memfd})");
            }
            assert!(longest <= 20, "{arch:?}: a path of {longest} instructions");
            if arch == TargetArch::x86_64 {
                for n in [0, 1, 39, 435, 547, 0x3fff_ffff] {
                    let x32 = n | 0x4000_0000;
                    assert_eq!(
                        run(&p[0], x32, audit(arch), [0; 6]),
                        errno(ENOSYS),
                        "{x32:#x}"
                    );
                }
            }
        }
    }

    /// The number table against seccompiler's own tables (through its JSON front
    /// end, which resolves names per architecture): each number is the one its name
    /// compiles to, and each missing call is one seccompiler does not know there.
    #[test]
    fn syscall_numbers_match_seccompiler() {
        for arch in ARCHES {
            for (name, _, _) in SYSCALLS {
                let json = format!(
                    r#"{{"t": {{"mismatch_action": "allow", "match_action": "kill_process",
                        "filter": [{{"syscall": "{name}"}}]}}}}"#
                );
                let compiled = seccompiler::compile_from_json(json.as_bytes(), arch);
                match nr(name, arch) {
                    Some(n) => {
                        let prog = &compiled.unwrap()["t"];
                        let at = |n| run(prog, n, audit(arch), [0; 6]);
                        assert_eq!(at(n), RET_KILL_PROCESS, "{name} = {n} on {arch:?}");
                        assert_eq!(at(n + 1), RET_ALLOW, "{name} on {arch:?}");
                    }
                    None => assert!(compiled.is_err(), "{name} exists on {arch:?}"),
                }
            }
        }
    }

    /// On the host the numbers are also libc's.
    #[test]
    fn syscall_numbers_match_libc_on_the_host() {
        #[cfg(target_arch = "x86_64")]
        let host = [
            ("keyctl", libc::SYS_keyctl),
            ("mount", libc::SYS_mount),
            ("iopl", libc::SYS_iopl),
            ("_sysctl", libc::SYS__sysctl),
            ("ioctl", libc::SYS_ioctl),
            ("clone", libc::SYS_clone),
            ("clone3", libc::SYS_clone3),
            ("personality", libc::SYS_personality),
            ("nfsservctl", libc::SYS_nfsservctl),
            ("modify_ldt", libc::SYS_modify_ldt),
            ("setpriority", libc::SYS_setpriority),
            ("ioprio_set", libc::SYS_ioprio_set),
            ("memfd_create", libc::SYS_memfd_create),
            ("execveat", libc::SYS_execveat),
        ];
        #[cfg(target_arch = "aarch64")]
        let host = [
            ("keyctl", libc::SYS_keyctl),
            ("mount", libc::SYS_mount),
            ("ioctl", libc::SYS_ioctl),
            ("clone", libc::SYS_clone),
            ("clone3", libc::SYS_clone3),
            ("personality", libc::SYS_personality),
            ("setpriority", libc::SYS_setpriority),
            ("ioprio_set", libc::SYS_ioprio_set),
            ("memfd_create", libc::SYS_memfd_create),
            ("execveat", libc::SYS_execveat),
        ];
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let host: [(&str, i64); 0] = [];
        for (name, n) in host {
            assert_eq!(nr(name, ARCH.unwrap()), Some(n), "{name}");
        }
        // libc's ioctl request type differs between C libraries.
        #[allow(clippy::unnecessary_cast)]
        let tiocsti = libc::TIOCSTI as u64;
        #[allow(clippy::unnecessary_cast)]
        let tty = [
            libc::TIOCLINUX as u64,
            libc::TIOCSETD as u64,
            libc::TIOCCONS as u64,
            libc::TIOCVHANGUP as u64,
        ];
        assert_eq!(tty, [TIOCLINUX, TIOCSETD, TIOCCONS, TIOCVHANGUP]);
        // PRIO_PROCESS is a c_int or an enum's u32, by C library.
        #[allow(clippy::unnecessary_cast)]
        let prio_process = libc::PRIO_PROCESS as u32;
        assert_eq!(
            (MFD_EXEC, AT_EMPTY_PATH, PRIO_PROCESS, IOPRIO_WHO_PROCESS),
            (0x10, libc::AT_EMPTY_PATH as u32, prio_process, 1)
        );
        assert_eq!(
            (TIOCSTI, CLONE_NEWUSER, EPERM as i32, ENOSYS as i32),
            (
                tiocsti,
                libc::CLONE_NEWUSER as u64,
                libc::EPERM,
                libc::ENOSYS
            )
        );
    }

    #[test]
    fn tty_injection_and_line_discipline_ioctls_are_denied_other_ioctls_are_not() {
        for arch in ARCHES {
            let p = default_filters(PolicyAction::Errno, arch, false).unwrap();
            let ioctl = |req: u64| call(&p, arch, "ioctl", [3, req, 0, 0, 0, 0]);
            for req in [TIOCSTI, TIOCLINUX, TIOCSETD, TIOCCONS, TIOCVHANGUP] {
                assert_eq!(ioctl(req), errno(EPERM), "{req:#x} on {arch:?}");
                // Only the low 32 bits count, as in the kernel.
                assert_eq!(ioctl(0x1_0000_0000 | req), errno(EPERM), "{arch:?}");
                assert_eq!(ioctl(0xffff_ffff_0000_0000 | req), errno(EPERM));
            }
            // TCGETS, TCSETS, TIOCGWINSZ, TIOCSWINSZ, TIOCGETD, TIOCSCTTY, FIONREAD.
            for req in [0x5401, 0x5402, 0x5413, 0x5414, 0x5424, 0x540E, 0x541B] {
                assert_eq!(ioctl(req), RET_ALLOW, "{req:#x} on {arch:?}");
            }
        }
    }

    #[test]
    fn priorities_only_by_process_and_memfd_execution() {
        for arch in ARCHES {
            let p = default_filters(PolicyAction::Errno, arch, false).unwrap();
            let c = |p: &[BpfProgram], name: &str, a: [u64; 6]| call(p, arch, name, a);
            // setpriority(PRIO_PROCESS/PRIO_PGRP/PRIO_USER, who, prio)
            assert_eq!(c(&p, "setpriority", [0, 1234, 10, 0, 0, 0]), RET_ALLOW);
            assert_eq!(c(&p, "setpriority", [1, 0, 10, 0, 0, 0]), errno(EPERM));
            assert_eq!(c(&p, "setpriority", [2, 0, 10, 0, 0, 0]), errno(EPERM));
            assert_eq!(c(&p, "setpriority", [1 << 32, 0, 10, 0, 0, 0]), RET_ALLOW);
            // ioprio_set(IOPRIO_WHO_PROCESS/PGRP/USER, who, ioprio)
            assert_eq!(c(&p, "ioprio_set", [1, 0, 0, 0, 0, 0]), RET_ALLOW);
            assert_eq!(c(&p, "ioprio_set", [2, 0, 0, 0, 0, 0]), errno(EPERM));
            assert_eq!(c(&p, "ioprio_set", [3, 0, 0, 0, 0, 0]), errno(EPERM));
            // Without the memfd rule neither call is touched.
            let exec = [3, 0, 0, 0, u64::from(AT_EMPTY_PATH), 0];
            assert_eq!(c(&p, "memfd_create", [0, 0x10, 0, 0, 0, 0]), RET_ALLOW);
            assert_eq!(c(&p, "execveat", exec), RET_ALLOW);
            let m = default_filters(PolicyAction::Errno, arch, true).unwrap();
            assert_eq!(
                c(&m, "memfd_create", [0, 0x10 | 1, 0, 0, 0, 0]),
                errno(EPERM)
            );
            assert_eq!(c(&m, "memfd_create", [0, 1 | 8, 0, 0, 0, 0]), RET_ALLOW);
            assert_eq!(c(&m, "execveat", exec), errno(EPERM));
            assert_eq!(c(&m, "execveat", [3, 0, 0, 0, 0x100, 0]), RET_ALLOW);
        }
        // modify_ldt exists on x86_64 only.
        let p = default_filters(PolicyAction::Errno, TargetArch::x86_64, false).unwrap();
        assert_eq!(
            call(&p, TargetArch::x86_64, "modify_ldt", [1; 6]),
            errno(EPERM)
        );
        assert_eq!(nr("modify_ldt", TargetArch::aarch64), None);
    }

    #[test]
    fn the_deny_list_on_both_architectures() {
        for arch in ARCHES {
            let p = default_filters(PolicyAction::Errno, arch, false).unwrap();
            let c = |name: &str, a0: u64| call(&p, arch, name, [a0, 0, 0, 0, 0, 0]);
            let eperm = errno(EPERM);
            for name in [
                "keyctl",
                "bpf",
                "mount",
                "unshare",
                "setns",
                "io_uring_setup",
            ] {
                assert_eq!(c(name, 0), eperm, "{name} on {arch:?}");
            }
            // Every call of the list, on every architecture that has it.
            for n in denied_outright(arch) {
                assert_eq!(verdict(&p, n, audit(arch), [0; 6]), eperm, "{n} {arch:?}");
            }
            assert_eq!(c("clone", CLONE_NEWUSER | 0x11), eperm, "{arch:?}");
            assert_eq!(c("clone", 0x11), RET_ALLOW, "{arch:?}");
            assert_eq!(c("clone3", 0), errno(ENOSYS), "{arch:?}");
            assert_eq!(c("personality", 0), RET_ALLOW);
            assert_eq!(c("personality", 0xffff_ffff), RET_ALLOW);
            assert_eq!(c("personality", 0x0008), eperm);
            // read, write, getpid, openat: allowed.
            let ordinary: &[i64] = match arch {
                TargetArch::x86_64 => &[0, 1, 39, 257],
                _ => &[63, 64, 172, 56],
            };
            for n in ordinary {
                assert_eq!(verdict(&p, *n, audit(arch), [0; 6]), RET_ALLOW, "{n}");
            }
            // The other architecture's calls (and i386's) kill.
            for other in [
                AUDIT_ARCH_I386,
                audit(ARCHES[usize::from(arch == ARCHES[0])]),
            ] {
                assert_ne!(other, audit(arch));
                assert_eq!(verdict(&p, 20, other, [0; 6]), RET_KILL_PROCESS);
            }
        }
        // x32 numbers on x86_64.
        let p = default_filters(PolicyAction::Errno, TargetArch::x86_64, false).unwrap();
        assert_eq!(
            verdict(&p, 39 | 0x4000_0000, AUDIT_ARCH_X86_64, [0; 6]),
            errno(ENOSYS)
        );
        // The legacy calls aarch64 lacks are in x86_64's list.
        assert_eq!(call(&p, TargetArch::x86_64, "iopl", [0; 6]), errno(EPERM));
        assert_eq!(nr("iopl", TargetArch::aarch64), None);
    }

    #[test]
    fn actions() {
        for arch in ARCHES {
            let p = default_filters(PolicyAction::Kill, arch, false).unwrap();
            assert_eq!(call(&p, arch, "bpf", [0; 6]), RET_KILL_PROCESS);
            // clone3 must stay ENOSYS so that threads still start (through clone).
            assert_eq!(call(&p, arch, "clone3", [0; 6]), errno(ENOSYS));
            let p = default_filters(PolicyAction::Log, arch, false).unwrap();
            assert_eq!(call(&p, arch, "bpf", [0; 6]), RET_LOG);
        }
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
        assert_eq!(programs(&policy, false, None).unwrap().len(), 1);
        assert_eq!(programs(&policy, true, None).unwrap().len(), 1);
        std::fs::write(&path, "{").unwrap();
        let e = programs(&policy, false, None).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("--seccomp-policy {}: ", path.display())),
            "{e}"
        );
        let none = SeccompPolicy {
            source: PolicySource::None,
            action: PolicyAction::Errno,
        };
        assert!(programs(&none, true, None).unwrap().is_empty());
    }
}

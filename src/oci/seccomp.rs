//! OCI seccomp (`linux.seccomp` of config.json) compiled to one classic BPF program, the
//! form `hutch --seccomp FD` takes, and checked with hutch's own checker
//! ([`crate::seccomp::check`]), so that a profile the kernel would refuse fails at
//! `create` with the instruction and the reason.
//!
//! Semantics follow runc and crun over libseccomp:
//! - the architectures: the native one always, plus those listed that this kernel can
//!   run (on x86_64: i386 and x32; on aarch64: arm); others listed are skipped (their
//!   calls cannot reach this kernel). A call of an architecture not in the filter kills
//!   the process (libseccomp's default kills the thread);
//! - a call name unknown on an architecture is skipped there (libseccomp does the same
//!   for names it has no number for); the numbers come from libseccomp's tables
//!   (`seccomp/syscalls.rs`, generated);
//! - per call, rules with argument conditions are tried first, in the profile's order
//!   (the first that matches decides), then the rule without conditions, then
//!   `defaultAction`. libseccomp orders overlapping conditional rules with different
//!   actions its own way; podman's and Docker's profiles have none;
//! - conditions of one rule are ANDed, except that several conditions on the same
//!   argument become one rule each (ORed), as runc does;
//! - arguments are compared as unsigned 64-bit values (32-bit on i386 and arm, where the
//!   kernel passes 32 bits); `SCMP_CMP_MASKED_EQ` is `(arg & value) == valueTwo`;
//! - a rule whose action is the default one is skipped (libseccomp refuses it, runc
//!   skips it).
//!
//! Refused, naming the field: `SCMP_ACT_NOTIFY` (and `listenerPath`), `SCMP_ACT_TRACE`
//! (hutch attaches no tracer), the flags `SECCOMP_FILTER_FLAG_LOG`, `_SPEC_ALLOW` and
//! `_WAIT_KILLABLE_RECV` (hutch installs the program without flags;
//! `SECCOMP_FILTER_FLAG_TSYNC` is accepted: the program is installed in the one thread
//! that execs), an errno above 4095, an argument index above 5, `errnoRet` on an action
//! other than `SCMP_ACT_ERRNO`. Unknown flags, actions and operators are refused by the
//! parser of config.json (oci-spec's enums).

use std::collections::BTreeMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};

use crate::error::{Error, Result};
use crate::seccomp::{check, insns, Insn, MAX_INSNS};

mod syscalls;

/// The ABIs hutch compiles for: a column of [`syscalls::SYSCALLS`] each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Abi {
    X86_64,
    I386,
    X32,
    Aarch64,
    Arm,
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

impl Abi {
    fn column(self) -> usize {
        self as usize
    }

    /// `seccomp_data.arch` for the ABI's calls (x32 calls come as x86_64's, with
    /// [`X32_SYSCALL_BIT`] in the number).
    fn audit(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
            Abi::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// Arguments are 64-bit (else only the low 32 bits are compared).
    fn wide(self) -> bool {
        matches!(self, Abi::X86_64 | Abi::X32 | Abi::Aarch64)
    }

    /// The ABIs a kernel of this native ABI runs.
    fn family(self) -> &'static [Abi] {
        match self {
            Abi::X86_64 | Abi::I386 | Abi::X32 => &[Abi::X86_64, Abi::I386, Abi::X32],
            Abi::Aarch64 | Abi::Arm => &[Abi::Aarch64, Abi::Arm],
        }
    }

    fn from_arch(a: Arch, native: Abi) -> Option<Abi> {
        match a {
            Arch::ScmpArchNative => Some(native),
            Arch::ScmpArchX86_64 => Some(Abi::X86_64),
            Arch::ScmpArchX86 => Some(Abi::I386),
            Arch::ScmpArchX32 => Some(Abi::X32),
            Arch::ScmpArchAarch64 => Some(Abi::Aarch64),
            Arch::ScmpArchArm => Some(Abi::Arm),
            _ => None,
        }
    }
}

#[cfg(target_arch = "x86_64")]
const NATIVE: Option<Abi> = Some(Abi::X86_64);
#[cfg(target_arch = "aarch64")]
const NATIVE: Option<Abi> = Some(Abi::Aarch64);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const NATIVE: Option<Abi> = None;

/// A call's number on `abi`, if libseccomp's table has one.
fn number(name: &str, abi: Abi) -> Option<u32> {
    let i = syscalls::SYSCALLS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()?;
    u32::try_from(syscalls::SYSCALLS[i].1[abi.column()]).ok()
}

// SECCOMP_RET_* values.
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
/// The largest errno the kernel passes on (`MAX_ERRNO`).
const MAX_ERRNO: u32 = 4095;
/// What a call of an architecture not in the filter gets.
const RET_BAD_ARCH: u32 = RET_KILL_PROCESS;

fn err(path: &str, what: impl std::fmt::Display) -> Error {
    Error::msg(format!("{path}: {what}"))
}

fn action_name(a: Act) -> String {
    a.to_string()
}

/// An action (with its errno) as a `SECCOMP_RET_*` value; `path` names the field.
fn ret_of(a: Act, errno: Option<u32>, path: &str, errno_path: &str) -> Result<u32> {
    match a {
        Act::ScmpActTrace => {
            return Err(err(
                path,
                "SCMP_ACT_TRACE is not supported (hutch attaches no tracer)",
            ))
        }
        Act::ScmpActNotify => {
            return Err(err(
                path,
                "SCMP_ACT_NOTIFY is not supported (no seccomp agent; hutch has no listenerPath support)",
            ))
        }
        _ => {}
    }
    if errno.is_some() && a != Act::ScmpActErrno {
        return Err(err(
            errno_path,
            format!("only SCMP_ACT_ERRNO takes an errno, not {}", action_name(a)),
        ));
    }
    Ok(match a {
        Act::ScmpActAllow => RET_ALLOW,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
        Act::ScmpActKillProcess => RET_KILL_PROCESS,
        Act::ScmpActTrap => RET_TRAP,
        Act::ScmpActErrno => {
            // runc's and crun's default errno.
            let e = errno.unwrap_or(libc::EPERM as u32);
            if e > MAX_ERRNO {
                return Err(err(
                    errno_path,
                    format!("errno {e} is out of range (at most {MAX_ERRNO})"),
                ));
            }
            RET_ERRNO | e
        }
        Act::ScmpActTrace | Act::ScmpActNotify => unreachable!("refused above"),
    })
}

/// One argument condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
    value_two: u64,
}

/// The rules of one call on one ABI.
#[derive(Debug, Default)]
struct CallRules {
    /// (conditions ANDed, return value), in the profile's order.
    conditional: Vec<(Vec<Cond>, u32)>,
    unconditional: Option<u32>,
}

/// The compiled form before code generation: per ABI, per call number.
type Rules = BTreeMap<Abi, BTreeMap<u32, CallRules>>;

/// Compile `linux.seccomp` for the running architecture: the bytes of
/// `struct sock_filter[]`, checked as the kernel would.
pub fn compile(s: &LinuxSeccomp) -> Result<Vec<u8>> {
    let native = NATIVE.ok_or_else(|| {
        err(
            "linux.seccomp",
            "hutch compiles seccomp profiles for x86_64 and aarch64 only",
        )
    })?;
    compile_for(s, native)
}

fn compile_for(s: &LinuxSeccomp, native: Abi) -> Result<Vec<u8>> {
    if s.listener_path().is_some() {
        return Err(err(
            "linux.seccomp.listenerPath",
            "seccomp agents (SCMP_ACT_NOTIFY) are not supported",
        ));
    }
    if s.listener_metadata().is_some() {
        return Err(err(
            "linux.seccomp.listenerMetadata",
            "seccomp agents (SCMP_ACT_NOTIFY) are not supported",
        ));
    }
    for (i, f) in s.flags().iter().flatten().enumerate() {
        match f {
            Flag::SeccompFilterFlagTsync => {}
            other => {
                return Err(err(
                    &format!("linux.seccomp.flags[{i}]"),
                    format!("{other} is not supported (hutch installs the filter without flags)"),
                ))
            }
        }
    }
    let default = ret_of(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
        "linux.seccomp.defaultErrnoRet",
    )?;
    let mut abis = vec![native];
    for a in s.architectures().iter().flatten() {
        if let Some(abi) = Abi::from_arch(*a, native) {
            if native.family().contains(&abi) && !abis.contains(&abi) {
                abis.push(abi);
            }
        }
    }
    let mut rules: Rules = abis.iter().map(|a| (*a, BTreeMap::new())).collect();
    for (i, call) in s.syscalls().iter().flatten().enumerate() {
        let path = format!("linux.seccomp.syscalls[{i}]");
        let ret = ret_of(
            call.action(),
            call.errno_ret(),
            &format!("{path}.action"),
            &format!("{path}.errnoRet"),
        )?;
        let mut conds = Vec::new();
        for (j, a) in call.args().iter().flatten().enumerate() {
            if a.index() > 5 {
                return Err(err(
                    &format!("{path}.args[{j}].index"),
                    format!("argument {} does not exist (0 to 5)", a.index()),
                ));
            }
            conds.push(Cond {
                index: a.index() as u32,
                op: a.op(),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
            });
        }
        for (k, name) in call.names().iter().enumerate() {
            if name.is_empty() {
                return Err(err(&format!("{path}.names[{k}]"), "an empty name"));
            }
        }
        if ret == default {
            continue;
        }
        // Several conditions on one argument: one rule each (runc).
        let mut seen = [0u8; 6];
        for c in &conds {
            seen[c.index as usize] += 1;
        }
        let sets: Vec<Vec<Cond>> = if seen.iter().any(|n| *n > 1) {
            conds.iter().map(|c| vec![*c]).collect()
        } else {
            vec![conds]
        };
        for (abi, table) in rules.iter_mut() {
            for name in call.names() {
                let Some(nr) = number(name, *abi) else {
                    continue;
                };
                let r = table.entry(nr).or_default();
                for set in &sets {
                    if set.is_empty() {
                        r.unconditional.get_or_insert(ret);
                    } else if !r.conditional.iter().any(|(c, _)| c == set) {
                        r.conditional.push((set.clone(), ret));
                    }
                }
            }
        }
    }
    let prog = generate(&rules, default)?;
    let mut bytes = Vec::with_capacity(prog.len() * 8);
    for i in &prog {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    if prog.len() > MAX_INSNS {
        return Err(err(
            "linux.seccomp",
            format!(
                "the profile compiles to {} BPF instructions, more than the kernel's {MAX_INSNS}",
                prog.len()
            ),
        ));
    }
    check(&insns(&bytes)).map_err(|why| {
        err(
            "linux.seccomp",
            format!("the compiled program is invalid: {why}"),
        )
    })?;
    Ok(bytes)
}

// Classic BPF.
const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
/// The low and high 32 bits of argument `i` (little-endian: both architectures are).
fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}
fn arg_high(i: u32) -> u32 {
    20 + 8 * i
}

type Label = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tgt {
    Next,
    L(Label),
}

#[derive(Debug, Clone, Copy)]
enum AsmOp {
    Stmt(Insn),
    Jmp { code: u16, k: u32, jt: Tgt, jf: Tgt },
    Ja(Label),
    Bind(Label),
}

/// A forward-only assembler: conditional jumps name labels; one whose target is more
/// than 255 instructions away becomes a conditional jump over two `ja`s.
#[derive(Default)]
struct Asm {
    ops: Vec<AsmOp>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }
    fn bind(&mut self, l: Label) {
        self.ops.push(AsmOp::Bind(l));
    }
    fn ld(&mut self, off: u32) {
        self.ops.push(AsmOp::Stmt(Insn {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: off,
        }));
    }
    fn and(&mut self, k: u32) {
        self.ops.push(AsmOp::Stmt(Insn {
            code: ALU_AND_K,
            jt: 0,
            jf: 0,
            k,
        }));
    }
    fn ret(&mut self, k: u32) {
        self.ops.push(AsmOp::Stmt(Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k,
        }));
    }
    fn jmp(&mut self, code: u16, k: u32, jt: Tgt, jf: Tgt) {
        self.ops.push(AsmOp::Jmp { code, k, jt, jf });
    }
    fn ja(&mut self, l: Label) {
        self.ops.push(AsmOp::Ja(l));
    }

    fn finish(&self) -> Result<Vec<Insn>> {
        let fail = |why: &str| {
            err(
                "linux.seccomp",
                format!("cannot compile the profile: {why}"),
            )
        };
        let mut long = vec![false; self.ops.len()];
        loop {
            let mut pos = vec![0usize; self.ops.len() + 1];
            let mut at = vec![usize::MAX; self.labels];
            let mut p = 0;
            for (i, op) in self.ops.iter().enumerate() {
                pos[i] = p;
                match op {
                    AsmOp::Bind(l) => at[*l] = p,
                    AsmOp::Jmp { .. } if long[i] => p += 3,
                    _ => p += 1,
                }
            }
            let mut changed = false;
            for (i, op) in self.ops.iter().enumerate() {
                if let AsmOp::Jmp { jt, jf, .. } = op {
                    if long[i] {
                        continue;
                    }
                    for t in [jt, jf] {
                        if let Tgt::L(l) = t {
                            if at[*l] == usize::MAX || at[*l] <= pos[i] {
                                return Err(fail("a backward jump"));
                            }
                            if at[*l] - pos[i] - 1 > 255 {
                                long[i] = true;
                                changed = true;
                            }
                        }
                    }
                }
            }
            if changed {
                continue;
            }
            let mut out = Vec::with_capacity(p);
            // Offset from the instruction at `from` to target `t` (`next`: the one after
            // the op, `from` being where the jump is).
            let off = |from: usize, next: usize, t: Tgt| -> Result<u32> {
                let to = match t {
                    Tgt::Next => next,
                    Tgt::L(l) => at[l],
                };
                if to == usize::MAX || to <= from {
                    return Err(fail("a backward jump"));
                }
                Ok((to - from - 1) as u32)
            };
            for (i, op) in self.ops.iter().enumerate() {
                let here = out.len();
                let next = pos[i + 1].max(here + 1);
                match *op {
                    AsmOp::Bind(_) => {}
                    AsmOp::Stmt(ins) => out.push(ins),
                    AsmOp::Ja(l) => out.push(Insn {
                        code: JA,
                        jt: 0,
                        jf: 0,
                        k: off(here, next, Tgt::L(l))?,
                    }),
                    AsmOp::Jmp { code, k, jt, jf } if !long[i] => out.push(Insn {
                        code,
                        jt: off(here, next, jt)? as u8,
                        jf: off(here, next, jf)? as u8,
                        k,
                    }),
                    AsmOp::Jmp { code, k, jt, jf } => {
                        let next = here + 3;
                        out.push(Insn {
                            code,
                            jt: 0,
                            jf: 1,
                            k,
                        });
                        for t in [jt, jf] {
                            let from = out.len();
                            out.push(Insn {
                                code: JA,
                                jt: 0,
                                jf: 0,
                                k: off(from, next, t)?,
                            });
                        }
                    }
                }
            }
            return Ok(out);
        }
    }
}

/// The label of a `ret k`, emitted once at the end.
struct Rets(BTreeMap<u32, Label>);

impl Rets {
    fn get(&mut self, asm: &mut Asm, k: u32) -> Label {
        *self.0.entry(k).or_insert_with(|| asm.label())
    }
}

/// Compare argument `c.index` (64 or 32 bits) against the condition: fall through when
/// it holds, else jump to `fail`.
fn condition(asm: &mut Asm, c: &Cond, wide: bool, fail: Label) {
    let (v_hi, v_lo) = ((c.value >> 32) as u32, c.value as u32);
    let f = Tgt::L(fail);
    let n = Tgt::Next;
    if c.op == Op::ScmpCmpMaskedEq {
        let (m_hi, m_lo) = (v_hi, v_lo);
        let (d_hi, d_lo) = ((c.value_two >> 32) as u32, c.value_two as u32);
        if wide {
            asm.ld(arg_high(c.index));
            asm.and(m_hi);
            asm.jmp(JEQ_K, d_hi, n, f);
        }
        asm.ld(arg_low(c.index));
        asm.and(m_lo);
        asm.jmp(JEQ_K, d_lo, n, f);
        return;
    }
    let pass = asm.label();
    let p = Tgt::L(pass);
    match c.op {
        Op::ScmpCmpEq | Op::ScmpCmpNe => {
            let (hit, miss) = if c.op == Op::ScmpCmpEq {
                (n, f)
            } else {
                (f, p)
            };
            if wide {
                asm.ld(arg_high(c.index));
                // High words differ: not equal.
                asm.jmp(JEQ_K, v_hi, n, miss);
            }
            asm.ld(arg_low(c.index));
            asm.jmp(JEQ_K, v_lo, hit, miss);
        }
        // arg > v, arg >= v, and their negations arg <= v, arg < v.
        Op::ScmpCmpGt | Op::ScmpCmpGe | Op::ScmpCmpLe | Op::ScmpCmpLt => {
            let holds_when_greater = matches!(c.op, Op::ScmpCmpGt | Op::ScmpCmpGe);
            let (above, below) = if holds_when_greater { (p, f) } else { (f, p) };
            if wide {
                asm.ld(arg_high(c.index));
                asm.jmp(JGT_K, v_hi, above, n);
                asm.jmp(JEQ_K, v_hi, n, below);
            }
            asm.ld(arg_low(c.index));
            let code = if matches!(c.op, Op::ScmpCmpGt | Op::ScmpCmpLe) {
                JGT_K
            } else {
                JGE_K
            };
            asm.jmp(code, v_lo, above, below);
        }
        Op::ScmpCmpMaskedEq => unreachable!(),
    }
    asm.bind(pass);
}

/// Where a call number leads: a return value, or the block of a call with conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Ret(u32),
    Block(Label),
}

/// A binary search over the call number (in the accumulator): the numbers from 0 up
/// cut into runs that lead to the same place (`(first number, target)`, sorted), and
/// one `jge` per level. An allow list is a few dozen runs.
fn search(asm: &mut Asm, runs: &[(u32, Target)]) {
    if let [(_, t)] = runs {
        match *t {
            Target::Ret(k) => asm.ret(k),
            Target::Block(l) => asm.ja(l),
        }
        return;
    }
    let mid = runs.len() / 2;
    let high = asm.label();
    asm.jmp(JGE_K, runs[mid].0, Tgt::L(high), Tgt::Next);
    search(asm, &runs[..mid]);
    asm.bind(high);
    search(asm, &runs[mid..]);
}

fn generate(rules: &Rules, default: u32) -> Result<Vec<Insn>> {
    let mut asm = Asm::default();
    let mut rets = Rets(BTreeMap::new());
    let bad_arch = rets.get(&mut asm, RET_BAD_ARCH);
    // Dispatch on the architecture; x32 shares x86_64's.
    asm.ld(DATA_ARCH);
    let mut sections: Vec<(u32, Label)> = Vec::new();
    for abi in rules.keys() {
        if *abi == Abi::X32 {
            continue;
        }
        let l = asm.label();
        asm.jmp(JEQ_K, abi.audit(), Tgt::L(l), Tgt::Next);
        sections.push((abi.audit(), l));
    }
    asm.ja(bad_arch);
    let x32 = rules.contains_key(&Abi::X32);
    for (abi, table) in rules {
        if *abi == Abi::X32 && rules.contains_key(&Abi::X86_64) {
            continue;
        }
        let (_, l) = sections.iter().find(|(a, _)| *a == abi.audit()).unwrap();
        asm.bind(*l);
        asm.ld(DATA_NR);
        let mut x32_section = None;
        if *abi == Abi::X86_64 {
            let l = if x32 {
                let l = asm.label();
                x32_section = Some(l);
                l
            } else {
                bad_arch
            };
            asm.jmp(JGE_K, X32_SYSCALL_BIT, Tgt::L(l), Tgt::Next);
        }
        section(&mut asm, &mut rets, table, abi.wide(), 0, default);
        if let Some(l) = x32_section {
            asm.bind(l);
            section(
                &mut asm,
                &mut rets,
                &rules[&Abi::X32],
                true,
                X32_SYSCALL_BIT,
                default,
            );
        }
    }
    for (k, l) in std::mem::take(&mut rets.0) {
        asm.bind(l);
        asm.ret(k);
    }
    asm.finish()
}

/// One ABI's calls (the number in the accumulator; `base`: the first number, x32's bit
/// for x32).
fn section(
    asm: &mut Asm,
    rets: &mut Rets,
    table: &BTreeMap<u32, CallRules>,
    wide: bool,
    base: u32,
    default: u32,
) {
    let mut runs: Vec<(u32, Target)> = vec![(base, Target::Ret(default))];
    let mut blocks = Vec::new();
    let push = |runs: &mut Vec<(u32, Target)>, nr: u32, t: Target| {
        if runs.last().is_some_and(|(_, last)| *last == t) {
            return;
        }
        if runs.last().is_some_and(|(n, _)| *n == nr) {
            runs.pop();
            if runs.last().is_some_and(|(_, last)| *last == t) {
                return;
            }
        }
        runs.push((nr, t));
    };
    for (nr, r) in table {
        let t = if r.conditional.is_empty() {
            Target::Ret(r.unconditional.unwrap_or(default))
        } else {
            let l = asm.label();
            blocks.push((l, r));
            Target::Block(l)
        };
        push(&mut runs, *nr, t);
        if let Some(after) = nr.checked_add(1) {
            push(&mut runs, after, Target::Ret(default));
        }
    }
    search(asm, &runs);
    for (l, r) in blocks {
        asm.bind(l);
        for (conds, k) in &r.conditional {
            let next_rule = asm.label();
            for c in conds {
                condition(asm, c, wide, next_rule);
            }
            let to = rets.get(asm, *k);
            asm.ja(to);
            asm.bind(next_rule);
        }
        match r.unconditional {
            Some(k) => asm.ret(k),
            None => asm.ret(default),
        }
    }
}

#[cfg(test)]
mod tests;

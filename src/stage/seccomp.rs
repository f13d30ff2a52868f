//! Seccomp programs given as raw classic BPF (`--seccomp FD`, `--add-seccomp-fd FD`).

use std::io::Read;
use std::os::fd::RawFd;

use crate::error::{Error, Result};
use crate::sys;

/// The kernel's limit on the instructions of one classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// One validated program: `struct sock_filter[]` as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program(Vec<u8>);

/// One `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const K: u16 = 0x00;
const X: u16 = 0x08;
const A: u16 = 0x10;
const ADD: u16 = 0x00;
const SUB: u16 = 0x10;
const MUL: u16 = 0x20;
const DIV: u16 = 0x30;
const OR: u16 = 0x40;
const AND: u16 = 0x50;
const LSH: u16 = 0x60;
const RSH: u16 = 0x70;
const NEG: u16 = 0x80;
const XOR: u16 = 0xa0;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;
const TAX: u16 = 0x00;
const TXA: u16 = 0x80;
/// `BPF_MEMWORDS`: the scratch memory cells.
const MEMWORDS: u32 = 16;
/// `sizeof(struct seccomp_data)`.
const SECCOMP_DATA_LEN: u32 = 64;

/// Split raw bytes into instructions (native byte order, as the kernel reads them).
pub fn insns(data: &[u8]) -> Vec<Insn> {
    data.chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// The checks the kernel makes on a seccomp filter (`bpf_check_classic`,
/// `check_load_and_stores` and `seccomp_check_filter`), so that a program it would
/// refuse fails before the sandbox is set up, with the instruction and the reason
/// instead of a bare EINVAL. Err: "instruction N: reason".
pub fn check(prog: &[Insn]) -> std::result::Result<(), String> {
    let len = prog.len();
    if len == 0 || len > MAX_INSNS {
        return Err(format!("{len} instructions (1 to {MAX_INSNS} allowed)"));
    }
    let bad = |pc: usize, why: String| Err(format!("instruction {pc}: {why}"));
    for (pc, i) in prog.iter().enumerate() {
        // Instructions left after this one: every jump must land on one of them.
        let left = len - pc - 1;
        match i.code {
            c if c == LD | W | ABS => {
                if i.k >= SECCOMP_DATA_LEN || i.k % 4 != 0 {
                    return bad(pc, format!(
                        "load of offset {} (seccomp_data is {SECCOMP_DATA_LEN} bytes, read in aligned 32-bit words)",
                        i.k
                    ));
                }
            }
            c if c == ALU | DIV | K && i.k == 0 => return bad(pc, "division by zero".into()),
            c if (c == ALU | LSH | K || c == ALU | RSH | K) && i.k >= 32 => {
                return bad(pc, format!("shift by {} (at most 31)", i.k))
            }
            c if (c == LD | MEM || c == LDX | MEM || c == ST || c == STX) && i.k >= MEMWORDS => {
                return bad(pc, format!("memory cell {} (there are {MEMWORDS})", i.k))
            }
            c if c == JMP | JA => {
                if i.k as usize >= left {
                    return bad(pc, format!("jump by {} past the end", i.k));
                }
            }
            c if [JEQ, JGT, JGE, JSET]
                .iter()
                .any(|j| c == JMP | j | K || c == JMP | j | X) =>
            {
                if usize::from(i.jt.max(i.jf)) >= left {
                    return bad(pc, format!("jump by {} past the end", i.jt.max(i.jf)));
                }
            }
            c if c == LD | W | LEN
                || c == LDX | W | LEN
                || c == LD | IMM
                || c == LDX | IMM
                || c == LD | MEM
                || c == LDX | MEM
                || c == ST
                || c == STX
                || c == RET | K
                || c == RET | A
                || c == ALU | NEG
                || c == MISC | TAX
                || c == MISC | TXA
                || [ADD, SUB, MUL, DIV, AND, OR, XOR, LSH, RSH]
                    .iter()
                    .any(|op| c == ALU | op | K || c == ALU | op | X) => {}
            c => {
                return bad(
                    pc,
                    format!("opcode {c:#x} is not allowed in a seccomp filter"),
                )
            }
        }
    }
    if !matches!(prog[len - 1].code, c if c == RET | K || c == RET | A) {
        return bad(len - 1, "the last instruction must return".into());
    }
    // Scratch memory must be stored before it is loaded, on every path.
    let mut masks = vec![u16::MAX; len];
    let mut valid = 0u16;
    for (pc, i) in prog.iter().enumerate() {
        valid &= masks[pc];
        match i.code {
            c if c == ST || c == STX => valid |= 1 << i.k,
            c if (c == LD | MEM || c == LDX | MEM) && valid & (1 << i.k) == 0 => {
                return bad(pc, format!("memory cell {} read before it is written", i.k));
            }
            c if c == JMP | JA => {
                masks[pc + 1 + i.k as usize] &= valid;
                valid = u16::MAX;
            }
            c if c & 0x07 == JMP => {
                masks[pc + 1 + usize::from(i.jt)] &= valid;
                masks[pc + 1 + usize::from(i.jf)] &= valid;
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

impl Program {
    /// Validate raw bytes: a whole number of 8-byte instructions, at least one and at
    /// most the kernel's 4096, which the kernel would accept as a seccomp filter.
    pub fn from_bytes(data: Vec<u8>) -> Result<Program> {
        if data.len() % 8 != 0 {
            return Err(Error::msg("Invalid seccomp data, must be multiple of 8"));
        }
        if data.is_empty() {
            return Err(Error::msg("Invalid seccomp data, no instructions"));
        }
        if data.len() / 8 > MAX_INSNS {
            return Err(Error::msg(format!(
                "Invalid seccomp data, too many instructions (at most {MAX_INSNS})"
            )));
        }
        check(&insns(&data)).map_err(|why| Error::msg(format!("Invalid seccomp data, {why}")))?;
        Ok(Program(data))
    }

    /// Read an fd's bytes (consuming it; at most one byte past the largest program, as the
    /// fd may be endless: `/dev/zero`) and check only what bwrap checks as it reads
    /// each one in turn: the length is a multiple of 8 (an empty program passes here).
    /// Naming an fd a second time fails "Can't read seccomp data: Bad file descriptor".
    pub fn read_raw(fd: RawFd) -> Result<Vec<u8>> {
        let file = sys::take_fd(fd).map_err(|e| Error::io("Can't read seccomp data", e))?;
        let mut data = Vec::new();
        std::fs::File::from(file)
            .take(MAX_INSNS as u64 * 8 + 1)
            .read_to_end(&mut data)
            .map_err(|e| Error::io("Can't read seccomp data", e))?;
        if data.len() % 8 != 0 {
            return Err(Error::msg("Invalid seccomp data, must be multiple of 8"));
        }
        Ok(data)
    }

    pub fn install(&self) -> Result<()> {
        sys::seccomp_install(&self.0).map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                Error::msg("Unable to set up system call filtering as requested: prctl(PR_SET_SECCOMP) reported EINVAL. (Hint: this requires a kernel configured with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER.)")
            } else {
                Error::io("prctl(PR_SET_SECCOMP)", e)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_must_be_a_multiple_of_8() {
        assert!(Program::from_bytes(vec![0; 7]).is_err());
        assert_eq!(
            Program::from_bytes(vec![]).unwrap_err().to_string(),
            "Invalid seccomp data, no instructions"
        );
        assert_eq!(
            Program::from_bytes(vec![0; 12]).unwrap_err().to_string(),
            "Invalid seccomp data, must be multiple of 8"
        );
        // ld [0]; ret #0x7fff0000 (allow)
        let allow = [
            0x20u16.to_ne_bytes().as_slice(),
            &[0, 0],
            &0u32.to_ne_bytes(),
        ]
        .concat()
        .into_iter()
        .chain(
            [
                0x06u16.to_ne_bytes().as_slice(),
                &[0, 0],
                &0x7fff_0000u32.to_ne_bytes(),
            ]
            .concat(),
        )
        .collect::<Vec<u8>>();
        assert!(Program::from_bytes(allow).is_ok());
        assert_eq!(
            Program::from_bytes(vec![0; 8 * (MAX_INSNS + 1)])
                .unwrap_err()
                .to_string(),
            "Invalid seccomp data, too many instructions (at most 4096)"
        );
    }

    fn i(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    #[test]
    fn the_kernels_checks() {
        let ret = i(RET | K, 0, 0, 0);
        let err = |p: &[Insn]| check(p).unwrap_err();
        assert_eq!(check(&[ret]), Ok(()));
        assert_eq!(err(&[]), "0 instructions (1 to 4096 allowed)");
        assert_eq!(
            err(&[i(LD | W | ABS, 0, 0, 0)]),
            "instruction 0: the last instruction must return"
        );
        assert_eq!(
            err(&[i(LD | W | ABS, 0, 0, 2), ret]),
            "instruction 0: load of offset 2 (seccomp_data is 64 bytes, read in aligned 32-bit words)"
        );
        assert!(
            err(&[i(LD | W | ABS, 0, 0, 64), ret]).starts_with("instruction 0: load of offset 64")
        );
        assert_eq!(check(&[i(LD | W | ABS, 0, 0, 60), ret]), Ok(()));
        assert_eq!(
            err(&[i(ALU | DIV | K, 0, 0, 0), ret]),
            "instruction 0: division by zero"
        );
        assert_eq!(
            err(&[i(ALU | LSH | K, 0, 0, 32), ret]),
            "instruction 0: shift by 32 (at most 31)"
        );
        assert_eq!(
            err(&[i(JMP | JA, 0, 0, 1), ret]),
            "instruction 0: jump by 1 past the end"
        );
        assert_eq!(
            err(&[i(JMP | JEQ | K, 0, 1, 0), ret]),
            "instruction 0: jump by 1 past the end"
        );
        assert_eq!(check(&[i(JMP | JEQ | K, 0, 1, 0), ret, ret]), Ok(()));
        // BPF_MOD and the packet loads (BPF_H, BPF_IND, BPF_MSH) are not for seccomp.
        assert!(err(&[i(ALU | 0x90 | K, 0, 0, 1), ret]).contains("opcode 0x94 is not allowed"));
        assert!(err(&[i(LD | 0x08 | ABS, 0, 0, 0), ret]).contains("opcode 0x28"));
        assert_eq!(
            err(&[i(LD | MEM, 0, 0, 3), ret]),
            "instruction 0: memory cell 3 read before it is written"
        );
        assert_eq!(check(&[i(ST, 0, 0, 3), i(LD | MEM, 0, 0, 3), ret]), Ok(()));
        // Stored on one path only.
        assert!(check(&[
            i(JMP | JEQ | K, 0, 1, 0),
            i(ST, 0, 0, 3),
            i(LD | MEM, 0, 0, 3),
            ret
        ])
        .is_err());
    }
}

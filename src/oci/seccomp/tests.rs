//! The compiled programs run in a classic BPF interpreter, for every ABI whatever the
//! host; the behaviour under the kernel is tests/oci_seccomp.rs.

use super::*;

/// podman 4.3's profile on amd64 (tests/oci/seccomp/podman-profile.py).
const PODMAN: &str = include_str!("../../../tests/oci/seccomp/podman-amd64.json");

fn parse(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).unwrap()
}

fn bytes_to_prog(b: &[u8]) -> Vec<Insn> {
    insns(b)
}

/// Run `prog` on a `struct seccomp_data`; (return value, instructions executed).
fn run_counted(prog: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> (u32, usize) {
    let mut data = Vec::new();
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes());
    for a in args {
        data.extend_from_slice(&a.to_ne_bytes());
    }
    let (mut acc, mut pc, mut steps) = (0u32, 0usize, 0usize);
    loop {
        let i = prog[pc];
        pc += 1;
        steps += 1;
        match i.code {
            LD_W_ABS => {
                let k = i.k as usize;
                acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
            }
            ALU_AND_K => acc &= i.k,
            JA => pc += i.k as usize,
            RET_K => return (i.k, steps),
            code => {
                let taken = match code {
                    JEQ_K => acc == i.k,
                    JGT_K => acc > i.k,
                    JGE_K => acc >= i.k,
                    other => panic!("unexpected BPF opcode {other:#x}"),
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
        }
    }
}

fn run(prog: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    run_counted(prog, nr, arch, args).0
}

fn nr(name: &str, abi: Abi) -> u32 {
    number(name, abi).unwrap_or_else(|| panic!("{name} on {abi:?}"))
}

/// A call by name on `abi` through `prog`.
fn call(prog: &[Insn], abi: Abi, name: &str, args: [u64; 6]) -> u32 {
    run(prog, nr(name, abi), abi.audit(), args)
}

fn errno(e: u32) -> u32 {
    RET_ERRNO | e
}

fn compile_x86(json: &str) -> Vec<Insn> {
    bytes_to_prog(&compile_for(&parse(json), Abi::X86_64).unwrap())
}

fn compile_err(json: &str) -> String {
    compile_for(&parse(json), Abi::X86_64)
        .unwrap_err()
        .to_string()
}

#[test]
fn the_table_is_sorted_and_has_the_usual_numbers() {
    let t = syscalls::SYSCALLS;
    assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(number("read", Abi::X86_64), Some(0));
    assert_eq!(number("read", Abi::Aarch64), Some(63));
    assert_eq!(number("open", Abi::Aarch64), None);
    assert_eq!(number("socket", Abi::I386), Some(359));
    assert_eq!(number("socket", Abi::Arm), Some(281));
    assert_eq!(number("readv", Abi::X32), Some(X32_SYSCALL_BIT | 515));
    assert_eq!(number("getpid", Abi::X32), Some(X32_SYSCALL_BIT | 39));
    assert_eq!(number("fchmodat2", Abi::Arm), Some(452));
    assert_eq!(number("no_such_call", Abi::X86_64), None);
    #[cfg(target_arch = "x86_64")]
    for (name, n) in [
        ("read", libc::SYS_read),
        ("clone3", libc::SYS_clone3),
        ("personality", libc::SYS_personality),
        ("socket", libc::SYS_socket),
        ("arch_prctl", libc::SYS_arch_prctl),
    ] {
        assert_eq!(number(name, Abi::X86_64), Some(n as u32), "{name}");
    }
}

#[test]
fn podmans_profile() {
    let bytes = compile_for(&parse(PODMAN), Abi::X86_64).unwrap();
    let p = bytes_to_prog(&bytes);
    assert!(p.len() < 1500, "{} instructions", p.len());
    let x = Abi::X86_64;
    let allow = RET_ALLOW;
    for name in [
        "read",
        "getpid",
        "clone",
        "clone3",
        "mount",
        "unshare",
        "arch_prctl",
    ] {
        assert_eq!(call(&p, x, name, [0; 6]), allow, "{name}");
    }
    for name in ["kexec_load", "bpf", "acct", "open_by_handle_at", "iopl"] {
        assert_eq!(call(&p, x, name, [0; 6]), errno(1), "{name}");
    }
    // Not in the profile: defaultErrnoRet (ENOSYS).
    for n in [335, 460, 999, 5000] {
        assert_eq!(run(&p, n, AUDIT_ARCH_X86_64, [0; 6]), errno(38), "{n}");
    }
    // personality: 0, 8, 0x20000, 0x20008 and the query only.
    for (persona, want) in [
        (0u64, allow),
        (8, allow),
        (0x20000, allow),
        (0x20008, allow),
        (0xffff_ffff, allow),
        (0x0040_0000, errno(38)),
        (1, errno(38)),
        // The high word counts on x86_64.
        (0x1_0000_0008, errno(38)),
    ] {
        assert_eq!(
            call(&p, x, "personality", [persona, 0, 0, 0, 0, 0]),
            want,
            "{persona:#x}"
        );
    }
    // socket: NETLINK_AUDIT netlink sockets get EINVAL, every other socket is allowed.
    let socket = |a: [u64; 3]| call(&p, x, "socket", [a[0], a[1], a[2], 0, 0, 0]);
    assert_eq!(socket([16, 3, 9]), errno(22));
    assert_eq!(socket([16, 3, 0]), allow);
    assert_eq!(socket([2, 1, 9]), allow);
    assert_eq!(socket([2, 1, 0]), allow);
    // i386: the same rules with i386's numbers, on 32 bits.
    let i = Abi::I386;
    assert_eq!(call(&p, i, "getpid", [0; 6]), allow);
    assert_eq!(call(&p, i, "socketcall", [0; 6]), allow);
    assert_eq!(call(&p, i, "socket", [16, 3, 9, 0, 0, 0]), errno(22));
    assert_eq!(call(&p, i, "socket", [16, 3, 0, 0, 0, 0]), allow);
    assert_eq!(call(&p, i, "personality", [8, 0, 0, 0, 0, 0]), allow);
    assert_eq!(call(&p, i, "personality", [1, 0, 0, 0, 0, 0]), errno(38));
    assert_eq!(call(&p, i, "bpf", [0; 6]), errno(1));
    // Every listed architecture gets every rule its table has a number for.
    assert_eq!(call(&p, i, "arch_prctl", [0; 6]), allow);
    // x32: numbers with the x32 bit, under x86_64's audit value.
    let x32 = Abi::X32;
    assert_eq!(call(&p, x32, "readv", [0; 6]), allow);
    assert_eq!(call(&p, x32, "getpid", [0; 6]), allow);
    assert_eq!(call(&p, x32, "bpf", [0; 6]), errno(1));
    assert_eq!(
        run(&p, X32_SYSCALL_BIT | 1000, AUDIT_ARCH_X86_64, [0; 6]),
        errno(38)
    );
    // Other architectures: killed.
    for arch in [AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, 0] {
        assert_eq!(run(&p, 39, arch, [0; 6]), RET_KILL_PROCESS);
    }
}

/// Every number of each ABI: the verdict, by a short path (binary search).
#[test]
fn every_number_by_a_short_path() {
    let p = compile_x86(PODMAN);
    let mut longest = 0;
    for (abi, base) in [
        (Abi::X86_64, 0),
        (Abi::I386, 0),
        (Abi::X32, X32_SYSCALL_BIT),
    ] {
        for n in 0..1100u32 {
            let (got, steps) = run_counted(&p, base | n, abi.audit(), [0; 6]);
            longest = longest.max(steps);
            let name = syscalls::SYSCALLS
                .iter()
                .find(|(_, cols)| cols[abi.column()] == (base | n) as i32)
                .map(|(name, _)| *name);
            let listed = |action: &str| {
                parse(PODMAN).syscalls().iter().flatten().any(|c| {
                    c.action().to_string() == action
                        && c.args().as_ref().is_none_or(|a| a.is_empty())
                        && name.is_some_and(|nm| c.names().iter().any(|x| x == nm))
                })
            };
            let want = match name {
                Some("personality") | Some("socket") => continue,
                _ if listed("SCMP_ACT_ALLOW") => RET_ALLOW,
                _ if listed("SCMP_ACT_ERRNO") => errno(1),
                _ => errno(38),
            };
            assert_eq!(got, want, "{abi:?} {n} {name:?}");
        }
    }
    assert!(longest <= 24, "a path of {longest} instructions");
}

#[test]
fn aarch64_native_skips_x86_architectures() {
    let p = bytes_to_prog(&compile_for(&parse(PODMAN), Abi::Aarch64).unwrap());
    let a = Abi::Aarch64;
    assert_eq!(call(&p, a, "getpid", [0; 6]), RET_ALLOW);
    assert_eq!(call(&p, a, "bpf", [0; 6]), errno(1));
    assert_eq!(call(&p, a, "socket", [16, 3, 9, 0, 0, 0]), errno(22));
    assert_eq!(run(&p, 39, AUDIT_ARCH_X86_64, [0; 6]), RET_KILL_PROCESS);
    assert_eq!(run(&p, 20, AUDIT_ARCH_ARM, [0; 6]), RET_KILL_PROCESS);
    // With arm listed, arm's calls are filtered by arm's numbers.
    let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]}"#;
    let p = bytes_to_prog(&compile_for(&parse(json), Abi::Aarch64).unwrap());
    assert_eq!(call(&p, Abi::Arm, "getpid", [0; 6]), RET_ALLOW);
    assert_eq!(call(&p, Abi::Arm, "getppid", [0; 6]), errno(1));
    assert_eq!(call(&p, a, "getpid", [0; 6]), RET_ALLOW);
}

/// The operators against their definition, on values around the boundaries of both
/// words, 64-bit and 32-bit.
#[test]
fn operators() {
    let values: Vec<u64> = {
        let mut v = vec![0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
        for hi in [0u64, 1, 2, 0xffff_ffff] {
            for lo in [0u64, 1, 2, 0xffff_fffe, 0xffff_ffff] {
                v.push(hi << 32 | lo);
            }
        }
        v.sort();
        v.dedup();
        v
    };
    let ops = [
        ("SCMP_CMP_EQ", Op::ScmpCmpEq),
        ("SCMP_CMP_NE", Op::ScmpCmpNe),
        ("SCMP_CMP_LT", Op::ScmpCmpLt),
        ("SCMP_CMP_LE", Op::ScmpCmpLe),
        ("SCMP_CMP_GT", Op::ScmpCmpGt),
        ("SCMP_CMP_GE", Op::ScmpCmpGe),
        ("SCMP_CMP_MASKED_EQ", Op::ScmpCmpMaskedEq),
    ];
    for (name, op) in ops {
        for v in [0u64, 1, 0xffff_ffff, 0x1_0000_0001, 0xffff_ffff_ffff_fffe] {
            let two = 0x1_0000_0000u64;
            let json = format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "syscalls": [
                {{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
                  "args": [{{"index": 3, "value": {v}, "valueTwo": {two}, "op": "{name}"}}]}}]}}"#
            );
            let p = compile_x86(&json);
            for (abi, wide) in [(Abi::X86_64, true), (Abi::I386, false)] {
                for a in &values {
                    let (a2, v2, t2) = if wide {
                        (*a, v, two)
                    } else {
                        (*a & 0xffff_ffff, v & 0xffff_ffff, two & 0xffff_ffff)
                    };
                    let holds = match op {
                        Op::ScmpCmpEq => a2 == v2,
                        Op::ScmpCmpNe => a2 != v2,
                        Op::ScmpCmpLt => a2 < v2,
                        Op::ScmpCmpLe => a2 <= v2,
                        Op::ScmpCmpGt => a2 > v2,
                        Op::ScmpCmpGe => a2 >= v2,
                        Op::ScmpCmpMaskedEq => a2 & v2 == t2,
                    };
                    let got = call(&p, abi, "getpid", [0, 0, 0, *a, 0, 0]);
                    let want = if holds { errno(7) } else { RET_ALLOW };
                    assert_eq!(got, want, "{name} {v:#x} on {a:#x} ({abi:?})");
                }
            }
        }
    }
}

#[test]
fn conditions_and_or_and_order() {
    // Two arguments in one rule: both must hold.
    let p = compile_x86(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 6, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
        {"names": ["getpid"], "action": "SCMP_ACT_KILL"},
        {"names": ["getppid"], "action": "SCMP_ACT_TRAP"},
        {"names": ["gettid"], "action": "SCMP_ACT_KILL_THREAD", "args": [
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["gettid"], "action": "SCMP_ACT_KILL_PROCESS", "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_GE"}]},
        {"names": ["getuid", "no_such_call", "arch_prctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["getuid"], "action": "SCMP_ACT_ERRNO"}
    ]}"#,
    );
    let x = Abi::X86_64;
    assert_eq!(call(&p, x, "kill", [5, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call(&p, x, "kill", [5, 9, 0, 0, 0, 0]), errno(38));
    assert_eq!(call(&p, x, "kill", [4, 0, 0, 0, 0, 0]), errno(38));
    // Two conditions on argument 0: either (runc).
    assert_eq!(call(&p, x, "getpid", [5; 6]), RET_ALLOW);
    assert_eq!(call(&p, x, "getpid", [6; 6]), RET_ALLOW);
    // Else the first rule without conditions.
    assert_eq!(call(&p, x, "getpid", [7; 6]), RET_LOG);
    assert_eq!(call(&p, x, "getppid", [0; 6]), RET_TRAP);
    // The first conditional rule that matches.
    assert_eq!(call(&p, x, "gettid", [1; 6]), RET_KILL_THREAD);
    assert_eq!(call(&p, x, "gettid", [2; 6]), RET_KILL_PROCESS);
    // A rule with the default action is skipped; errno defaults to EPERM.
    assert_eq!(call(&p, x, "getuid", [0; 6]), errno(1));
    assert_eq!(call(&p, x, "arch_prctl", [0; 6]), errno(38));
    // Without architectures: the native one only.
    assert_eq!(call(&p, Abi::I386, "getpid", [0; 6]), RET_KILL_PROCESS);
}

/// Conditional rules on many calls, so that jumps span more than 255 instructions.
#[test]
fn long_jumps() {
    let names: Vec<&str> = syscalls::SYSCALLS
        .iter()
        .filter(|(_, c)| c[0] >= 0)
        .map(|(n, _)| *n)
        .take(120)
        .collect();
    let rules: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                r#"{{"names": ["{n}"], "action": "SCMP_ACT_ERRNO", "errnoRet": {e},
                "args": [{{"index": 1, "value": {i}, "op": "SCMP_CMP_GT"}}]}}"#,
                e = i + 1
            )
        })
        .collect();
    let json = format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [{}]}}"#,
        rules.join(",")
    );
    let p = compile_x86(&json);
    assert!(p.len() > 1000, "{}", p.len());
    for abi in [Abi::X86_64, Abi::X32, Abi::I386] {
        for (i, n) in names.iter().enumerate() {
            let Some(num) = number(n, abi) else { continue };
            let i = i as u64;
            let at = |a1: u64| run(&p, num, abi.audit(), [0, a1, 0, 0, 0, 0]);
            // Names that share a number on this ABI take the first rule.
            let first = names
                .iter()
                .position(|m| number(m, abi) == Some(num))
                .unwrap() as u64;
            if first != i {
                continue;
            }
            assert_eq!(at(i + 1), errno(i as u32 + 1), "{n} on {abi:?}");
            assert_eq!(at(i), RET_ALLOW, "{n} on {abi:?}");
        }
    }
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (
            r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#,
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_TRACE"}"#,
            "linux.seccomp.defaultAction: SCMP_ACT_TRACE is not supported",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
            "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY is not supported",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"]}"#,
            "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_LOG is not supported",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}"#,
            "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_SPEC_ALLOW is not supported",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096}"#,
            "linux.seccomp.defaultErrnoRet: errno 4096 is out of range (at most 4095)",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}"#,
            "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO takes an errno, not SCMP_ACT_KILL",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].index: argument 6 does not exist (0 to 5)",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [""], "action": "SCMP_ACT_ERRNO"}]}"#,
            "linux.seccomp.syscalls[0].names[0]: an empty name",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}"#,
            "linux.seccomp.listenerPath: seccomp agents",
        ),
    ];
    for (json, want) in cases {
        let got = compile_err(json);
        assert!(got.starts_with(want), "{json}: {got}");
    }
    // Unknown flags and actions: refused when config.json is read.
    for json in [
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW"]}"#,
        r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#,
    ] {
        let e = serde_json::from_str::<LinuxSeccomp>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }
}

#[test]
fn the_output_passes_hutchs_checker() {
    let bytes = compile_for(&parse(PODMAN), Abi::X86_64).unwrap();
    crate::seccomp::Program::from_bytes(bytes).unwrap();
    // Only ALLOW: still a valid program.
    let bytes = compile_for(
        &parse(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#),
        Abi::X86_64,
    )
    .unwrap();
    let p = bytes_to_prog(&bytes);
    assert_eq!(run(&p, 0, AUDIT_ARCH_X86_64, [0; 6]), RET_ALLOW);
    assert_eq!(
        run(&p, X32_SYSCALL_BIT, AUDIT_ARCH_X86_64, [0; 6]),
        RET_KILL_PROCESS
    );
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    compile(&parse(PODMAN)).unwrap();
}

//! Replays every input kept in `fuzz/regressions/<target>/` (inputs that once made a
//! fuzz target fail) and `fuzz/seeds/<target>/` through the fuzz target's own check,
//! `hutch::fuzzing::<target>`, so that `cargo test` guards what the fuzzers found.

use std::path::Path;

#[test]
fn fuzz_regressions_and_seeds_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (target, check) in hutch::fuzzing::TARGETS {
        for kind in ["regressions", "seeds"] {
            let dir = root.join(kind).join(target);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            for f in files {
                if f.file_name().is_some_and(|n| n == ".gitkeep") {
                    continue;
                }
                let data = std::fs::read(&f).unwrap();
                let r = std::panic::catch_unwind(|| check(&data));
                assert!(r.is_ok(), "{target}: {} fails again", f.display());
                replayed += 1;
            }
        }
    }
    println!("replayed {replayed} fuzz inputs");
    assert!(
        replayed > 0,
        "no fuzz inputs found under {}",
        root.display()
    );
}

/// `hutch::seccomp::check` refuses exactly the programs the kernel refuses: random
/// small programs (most of them nearly valid) are given to bubblewrap, which passes
/// them to prctl(PR_SET_SECCOMP) unchecked, and its EINVAL is compared with check().
#[test]
fn seccomp_check_agrees_with_the_kernel() {
    use hutch::seccomp::{check, Insn};
    use std::io::Write;
    let bwrap = Path::new("/usr/bin/bwrap");
    if !bwrap.exists() {
        crate::support::skip("no /usr/bin/bwrap to compare with (bash .ci/run installs it)");
        return;
    }
    const CODES: &[u16] = &[
        0x20, 0x28, 0x30, 0x40, 0x80, 0x81, 0x00, 0x01, 0x60, 0x61, 0x02, 0x03, 0x04, 0x0c, 0x14,
        0x24, 0x34, 0x3c, 0x44, 0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0xac, 0x05, 0x15, 0x1d, 0x25,
        0x35, 0x45, 0x4d, 0x06, 0x16, 0x07, 0x87, 0xb1, 0xffff,
    ];
    const KS: &[u32] = &[
        0,
        1,
        3,
        4,
        15,
        16,
        31,
        32,
        60,
        62,
        64,
        0x7fff_0000,
        0x5_0001,
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..400 {
        let len = 1 + next(6);
        let mut prog: Vec<Insn> = (0..len)
            .map(|_| Insn {
                code: CODES[next(CODES.len())],
                jt: next(3) as u8,
                jf: next(3) as u8,
                k: KS[next(KS.len())],
            })
            .collect();
        if next(5) != 0 {
            // Mostly end with "allow", so that the command can still run.
            prog[len - 1] = Insn {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0x7fff_0000,
            };
        }
        let bytes: Vec<u8> = prog
            .iter()
            .flat_map(|i| {
                let mut b = i.code.to_ne_bytes().to_vec();
                b.extend([i.jt, i.jf]);
                b.extend(i.k.to_ne_bytes());
                b
            })
            .collect();
        let file = dir.path().join(format!("p{round}"));
        std::fs::File::create(&file)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        // bash hands the program over as fd 9.
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                "exec /usr/bin/bwrap --ro-bind / / --seccomp 9 /bin/true 9<\"$0\"",
            ])
            .arg(&file)
            .output()
            .unwrap();
        let kernel_refused = String::from_utf8_lossy(&out.stderr).contains("reported EINVAL");
        let ours = check(&prog);
        assert_eq!(
            ours.is_err(),
            kernel_refused,
            "program {prog:?}: check() says {ours:?}, bwrap says {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if kernel_refused {
            refused += 1
        } else {
            accepted += 1
        }
    }
    println!("{accepted} programs accepted and {refused} refused by both the kernel and check()");
    assert!(accepted > 10 && refused > 10);
}

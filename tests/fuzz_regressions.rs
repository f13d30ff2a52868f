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

//! The properties the fuzz targets check (`fuzz/fuzz_targets/*.rs` call these).
//!
//! Each function takes the fuzzer's bytes, runs one of hutch's parsers on them and
//! panics when a property fails: no panic inside hutch, and cheap invariants on what
//! comes out. `tests/it/fuzz_regressions.rs` replays every input kept in
//! `fuzz/regressions/<target>/` and `fuzz/seeds/<target>/` through the same function,
//! so that `cargo test` covers what the fuzzers once found.

use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;

use crate::cli::{self, Action, Input};
use crate::error::{Error, Result};
use crate::profile::{Search, Vars};
use crate::seccomp::{self, Program};
use crate::spec::Personality;
use crate::userns::{self, Ids, Layout};

/// A fuzz target's check.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name, for the regression replay.
pub const TARGETS: &[(&str, Check)] = &[
    ("cli", cli),
    ("bpf", bpf),
    ("profile", profile),
    ("idmap", idmap),
];

/// A parser input with no fds and no files: every `--args FD` (fd 0 to 9) holds
/// `args`, and `--profile` finds only the built-in profiles, with fixed variables.
struct Fake<'a> {
    args: Option<&'a [u8]>,
}

impl Input for Fake<'_> {
    fn args_fd(&mut self, fd: RawFd) -> Result<Vec<u8>> {
        match self.args {
            Some(a) if (0..10).contains(&fd) => Ok(a.to_vec()),
            _ => Err(Error::io(
                "Can't read --args data",
                std::io::Error::from_raw_os_error(libc::EBADF),
            )),
        }
    }

    fn profile_env(&mut self, command: Option<&OsStr>) -> (Vars, Search) {
        (vars(command), builtin_search())
    }
}

fn vars(command: Option<&OsStr>) -> Vars {
    let mut v = Vars::default();
    for (k, val) in [
        ("HOME", "/home/user"),
        ("PWD", "/home/user/src"),
        ("UID", "1000"),
        ("GID", "1000"),
        ("USER", "user"),
        ("WAYLAND_DISPLAY", "wayland-0"),
    ] {
        v.set(k, val.to_string());
    }
    if let Some(c) = command.and_then(|c| std::path::Path::new(c).file_name()) {
        v.set("NAME", c.to_string_lossy().into_owned());
    }
    v.fill_defaults();
    v
}

fn builtin_search() -> Search {
    Search {
        builtin_only: true,
        ..Search::default()
    }
}

/// An error message is one non-empty line.
fn one_line(what: &str, input: &dyn std::fmt::Debug, msg: &str) {
    assert!(
        !msg.is_empty() && !msg.contains('\n'),
        "{what}: the message for {input:?} is not one line: {msg:?}"
    );
}

/// The command line (split on NUL), then optionally a 0xFF byte and the content of
/// every `--args FD`, parsed with both personalities. An error is one line; a
/// warning too; a parsed command line can be explained.
pub fn cli(data: &[u8]) {
    let (argv, args_file) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let args = cli::split_args(argv);
    for personality in [Personality::Bwrap, Personality::Hutch] {
        let mut input = Fake { args: args_file };
        match cli::parse_with(personality, args.clone(), &mut input) {
            Ok((Action::Run(spec), warnings)) => {
                for (_, w) in &warnings {
                    one_line("warning", &args, w);
                }
                // The parse is a pure function of its input.
                let again =
                    cli::parse_with(personality, args.clone(), &mut Fake { args: args_file });
                assert!(
                    matches!(&again, Ok((Action::Run(s), _)) if *s == spec),
                    "a second parse of {args:?} differs"
                );
                let plan = crate::explain::explain(&spec);
                assert!(
                    plan.ends_with('\n'),
                    "--explain output for {args:?}: {plan:?}"
                );
            }
            Ok((Action::Help | Action::Version, _)) => {}
            Err(e) => one_line("cli", &args, &e.to_string()),
        }
    }
}

/// Raw bytes as a `--seccomp FD` program. Accepted: whole instructions, 1 to 4096,
/// ending in a return, and every jump inside; refused: one line naming the data.
pub fn bpf(data: &[u8]) {
    let insns = seccomp::insns(data);
    let verdict = seccomp::check(&insns);
    match Program::from_bytes(data.to_vec()) {
        Ok(_) => {
            assert!(data.len() % 8 == 0 && (1..=seccomp::MAX_INSNS).contains(&insns.len()));
            assert_eq!(verdict, Ok(()));
            let last = insns[insns.len() - 1];
            assert!(last.code == 0x06 || last.code == 0x16, "ends with {last:?}");
            for (pc, i) in insns.iter().enumerate() {
                let left = insns.len() - pc - 1;
                match i.code {
                    0x05 => assert!((i.k as usize) < left, "jump at {pc} escapes"),
                    c if c & 0x07 == 0x05 => {
                        assert!(usize::from(i.jt.max(i.jf)) < left, "jump at {pc} escapes")
                    }
                    _ => {}
                }
            }
        }
        Err(e) => {
            let m = e.to_string();
            one_line("bpf", &data.len(), &m);
            assert!(m.starts_with("Invalid seccomp data, "), "{m}");
            if data.len() % 8 == 0 && !data.is_empty() && insns.len() <= seccomp::MAX_INSNS {
                assert!(verdict.is_err(), "refused although check() accepts: {m}");
            }
        }
    }
}

/// A profile's text. An error is one line naming the profile; the expansion is a
/// list of whole options (each group on its own), which the parser takes without
/// panicking.
pub fn profile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::profile::load_text(
        "fuzz.toml",
        text,
        &vars(Some("app".as_ref())),
        &builtin_search(),
    ) {
        Ok((used, groups)) => {
            let flat: Vec<OsString> = groups.iter().flat_map(|g| g.args.clone()).collect();
            assert_eq!(used.args, flat);
            for personality in [Personality::Bwrap, Personality::Hutch] {
                if let Err(e) =
                    cli::parse_with(personality, used.args.clone(), &mut Fake { args: None })
                {
                    one_line("profile expansion", &used.args, &e.to_string());
                }
            }
        }
        Err(e) => {
            let m = e.to_string();
            one_line("profile", &text, &m);
            assert!(m.starts_with("profile "), "{m}");
        }
    }
}

/// One map text, checked as the kernel would: at most 340 lines of
/// `inside outside count`, count >= 1, no range wrapping past 2^32-1 (which is
/// not an id), and no two ranges overlapping inside nor outside.
/// Returns the ranges.
pub fn check_map(text: &str) -> Vec<(u32, u32, u32)> {
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        !lines.is_empty() && lines.len() <= userns::MAX_MAP_LINES && text.ends_with('\n'),
        "map {text:?}"
    );
    let ranges: Vec<(u32, u32, u32)> = lines
        .iter()
        .map(|l| {
            let f: Vec<u32> = l
                .split(' ')
                .map(|n| n.parse().unwrap_or_else(|_| panic!("map line {l:?}")))
                .collect();
            assert_eq!(f.len(), 3, "map line {l:?}");
            assert!(f[2] >= 1, "map line {l:?}: count 0");
            for first in [f[0], f[1]] {
                assert!(
                    u64::from(first) + u64::from(f[2]) <= u64::from(u32::MAX),
                    "map line {l:?} reaches 2^32-1"
                );
            }
            (f[0], f[1], f[2])
        })
        .collect();
    let overlap = |a: u32, n: u32, b: u32, m: u32| {
        u64::from(a) < u64::from(b) + u64::from(m) && u64::from(b) < u64::from(a) + u64::from(n)
    };
    for (i, x) in ranges.iter().enumerate() {
        for y in &ranges[i + 1..] {
            assert!(
                !overlap(x.0, x.2, y.0, y.2),
                "inside ranges overlap: {text:?}"
            );
            assert!(
                !overlap(x.1, x.2, y.1, y.2),
                "outside ranges overlap: {text:?}"
            );
        }
    }
    ranges
}

/// Where `id` goes through a map.
fn map_id(ranges: &[(u32, u32, u32)], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|(inside, _, n)| id >= *inside && u64::from(id) < u64::from(*inside) + u64::from(*n))
        .map(|(inside, outside, _)| outside + (id - inside))
}

/// The caller's ids, `--uid`/`--gid` as text, and which of `--unshare-user`,
/// `--dev`, `--disable-userns` are given: the maps hutch would write are valid,
/// and take the sandbox's ids to the caller's, the only ids an unprivileged
/// caller may map.
pub fn idmap(data: &[u8]) {
    if data.len() < 9 {
        return;
    }
    let word = |i: usize| u32::from_ne_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let real = Ids {
        uid: word(0),
        gid: word(4),
    };
    // The kernel never gives a process the id 2^32-1 ((uid_t)-1 is "no id").
    if real.uid == u32::MAX || real.gid == u32::MAX {
        return;
    }
    let flags = data[8];
    let text = String::from_utf8_lossy(&data[9..]);
    let mut values = text.split('\0');
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |a: &[&str]| args.extend(a.iter().map(OsString::from));
    if flags & 1 != 0 {
        push(&["--unshare-user"]);
    }
    if flags & 2 != 0 {
        push(&["--dev", "/dev"]);
    }
    if flags & 4 != 0 {
        push(&["--disable-userns"]);
    }
    for (bit, flag) in [(8, "--uid"), (16, "--gid")] {
        if flags & bit != 0 {
            push(&[flag, values.next().unwrap_or("")]);
        }
    }
    push(&["true"]);
    let spec = match cli::parse_with(Personality::Hutch, args.clone(), &mut Fake { args: None }) {
        Ok((Action::Run(spec), _)) => spec,
        Ok(_) => panic!("{args:?} is not a run"),
        Err(e) => {
            let m = e.to_string();
            one_line("idmap", &args, &m);
            assert!(
                m.starts_with("Invalid uid") || m.starts_with("Invalid gid"),
                "{m}"
            );
            return;
        }
    };
    let userns = flags & 1 != 0 || real.uid != 0;
    let layout = Layout::new(real, spec.uid, spec.gid, userns, |ids| {
        crate::plan::nested_user_ns(&spec, ids.uid, ids.gid)
    });
    assert_eq!(layout.real, real);
    if !userns {
        assert!(!layout.nested);
        return;
    }
    let outer = layout.outer_maps();
    let (ou, og) = (check_map(&outer.uid_map), check_map(&outer.gid_map));
    // Unprivileged: one line, mapping exactly the caller's own id.
    assert_eq!(ou.len(), 1);
    assert_eq!(og.len(), 1);
    assert_eq!((ou[0].1, og[0].1), (real.uid, real.gid));
    let (mut uid, mut gid) = (layout.sandbox.uid, layout.sandbox.gid);
    if let Some(inner) = layout.nested_maps() {
        let (iu, ig) = (check_map(&inner.uid_map), check_map(&inner.gid_map));
        uid = map_id(&iu, uid).expect("the sandbox uid is mapped in the nested namespace");
        gid = map_id(&ig, gid).expect("the sandbox gid is mapped in the nested namespace");
    }
    assert_eq!(map_id(&ou, uid), Some(real.uid), "{layout:?}");
    assert_eq!(map_id(&og, gid), Some(real.gid), "{layout:?}");
    assert_eq!(
        layout.sandbox,
        Ids {
            uid: spec.uid.unwrap_or(real.uid),
            gid: spec.gid.unwrap_or(real.gid),
        }
    );
}

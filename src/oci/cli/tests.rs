//! The `hutch oci` table and its parser: every command and option of the table parses
//! in each form runc's callers use, and bad input is refused with a message naming it.

use super::*;

fn line(args: &[&str]) -> Line {
    Line::new(args.iter().map(|a| a.into()).collect()).unwrap()
}

/// The global options of `args` and where they stopped.
fn global_of(args: &[&str]) -> Result<(Matches, Start)> {
    let mut l = line(args);
    let mut m = Matches::default();
    let start = global(&mut l, &mut m)?;
    Ok((m, start))
}

/// A command line after the global options: its command and what it matched.
fn run_of(args: &[&str]) -> Result<(&'static str, Matches)> {
    let mut l = line(&args[1..]);
    match command_line(args[0], &mut l)? {
        Action::Run(c, m) => Ok((c.name, m)),
        Action::Help(c) => panic!("{args:?}: help of {}", c.name),
    }
}

fn err(args: &[&str]) -> String {
    match run_of(args) {
        Ok((_, m)) => panic!("{args:?} parsed: {m:?}"),
        Err(e) => e.to_string(),
    }
}

/// Operands that satisfy the command.
fn operands(c: &Command) -> Vec<&'static str> {
    c.operands.iter().map(|o| o.name).collect()
}

#[test]
fn the_table_is_well_formed() {
    let mut names = std::collections::BTreeSet::new();
    for c in COMMANDS {
        assert!(names.insert(c.name), "command {} twice", c.name);
        assert_eq!(c.refused.is_some(), c.help.is_empty(), "{}", c.name);
        assert!(
            c.opts.iter().any(|o| o.name == "help"),
            "{} has no --help",
            c.name
        );
        // Required operands first.
        let first_optional = c.operands.iter().position(|o| !o.required);
        if let Some(i) = first_optional {
            assert!(c.operands[i..].iter().all(|o| !o.required), "{}", c.name);
        }
    }
    for table in std::iter::once(GLOBAL).chain(COMMANDS.iter().map(|c| c.opts)) {
        let mut seen = std::collections::BTreeSet::new();
        for o in table {
            assert!(seen.insert(o.name.to_string()), "--{} twice", o.name);
            if let Some(c) = o.short {
                assert!(seen.insert(c.to_string()), "-{c} twice");
            }
            assert!(o.name.len() > 1 && !o.name.starts_with('-'), "{}", o.name);
            assert!(!o.help.is_empty() && !o.help.ends_with('.'), "--{}", o.name);
        }
    }
}

#[test]
fn every_option_of_every_command_parses_in_each_form() {
    for c in supported() {
        let ops = operands(c);
        for o in c
            .opts
            .iter()
            .filter(|o| o.refused.is_none() && o.name != "help")
        {
            let value = match o.value {
                Some((_, Kind::OneOf(words))) => Some(words[0]),
                // preserve-fds is checked by the command: 0 passes.
                Some(_) if o.name == "preserve-fds" => Some("0"),
                Some(_) => Some("/some/where"),
                None => None,
            };
            let long = format!("--{}", o.name);
            let single = format!("-{}", o.name);
            let mut forms: Vec<Vec<String>> = Vec::new();
            let mut names = vec![long.clone(), single];
            if let Some(s) = o.short {
                names.push(format!("-{s}"));
            }
            for n in &names {
                match value {
                    Some(v) => {
                        forms.push(vec![n.clone(), v.to_string()]);
                        forms.push(vec![format!("{n}={v}")]);
                    }
                    None => {
                        forms.push(vec![n.clone()]);
                        forms.push(vec![format!("{n}=true")]);
                    }
                }
            }
            for form in forms {
                // Before and after the operands.
                for before in [true, false] {
                    let mut args = vec![c.name];
                    let form: Vec<&str> = form.iter().map(|s| s.as_str()).collect();
                    if before {
                        args.extend(&form);
                        args.extend(&ops);
                    } else {
                        args.extend(&ops);
                        args.extend(&form);
                    }
                    let (name, m) = run_of(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
                    assert_eq!(name, c.name);
                    assert_eq!(m.operands, ops, "{args:?}");
                    match value {
                        Some(v) => assert_eq!(m.get(o.name), Some(v), "{args:?}"),
                        None => assert!(m.flag(o.name), "{args:?}"),
                    }
                }
            }
            if value.is_none() {
                let mut args = vec![c.name, &long];
                args.extend(&ops);
                let off = format!("{long}=false");
                args[1] = &off;
                assert!(!run_of(&args).unwrap().1.flag(o.name), "{args:?}");
            }
        }
    }
}

#[test]
fn global_options_parse_in_each_form() {
    for args in [
        &[
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "state",
        ][..],
        &["--root=/r", "--log=/l", "--log-format=json", "state"],
        &[
            "-root",
            "/r",
            "-log=/l",
            "-log-format",
            "json",
            "--debug",
            "state",
        ],
    ] {
        let (m, start) = global_of(args).unwrap();
        assert_eq!(start, Start::Command("state".into()), "{args:?}");
        assert_eq!(m.get("root"), Some("/r"));
        assert_eq!(m.get("log"), Some("/l"));
        assert_eq!(m.get("log-format"), Some("json"));
    }
    // The last one wins; the value may start with a dash.
    let (m, _) = global_of(&["--root", "/a", "--root", "-b", "x"]).unwrap();
    assert_eq!(m.get("root"), Some("-b"));
    for v in [
        &["--version"][..],
        &["-v"],
        &["--root", "/r", "-version", "state"],
    ] {
        assert_eq!(global_of(v).unwrap().1, Start::Version, "{v:?}");
    }
    for h in [&["--help"][..], &["-h"], &["--log=/l", "--help", "bogus"]] {
        assert_eq!(global_of(h).unwrap().1, Start::Help, "{h:?}");
    }
    assert_eq!(global_of(&[]).unwrap().1, Start::Usage);
    assert_eq!(global_of(&["--root", "/r"]).unwrap().1, Start::Usage);
    // Every global option of the table is read.
    for o in GLOBAL {
        let arg = format!("--{}", o.name);
        let mut words = vec![arg.as_str()];
        if let Some((_, kind)) = o.value {
            words.push(match kind {
                Kind::OneOf(w) => w[0],
                _ => "/x",
            });
        }
        words.push("state");
        let r = global_of(&words);
        match (o.refused, o.name) {
            (Some(why), _) => assert!(r.unwrap_err().to_string().contains(why)),
            (None, "help") => assert_eq!(r.unwrap().1, Start::Help),
            (None, "version") => assert_eq!(r.unwrap().1, Start::Version),
            (None, _) => {
                let (m, start) = r.unwrap();
                assert_eq!(start, Start::Command("state".into()));
                assert!(m.flag(o.name) || m.get(o.name).is_some(), "{}", o.name);
            }
        }
    }
}

#[test]
fn bad_global_options_are_refused_by_name() {
    let e = |args: &[&str]| global_of(args).unwrap_err().to_string();
    assert_eq!(e(&["--frob", "state"]), "unknown option --frob");
    assert_eq!(e(&["-x", "state"]), "unknown option -x");
    assert_eq!(e(&["--", "state"]), "unknown option --");
    assert_eq!(e(&["--root"]), "--root needs a value");
    assert_eq!(
        e(&["--log-format", "xml", "state"]),
        "--log-format xml: expected text or json"
    );
    assert!(e(&["--systemd-cgroup", "state"]).starts_with("--systemd-cgroup: not supported"));
    assert_eq!(
        e(&["--debug=yes", "state"]),
        "--debug=yes: expected true or false"
    );
    // --systemd-cgroup=false asks for nothing.
    assert!(global_of(&["--systemd-cgroup=false", "state"]).is_ok());
    // What was read before the error stays (--log receives it).
    let mut m = Matches::default();
    assert!(global(&mut line(&["--log", "/l", "--frob"]), &mut m).is_err());
    assert_eq!(m.get("log"), Some("/l"));
}

#[test]
fn bad_commands_and_options_are_refused_by_name() {
    assert_eq!(
        err(&["frobnicate"]),
        "unknown command \"frobnicate\" (\"hutch-oci --help\" lists them)"
    );
    assert_eq!(
        err(&["run", "x"]),
        "run: not supported; use create then start"
    );
    for c in COMMANDS.iter().filter(|c| c.refused.is_some()) {
        assert!(err(&[c.name]).starts_with(&format!("{}: not supported", c.name)));
    }
    assert_eq!(
        err(&["start", "--frob", "x"]),
        "start: unknown option --frob"
    );
    assert_eq!(err(&["start", "-b", "x", "y"]), "start: unknown option -b");
    assert_eq!(
        err(&["create", "x", "--bundle"]),
        "create --bundle needs a value"
    );
    assert_eq!(
        err(&["kill", "--all=2", "x"]),
        "kill --all=2: expected true or false"
    );
    assert_eq!(
        err(&["exec", "--cwd", "/w", "x"]),
        "exec --cwd /w: not supported (put it in --process)"
    );
    assert_eq!(
        err(&["exec", "--user=0:0", "x"]),
        "exec --user 0:0: not supported (put it in --process)"
    );
    // Operands.
    assert_eq!(err(&["start"]), "start: a container id is needed");
    assert_eq!(err(&["kill", "--all"]), "kill: a container id is needed");
    assert_eq!(
        err(&["start", "a", "b"]),
        "start: unexpected operand \"b\" (usage: hutch-oci start ID)"
    );
    assert_eq!(
        err(&["kill", "a", "TERM", "c"]),
        "kill: unexpected operand \"c\" (usage: hutch-oci kill [OPTIONS] ID [SIGNAL])"
    );
    assert_eq!(
        err(&["features", "x"]),
        "features: unexpected operand \"x\" (usage: hutch-oci features)"
    );
}

#[test]
fn operands_and_the_end_of_options() {
    let (_, m) = run_of(&["kill", "x"]).unwrap();
    assert_eq!(m.operands, ["x"]);
    let (_, m) = run_of(&["kill", "x", "KILL", "--all"]).unwrap();
    assert_eq!(m.operands, ["x", "KILL"]);
    assert!(m.flag("all"));
    // After --, words starting with a dash are operands; so is "-".
    let (_, m) = run_of(&["kill", "--", "x", "-9"]).unwrap();
    assert_eq!(m.operands, ["x", "-9"]);
    let (_, m) = run_of(&["state", "-"]).unwrap();
    assert_eq!(m.operands, ["-"]);
    // A value may start with a dash, and the last one wins.
    let (_, m) = run_of(&["create", "-b", "/a", "--bundle", "-x", "id"]).unwrap();
    assert_eq!(m.get("bundle"), Some("-x"));
}

#[test]
fn podman_and_containerd_command_lines() {
    // As conmon (podman) and go-runc (containerd's shim) write them.
    let (m, start) = global_of(&[
        "--root",
        "/run/containerd/runc/k8s.io",
        "--log",
        "/run/containerd/log.json",
        "--log-format",
        "json",
        "create",
    ])
    .unwrap();
    assert_eq!(start, Start::Command("create".into()));
    assert_eq!(m.get("log-format"), Some("json"));
    for args in [
        &[
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "0",
            "ID",
        ][..],
        &["create", "--bundle", "/b", "--pid-file=/p", "ID"],
        &["start", "ID"],
        &["state", "ID"],
        &["kill", "ID", "15"],
        &["kill", "--all", "ID", "SIGKILL"],
        &["delete", "--force", "ID"],
        &[
            "exec",
            "--process",
            "/p.json",
            "--detach",
            "--pid-file",
            "/p",
            "--tty",
            "--console-socket",
            "/s",
            "ID",
        ],
        &["exec", "-p", "/p.json", "-d", "-t", "ID"],
        &["pause", "ID"],
        &["resume", "ID"],
        &["features"],
    ] {
        run_of(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
}

#[test]
fn help_for_the_runtime_and_each_command() {
    let u = usage();
    assert!(u.starts_with("usage: hutch-oci [OPTIONS] COMMAND [ARGS...]\n"));
    for o in GLOBAL {
        assert!(u.contains(&format!("--{}", o.name)), "--{}", o.name);
    }
    for c in COMMANDS {
        assert!(u.contains(c.name), "{}", c.name);
    }
    for c in supported() {
        for h in ["--help", "-h", "--help=true"] {
            let mut l = line(&["x", h]);
            assert!(
                matches!(command_line(c.name, &mut l), Ok(Action::Help(h)) if h.name == c.name),
                "{} {h}",
                c.name
            );
        }
        let text = command_usage(c);
        assert!(text.starts_with(&format!("usage: hutch-oci {}", c.name)));
        for o in c.opts {
            assert!(text.contains(&o.synopsis()), "{}: --{}", c.name, o.name);
        }
    }
}

/// `mod.rs` acts on every supported command of the table (its last arm says "not
/// implemented"): each runs against an empty state directory, and fails, if it does,
/// for another reason.
#[test]
fn every_command_is_implemented() {
    let root = tempfile::tempdir().unwrap();
    for c in supported() {
        let mut args: Vec<std::ffi::OsString> = vec!["--root".into(), root.path().into()];
        args.push(c.name.into());
        if c.name == "create" {
            args.extend(["--bundle".into(), root.path().join("nosuch").into()]);
        }
        args.extend(operands(c).iter().map(|_| "nosuch".into()));
        let mut log = crate::oci::Log {
            file: None,
            json: false,
        };
        if let Err(e) = crate::oci::run(args, &mut log) {
            assert!(
                !e.to_string().contains("not implemented"),
                "{}: {e}",
                c.name
            );
        }
    }
}

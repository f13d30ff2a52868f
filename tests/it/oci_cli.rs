//! The `hutch oci` command line (src/oci/cli.rs), through the binary: its help, as
//! `hutch oci` and under the name `hutch-oci`, and bad command lines refused with one
//! line naming the culprit and exit status 1. Run as every user. The runtime itself
//! (bundles, containers, podman) is tests/oci_runtime.rs and tests/oci_podman.rs.

use crate::support::*;

/// The commands `hutch oci --help` lists, each with an option its own help shows.
const COMMANDS: &[(&str, &str)] = &[
    ("create", "--bundle DIR"),
    ("start", "--help"),
    ("state", "--help"),
    ("kill", "--all"),
    ("delete", "--force"),
    ("exec", "--process FILE"),
    ("pause", "--help"),
    ("resume", "--help"),
    ("features", "--help"),
];

/// `hutch-oci` in a directory `u` owns: a symbolic link to the binary under test.
fn runtime_name(u: User) -> (TempDir, std::path::PathBuf) {
    let d = tempdir(u);
    let link = d.path().join("hutch-oci");
    std::os::unix::fs::symlink(hutch_path(), &link).unwrap();
    (d, link)
}

#[test]
fn oci_help_for_the_runtime_and_each_command() {
    for_each_user(|u| {
        let (_d, named) = runtime_name(u);
        for help in [
            hutch(u).args(["oci", "--help"]).run(),
            hutch(u).args(["oci", "--root=/nonexistent", "-h"]).run(),
            Cmd::new(&named, u).arg("--help").run(),
        ] {
            help.ok();
            assert_eq!(help.stderr, "", "{help:?}");
            assert!(
                help.stdout
                    .starts_with("usage: hutch-oci [OPTIONS] COMMAND [ARGS...]\n"),
                "{help:?}"
            );
            for (c, _) in COMMANDS {
                assert!(
                    help.stdout
                        .lines()
                        .any(|l| l.starts_with(&format!("    {c}"))),
                    "{c} is not listed: {help:?}"
                );
            }
            for o in [
                "--root DIR",
                "--log FILE",
                "--log-format FORMAT",
                "-v, --version",
            ] {
                help.stdout_has(o);
            }
        }
        for (c, opt) in COMMANDS {
            for h in ["--help", "-h"] {
                let o = hutch(u).args(["oci", c, h]).run();
                o.ok();
                assert!(
                    o.stdout.starts_with(&format!("usage: hutch-oci {c}")),
                    "{o:?}"
                );
                o.stdout_has(opt);
            }
        }
        // hutch's own help points to it; bwrap's does not: under that name `oci` is a
        // command to run, as with bubblewrap.
        hutch(u)
            .arg("--help")
            .run()
            .ok()
            .stdout_has(" oci --help\"\n");
        let o = bwrap(u).arg("--help").run();
        o.ok();
        assert!(!o.stdout.contains(" oci "), "{o:?}");
        let o = bwrap(u).args(["oci", "--version"]).run();
        o.code(1);
        assert_eq!(o.stdout, "", "{o:?}");
        o.stderr_has("oci");
        // Without a command: the usage on stderr, exit status 1.
        let o = hutch(u).arg("oci").run();
        o.code(1);
        assert_eq!(o.stdout, "", "{o:?}");
        assert!(o.stderr.starts_with("usage: hutch-oci "), "{o:?}");
    });
}

#[test]
fn oci_bad_command_lines_are_refused_by_name() {
    for_each_user(|u| {
        let d = tempdir(u);
        let root = d.path().to_str().unwrap();
        for (args, message) in [
            (&["frobnicate", "x"][..], "unknown command \"frobnicate\""),
            (&["--frob", "state", "x"], "unknown option --frob"),
            (&["-x", "state", "x"], "unknown option -x"),
            (&["create", "--frob", "x"], "create: unknown option --frob"),
            (&["exec", "-z", "x"], "exec: unknown option -z"),
            (&["kill", "--force", "x"], "kill: unknown option --force"),
            (
                &["create", "x", "--bundle"],
                "create --bundle needs a value",
            ),
            (&["--log-format", "xml", "state", "x"], "--log-format xml"),
            (
                &["--systemd-cgroup", "state", "x"],
                "--systemd-cgroup: not supported",
            ),
            (&["delete", "--force=maybe", "x"], "delete --force=maybe"),
            (
                &["exec", "--cwd", "/", "-p", "p.json", "x"],
                "exec --cwd /: not supported",
            ),
            (
                &["create", "--preserve-fds", "3", "x"],
                "create --preserve-fds 3: not supported",
            ),
            (&["run", "x"], "run: not supported"),
            (&["update", "x"], "update: not supported"),
            (&["state"], "state: a container id is needed"),
            (&["start", "a", "b"], "start: unexpected operand \"b\""),
            (&["features", "x"], "features: unexpected operand \"x\""),
        ] {
            let o = hutch(u)
                .args(["oci", "--root", root])
                .args(args)
                .env("RUST_BACKTRACE", "1")
                .run();
            o.code(1);
            assert_eq!(o.stdout, "", "{args:?}: {o:?}");
            assert_eq!(o.stderr.lines().count(), 1, "{args:?}: one line{o:?}");
            assert!(
                o.stderr.starts_with("hutch-oci: ") && o.stderr.contains(message),
                "{args:?}: expected {message:?}{o:?}"
            );
        }
        // Nothing was created under --root.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    });
}

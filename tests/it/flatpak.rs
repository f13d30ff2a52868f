//! bubblewrap parity, proven with real programs that drive bwrap: Flatpak, and
//! GNOME's thumbnail factory.
//!
//! A tiny runtime (`org.test.Platform`: a static busybox) and app (`org.test.Hello`:
//! `tests/flatpak/hello.sh`) are built from host files into a local OSTree repo by
//! `tests/flatpak/build-repo.sh`, the way Flatpak's own test suite does it, once per
//! test binary run. Each run then gets a fresh HOME and XDG dirs, adds the repo as an
//! unsigned `--user` remote, installs the app and runs it with `FLATPAK_BWRAP` set to
//! `tests/flatpak/bwrap-logged`, which logs what it is given and execs `real/bwrap`
//! beside it: a symlink to hutch, or, for the comparison runs, to the system's
//! bubblewrap.
//!
//! What these programs hand bwrap:
//! - `flatpak install` runs its triggers (update-desktop-database, ...) as
//!   `bwrap --unshare-ipc --unshare-net --unshare-pid --ro-bind / / --proc --dev --bind ...`.
//! - `flatpak run` passes ~300 options through `--args FD`: `--ro-bind-fd` for /usr and
//!   /app, `--seccomp`, `--info-fd`, `--file`/`--ro-bind-data` from memfds,
//!   `--lock-file`, `--perms`, `--symlink`, `--unshare-pid/-net/-ipc`, `--dev`, `--proc`,
//!   `--tmpfs` + `--remount-ro`, many `--setenv`; with a session bus it first starts
//!   xdg-dbus-proxy in a bwrap sandbox of its own and binds its socket into the app's.
//! - `flatpak build-export` checks icons with flatpak-validate-icon under
//!   `bwrap ... --tmpfs /tmp --die-with-parent --chdir / --unsetenv TMPDIR`.
//! - libgnome-desktop-3's thumbnail factory runs `bwrap` from PATH with
//!   `--unshare-all --die-with-parent --seccomp FD --ro-bind-try ...`.
//!
//! Everything runs as root and as an unprivileged user: `hutchtest` if it exists,
//! else nobody (flatpak only needs a writable HOME, and each run makes its own).
//! Not root: only as the current user.
//!
//! Needs (Debian): flatpak busybox-static dbus-daemon desktop-file-utils python3-gi
//! gir1.2-gnomedesktop-3.0 libgdk-pixbuf2.0-bin. Without them the tests skip, or fail
//! when CI=true. No network: the repo is a local directory.

use crate::support;

use crate::support::{chmod, is_root, on_path, TempDir, User};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{chown, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);
const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";
/// hello.sh's exit status, which flatpak run must hand back.
const APP_EXIT: i32 = 7;
const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

// ---------------------------------------------------------------------------
// Helpers

/// A directory that everyone can read (in the test process's directory, see
/// tests/support/mod.rs).
fn tempdir(tag: &str) -> TempDir {
    support::tempdir_mode(tag, 0o755)
}

/// `Some(reason)` stops a test: a panic in CI, a skip elsewhere.
fn skip_unless(missing: &Option<String>) -> bool {
    missing.as_deref().map(support::skip).is_some()
}

/// Whether flatpak and what the fixture needs are here.
fn no_flatpak() -> bool {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    skip_unless(WHY.get_or_init(|| {
        // program → Debian package. build-repo.sh wants a static busybox: the
        // runtime has no libraries. dbus-daemon and desktop-file-utils are only
        // recommended by flatpak, so an install without recommends lacks them.
        let needs = [
            ("flatpak", "flatpak"),
            ("busybox", "busybox-static"),
            ("dbus-run-session", "dbus-daemon"),
            ("update-desktop-database", "desktop-file-utils"),
            ("setpriv", "util-linux"),
        ];
        let missing: Vec<String> = needs
            .iter()
            .filter(|(prog, _)| !on_path(prog))
            .map(|(prog, pkg)| format!("{prog} ({pkg})"))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "missing {}: apt-get install -y flatpak busybox-static dbus-daemon desktop-file-utils",
                missing.join(", ")
            )
        })
    }))
}

/// Whether GNOME's thumbnail factory can be driven from Python here.
fn no_gnome_desktop() -> bool {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    skip_unless(WHY.get_or_init(|| {
        let ok = Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import gi; gi.require_version('GnomeDesktop', '3.0'); \
                 from gi.repository import GnomeDesktop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (!ok || !on_path("gdk-pixbuf-thumbnailer") || !on_path("setpriv")).then(|| {
            "no GnomeDesktop 3.0 for /usr/bin/python3 or no gdk-pixbuf-thumbnailer: \
             apt-get install -y python3-gi gir1.2-gnomedesktop-3.0 libgdk-pixbuf2.0-bin"
                .to_string()
        })
    }))
}

fn have_system_bwrap() -> bool {
    Path::new(SYSTEM_BWRAP).exists()
}

/// The helper files, copied where the unprivileged user can read them (the
/// checkout may not be).
struct Files {
    dir: TempDir,
}

impl Files {
    fn get(name: &str) -> PathBuf {
        static FILES: OnceLock<Files> = OnceLock::new();
        let files = FILES.get_or_init(|| {
            let dir = tempdir("files");
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flatpak");
            for entry in fs::read_dir(&src).unwrap() {
                let entry = entry.unwrap();
                let to = dir.path().join(entry.file_name());
                fs::copy(entry.path(), &to).unwrap();
                chmod(&to, 0o755);
            }
            Files { dir }
        });
        let p = files.dir.path().join(name);
        assert!(p.exists(), "no tests/flatpak/{name}");
        p
    }
}

/// The local repo with the runtime and the app, built once per test process.
fn repo() -> &'static Path {
    static REPO: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    &REPO
        .get_or_init(|| {
            let dir = tempdir("repo");
            let start = Instant::now();
            let out = Command::new("sh")
                .arg(Files::get("build-repo.sh"))
                .arg(dir.path())
                .env_clear()
                .env("PATH", PATH)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "build-repo.sh failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("fixture repo built in {:?}", start.elapsed());
            let repo = dir.path().join("repo");
            (dir, repo)
        })
        .1
}

/// Root and hutchtest (or nobody) when the tests run as root, else the current user.
fn users() -> Vec<User> {
    support::users_with(User::Unprivileged)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bwrap {
    Hutch,
    System,
}

/// A run's directory: `bin/` with the logging wrapper (named `wrapper`) and
/// `bin/real/bwrap`, and `work/`, both owned by `user`.
struct RunDir {
    dir: TempDir,
    user: User,
    bwrap: Bwrap,
}

impl RunDir {
    fn new(user: User, bwrap: Bwrap, wrapper: &str) -> RunDir {
        let dir = tempdir("run");
        let (uid, gid) = user.ids();
        let bin = dir.path().join("bin");
        fs::create_dir_all(bin.join("real")).unwrap();
        fs::copy(Files::get("bwrap-logged"), bin.join(wrapper)).unwrap();
        chmod(&bin.join(wrapper), 0o755);
        let real = match bwrap {
            Bwrap::Hutch => support::hutch_path().to_path_buf(),
            Bwrap::System => PathBuf::from(SYSTEM_BWRAP),
        };
        symlink(real, bin.join("real/bwrap")).unwrap();
        let work = dir.path().join("work");
        fs::create_dir(&work).unwrap();
        for d in [&bin, &work] {
            chown(d, Some(uid), Some(gid)).unwrap();
        }
        RunDir { dir, user, bwrap }
    }
    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Run `argv` as the user with only `env` (and PATH, LANG) in the environment.
    fn run(self, argv: Vec<OsString>, env: &[(&str, OsString)]) -> Outcome {
        // Whatever is left in the process group (a bus, a proxy) is killed at the end.
        let o = self
            .user
            .cmd(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", PATH)
            .env("LANG", "C.UTF-8")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .timeout(TIMEOUT)
            .run();
        Outcome {
            user: self.user,
            bwrap: self.bwrap,
            code: o.code,
            stdout: o.stdout,
            stderr: o.stderr,
            log: fs::read_to_string(self.bin().join("bwrap.log")).unwrap_or_default(),
            home: self.work().join("home"),
            _dir: self.dir,
        }
    }
}

struct Outcome {
    user: User,
    bwrap: Bwrap,
    code: i32,
    stdout: String,
    stderr: String,
    /// bwrap-logged's log: one block per bwrap started.
    log: String,
    /// `$HOME` of a flatpak run, kept until the Outcome is dropped.
    home: PathBuf,
    _dir: TempDir,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The log is long: show the invocations' argv only.
        let heads: Vec<&str> = self
            .log
            .lines()
            .filter(|l| l.starts_with("===") || l.starts_with("argv: "))
            .take(60)
            .collect();
        write!(
            f,
            "{:?} via {:?}: exit {}\n--- stdout\n{}--- stderr\n{}--- bwrap log (argv only)\n{}",
            self.user,
            self.bwrap,
            self.code,
            self.stdout,
            self.stderr,
            heads.join("\n")
        )
    }
}

impl Outcome {
    /// The bwrap invocations, each as its `argv:` and `args:` values.
    fn invocations(&self) -> Vec<Vec<String>> {
        self.log
            .split("=== bwrap invocation\n")
            .skip(1)
            .map(|block| {
                block
                    .lines()
                    .filter_map(|l| l.strip_prefix("argv: ").or(l.strip_prefix("args: ")))
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }

    /// The invocation that has `arg`, or a panic.
    fn invocation_with(&self, arg: &str) -> Vec<String> {
        self.invocations()
            .into_iter()
            .find(|i| has(i, arg))
            .unwrap_or_else(|| panic!("no bwrap invocation with {arg}: {self:#?}"))
    }
}

fn has(inv: &[String], opt: &str) -> bool {
    inv.iter().any(|a| a == opt)
}

#[track_caller]
fn assert_options(o: &Outcome, inv: &[String], opts: &[&str]) {
    for opt in opts {
        assert!(has(inv, opt), "bwrap was not given {opt}: {o:#?}");
    }
}

// ---------------------------------------------------------------------------
// Flatpak

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Install,
    Run,
    /// Run under dbus-run-session: flatpak adds an xdg-dbus-proxy sandbox.
    RunWithBus,
}

/// Install (and run) the app as `user`, FLATPAK_BWRAP → bwrap-logged → `bwrap`.
fn flatpak(user: User, bwrap: Bwrap, mode: Mode, app_args: &[&str]) -> Outcome {
    let repo = repo();
    let run = RunDir::new(user, bwrap, "bwrap-logged");
    let mut argv: Vec<OsString> = Vec::new();
    if mode == Mode::RunWithBus {
        argv.push("dbus-run-session".into());
        let mut conf = OsString::from("--config-file=");
        conf.push(Files::get("session.conf"));
        argv.push(conf);
        argv.push("--".into());
    }
    argv.push("sh".into());
    argv.push(Files::get("run-app.sh").into());
    argv.push(
        if mode == Mode::Install {
            "install"
        } else {
            "run"
        }
        .into(),
    );
    argv.push(run.work().into());
    argv.push(repo.into());
    argv.push(run.bin().join("bwrap-logged").into());
    argv.extend(app_args.iter().map(OsString::from));
    run.run(argv, &[])
}

/// What hello.sh prints, run by `user` with `args`.
fn expected_stdout(user: User, bus: bool, args: &[&str]) -> String {
    let (uid, gid) = user.ids();
    format!(
        "hello from org.test.Hello\n\
         greeting=hi\n\
         flatpak-id=org.test.Hello\n\
         info-name=org.test.Hello\n\
         info-runtime=runtime/org.test.Platform/{arch}/master\n\
         uid={uid} gid={gid}\n\
         pid=2\n\
         app=/app/bin/hello.sh\n\
         usr=/usr/bin/busybox\n\
         net=lo \n\
         usr-writable=no\n\
         data-writable=yes\n\
         session-bus={bus}\n\
         args={args}\n",
        arch = std::env::consts::ARCH,
        bus = if bus { "proxied" } else { "none" },
        args = args.join(" "),
    )
}

/// The app ran, printed what it should, and its exit status came back through
/// bwrap and flatpak; the log shows flatpak's usual options going to bwrap.
#[track_caller]
fn check_app_run(o: &Outcome, bus: bool, args: &[&str]) {
    assert_eq!(o.code, APP_EXIT, "{o:#?}");
    assert_eq!(o.stdout, expected_stdout(o.user, bus, args), "{o:#?}");
    assert!(!o.stderr.contains("bwrap:"), "{o:#?}");
    let app = o.invocation_with("hello.sh");
    // argv is `--args FD -- hello.sh ARGS`: the rest comes through the fd.
    assert_eq!(app.first().map(String::as_str), Some("--args"), "{o:#?}");
    assert_options(
        o,
        &app,
        &[
            "--ro-bind-fd",
            "--seccomp",
            "--info-fd",
            "--file",
            "--ro-bind-data",
            "--lock-file",
            "--perms",
            "--symlink",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--dev",
            "--proc",
            "--remount-ro",
            "/.flatpak-info",
        ],
    );
    let proxy = o
        .invocations()
        .into_iter()
        .find(|i| has(i, "xdg-dbus-proxy"));
    assert_eq!(proxy.is_some(), bus, "xdg-dbus-proxy sandbox: {o:#?}");
}

/// The same run under the system's bubblewrap gives the same result.
#[track_caller]
fn check_same_as_system_bwrap(mode: Mode, args: &[&str], got: &Outcome) {
    if !have_system_bwrap() {
        support::skip(&format!(
            "no {SYSTEM_BWRAP} to compare with (bash .ci/run installs it)"
        ));
        return;
    }
    let want = flatpak(got.user, Bwrap::System, mode, args);
    assert_eq!(
        (got.code, &got.stdout, got.invocations().len()),
        (want.code, &want.stdout, want.invocations().len()),
        "hutch and bubblewrap differ\n=== bubblewrap: {want:#?}\n=== hutch: {got:#?}"
    );
}

/// The fixture itself, under the system's bubblewrap: if this fails, the fixture
/// or the host is wrong, not hutch.
#[test]
fn fixture_runs_under_system_bubblewrap() {
    if no_flatpak() {
        return;
    }
    if !have_system_bwrap() {
        support::skip(&format!("no {SYSTEM_BWRAP}: flatpak depends on bubblewrap"));
        return;
    }
    for user in users() {
        let o = flatpak(user, Bwrap::System, Mode::Run, &["x", "y z"]);
        check_app_run(&o, false, &["x", "y z"]);
        let o = flatpak(user, Bwrap::System, Mode::RunWithBus, &[]);
        check_app_run(&o, true, &[]);
    }
}

/// `flatpak install` runs its triggers through bwrap: update-desktop-database
/// writes mimeinfo.cache for the app's exported .desktop file, through a --bind.
#[test]
fn flatpak_install_runs_its_triggers_under_hutch() {
    if no_flatpak() {
        return;
    }
    for user in users() {
        let o = flatpak(user, Bwrap::Hutch, Mode::Install, &[]);
        assert_eq!(o.code, 0, "{o:#?}");
        assert!(!o.stderr.contains("bwrap:"), "{o:#?}");
        let triggers: Vec<_> = o
            .invocations()
            .into_iter()
            .filter(|i| i.iter().any(|a| a.ends_with(".trigger")))
            .collect();
        assert!(
            triggers
                .iter()
                .any(|i| i.iter().any(|a| a.ends_with("/desktop-database.trigger"))),
            "flatpak ran no desktop-database trigger through bwrap: {o:#?}"
        );
        for t in &triggers {
            assert_options(
                &o,
                t,
                &["--ro-bind", "--proc", "--dev", "--bind", "--unshare-pid"],
            );
        }
        let cache = o
            .home
            .join(".local/share/flatpak/exports/share/applications/mimeinfo.cache");
        let text = fs::read_to_string(&cache)
            .unwrap_or_else(|e| panic!("{}: {e}\n{o:#?}", cache.display()));
        assert!(
            text.contains("x-test/hutch=org.test.Hello.desktop;"),
            "{text}\n{o:#?}"
        );
    }
}

#[test]
fn flatpak_run_under_hutch_as_root() {
    if no_flatpak() {
        return;
    }
    if !is_root() {
        support::skip("not root");
        return;
    }
    let args = ["x", "y z"];
    let o = flatpak(User::Root, Bwrap::Hutch, Mode::Run, &args);
    check_app_run(&o, false, &args);
    check_same_as_system_bwrap(Mode::Run, &args, &o);
}

#[test]
fn flatpak_run_under_hutch_as_unprivileged_user() {
    if no_flatpak() {
        return;
    }
    let args = ["x", "y z"];
    let o = flatpak(*users().last().unwrap(), Bwrap::Hutch, Mode::Run, &args);
    check_app_run(&o, false, &args);
    check_same_as_system_bwrap(Mode::Run, &args, &o);
}

/// With a session bus, flatpak first runs xdg-dbus-proxy in a bwrap sandbox of its
/// own (the host's dirs read-only) and binds the proxy's socket into the app's.
#[test]
fn flatpak_run_with_dbus_proxy_under_hutch() {
    if no_flatpak() {
        return;
    }
    for user in users() {
        let o = flatpak(user, Bwrap::Hutch, Mode::RunWithBus, &[]);
        check_app_run(&o, true, &[]);
        check_same_as_system_bwrap(Mode::RunWithBus, &[], &o);
    }
}

/// `flatpak build-export` validates icons with flatpak-validate-icon inside bwrap:
/// a PNG passes, a file that is not one is refused by the validator (not by bwrap).
#[test]
fn flatpak_build_export_validates_icons_under_hutch() {
    if no_flatpak() {
        return;
    }
    let bad = {
        static BAD: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
        &BAD.get_or_init(|| {
            let dir = tempdir("bad-icon");
            let p = dir.path().join("bad.png");
            fs::write(&p, "not a png\n").unwrap();
            chmod(&p, 0o644);
            (dir, p)
        })
        .1
    };
    let export = |user: User, icon: &Path| {
        let run = RunDir::new(user, Bwrap::Hutch, "bwrap-logged");
        let argv = vec![
            "sh".into(),
            Files::get("export-icon.sh").into(),
            run.work().into(),
            run.bin().join("bwrap-logged").into(),
            icon.into(),
        ];
        run.run(argv, &[])
    };
    for user in users() {
        let o = export(user, &Files::get("icon-64.png"));
        assert_eq!(o.code, 0, "{o:#?}");
        let inv = o.invocation_with("/usr/libexec/flatpak-validate-icon");
        assert_options(
            &o,
            &inv,
            &[
                "--unshare-pid",
                "--unshare-net",
                "--tmpfs",
                "--die-with-parent",
                "--unsetenv",
                "--chdir",
            ],
        );
        let o = export(user, bad);
        assert_eq!(o.code, 1, "{o:#?}");
        assert!(
            o.stderr
                .contains("org.test.Icon.png is not a valid icon: Format not recognized"),
            "{o:#?}"
        );
        assert_eq!(o.invocations().len(), 1, "{o:#?}");
    }
}

// ---------------------------------------------------------------------------
// GNOME's thumbnail factory

/// libgnome-desktop-3 runs gdk-pixbuf-thumbnailer inside the `bwrap` it finds on
/// PATH; here that is the logging wrapper in front of hutch.
#[test]
fn gnome_thumbnailer_runs_under_hutch() {
    if no_gnome_desktop() {
        return;
    }
    let thumb = |user: User, bwrap: Bwrap| {
        let run = RunDir::new(user, bwrap, "bwrap");
        let path = format!("{}:{PATH}", run.bin().display());
        let argv = vec![
            "/usr/bin/python3".into(),
            Files::get("thumbnail.py").into(),
            Files::get("icon-64.png").into(),
        ];
        let env = [
            ("HOME", run.work().into()),
            ("PATH", path.into()),
            ("GSETTINGS_BACKEND", "memory".into()),
        ];
        run.run(argv, &env)
    };
    for user in users() {
        let o = thumb(user, Bwrap::Hutch);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "thumbnail 128 128 3\n"),
            "{o:#?}"
        );
        let inv = o.invocation_with("/usr/bin/gdk-pixbuf-thumbnailer");
        assert_options(
            &o,
            &inv,
            &[
                "--unshare-all",
                "--die-with-parent",
                "--seccomp",
                "--ro-bind-try",
                "--symlink",
                "--setenv",
                "--bind",
            ],
        );
        if have_system_bwrap() {
            let want = thumb(user, Bwrap::System);
            assert_eq!(
                (o.code, &o.stdout),
                (want.code, &want.stdout),
                "=== bubblewrap: {want:#?}\n=== hutch: {o:#?}"
            );
        }
    }
}

//! Profiles, `--explain` and the diagnostics, for real: the built-in `build` profile
//! compiles a C project (directly, and as a Makefile's SHELL, tests/make/) and can
//! write nothing else nor reach the network; the `desktop` profile runs an X11 client
//! under Xvfb, passes a Wayland socket through and reaches real Weston, PulseAudio and
//! PipeWire servers; the AppArmor profile compiles with AppArmor 4; profile errors are one line naming
//! the file, line and key; `--explain` runs nothing.
//!
//! Every behaviour runs as root and as an unprivileged user (`hutchtest` if it exists,
//! else uid 65534) through setpriv when the tests run as root, else as the current user.
//! hutch is run from a copy in a 0755 directory under /tmp, so that every user can run it.
//! Needs gcc, make and python3; the desktop tests need Xvfb and xdpyinfo (packages
//! xvfb, x11-utils), and are skipped without them unless CI=true.

use crate::support;

use crate::support::{chown_r, is_root, User};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn hutch() -> String {
    support::hutch_path().display().to_string()
}

/// Root and hutchtest (or nobody) when the tests run as root, else the current user.
fn users() -> Vec<User> {
    support::users_with(User::Unprivileged)
}

/// A scratch directory for one user: `/var/tmp/...` (so that its parent is not under
/// the sandbox's private /tmp), with a home directory in it, all owned by the user.
struct Scratch {
    dir: tempfile::TempDir,
    user: User,
}

impl Scratch {
    fn new(user: User) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("hutch-profiles-")
            .tempdir_in("/var/tmp")
            .unwrap();
        support::chmod(dir.path(), 0o755);
        let s = Scratch { dir, user };
        fs::create_dir(s.home()).unwrap();
        chown_r(s.path(), user);
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// Write a file (parents too), owned by the user.
    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        let mut q = p.clone();
        while q != self.path() {
            chown_r(&q, self.user);
            q.pop();
        }
        p
    }

    fn mkdir(&self, rel: &str, mode: u32) -> PathBuf {
        let p = self.path().join(rel);
        fs::create_dir_all(&p).unwrap();
        support::chmod(&p, mode);
        chown_r(&p, self.user);
        p
    }
}

/// Run `argv` as `user` in `cwd`, with a clean environment (PATH, HOME, USER and
/// `env`), killed after 60 s. Output goes to files, not pipes: a process left behind
/// must not keep the test waiting.
fn run_in(
    user: User,
    cwd: &Path,
    home: &Path,
    env: &[(&str, &str)],
    argv: &[&str],
) -> support::Out {
    user.cmd(argv[0])
        .args(&argv[1..])
        .cwd(cwd)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .envs(env.iter().copied())
        .timeout(Duration::from_secs(60))
        .in_test_group()
        .run()
}

/// Run `hutch ARGS -- /bin/sh -c SCRIPT` as `user` (see [`run_in`]).
fn hutch_sh(
    user: User,
    cwd: &Path,
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    script: &str,
) -> support::Out {
    let bin = hutch();
    let mut argv = vec![bin.as_str()];
    argv.extend_from_slice(args);
    argv.extend(["--", "/bin/sh", "-c", script]);
    run_in(user, cwd, home, env, &argv)
}

/// The C project: tests/make/ copied into the scratch directory.
fn project(s: &Scratch) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make");
    for f in ["Makefile", "hello.c"] {
        s.write(
            &format!("proj/{f}"),
            &fs::read_to_string(src.join(f)).unwrap(),
        );
    }
    s.path().join("proj")
}

#[test]
fn build_profile_compiles_the_project_and_writes_nothing_else() {
    for user in users() {
        let s = Scratch::new(user);
        let proj = project(&s);
        let home = s.home();
        let build =
            |script: &str| hutch_sh(user, &proj, &home, &[], &["--profile", "build"], script);
        let o = build("cc -o hello hello.c && ./hello > out.txt && cat out.txt");
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert_eq!(
            o.stdout, "hello from the build sandbox\n",
            "{user:?}: {o:?}"
        );
        assert!(proj.join("hello").exists(), "{user:?}");
        assert_eq!(
            fs::read_to_string(proj.join("out.txt")).unwrap(),
            "hello from the build sandbox\n"
        );

        // /etc and the project's parent are read-only: the writes fail.
        for target in ["/etc/hutch-profiles-escape", "../escaped.txt"] {
            let o = build(&format!("echo x > {target}"));
            assert_ne!(o.code, 0, "{user:?} writing {target}: {o:?}");
            // The user owns the scratch directory, so only the mount refuses that one.
            let why = if target.starts_with("..") || user == User::Root {
                "Read-only file system"
            } else {
                ""
            };
            assert!(o.stderr.contains(why), "{user:?}: {o:?}");
        }
        assert!(!Path::new("/etc/hutch-profiles-escape").exists());
        assert!(!s.path().join("escaped.txt").exists());

        // $HOME and /tmp are private: the write lands in a tmpfs that vanishes.
        let host_tmp = PathBuf::from(format!("/tmp/hutch-profiles-escape-{}", std::process::id()));
        let o = build(&format!(
            "echo x > \"$HOME/escaped\" && echo y > {} && ls -A \"$HOME\"",
            host_tmp.display()
        ));
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert_eq!(
            o.stdout, "escaped\n",
            "{user:?}: the private home starts empty"
        );
        assert!(
            !home.join("escaped").exists(),
            "{user:?}: $HOME reached the host"
        );
        assert!(!host_tmp.exists(), "{user:?}: /tmp reached the host");
    }
}

#[test]
fn build_profile_has_no_network_until_a_later_profile_adds_it() {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let script = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    \
         print('connected')\nexcept OSError as e:\n    print('failed:', e)\n    raise SystemExit(1)\n"
    );
    for user in users() {
        let s = Scratch::new(user);
        let proj = project(&s);
        let run = |extra: &[&str]| {
            let mut argv = vec![hutch()];
            argv.extend(["--profile".to_string(), "build".to_string()]);
            argv.extend(extra.iter().map(|a| a.to_string()));
            argv.extend(["--".into(), PYTHON.into(), "-c".into(), script.clone()]);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            run_in(user, &proj, &s.home(), &[], &argv)
        };
        let o = run(&[]);
        assert_eq!(o.code, 1, "{user:?}: {o:?}");
        assert!(o.stdout.starts_with("failed:"), "{user:?}: {o:?}");
        // Later options add to the profile: the built-in net piece, or --share-net.
        for extra in [&["--profile", "net"][..], &["--share-net"][..]] {
            let o = run(extra);
            assert_eq!(o.code, 0, "{user:?} {extra:?}: {o:?}");
            assert_eq!(o.stdout, "connected\n", "{user:?}: {o:?}");
        }
    }
}

#[test]
fn makefile_shell_runs_every_recipe_in_the_build_profile() {
    for user in users() {
        let s = Scratch::new(user);
        let proj = project(&s);
        let hutch_var = format!("HUTCH={}", hutch());
        let o = run_in(user, &proj, &s.home(), &[], &["make", &hutch_var]);
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert_eq!(
            fs::read_to_string(proj.join("out.txt")).unwrap(),
            "hello from the build sandbox\n",
            "{user:?}: {o:?}"
        );
        // A recipe that writes outside the project fails the build.
        let o = run_in(user, &proj, &s.home(), &[], &["make", &hutch_var, "escape"]);
        assert_ne!(o.code, 0, "{user:?}: {o:?}");
        assert!(
            o.stderr.contains("Read-only file system"),
            "{user:?}: {o:?}"
        );
        assert!(!s.path().join("escaped.txt").exists(), "{user:?}");
    }
}

/// Xvfb on a free display, killed on drop; `None` (test skipped) without Xvfb.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Option<Xvfb> {
        if !support::on_path("Xvfb") || !support::on_path("xdpyinfo") {
            support::skip("Xvfb or xdpyinfo is not installed (apt-get install xvfb x11-utils)");
            return None;
        }
        let n = (100 + std::process::id() % 400..600)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .unwrap();
        let child = Command::new("Xvfb")
            .args([
                &format!(":{n}"),
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "320x240x24",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let x = Xvfb {
            child,
            display: format!(":{n}"),
        };
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !Path::new(&socket).exists() {
            assert!(Instant::now() < deadline, "Xvfb did not start on :{n}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(x)
    }
}

/// Send SIGTERM to `target` (`child`'s pid, or its process group as a negative pid) and
/// wait up to 5 s for `child` to exit; false if it is still running then.
fn terminate(child: &mut Child, target: i32) -> bool {
    let target = nix::unistd::Pid::from_raw(target);
    let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for Xvfb {
    /// SIGTERM, so that Xvfb removes its socket and lock file; SIGKILL after 5 s.
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        if !terminate(&mut self.child, pid) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn desktop_profile_runs_an_x11_client() {
    let Some(x) = Xvfb::start() else { return };
    for user in users() {
        let s = Scratch::new(user);
        let home = s.home();
        s.write("home/secret", "not for the app\n");
        let run = s.mkdir("run", 0o700);
        let env = [
            ("DISPLAY", x.display.as_str()),
            ("XDG_RUNTIME_DIR", run.to_str().unwrap()),
        ];
        let o = run_in(
            user,
            s.path(),
            &home,
            &env,
            &[&hutch(), "--profile", "desktop", "--", "xdpyinfo"],
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert!(
            o.stdout
                .contains(&format!("name of display:    {}", x.display)),
            "{user:?}: {o:?}"
        );
        // The application's own home: created on the host, private, and all it sees.
        let app_home = home.join(".local/share/hutch/xdpyinfo");
        let meta = fs::metadata(&app_home).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{user:?}");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.uid(), user.ids().0, "{user:?}");
        let o = hutch_sh(
            user,
            s.path(),
            &home,
            &env,
            &["--profile", "desktop"],
            "xmessage -timeout 1 hello && test ! -e \"$HOME/secret\" && \
             echo private > \"$HOME/note\" && echo ok",
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert_eq!(o.stdout, "ok\n", "{user:?}: {o:?}");
        assert_eq!(
            fs::read_to_string(home.join(".local/share/hutch/sh/note")).unwrap(),
            "private\n",
            "{user:?}: the app's home keeps what it writes"
        );
    }
}

#[test]
fn desktop_profile_passes_the_wayland_socket_when_there_is_one() {
    for user in users() {
        let s = Scratch::new(user);
        let run = s.mkdir("run", 0o700);
        s.write("run/secret", "the rest of the runtime dir\n");
        let env = [("XDG_RUNTIME_DIR", run.to_str().unwrap())];
        let client = String::from(
            "import os, socket\n\
             d = os.environ['XDG_RUNTIME_DIR']\n\
             assert not os.path.exists(d + '/secret'), 'the runtime dir is not private'\n\
             s = socket.socket(socket.AF_UNIX)\n\
             s.connect(d + '/wayland-0')\n\
             print(s.recv(16).decode())\n",
        );
        let bin = hutch();
        let argv = [
            bin.as_str(),
            "--profile",
            "desktop",
            "--",
            PYTHON,
            "-c",
            client.as_str(),
        ];

        // No compositor: the socket is simply not there.
        let o = run_in(user, s.path(), &s.home(), &env, &argv);
        assert_eq!(o.code, 1, "{user:?}: {o:?}");
        assert!(o.stderr.contains("FileNotFoundError"), "{user:?}: {o:?}");

        // A fake compositor: a listening socket at $XDG_RUNTIME_DIR/wayland-0.
        let path = run.join("wayland-0");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        chown_r(&path, user);
        let server = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            c.write_all(b"wayland hello").unwrap();
            let mut rest = Vec::new();
            let _ = c.read_to_end(&mut rest);
        });
        let o = run_in(user, s.path(), &s.home(), &env, &argv);
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert_eq!(o.stdout, "wayland hello\n", "{user:?}: {o:?}");
        server.join().unwrap();
    }
}

#[test]
fn profile_errors_are_one_line_naming_file_line_and_key() {
    for user in users() {
        let s = Scratch::new(user);
        let cases = [
            (
                "unknown.toml",
                "unshare = [\"all\"]\ndie_with_parent = true\nro_bnd = [\"/usr\"]\n",
                "line 3: unknown key \"ro_bnd\" (did you mean \"ro_bind\"?)",
            ),
            (
                "type.toml",
                "share_net = \"yes\"\n",
                "line 1: key \"share_net\": expected a boolean, found string \"yes\"",
            ),
            (
                "path.toml",
                "# a comment\ntmpfs = [\"/tmp\", \"scratch\"]\n",
                "line 2: key \"tmpfs\": \"scratch\" is not an absolute path",
            ),
            (
                "flag.toml",
                "\n\nmemory = \"lots\"\n",
                "line 3: key \"memory\": --memory",
            ),
        ];
        for (file, text, want) in cases {
            let p = s.write(file, text);
            let o = run_in(
                user,
                s.path(),
                &s.home(),
                &[],
                &[&hutch(), "--profile", p.to_str().unwrap(), "--", "true"],
            );
            assert_eq!(o.code, 1, "{user:?} {file}: {o:?}");
            assert_eq!(o.stderr.lines().count(), 1, "{user:?} {file}: {o:?}");
            let prefix = format!("hutch: profile {}: ", p.display());
            assert!(
                o.stderr.starts_with(&prefix) && o.stderr.contains(want),
                "{user:?} {file}: want {prefix}...{want}\n{o:?}"
            );
            assert!(o.stdout.is_empty(), "{user:?}: {o:?}");
        }
        // A missing file, and a name found nowhere.
        let missing = s.path().join("missing.toml");
        for (given, want) in [
            (
                missing.to_str().unwrap(),
                format!(
                    "hutch: profile {}: No such file or directory\n",
                    missing.display()
                ),
            ),
            (
                "no-such-profile",
                "hutch: profile no-such-profile: not found (looked for ".to_string(),
            ),
        ] {
            let o = run_in(
                user,
                s.path(),
                &s.home(),
                &[],
                &[&hutch(), "--profile", given, "true"],
            );
            assert_eq!(o.code, 1, "{user:?}: {o:?}");
            assert_eq!(o.stderr.lines().count(), 1, "{user:?}: {o:?}");
            assert!(o.stderr.starts_with(&want), "{user:?}: {o:?}");
        }
        // The bwrap name has --profile too, with its own prefix.
        let o = run_in(
            user,
            s.path(),
            &s.home(),
            &[],
            &[
                support::bwrap_path().to_str().unwrap(),
                "--profile",
                s.path().join("type.toml").to_str().unwrap(),
                "true",
            ],
        );
        assert_eq!(o.code, 1, "{user:?}: {o:?}");
        assert!(o.stderr.starts_with("bwrap: profile "), "{user:?}: {o:?}");
    }
}

#[test]
fn explain_lists_the_mounts_in_order_and_runs_nothing() {
    for user in users() {
        let s = Scratch::new(user);
        let proj = project(&s);
        let sentinel = s.path().join("sentinel");
        let home = s.home();
        let o = hutch_sh(
            user,
            &proj,
            &home,
            &[],
            &["--profile", "build", "--explain"],
            &format!("touch {}", sentinel.display()),
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert!(o.stderr.is_empty(), "{user:?}: {o:?}");
        assert!(!sentinel.exists(), "{user:?}: --explain ran the command");
        let t = &o.stdout;
        let line = |parts: &[&str]| {
            t.lines()
                .position(|l| parts.iter().all(|p| l.contains(p)))
                .unwrap_or_else(|| panic!("{user:?}: no line with {parts:?} in:\n{t}"))
        };
        let (home_s, proj_s) = (home.display().to_string(), proj.display().to_string());
        let order = [
            line(&[" 1  ", "ro-bind", "<- /"]),
            line(&[" 2  ", "dev", "/dev"]),
            line(&[" 3  ", "proc", "/proc"]),
            line(&[" 4  ", "tmpfs", "/tmp"]),
            line(&[" 5  ", "tmpfs", &home_s]),
            line(&[" 6  ", "bind", &proj_s]),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{user:?}:\n{t}");
        line(&["--profile build: build (built-in)"]);
        line(&["net", "new: loopback only"]);
        line(&["landlock", "derived from the mounts"]);
        line(&["command"]);
        line(&["/bin/sh -c 'touch ", "sentinel'"]);

        // The desktop profile's home is not created by --explain, only announced.
        let o = run_in(
            user,
            s.path(),
            &home,
            &[],
            &[&hutch(), "--profile", "desktop", "--explain", "--", "gimp"],
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        let app_home = home.join(".local/share/hutch/gimp");
        assert!(
            !app_home.exists(),
            "{user:?}: --explain created {app_home:?}"
        );
        assert!(
            o.stdout.contains(&format!(
                "{} (missing: would be created, mode 0700)",
                app_home.display()
            )),
            "{user:?}: {o:?}"
        );

        // Under the bwrap name the defaults are bubblewrap's, but the build profile
        // asks for the hardening itself.
        let o = run_in(
            user,
            &proj,
            &home,
            &[],
            &[
                support::bwrap_path().to_str().unwrap(),
                "--profile",
                "build",
                "--explain",
                "true",
            ],
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert!(o.stdout.contains("bubblewrap's defaults"), "{o:?}");
        assert!(o.stdout.contains("hutch's built-in deny list"), "{o:?}");
        assert!(o.stdout.contains("rules derived from the mounts"), "{o:?}");
    }
}

#[test]
fn an_unreachable_source_names_the_uid() {
    if !is_root() {
        support::skip("needs root to make a directory another user cannot enter");
        return;
    }
    let s = Scratch::new(User::Root);
    let private = s.mkdir("private", 0o700);
    chown_r(&private, User::Root);
    fs::write(private.join("x"), "x").unwrap();
    let (uid, _) = User::Unprivileged.ids();
    let src = private.join("x");
    let o = run_in(
        User::Unprivileged,
        s.path(),
        &s.home(),
        &[],
        &[&hutch(), "--ro-bind", src.to_str().unwrap(), "/x", "true"],
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(
        o.stderr,
        format!(
            "hutch: Can't find source path {}: Permission denied (not accessible to uid {uid})\n",
            src.display()
        )
    );
}

/// A session daemon (compositor or sound server) run as `user`, killed with its
/// process group on drop.
struct Daemon {
    child: Child,
    name: &'static str,
}

impl Daemon {
    /// Start `argv` as `user` with `env`, and wait until `socket` exists.
    fn start(
        name: &'static str,
        user: User,
        env: &[(&str, &str)],
        argv: &[&str],
        socket: &Path,
    ) -> Daemon {
        use std::os::unix::process::CommandExt;
        let log = tempfile::tempfile().unwrap();
        let mut cmd = user
            .cmd(argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", PATH)
            .envs(env.iter().copied())
            .command();
        cmd.process_group(0)
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = support::spawn_retry(&mut cmd);
        let mut d = Daemon { child, name };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!("{name} ({user:?}) exited before making {socket:?}: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "{name} ({user:?}) made no {socket:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pg = -(self.child.id() as i32);
        if !terminate(&mut self.child, pg) {
            eprintln!("{}: still running after SIGTERM, killed", self.name);
            let pg = nix::unistd::Pid::from_raw(pg);
            let _ = nix::sys::signal::kill(pg, nix::sys::signal::Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// The desktop profile against real session servers, each run as the user on the
/// user's own runtime directory: Weston (headless back end) for Wayland, PulseAudio and
/// PipeWire for sound. Inside, each client reaches its server through the one socket
/// the profile passes, and nothing else of the runtime directory is there.
///
/// Needs the packages weston, wayland-utils, pulseaudio, pulseaudio-utils, pipewire and
/// pipewire-bin (.ci/run installs them); skipped without them unless CI=true.
#[test]
fn desktop_profile_reaches_real_wayland_pulseaudio_and_pipewire_servers() {
    let tools = [
        "weston",
        "wayland-info",
        "pulseaudio",
        "pactl",
        "pipewire",
        "pw-cli",
    ];
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !support::on_path(t))
        .collect();
    if !missing.is_empty() {
        support::skip(&format!(
            "{missing:?} not installed: install weston wayland-utils pulseaudio \
             pulseaudio-utils pipewire pipewire-bin"
        ));
        return;
    }
    for user in users() {
        let s = Scratch::new(user);
        let run = s.mkdir("run", 0o700);
        s.write("run/secret", "the rest of the runtime dir\n");
        let home = s.home();
        let (run_s, home_s) = (run.to_str().unwrap(), home.to_str().unwrap());
        let env = [("XDG_RUNTIME_DIR", run_s), ("HOME", home_s)];
        // Each server: its name, its command line and the socket it makes.
        let servers: [(&'static str, &[&str], &str); 3] = [
            (
                "weston",
                &[
                    "weston",
                    "--backend=headless-backend.so",
                    "--socket=wayland-0",
                    "--idle-time=0",
                ],
                "wayland-0",
            ),
            (
                "pulseaudio",
                &[
                    "pulseaudio",
                    "-n",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--disable-shm=yes",
                    "--load=module-native-protocol-unix",
                    "--load=module-null-sink",
                ],
                "pulse/native",
            ),
            ("pipewire", &["pipewire"], "pipewire-0"),
        ];
        let _daemons: Vec<Daemon> = servers
            .iter()
            .map(|(name, argv, socket)| Daemon::start(name, user, &env, argv, &run.join(socket)))
            .collect();

        let script =
            "test ! -e \"$XDG_RUNTIME_DIR/secret\" || { echo runtime dir not private; exit 1; }\n\
             wayland-info | grep -m1 -o \"'wl_compositor'\"\n\
             pactl info | grep -m1 -o 'Server Name: pulseaudio'\n\
             pw-cli info 0 | grep -m1 -o 'PipeWire:Interface:Core'\n";
        let o = run_in(
            user,
            s.path(),
            &home,
            &[("XDG_RUNTIME_DIR", run_s)],
            &[
                &hutch(),
                "--profile",
                "desktop",
                "--",
                "/bin/sh",
                "-ec",
                script,
            ],
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        assert_eq!(
            o.stdout, "'wl_compositor'\nServer Name: pulseaudio\nPipeWire:Interface:Core\n",
            "{user:?}: {o:?}"
        );

        // Without the profile's sockets (the runtime directory empty), every client fails:
        // what passed above went through the profile's binds.
        let clients = "wayland-info >/dev/null 2>&1 && echo wayland; \
                       pactl info >/dev/null 2>&1 && echo pulse; \
                       timeout 5 pw-cli info 0 >/dev/null 2>&1 && echo pipewire; echo done";
        let env = [("XDG_RUNTIME_DIR", run_s)];
        let args = ["--ro-bind", "/", "/", "--tmpfs", run_s];
        let o = hutch_sh(user, s.path(), &home, &env, &args, clients);
        assert_eq!(o.stdout, "done\n", "{user:?}: {o:?}");

        // The whole runtime directory in view: the host's sockets are masked under the
        // hutch name (the profile's grants are what let the clients through above), and
        // reachable without the protection.
        for (extra, want) in [
            ("block", "done\n"),
            ("allow", "wayland\npulse\npipewire\ndone\n"),
        ] {
            let args = [
                "--host-sockets",
                extra,
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
            ];
            let o = hutch_sh(user, s.path(), &home, &env, &args, clients);
            assert_eq!(o.stdout, want, "{user:?} --host-sockets {extra}: {o:?}");
        }
    }
}

/// The build profile grants no host socket: a session bus (dbus-daemon, run as the user
/// beside the project) is refused to `dbus-send` inside, and reached once granted with
/// `--allow-socket`, or without the profile's protection.
#[test]
fn build_profile_cannot_reach_a_session_bus() {
    if !support::on_path("dbus-daemon") || !support::on_path("dbus-send") {
        support::skip("dbus-daemon or dbus-send not installed: install dbus-daemon dbus-bin");
        return;
    }
    for user in users() {
        let s = Scratch::new(user);
        let proj = project(&s);
        let run = s.mkdir("run", 0o700);
        let bus = run.join("bus");
        let bus_s = bus.to_str().unwrap();
        let _bus = Daemon::start(
            "dbus-daemon",
            user,
            &[],
            &[
                "dbus-daemon",
                "--session",
                "--nofork",
                "--nopidfile",
                &format!("--address=unix:path={bus_s}"),
            ],
            &bus,
        );
        let call = format!(
            "dbus-send --bus=unix:path={bus_s} --print-reply --dest=org.freedesktop.DBus \
             /org/freedesktop/DBus org.freedesktop.DBus.ListNames >/dev/null && echo reached; echo done"
        );
        for (extra, want) in [
            (&[][..], "done\n"),
            (&["--allow-socket", bus_s][..], "reached\ndone\n"),
            (&["--host-sockets", "allow"][..], "reached\ndone\n"),
        ] {
            let args = [&["--profile", "build"][..], extra].concat();
            let o = hutch_sh(user, &proj, &s.home(), &[], &args, &call);
            assert_eq!(o.stdout, want, "{user:?} {extra:?}: {o:?}");
        }
    }
}

/// The `gpu` piece passes the host's DRM device nodes, usable: each node in /dev/dri is
/// there inside, and the render nodes open read-write. Needs a GPU: skipped, with the
/// reason printed, on machines without /dev/dri (such as the CI machine, a VM).
#[test]
fn gpu_profile_passes_the_drm_nodes_when_there_are_some() {
    let Ok(entries) = fs::read_dir("/dev/dri") else {
        eprintln!("skipped: this machine has no GPU (/dev/dri does not exist)");
        return;
    };
    let mut nodes: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    nodes.sort();
    for user in users() {
        let s = Scratch::new(user);
        let o = hutch_sh(
            user,
            s.path(),
            &s.home(),
            &[],
            &["--ro-bind", "/", "/", "--dev", "/dev", "--profile", "gpu"],
            "ls /dev/dri; for n in /dev/dri/renderD*; do [ -e \"$n\" ] || continue; \
             : <>\"$n\" && echo opened; done",
        );
        assert_eq!(o.code, 0, "{user:?}: {o:?}");
        let listed: Vec<&str> = o.stdout.lines().filter(|l| *l != "opened").collect();
        assert_eq!(listed, nodes, "{user:?}: {o:?}");
    }
}

/// apparmor/hutch compiles with AppArmor 4's parser (the `userns` rule and `abi <abi/4.0>`
/// need 4.0), and its `userns` rule is in the compiled policy: without it, the output
/// differs. Loading it needs a kernel with the AppArmor LSM, which the CI machine lacks;
/// `bash apparmor/install-parser` puts a parser in /opt/apparmor4 (CI runs it).
#[test]
fn apparmor_profile_compiles_with_apparmor_4() {
    let dir = std::env::var("HUTCH_APPARMOR4").unwrap_or_else(|_| "/opt/apparmor4".into());
    let parser = Path::new(&dir).join("apparmor_parser");
    if !parser.exists() {
        support::skip(&format!(
            "no AppArmor 4 parser at {parser:?} (bash apparmor/install-parser)"
        ));
        return;
    }
    let etc = Path::new(&dir).join("root/etc/apparmor.d");
    let compile = |profile: &str| {
        let f = tempfile::NamedTempFile::new().unwrap();
        fs::write(f.path(), profile).unwrap();
        let o = Command::new(&parser)
            .args(["-Q", "-K", "-S", "-M"])
            .arg(etc.join("abi/4.0"))
            .arg("-I")
            .arg(&etc)
            .arg(f.path())
            .output()
            .unwrap();
        (
            o.status.success(),
            o.stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let profile =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("apparmor/hutch")).unwrap();
    let (ok, with, err) = compile(&profile);
    assert!(ok, "apparmor/hutch does not compile: {err}");
    assert!(!with.is_empty());
    assert_eq!(compile(&profile).1, with, "compiling is deterministic");
    assert!(profile.contains("\n  userns,\n"));
    let (ok, without, err) = compile(&profile.replace("\n  userns,\n", "\n"));
    assert!(ok, "{err}");
    assert_ne!(
        with, without,
        "the userns rule changes nothing in the compiled policy"
    );
    // The parser does check: a misspelt rule is an error.
    let (ok, _, err) = compile(&profile.replace("userns,", "usernss,"));
    assert!(!ok && err.contains("syntax error"), "{err}");
}

/// A profile that another user may have written is refused, as ssh refuses such a
/// configuration; one its group may write is warned about in one line. (A sandbox writes
/// as its caller: hutch's configuration is read-only inside instead, see
/// it::escape::hutchs_configuration_is_read_only_inside.)
#[test]
fn profiles_others_may_write_are_refused_or_warned_about() {
    for user in users() {
        let s = Scratch::new(user);
        let p = s.write("p/x.toml", "ro_bind = [\"/\"]\n");
        let dir = p.parent().unwrap().to_path_buf();
        let run = || {
            run_in(
                user,
                s.path(),
                &s.home(),
                &[],
                &[&hutch(), "--profile", p.to_str().unwrap(), "true"],
            )
        };
        enum Stderr {
            Empty,
            OneLine(&'static str),
            Has(&'static str),
            Unchecked,
        }
        // Each row: its name, the file's and the directory's modes, the exit status, stderr.
        let rows = [
            ("private", 0o644, 0o755, 0, Stderr::Empty),
            (
                "group-writable file",
                0o664,
                0o755,
                0,
                Stderr::OneLine("the file is writable by group"),
            ),
            (
                "world-writable file",
                0o646,
                0o755,
                1,
                Stderr::Has("refused: the file is writable by everyone (mode 0646)"),
            ),
            (
                "world-writable directory",
                0o644,
                0o777,
                1,
                Stderr::Has("refused: its directory is writable by everyone"),
            ),
            // A sticky directory (as /tmp) is fine.
            ("sticky directory", 0o644, 0o1777, 0, Stderr::Unchecked),
        ];
        for (name, file_mode, dir_mode, code, stderr) in rows {
            support::chmod(&p, file_mode);
            support::chmod(&dir, dir_mode);
            let o = run();
            assert_eq!(o.code, code, "{user:?} {name}: {o:?}");
            match stderr {
                Stderr::Empty => assert_eq!(o.stderr, "", "{user:?} {name}: {o:?}"),
                Stderr::OneLine(want) => {
                    assert_eq!(o.stderr.lines().count(), 1, "{user:?} {name}: {o:?}");
                    assert!(o.stderr.contains(want), "{user:?} {name}: {o:?}");
                }
                Stderr::Has(want) => assert!(o.stderr.contains(want), "{user:?} {name}: {o:?}"),
                Stderr::Unchecked => {}
            }
        }
        support::chmod(&dir, 0o755);
        if is_root() {
            // Owned by another user than the caller and root.
            let other = if user == User::Root { 65534 } else { 1 };
            std::os::unix::fs::chown(&p, Some(other), None).unwrap();
            let o = run();
            assert_eq!(o.code, 1, "{o:?}");
            assert!(
                o.stderr
                    .contains(&format!("refused: the file is owned by uid {other}")),
                "{o:?}"
            );
        }
    }
}

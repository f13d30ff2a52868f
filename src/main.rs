//! hutch: a rootless Linux sandbox with bubblewrap's command line (the binary; see src/lib.rs).

// hutch starts at the C entry point rather than through Rust's `fn main`, whose runtime
// start-up sets SIGPIPE to "ignore" and forgets what it was (an ignored signal stays
// ignored across exec, so every sandboxed command would inherit it, where bwrap passes
// the caller's disposition on), reads /proc/self/maps to place a stack guard and
// installs an alternate signal stack: work and memory a short-lived launcher does not
// need. hutch ignores SIGPIPE itself too, but remembers the caller's disposition and
// gives it back to the command (`sys::ignore_sigpipe`, `sys::exec`).
// Arguments and the environment still come from std, which glibc hands them to
// before any entry point runs.
#![no_main]

use std::io::Write;

use hutch::cli::{self, Action};
use hutch::sandbox::{self, Messages};
use hutch::spec::Personality;
use hutch::{explain, fault, profile};

// The C entry point that calls `run` lives in the system layer (src/sys/entry.rs),
// with the one attribute that needs a lint exception.
#[path = "sys/entry.rs"]
mod entry;

pub(crate) fn run() -> ! {
    match fault::init() {
        Ok(false) => {}
        Ok(true) => std::process::exit(0),
        Err(e) => {
            eprintln!("hutch: {e}");
            std::process::exit(1);
        }
    }
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "hutch".into());
    // The OCI runtime: `hutch-oci ...` or `hutch oci ...` (src/oci/).
    if hutch::oci::is_runtime_name(&argv0) {
        std::process::exit(hutch::oci::main(args.collect()));
    }
    let personality = Personality::from_argv0(&argv0);
    // Under the bwrap name, `oci` is a command to run, as bwrap has it.
    let mut args = args.peekable();
    if matches!(personality, Personality::Hutch) && args.peek().is_some_and(|a| a == "oci") {
        args.next();
        std::process::exit(hutch::oci::main(args.collect()));
    }
    let mut msgs = Messages {
        name: personality.name(),
        level_prefix: false,
    };
    let prog = argv0.to_string_lossy().into_owned();
    let rest: Vec<_> = args.collect();
    if rest.is_empty() {
        eprint!("{}", cli::usage(&prog));
        std::process::exit(1);
    }
    let (action, warnings) = match cli::parse(personality, rest) {
        Ok(r) => r,
        Err(e) => {
            msgs.level_prefix = cli::level_prefix_seen();
            msgs.error(&e.to_string());
            std::process::exit(1);
        }
    };
    let spec = match action {
        Action::Help => {
            print!("{}", cli::usage(&prog));
            let _ = std::io::stdout().flush();
            std::process::exit(0);
        }
        Action::Version => {
            println!("hutch {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0);
        }
        Action::Run(spec) => spec,
    };
    msgs.level_prefix = spec.level_prefix;
    for (prefixed, w) in &warnings {
        Messages {
            name: msgs.name,
            level_prefix: *prefixed,
        }
        .warn(w);
    }
    // --explain: the plan on stdout, nothing run (not even --bind-create's mkdir).
    if spec.explain {
        print!("{}", explain::explain(&spec));
        let _ = std::io::stdout().flush();
        std::process::exit(0);
    }
    if spec.command.is_empty() {
        eprint!("{}", cli::usage(&prog));
        std::process::exit(1);
    }
    if let Err(e) = profile::create_host_dirs(&spec.host_dirs) {
        msgs.error(&e.to_string());
        std::process::exit(1);
    }
    match sandbox::run(&spec, &msgs) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            msgs.error(&e.to_string());
            std::process::exit(1);
        }
    }
}

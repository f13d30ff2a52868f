//! The man page and the shell completions, generated from `flags::FLAGS`.
//!
//! hutch parses its command line by hand (bwrap's grammar does not fit clap's
//! parser), but clap can still describe it: this module builds a `clap::Command`
//! from the flag table and feeds it to clap_mangen and clap_complete. It is
//! test-only, so the binary does not link clap; the generated files are committed
//! and `docs_are_fresh` fails when they no longer match the table:
//!
//! ```text
//! UPDATE_DOCS=1 cargo test docs
//! ```
#![cfg(test)]

use std::path::{Path, PathBuf};

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, Command, ValueHint};
use clap_complete::Shell;
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};

use crate::flags::{Flag, Kind, Origin, Section, FLAGS};
use crate::oci::cli as oci;

const NAME: &str = "hutch";

const ABOUT: &str = "run a command in an unprivileged Linux sandbox (bubblewrap-compatible)";

const COMMAND_HELP: &str = "The program to run inside the sandbox, and its arguments";

/// The man page section for each group of flags.
fn heading(section: Section) -> &'static str {
    match section {
        Section::General => "General options",
        Section::Namespaces => "Namespace options",
        Section::Process => "Process options",
        Section::Filesystem => "Filesystem options",
        Section::Security => "Security options",
    }
}

/// clap has one value hint per argument: paths if any value is a path (the
/// zsh script is then rewritten with one completion per value, see `zsh_fixup`).
fn value_hint(flag: &Flag) -> ValueHint {
    if flag.values.iter().any(|v| v.kind == Kind::Path) {
        ValueHint::AnyPath
    } else {
        ValueHint::Unknown
    }
}

fn is_bwrap_option(flag: &Flag) -> bool {
    flag.origin == Origin::Bwrap
}

/// How far hutch implements a flag: the status column of the README's table.
fn status(flag: &Flag) -> &'static str {
    flag.status.unwrap_or("implemented")
}

/// The man page's text for a flag: its help line, then what hutch adds.
fn long_help(flag: &Flag) -> Option<String> {
    let mut notes = Vec::new();
    if !is_bwrap_option(flag) {
        notes.push("hutch only: bwrap has no such option.");
    }
    notes.extend(flag.man);
    if notes.is_empty() {
        return None;
    }
    Some(format!(
        "{}. {}",
        flag.help.trim_end_matches('.'),
        notes.join(" ")
    ))
}

/// The clap description of hutch's command line. It is never used to parse.
pub fn command() -> Command {
    let mut cmd = Command::new(NAME)
        .bin_name(NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .override_usage("hutch [OPTIONS...] [--] COMMAND [ARGS...]")
        .disable_help_flag(true)
        .disable_version_flag(true);
    for flag in FLAGS {
        let long = flag
            .name
            .strip_prefix("--")
            .expect("every flag is a long option");
        let mut arg = Arg::new(long)
            .long(long)
            .help(flag.help)
            .help_heading(heading(flag.section))
            .num_args(flag.values.len())
            .action(ArgAction::Append)
            .value_hint(value_hint(flag));
        if !flag.values.is_empty() {
            arg = arg.value_names(flag.value_names());
        }
        if let Some(help) = long_help(flag) {
            arg = arg.long_help(help);
        }
        for alias in flag.aliases {
            arg = arg.visible_alias(alias.trim_start_matches("--"));
        }
        cmd = cmd.arg(arg);
    }
    cmd.arg(
        Arg::new("command")
            .value_name("COMMAND")
            .help(COMMAND_HELP)
            .num_args(1..)
            .trailing_var_arg(true)
            .allow_hyphen_values(true)
            // Not CommandName: zsh would then complete every argument of the
            // command as a command name. This completes the command, then its
            // arguments as that command's own completion would.
            .value_hint(ValueHint::CommandWithArguments),
    )
}

fn code(roff: &mut Roff, lines: &str) {
    roff.control("RS", ["4"]).control("nf", []);
    for line in lines.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []).control("RE", []);
}

fn para(roff: &mut Roff, inlines: impl Into<Vec<Inline>>) {
    roff.control("PP", []).text(inlines);
}

fn section(roff: &mut Roff, title: &str) {
    roff.control("SH", [title]);
}

fn synopsis(roff: &mut Roff) {
    section(roff, "SYNOPSIS");
    roff.text([
        bold(NAME),
        roman(" ["),
        italic("OPTIONS"),
        roman("...] [--] "),
        italic("COMMAND"),
        roman(" ["),
        italic("ARGS"),
        roman("...]"),
    ]);
}

fn description(roff: &mut Roff) {
    section(roff, "DESCRIPTION");
    roff.text([
        bold(NAME),
        roman(
            " runs COMMAND in new Linux namespaces, in a filesystem tree that the options build \
             from nothing. It is a reimplementation of bubblewrap, ",
        ),
        bold("bwrap"),
        roman(
            "(1), and accepts exactly bwrap's command line: the same options, applied in the same \
             order, with bwrap's error messages. It needs no setuid bit: an unprivileged user \
             namespace gives it the rights it needs inside the sandbox, and no more.",
        ),
    ]);
    para(
        roff,
        [roman(
            "The sandbox starts with an empty mount namespace whose root is a tmpfs invisible \
             from the host. Filesystem options are applied in the order given, so a later mount \
             can be placed inside an earlier one; destinations are resolved inside the new root, \
             and a symbolic link can never lead a mount out of it. The modifiers --perms and \
             --size apply to the option that follows them, and --overlay-src adds a layer to the \
             next overlay.",
        )],
    );
    para(
        roff,
        [
            roman(
                "Each option's values are separate words (--bind SRC DEST, never --bind=SRC). \
                 Options end at -- or at the first word that does not start with a dash; that \
                 word is COMMAND and the remaining words are its arguments. ",
            ),
            bold("--args"),
            roman(
                " FD reads more options, separated by NUL bytes, from a file descriptor, which \
                 keeps long or private argument lists off the command line.",
            ),
        ],
    );
    para(
        roff,
        [
            roman("Invoked under a name starting with "),
            bold("bwrap"),
            roman(
                " (for example through a symbolic link), hutch follows bubblewrap's defaults and \
                 prefixes its messages with \"bwrap:\", so that it can stand in for bwrap. Invoked \
                 as ",
            ),
            bold(NAME),
            roman(
                " it accepts the same options, and hutch's own options (marked \"hutch only\" \
                 below) work under both names. Where a default differs between the two names, \
                 the option's description says so.",
            ),
        ],
    );
    para(
        roff,
        [
            bold("hutch oci"),
            roman(
                " COMMAND (or the same binary under the name hutch-oci) is an OCI runtime for \
                 podman and containerd, with commands of its own (",
            ),
            roman(
                oci::supported()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            roman("): see "),
            bold("hutch-oci"),
            roman("(1) and hutch oci --help."),
        ],
    );
}

fn examples(roff: &mut Roff) {
    section(roff, "EXAMPLES");
    roff.text([roman(
        "Build the project in the current directory with the built-in build profile, after \
         looking at what the profile does:",
    )]);
    code(
        roff,
        "hutch --profile build --explain -- make\nhutch --profile build -- make",
    );
    para(
        roff,
        [roman(
            "The same for every recipe of a Makefile (make runs $(SHELL) -c RECIPE):",
        )],
    );
    code(roff, "SHELL := hutch --profile build -- /bin/sh");
    para(roff, [roman("By hand, with options only:")]);
    roff.text([roman(
        "a shell with a read-only view of the host, its own /tmp, and no network:",
    )]);
    code(
        roff,
        "hutch --unshare-all --ro-bind / / --dev /dev --proc /proc \\\n      --tmpfs /tmp -- /bin/sh",
    );
    para(
        roff,
        [roman(
            "Run every recipe of a Makefile in a sandbox that can write only the project \
             directory and has no network (make runs $(SHELL) -c RECIPE; the bind comes after \
             --tmpfs /tmp so that a project under /tmp stays visible):",
        )],
    );
    code(
        roff,
        "SHELL := hutch --unshare-all --die-with-parent --ro-bind / / --dev /dev \\\n\
         \x20        --proc /proc --tmpfs /tmp --bind $(CURDIR) $(CURDIR) -- /bin/sh",
    );
    para(
        roff,
        [roman(
            "A desktop application with the network, the Wayland or PulseAudio sockets of the \
             session and a private home directory that keeps only its own settings:",
        )],
    );
    code(
        roff,
        "mkdir -p ~/.mozilla\n\
         hutch --unshare-all --share-net --die-with-parent \\\n\
         \x20     --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp \\\n\
         \x20     --bind \"$XDG_RUNTIME_DIR\" \"$XDG_RUNTIME_DIR\" \\\n\
         \x20     --tmpfs \"$HOME\" --bind ~/.mozilla ~/.mozilla \\\n\
         \x20     -- firefox",
    );
    para(
        roff,
        [roman(
            "A Flatpak-style launcher: the sandbox options are written NUL-separated to a pipe \
             read through --args, so that no quoting is needed and they do not appear in ps(1). \
             The command itself must follow on the command line:",
        )],
    );
    code(
        roff,
        "printf '%s\\0' --unshare-all --die-with-parent \\\n\
         \x20   --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \\\n\
         \x20   --symlink usr/lib64 /lib64 --proc /proc --dev /dev --tmpfs /tmp \\\n\
         \x20   --dir /home/app --setenv HOME /home/app --chdir /home/app |\n\
         hutch --args 3 3<&0 -- /bin/sh -c 'id; ls /'",
    );
    para(
        roff,
        [roman(
            "Here fd 3 is a copy of the pipe on standard input. To keep standard input for the \
             command, give the options on another descriptor, as in bash's 3< <(printf ...).",
        )],
    );
}

/// The PROFILES section: the format from `profile::doc_paragraphs`, every key from
/// `profile::keys` (the flag table's profile keys among them), and the built-in profiles.
fn profiles(roff: &mut Roff) {
    section(roff, "PROFILES");
    for (i, p) in crate::profile::doc_paragraphs().iter().enumerate() {
        if i == 0 {
            roff.text([roman(p.as_str())]);
        } else {
            para(roff, [roman(p.as_str())]);
        }
    }
    para(roff, [roman("The variables:")]);
    for (name, what) in crate::profile::VARIABLES {
        roff.control("TP", [])
            .text([bold(format!("${{{name}}}"))])
            .text([roman(*what)]);
    }
    para(roff, [roman("For example:")]);
    code(roff, crate::profile::EXAMPLE);
    para(roff, [roman("The keys, each with the option it gives:")]);
    for k in crate::profile::keys() {
        roff.control("TP", [])
            .text([bold(k.name), roman(" = "), roman(k.value)])
            .text([roman(k.doc)]);
    }
    para(roff, [roman("The built-in profiles:")]);
    for (name, description) in crate::profile::builtin_descriptions() {
        roff.control("TP", [])
            .text([bold(name)])
            .text([roman(description)]);
    }
}

fn exit_status(roff: &mut Roff) {
    section(roff, "EXIT STATUS");
    roff.text([roman(
        "hutch exits with the exit status of COMMAND. If COMMAND is killed by signal N, hutch \
         exits with 128+N, as a shell would report it. If hutch itself fails (an invalid option, \
         or a sandbox that cannot be set up), it prints one line prefixed \"hutch:\" (\"bwrap:\" \
         under that name) on standard error and exits with 1. Without arguments it prints its \
         usage to standard error and exits with 1; --help and --version exit with 0.",
    )]);
}

fn see_also(roff: &mut Roff) {
    section(roff, "SEE ALSO");
    roff.text([
        bold("bwrap"),
        roman("(1), "),
        bold("hutch-oci"),
        roman("(1), "),
        bold("namespaces"),
        roman("(7), "),
        bold("user_namespaces"),
        roman("(7), "),
        bold("mount_namespaces"),
        roman("(7)"),
    ]);
}

/// The man page: clap_mangen's name and option sections, with the rest written
/// here.
pub fn man_page() -> String {
    // The command is described in SYNOPSIS and DESCRIPTION, not as an option.
    let man = clap_mangen::Man::new(command().mut_arg("command", |a| a.hide(true)));
    // Every rendered piece starts with the same preamble (apostrophe handling).
    let preamble = Roff::new().render();
    let mut out = preamble.clone();
    // clap_mangen drops the empty date from .TH, which shifts the fields after it.
    out.push_str(&format!(
        ".TH HUTCH 1 \"\" \"hutch {}\" \"User Commands\"\n",
        env!("CARGO_PKG_VERSION")
    ));
    let mut piece = |render: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut buf = Vec::new();
        render(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        out.push_str(text.strip_prefix(preamble.as_str()).unwrap_or(&text));
    };
    piece(&|w| man.render_name_section(w));
    piece(&|w| {
        let mut roff = Roff::new();
        synopsis(&mut roff);
        description(&mut roff);
        roff.to_writer(w)
    });
    piece(&|w| man.render_options_section(w));
    piece(&|w| {
        let mut roff = Roff::new();
        profiles(&mut roff);
        roff.to_writer(w)
    });
    piece(&|w| {
        let mut roff = Roff::new();
        examples(&mut roff);
        exit_status(&mut roff);
        see_also(&mut roff);
        roff.to_writer(w)
    });
    out
}

/// hutch's completion, with `hutch oci ...`: bash and fish through clap's subcommand
/// (with fish's conditions fixed, see `fish_fixup`); zsh with the runtime's function
/// spliced in (see `zsh_oci`), since clap's subcommand would end the trailing COMMAND.
pub fn completion(shell: Shell) -> String {
    let mut out = Vec::new();
    let mut cmd = command();
    if shell != Shell::Zsh {
        cmd = cmd
            .disable_help_subcommand(true)
            .subcommand(oci_command("oci"));
    }
    clap_complete::generate(shell, &mut cmd, NAME, &mut out);
    let script = String::from_utf8(out).unwrap();
    match shell {
        Shell::Zsh => zsh_oci(&zsh_fixup(&script)),
        Shell::Fish => fish_fixup(&script),
        _ => script,
    }
}

/// clap's fish script offers hutch's options only before the first word that is not
/// an option (`__fish_hutch_needs_command`, which knows one value per option): after
/// `--bind SRC DEST` it would offer none. hutch's options are offered unless the first
/// argument is `oci`, and `oci` only as the first argument.
fn fish_fixup(script: &str) -> String {
    const FUNCTIONS: &str = "\
# hutch's own options, unless the command line is `hutch oci ...` (hutch-oci(1)).
function __fish_hutch_not_oci
    set -l cmd (commandline -opc)
    test \"$cmd[2]\" != oci
end

function __fish_hutch_first_arg
    test (count (commandline -opc)) -eq 1
end

";
    let mut out = String::with_capacity(script.len() + FUNCTIONS.len());
    let mut inserted = false;
    for line in script.lines() {
        if !inserted && line.starts_with("complete -c hutch ") {
            out.push_str(FUNCTIONS);
            inserted = true;
        }
        let line = if line.contains(" -a \"oci\" ") {
            line.replace(
                "\"__fish_hutch_needs_command\"",
                "\"__fish_hutch_first_arg\"",
            )
        } else {
            line.replace("\"__fish_hutch_needs_command\"", "\"__fish_hutch_not_oci\"")
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// hutch's zsh function with `hutch oci ...` handed to the runtime's completion (the
/// function clap writes for `hutch-oci`, renamed `_hutch__oci`), and `oci` offered as
/// the first argument beside the options and commands.
fn zsh_oci(script: &str) -> String {
    const DISPATCH: &str = "    # hutch oci ...: the OCI runtime's command line (hutch-oci(1)).
    if (( CURRENT > 2 )) && [[ $words[2] == oci ]]; then
        shift words
        (( CURRENT-- ))
        _hutch__oci \"$@\"
        return
    fi
    if (( CURRENT == 2 )); then
        local -a runtime=('oci:the OCI runtime for podman and containerd (hutch oci --help)')
        _describe -t oci-runtime 'hutch oci' runtime && ret=0
    fi
";
    const ARGUMENTS: &str = "    local context curcontext=\"$curcontext\" state line\n";
    let runtime = oci_completion(Shell::Zsh);
    let begin =
        runtime.find("autoload -U is-at-least\n").unwrap() + "autoload -U is-at-least\n".len();
    let end = runtime.find("if [ \"$funcstack[1]\"").unwrap();
    let functions = runtime[begin..end].replace("_hutch-oci", "_hutch__oci");
    let at = script.find(ARGUMENTS).expect("clap's zsh script changed");
    let trailer = script
        .find("if [ \"$funcstack[1]\"")
        .expect("clap's zsh script changed");
    format!(
        "{}{DISPATCH}{}{}{}",
        &script[..at],
        &script[at..trailer],
        functions.trim_start_matches('\n'),
        &script[trailer..]
    )
}

/// clap_complete writes `'*--bind=[help]:SRC:_files:SRC:_files'`: zsh then
/// completes `--bind=`, a form bwrap's grammar rejects, and it repeats the first
/// value's name and completion for every value. Rewrite each option that takes
/// values as `'*--bind[help]:SRC:_files:DEST:_files'`.
fn zsh_fixup(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    for line in script.lines() {
        let rewritten = FLAGS
            .iter()
            .filter(|f| !f.values.is_empty())
            .find_map(|flag| {
                let rest = line.strip_prefix(&format!("'*{}=[", flag.name))?;
                let help = &rest[..rest.rfind("]:")?];
                let values: String = flag
                    .values
                    .iter()
                    .map(|v| {
                        let complete = if v.kind == Kind::Path { "_files" } else { " " };
                        format!(":{}:{complete}", v.name)
                    })
                    .collect();
                Some(format!(r"'*{}[{help}]{values}' \", flag.name))
            });
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The clap description of the OCI runtime's command line (src/oci/cli.rs), as the
/// program `name` (`hutch-oci`, or the subcommand `oci` of hutch's). Never used to
/// parse. The refused options and commands are left out: the completions do not offer
/// them.
pub fn oci_command(name: &'static str) -> Command {
    fn arg(o: &oci::Opt) -> Arg {
        let mut a = Arg::new(o.name).long(o.name).help(o.help);
        if let Some(c) = o.short {
            a = a.short(c);
        }
        match o.value {
            Some((value, kind)) => {
                a = a.value_name(value).num_args(1).action(ArgAction::Set);
                match kind {
                    oci::Kind::Path => a.value_hint(ValueHint::AnyPath),
                    oci::Kind::Text => a,
                    oci::Kind::OneOf(words) => a.value_parser(PossibleValuesParser::new(words)),
                }
            }
            None => a.action(ArgAction::SetTrue),
        }
    }
    let mut cmd = Command::new(name)
        .about(OCI_ABOUT)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true);
    let offered = |o: &&oci::Opt| o.refused.is_none();
    for o in oci::GLOBAL.iter().filter(offered) {
        cmd = cmd.arg(arg(o));
    }
    for c in oci::supported() {
        let mut sub = Command::new(c.name).about(c.help).disable_help_flag(true);
        for o in c.opts.iter().filter(offered) {
            sub = sub.arg(arg(o));
        }
        for o in c.operands {
            sub = sub.arg(
                Arg::new(o.name)
                    .value_name(o.name)
                    .help(o.what)
                    .required(o.required),
            );
        }
        cmd = cmd.subcommand(sub);
    }
    cmd
}

const OCI_ABOUT: &str = "hutch as an OCI runtime, for podman and containerd";

/// `hutch-oci`'s completion (the binary under that name).
fn oci_completion(shell: Shell) -> String {
    let mut out = Vec::new();
    let mut cmd = oci_command(oci::NAME).bin_name(oci::NAME);
    clap_complete::generate(shell, &mut cmd, oci::NAME, &mut out);
    String::from_utf8(out).unwrap()
}

/// `-b, --bundle DIR` in roff.
fn oci_opt(o: &oci::Opt) -> Vec<Inline> {
    let mut v = Vec::new();
    if let Some(c) = o.short {
        v.push(bold(format!("-{c}")));
        v.push(roman(", "));
    }
    v.push(bold(format!("--{}", o.name)));
    if let Some((value, _)) = o.value {
        v.push(roman(" "));
        v.push(italic(value));
    }
    v
}

fn oci_opts(roff: &mut Roff, opts: &[oci::Opt]) {
    for o in opts.iter().filter(|o| o.refused.is_none()) {
        roff.control("TP", [])
            .text(oci_opt(o))
            .text([roman(o.help)]);
    }
}

/// `man/hutch-oci.1`: written from the table of src/oci/cli.rs.
pub fn oci_man_page() -> String {
    let mut roff = Roff::new();
    section(&mut roff, "NAME");
    roff.text([roman(format!("hutch-oci - {OCI_ABOUT}"))]);
    section(&mut roff, "SYNOPSIS");
    for prog in ["hutch-oci", "hutch oci"] {
        roff.text([
            bold(prog),
            roman(" ["),
            italic("OPTIONS"),
            roman("] "),
            italic("COMMAND"),
            roman(" ["),
            italic("ARGS"),
            roman("...]"),
        ]);
        roff.control("br", []);
    }
    section(&mut roff, "DESCRIPTION");
    roff.text([
        bold("hutch oci"),
        roman(
            ", or the hutch binary under a name starting with hutch-oci, speaks the command \
             line of the OCI runtimes (runc, crun) that podman, conmon and containerd's runc \
             shim call, so that they run containers with hutch: a bundle's config.json \
             becomes a hutch sandbox. ",
        ),
        roman(oci::HARDENING),
    ]);
    para(
        &mut roff,
        [roman(
            "The options of the runtime come before the command, a command's options and \
             operands after it, in any order (-- ends the options). An option is --name VALUE \
             or --name=VALUE, with one dash or two; a switch also takes =true or =false. \
             Each command takes --help (-h).",
        )],
    );
    section(&mut roff, "OPTIONS");
    oci_opts(&mut roff, oci::GLOBAL);
    section(&mut roff, "COMMANDS");
    for c in oci::supported() {
        roff.control("SS", [c.name]);
        let mut synopsis = vec![bold(format!("hutch-oci {}", c.name))];
        if c.opts.iter().any(|o| o.name != "help") {
            synopsis.extend([roman(" ["), italic("OPTIONS"), roman("]")]);
        }
        for o in c.operands {
            if o.required {
                synopsis.extend([roman(" "), italic(o.name)]);
            } else {
                synopsis.extend([roman(" ["), italic(o.name), roman("]")]);
            }
        }
        roff.text(synopsis);
        let mut text = format!("{}.", c.help);
        if let Some(more) = c.more {
            text = format!("{text} {more}");
        }
        para(&mut roff, [roman(text)]);
        // Every command's --help is said once, in DESCRIPTION.
        let opts: Vec<_> = c
            .opts
            .iter()
            .filter(|o| o.name != "help")
            .copied()
            .collect();
        oci_opts(&mut roff, &opts);
    }
    section(&mut roff, "NOT SUPPORTED");
    roff.text([roman(
        "Refused with one line naming them (exit status 1), rather than ignored:",
    )]);
    let mut refused: Vec<(String, &str)> = oci::GLOBAL
        .iter()
        .filter_map(|o| Some((format!("--{}", o.name), o.refused?)))
        .collect();
    for c in oci::COMMANDS {
        match c.refused {
            Some(why) => refused.push((c.name.to_string(), why)),
            None => refused.extend(
                c.opts
                    .iter()
                    .filter_map(|o| Some((format!("{} --{}", c.name, o.name), o.refused?))),
            ),
        }
    }
    for (what, why) in refused {
        roff.control("TP", []).text([bold(what)]).text([roman(why)]);
    }
    para(
        &mut roff,
        [roman(
            "What of the OCI runtime spec hutch does not support is refused by name at create \
             (or exec); the features command lists what is supported.",
        )],
    );
    section(&mut roff, "EXIT STATUS");
    roff.text([roman(
        "0 on success. On failure, hutch-oci prints one line prefixed \"hutch-oci:\" on \
         standard error (and to the --log file) and exits with 1. exec without --detach exits \
         with the exit status of the process, or 128+N if signal N killed it. Without a \
         command it prints its usage on standard error and exits with 1.",
    )]);
    section(&mut roff, "SEE ALSO");
    roff.text([
        bold("hutch"),
        roman("(1), "),
        bold("podman"),
        roman("(1), "),
        bold("containerd"),
        roman("(8), "),
        bold("runc"),
        roman("(8), "),
        bold("crun"),
        roman("(1); docs/oci.md in hutch's source."),
    ]);
    // As for hutch.1: the .TH line by hand, after the preamble.
    let preamble = Roff::new().render();
    let body = roff.render();
    format!(
        "{preamble}.TH HUTCH-OCI 1 \"\" \"hutch {}\" \"User Commands\"\n{}",
        env!("CARGO_PKG_VERSION"),
        body.strip_prefix(preamble.as_str()).unwrap_or(&body)
    )
}

/// docs/oci.md's command reference, from the table of src/oci/cli.rs.
fn oci_commands_md() -> String {
    let md_opt = |o: &oci::Opt| format!("`{}`", o.synopsis());
    let mut out =
        String::from("Global options (before the command):\n\n| Option | Meaning |\n|---|---|\n");
    for o in oci::GLOBAL {
        out.push_str(&format!("| {} | {} |\n", md_opt(o), o.help));
    }
    out.push_str("\nCommands (each also takes `-h, --help`):\n\n| Command | Options | What it does |\n|---|---|---|\n");
    for c in oci::supported() {
        let opts: Vec<String> = c
            .opts
            .iter()
            .filter(|o| o.name != "help")
            .map(|o| match o.refused {
                Some(_) => format!("{} (refused)", md_opt(o)),
                None => md_opt(o),
            })
            .collect();
        let mut what = format!("{}.", c.help);
        if let Some(more) = c.more {
            what = format!("{what} {more}");
        }
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.synopsis(),
            opts.join(", "),
            what.replace('|', "\\|")
        ));
    }
    let refused: Vec<String> = oci::COMMANDS
        .iter()
        .filter(|c| c.refused.is_some())
        .map(|c| format!("`{}`", c.name))
        .collect();
    out.push_str(&format!(
        "\nNot supported (refused by name): {}.\n",
        refused.join(", ")
    ));
    out
}

/// Every generated file, by its path in the repository.
fn generated() -> Vec<(&'static str, String)> {
    vec![
        ("man/hutch.1", man_page()),
        ("man/hutch-oci.1", oci_man_page()),
        ("completions/hutch.bash", completion(Shell::Bash)),
        ("completions/_hutch", completion(Shell::Zsh)),
        ("completions/hutch.fish", completion(Shell::Fish)),
        ("completions/hutch-oci.bash", oci_completion(Shell::Bash)),
        ("completions/_hutch-oci", oci_completion(Shell::Zsh)),
        ("completions/hutch-oci.fish", oci_completion(Shell::Fish)),
    ]
}

const TABLE_BEGIN: &str =
    "<!-- BEGIN FLAGS: generated from src/cli.rs by `UPDATE_DOCS=1 cargo test docs` -->\n";
const TABLE_END: &str = "<!-- END FLAGS -->\n";

/// The README's tables: every bwrap option with hutch's status, then hutch's
/// own options.
fn flags_table() -> String {
    let cell = |s: &str| {
        s.replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('|', "\\|")
    };
    let mut out =
        String::from("| Option | Arguments | Description | Status in hutch |\n|---|---|---|---|\n");
    for flag in FLAGS.iter().filter(|f| is_bwrap_option(f)) {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            flag.name,
            flag.value_names().collect::<Vec<_>>().join(" "),
            cell(flag.help),
            cell(status(flag))
        ));
    }
    let own: Vec<&Flag> = FLAGS.iter().filter(|f| !is_bwrap_option(f)).collect();
    if !own.is_empty() {
        out.push_str("\nhutch's own options, under both names:\n\n");
        out.push_str("| Option | Arguments | Description |\n|---|---|---|\n");
        for flag in own {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                flag.name,
                flag.value_names().collect::<Vec<_>>().join(" "),
                cell(flag.help)
            ));
        }
    }
    out
}

/// `readme` with the text between the table markers replaced by the table.
fn with_flags_table(readme: &str) -> Option<String> {
    between(readme, TABLE_BEGIN, TABLE_END, &flags_table())
}

const OCI_BEGIN: &str =
    "<!-- BEGIN OCI COMMANDS: generated from src/oci/cli.rs by `UPDATE_DOCS=1 cargo test docs` -->\n";
const OCI_END: &str = "<!-- END OCI COMMANDS -->\n";

/// `text` with what is between `begin` and `end` replaced by `with`.
fn between(text: &str, begin: &str, end: &str, with: &str) -> Option<String> {
    let b = text.find(begin)? + begin.len();
    let e = b + text[b..].find(end)?;
    Some(format!("{}{}{}", &text[..b], with, &text[e..]))
}

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn clap_accepts_the_table() {
    command().debug_assert();
}

#[test]
fn docs_are_fresh() {
    let update = std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    let options = std::fs::read_to_string(repo_path("docs/options.md")).unwrap_or_default();
    let options =
        with_flags_table(&options).expect("docs/options.md has no BEGIN FLAGS/END FLAGS markers");
    let oci_md = std::fs::read_to_string(repo_path("docs/oci.md")).unwrap_or_default();
    let oci_md = between(&oci_md, OCI_BEGIN, OCI_END, &oci_commands_md())
        .expect("docs/oci.md has no BEGIN OCI COMMANDS/END OCI COMMANDS markers");
    let mut files = generated();
    files.push(("docs/options.md", options));
    files.push(("docs/oci.md", oci_md));
    for (rel, content) in files {
        let path = repo_path(rel);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            eprintln!("updated {rel}");
        } else {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "man/ or completions/ are stale: run UPDATE_DOCS=1 cargo test docs ({})",
        stale.join(", ")
    );
}

#[test]
fn man_page_lists_every_flag() {
    // The roff source spells a dash as `\-`.
    let text = man_page().replace("\\-", "-");
    for flag in FLAGS {
        assert!(
            text.contains(&format!("\\fB{}\\fR", flag.name)),
            "{} is missing from the man page",
            flag.name
        );
    }
}

#[test]
fn clap_accepts_the_oci_table() {
    oci_command(oci::NAME).debug_assert();
    command()
        .disable_help_subcommand(true)
        .subcommand(oci_command("oci"))
        .debug_assert();
}

/// Every command and option of the OCI runtime's table is in its man page and in the
/// completions (of `hutch oci` and of `hutch-oci`), and the refused ones only in the
/// man page's NOT SUPPORTED.
#[test]
fn oci_man_page_and_completions_list_the_table() {
    let man = oci_man_page().replace("\\-", "-");
    let scripts: Vec<(String, String)> = [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .flat_map(|sh| {
            [
                (format!("hutch {sh}"), completion(sh)),
                (format!("hutch-oci {sh}"), oci_completion(sh)),
            ]
        })
        .collect();
    // As each script spells an option: `--root` (bash, zsh) or `-l root` (fish).
    let has_opt = |script: &str, name: &str| {
        let long = format!("--{name}");
        script
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .any(|w| w == long)
            || script.contains(&format!("-l {name} "))
    };
    for (opts, command) in
        std::iter::once((oci::GLOBAL, None)).chain(oci::supported().map(|c| (c.opts, Some(c.name))))
    {
        if let Some(c) = command {
            assert!(
                man.contains(&format!(".SS {c}\n")),
                "{c} is missing from the man page"
            );
            for (which, script) in &scripts {
                assert!(script.contains(c), "{c} is missing from {which}");
            }
        }
        for o in opts {
            let name = o.name;
            // In bold: `--root`, or `exec --cwd` under NOT SUPPORTED.
            assert!(
                man.contains(&format!("--{name}\\fR")),
                "--{name} is missing from the man page"
            );
            for (which, script) in &scripts {
                if o.refused.is_none() {
                    assert!(has_opt(script, name), "--{name} is missing from {which}");
                } else {
                    assert!(
                        !has_opt(script, name),
                        "{which} offers the refused --{name}"
                    );
                }
            }
        }
    }
    for c in oci::COMMANDS.iter().filter(|c| c.refused.is_some()) {
        assert!(man.contains(&format!("\\fB{}\\fR", c.name)), "{}", c.name);
    }
}

#[test]
fn zsh_options_take_separate_words() {
    let zsh = completion(Shell::Zsh);
    // hutch's own options (repeatable, `'*--bind...`); those of `hutch oci` take
    // `--root=DIR` too.
    assert!(
        !zsh.lines()
            .any(|l| l.starts_with("'*--") && l.contains("=[")),
        "an option is still completed as --opt=VALUE:\n{zsh}"
    );
    assert!(
        zsh.contains("'*--bind[Bind mount the host path SRC on DEST]:SRC:_files:DEST:_files' \\\n")
    );
    assert!(zsh.contains("'*--file[Copy from FD to destination DEST]:FD: :DEST:_files' \\\n"));
}

#[test]
fn man_page_renders_without_warnings() {
    let has_man = std::process::Command::new("sh")
        .args(["-c", "command -v man"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_man {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "man is not installed, and CI must check the man page (install man-db)"
        );
        eprintln!("skipping: man is not installed");
        return;
    }
    // The page as generated rather than the committed file, which docs_are_fresh
    // may be rewriting concurrently (and which it compares with this content).
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [("hutch.1", man_page()), ("hutch-oci.1", oci_man_page())] {
        let page = dir.path().join(name);
        std::fs::write(&page, content).unwrap();
        // MANWIDTH=80 man -l --warnings man/hutch.1
        let out = std::process::Command::new("man")
            .args(["-l", "--warnings"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "man -l --warnings man/{name}:\n{warnings}"
        );
        // A stub `man` (as on minimized Ubuntu images) would pass the check above.
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("EXIT STATUS"),
            "man rendered no page:\n{text}"
        );
    }
}

/// The relative link targets of a Markdown text, outside code blocks and code spans.
#[cfg(test)]
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop code spans: `a](b` in one is not a link.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
                links.push(target.to_string());
            }
            rest = &rest[end..];
        }
    }
    links
}

/// GitHub's anchors for the headings of a Markdown text.
#[cfg(test)]
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            let title = line.trim_start_matches('#').trim();
            out.push(
                title
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn readme_stays_short_and_links_resolve() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 450,
        "README.md has {lines} lines (at most 450): move the reference to docs/"
    );
    let mut pages = vec![repo_path("README.md")];
    for entry in std::fs::read_dir(repo_path("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for link in relative_links(&text) {
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            let ok = if !target.exists() {
                false
            } else if anchor.is_empty() || (!file.is_empty() && !file.ends_with(".md")) {
                true
            } else {
                let text = std::fs::read_to_string(&target).unwrap_or_default();
                anchors(&text).iter().any(|a| a == anchor)
            };
            if !ok {
                broken.push(format!("{}: {link}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

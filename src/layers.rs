//! The layers of `src/`, and tests that keep them pointing down (DESIGN.md).
//!
//! Every module belongs to one layer of [`TABLE`]; a module may use its own layer and
//! those below it, never one above. The Plan is data the runtime reads, so in import
//! terms the runtime sits above it: the front end and the runtime both read the Plan,
//! the Plan reads the stages' pure parts, the stages read the base.
//!
//! The tests read the source: every `crate::NAME` in a file's code (`use` lines and
//! paths alike, a `use crate::{a, b}` group too), without comments and without the
//! unit tests at the end of the file (`#[cfg(test)] mod tests`, which may use the front
//! end to build a Spec). A new module goes into the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// The system layer and plain data: the only `unsafe`, the Spec, errors.
    Base,
    /// One piece of the sandbox each: mounts, user namespace, Landlock, seccomp,
    /// capabilities, network, cgroup and limits.
    Stages,
    /// Every check and decision: `Plan::new(&Spec, &Host)`.
    Plan,
    /// The monitor, the child, pid 1: they carry out a Plan.
    Runtime,
    /// The command line, profiles, docs, `--explain`.
    Front,
}

use Layer::*;

/// Each module (a file in `src/`, or a folder of them) and its layer.
const TABLE: &[(&str, Layer)] = &[
    // The front end: argv to Spec, and what reads the Plan to print it.
    ("lib", Front),
    ("main", Front),
    ("cli", Front),
    ("flags", Front),
    ("profile", Front),
    ("docs", Front),
    ("explain", Front),
    ("fuzzing", Front),
    // Issue 18's OCI runtime commands (src/oci/): a front end over the same Spec.
    ("oci", Front),
    // The runtime.
    ("sandbox", Runtime),
    ("init", Runtime),
    ("report", Runtime),
    // The plan.
    ("plan", Plan),
    // The stages.
    ("mounts", Stages),
    ("userns", Stages),
    ("landlock", Stages),
    ("landlock_only", Stages),
    ("seccomp", Stages),
    ("seccomp_policy", Stages),
    ("supervise", Stages),
    ("caps", Stages),
    ("allow", Stages),
    ("net", Stages),
    ("netns", Stages),
    ("sockets", Stages),
    ("cgroup", Stages),
    ("limits", Stages),
    ("diagnose", Stages),
    // The base.
    ("spec", Base),
    ("error", Base),
    ("json", Base),
    ("units", Base),
    ("sys", Base),
    ("fault", Base),
    // The folders that show the layers: a module inside one is in its layer.
    ("front", Front),
    ("run", Runtime),
    ("stage", Stages),
    ("base", Base),
];

/// Import cycles that are known and have an owner: each pair may use each other.
/// cli <-> profile: a profile expands to flags that the command line parses, and the
/// parser reads profiles; the flag table (src/flags.rs, issue 16's flags lane)
/// removes it.
const KNOWN_CYCLES: &[(&str, &str)] = &[("cli", "profile")];

/// Files not read: the binary's (src/main.rs and what it includes, where `crate::` is
/// the binary, not the library), and this one (its examples are strings).
const SKIPPED: &[&str] = &["main.rs", "sys/entry.rs", "layers.rs"];

fn layer(name: &str) -> Option<Layer> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to for the table: the deepest component of its path
/// under `src/` that the table names (`stage/mounts.rs` is `mounts`; a file the table
/// does not name, such as `stage/mod.rs` or `oci/bundle.rs`, is its folder's).
fn module_of(rel: &Path) -> String {
    let names: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    names
        .iter()
        .rev()
        .find(|n| layer(n).is_some())
        .unwrap_or(&names[0])
        .clone()
}

/// The code of a file: no comments, no unit-test module at the end.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The top-level names a file's code reaches through `crate::`.
fn crate_names(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        // Not `hutch_crate::` or `$crate::`.
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest_trim = rest.trim_start();
        if let Some(group) = rest_trim.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the names at depth 0.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    _ => {}
                }
                if c == ',' && depth == 0 {
                    names.insert(ident(item.trim()));
                    item.clear();
                } else {
                    item.push(c);
                }
            }
            names.insert(ident(item.trim()));
        } else {
            names.insert(ident(rest_trim));
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

/// Every library module of `src/` and the modules it uses (those in the table).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap().to_path_buf();
        if SKIPPED.iter().any(|b| rel == Path::new(b)) {
            continue;
        }
        let module = module_of(&rel);
        let text = std::fs::read_to_string(&file).unwrap();
        let used = graph.entry(module.clone()).or_default();
        for name in crate_names(&code(&text)) {
            if name != module && layer(&name).is_some() {
                used.insert(name);
            }
        }
    }
    graph
}

/// The violations: `module (layer) uses name (layer above)`.
fn upward(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut bad = Vec::new();
    for (module, used) in graph {
        let Some(own) = layer(module) else {
            bad.push(format!(
                "src/{module}: not in the layer table of src/layers.rs: put it in one"
            ));
            continue;
        };
        for name in used {
            let theirs = layer(name).unwrap();
            if theirs > own {
                bad.push(format!(
                    "{module} ({own:?}) uses crate::{name}, a layer above it ({theirs:?})"
                ));
            }
        }
    }
    bad
}

/// The import cycles between modules, other than the known ones: each as a path.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let known = |a: &str, b: &str| {
        KNOWN_CYCLES
            .iter()
            .any(|(x, y)| (*x == a && *y == b) || (*x == b && *y == a))
    };
    let edges = |m: &str| -> Vec<String> {
        graph
            .get(m)
            .map(|used| {
                used.iter()
                    .filter(|n| !(known(m, n) && graph.get(*n).is_some_and(|u| u.contains(m))))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    // Depth-first search for back edges.
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    fn walk(
        m: &str,
        edges: &dyn Fn(&str) -> Vec<String>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            found.push(cycle);
            return;
        }
        if done.contains(m) {
            return;
        }
        path.push(m.to_string());
        for n in edges(m) {
            walk(&n, edges, path, done, found);
        }
        path.pop();
        done.insert(m.to_string());
    }
    for m in graph.keys() {
        walk(m, &edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn layers_point_down() {
    let graph = imports();
    assert!(graph.len() > 20, "read too few modules: {graph:?}");
    let bad = upward(&graph);
    assert!(
        bad.is_empty(),
        "imports against the layers (see src/layers.rs and DESIGN.md):\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn no_import_cycles() {
    let found = cycles(&imports());
    let lines: Vec<String> = found.iter().map(|c| c.join(" -> ")).collect();
    assert!(
        lines.is_empty(),
        "import cycles (only those in KNOWN_CYCLES of src/layers.rs may stay):\n  {}",
        lines.join("\n  ")
    );
}

#[test]
fn the_reader_sees_every_form_of_import() {
    let text = "use crate::error::{Error, Result};\n\
                use crate::{caps, report,\n    seccomp_policy::{self, x}, sys};\n\
                // use crate::cli;\n\
                let x = crate::limits::Guard::start();\n\
                macro_rules! m { () => { $crate::json } }\n\
                #[cfg(test)]\nfn only_in_tests() { crate::fuzzing::x() }\n\
                fn f() {}\n\
                #[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n";
    let names: Vec<String> = crate_names(&code(text)).into_iter().collect();
    assert_eq!(
        names,
        [
            "caps",
            "error",
            "fuzzing",
            "limits",
            "report",
            "seccomp_policy",
            "sys"
        ]
    );
    // A stage that reaches the runtime is caught; the table knows every layer.
    let mut graph = BTreeMap::new();
    graph.insert(
        "mounts".to_string(),
        BTreeSet::from(["sandbox".to_string()]),
    );
    graph.insert(
        "sandbox".to_string(),
        BTreeSet::from(["mounts".to_string()]),
    );
    assert_eq!(
        upward(&graph),
        ["mounts (Stages) uses crate::sandbox, a layer above it (Runtime)"]
    );
    assert_eq!(cycles(&graph).len(), 1);
    assert_eq!(module_of(Path::new("stage/mounts.rs")), "mounts");
    assert_eq!(module_of(Path::new("stage/mod.rs")), "stage");
    assert_eq!(module_of(Path::new("oci/bundle.rs")), "oci");
    assert_eq!(module_of(Path::new("sandbox.rs")), "sandbox");
}

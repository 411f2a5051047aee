//! The crate's shape: no import cycle among its top-level modules, nor among the modules
//! inside them (`method::analysis`, `model::onnx`), so each can be read (and tested) knowing
//! only those below it. Reads the sources and follows `crate::`, `super::` and `self::` paths,
//! grouped ones (`crate::data::{idx, plant}`) included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the top-level modules its code (tests and comments left out) names:
/// [`module_imports`] with each module taken as the top-level one it is in.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, deps) in module_imports() {
        let from = top(&m);
        let to: BTreeSet<String> = deps.iter().map(|d| top(d)).filter(|d| *d != from).collect();
        graph.entry(from).or_default().extend(to);
    }
    graph
}

/// Every module of the crate (`method::analysis`; a folder's `mod.rs` is the folder's module)
/// with the text of its code, tests and comments left out. The binary, the crate root and
/// files of test modules (`kmeans/tests.rs`) are not included.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if ["main", "cli", "lib"].contains(&parts[0].as_str())
                || parts.last().is_some_and(|p| p == "tests")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(parts.join("::"), code);
        }
    }
    out
}

/// The modules that the paths in `code`, written in module `module`, name: each path
/// (`crate::a::b`, `super::c`, `self::d`, and each item of a group `crate::a::{b, c::D}`)
/// resolved to the longest module it starts with.
fn named_modules(module: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = BTreeSet::new();
    // Resolves `segments` against `known`: the longest prefix that is a module.
    let resolve = |segments: &[String], found: &mut BTreeSet<String>| {
        for n in (1..=segments.len()).rev() {
            let name = segments[..n].join("::");
            if known.contains(&name) {
                found.insert(name);
                return;
            }
        }
    };
    // Reads a path at the start of `rest` (after its `base`), following groups.
    fn walk(
        base: Vec<String>,
        rest: &str,
        ident: &dyn Fn(char) -> bool,
        resolve: &dyn Fn(&[String], &mut BTreeSet<String>),
        found: &mut BTreeSet<String>,
    ) {
        let mut segments = base;
        let mut rest = rest;
        loop {
            let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
            let word = &rest[..end];
            match word {
                "" => {}
                "self" => {}
                w => segments.push(w.to_string()),
            }
            rest = &rest[end..];
            if let Some(after) = rest.strip_prefix("::") {
                rest = after;
                if let Some(group) = rest.strip_prefix('{') {
                    // Split the group at its top-level commas.
                    let (mut depth, mut start) = (0, 0);
                    for (i, c) in group.char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => {
                                walk(
                                    segments.clone(),
                                    group[start..i].trim(),
                                    ident,
                                    resolve,
                                    found,
                                );
                                return;
                            }
                            '}' => depth -= 1,
                            ',' if depth == 0 => {
                                walk(
                                    segments.clone(),
                                    group[start..i].trim(),
                                    ident,
                                    resolve,
                                    found,
                                );
                                start = i + 1;
                            }
                            _ => {}
                        }
                    }
                    return;
                }
                continue;
            }
            resolve(&segments, found);
            return;
        }
    }
    let here: Vec<String> = module.split("::").map(String::from).collect();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let before = code[..i].chars().next_back();
        let boundary = before.is_none_or(|c| !ident(c) && c != ':');
        let start = [("crate::", 0usize), ("super::", 1), ("self::", 2)]
            .into_iter()
            .find(|(p, _)| boundary && rest.starts_with(p));
        let Some((prefix, kind)) = start else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let mut rest = &rest[prefix.len()..];
        let mut base: Vec<String> = match kind {
            0 => Vec::new(),
            1 => here[..here.len() - 1].to_vec(),
            _ => here.clone(),
        };
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
        walk(base, rest, &ident, &resolve, &mut found);
        i += prefix.len();
    }
    found
}

/// Module -> the modules its code names, leaving out itself and its own submodules (a
/// module declares and re-exports its children: structure, not use).
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(m, code)| {
            let deps = named_modules(m, code, &known)
                .into_iter()
                .filter(|d| d != m && !d.starts_with(&format!("{m}::")))
                .collect();
            (m.clone(), deps)
        })
        .collect()
}

/// A cycle through `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycle_among_the_modules() {
    let graph = imports();
    assert!(graph.len() > 10, "found only {:?}", graph.keys());
    assert_eq!(find_cycle(&graph), None, "{graph:#?}");
}

#[test]
fn no_import_cycle_among_the_modules_inside_them() {
    let graph = module_imports();
    assert!(
        graph.contains_key("method::analysis") && graph.contains_key("model::onnx"),
        "found only {:?}",
        graph.keys()
    );
    assert_eq!(find_cycle(&graph), None, "{graph:#?}");
}

/// Longest a source file may grow: past it, a file holds more than one job to read at once.
const MAX_LINES: usize = 800;

#[test]
fn no_source_file_is_over_the_line_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut long = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                if lines > MAX_LINES {
                    long.push(format!("{} ({lines} lines)", path.display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

#[test]
fn paths_resolve_to_the_modules_they_name() {
    let known: BTreeSet<String> = [
        "data",
        "data::idx",
        "data::plant",
        "method",
        "method::analysis",
        "method::verdict",
        "error",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let names = |module: &str, code: &str| -> Vec<String> {
        named_modules(module, code, &known).into_iter().collect()
    };
    assert_eq!(
        names(
            "method::verdict",
            "use super::analysis::{ClusterStats, LEVEL};"
        ),
        ["method::analysis"]
    );
    assert_eq!(
        names(
            "method",
            "use crate::data::{self, Images, idx, plant::Shortcut};"
        ),
        ["data", "data::idx", "data::plant"]
    );
    assert_eq!(
        names(
            "method::analysis",
            "let f = super::verdict::findings(x); crate::error::Error::X"
        ),
        ["error", "method::verdict"]
    );
    assert_eq!(
        names("method::verdict", "use super::super::data::idx;"),
        ["data::idx"]
    );
    assert_eq!(
        names("method", "use self::verdict::Finding;"),
        ["method::verdict"]
    );
    // Two modules that use each other: a cycle, as `method::analysis` and `method::verdict`
    // were.
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in [
        ("method::analysis", "use super::verdict::Finding;"),
        ("method::verdict", "use super::analysis::ClusterStats;"),
    ] {
        g.insert(m.into(), named_modules(m, code, &known));
    }
    assert!(find_cycle(&g).is_some(), "{g:?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    g.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&g), None);
}

//! The library's layers (docs/architecture.md): a module imports only from layers below its own,
//! never from a sibling layer of the same rank, and the modules of one layer import each other
//! without cycles. Read from the sources, so that a new upward import or cycle fails the build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each layer and its rank, bottom up; layers of one rank must not use each other.
const LAYERS: &[(&str, u8)] = &[
    ("platform", 0),
    ("core", 1),
    ("intake", 2),
    ("exec", 2),
    ("reply", 3),
    ("channels", 4),
    ("jobs", 5),
    ("broker", 5),
    ("cli", 6),
];

fn rank(layer: &str) -> Option<u8> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, r)| *r)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: (layer, module), e.g. `lib/core/store/mail.rs` is
/// ("core", "store") and `lib/exec.rs` is ("exec", "exec").
fn module_of(lib: &Path, file: &Path) -> Option<(String, String)> {
    let rel = file.strip_prefix(lib).ok()?;
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [only] if only == "lib" => None,
        [only] => Some((only.clone(), only.clone())),
        [layer, rest @ ..] => Some((layer.clone(), rest[0].clone())),
        [] => None,
    }
}

/// Every path a `crate::` path expression names, as its first two segments, with `{…}`
/// groups expanded: `crate::core::{store::Tx, decide}` gives core::store and core::decide.
fn crate_paths(code: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let start = at + "crate::".len();
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut paths = Vec::new();
        let end = tree(&rest[start..], &[], &mut paths);
        if !preceded_by_ident {
            for p in paths {
                if let Some(first) = p.first() {
                    found.push((first.clone(), p.get(1).cloned()));
                }
            }
        }
        rest = &rest[start + end.max(1)..];
    }
    found
}

/// Parse one use-tree at the start of `s` (after `prefix`), pushing each full path; returns
/// the bytes read.
fn tree(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut path = prefix.to_vec();
    loop {
        let begin = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i > begin {
            path.push(s[begin..i].to_string());
        }
        let joined = s[i..].starts_with("::");
        if joined {
            i += 2;
        }
        if s[i..].starts_with('{') {
            i += 1;
            loop {
                while i < bytes.len() && (bytes[i] as char).is_whitespace() {
                    i += 1;
                }
                if i >= bytes.len() || bytes[i] == b'}' {
                    return i + 1;
                }
                i += tree(&s[i..], &path, out);
                while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b',' {
                    i += 1;
                }
            }
        }
        if joined {
            continue;
        }
        out.push(path);
        return i;
    }
}

/// The code of a file without its unit tests (the `mod tests` at its end) and without
/// comments, which may name any path.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn imports_point_down_the_layers_and_never_in_a_cycle() {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    let mut files = Vec::new();
    sources(&lib, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some((layer, module)) = module_of(&lib, file) else {
            continue;
        };
        let Some(own) = rank(&layer) else {
            wrong.push(format!("{}: {layer} is no layer", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (to_layer, to_module) in crate_paths(&code(&text)) {
            let Some(theirs) = rank(&to_layer) else {
                wrong.push(format!("{}: crate::{to_layer} is no layer", file.display()));
                continue;
            };
            let rel = file.strip_prefix(&lib).unwrap().display();
            if theirs > own || (theirs == own && to_layer != layer) {
                wrong.push(format!("{rel} ({layer}) imports {to_layer}, not below it"));
            }
            let to = match to_module {
                Some(m) if to_layer != "exec" && to_layer != "broker" => format!("{to_layer}::{m}"),
                _ => to_layer.clone(),
            };
            let from = if layer == module {
                layer.clone()
            } else {
                format!("{layer}::{module}")
            };
            if to_layer == layer && to != from && to.contains("::") {
                edges.entry(from).or_default().insert(to);
            }
        }
    }
    // Cycles among the modules of a layer.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            cycles.push(cycle.join(" -> "));
            return;
        }
        if !done.insert(node.to_string()) {
            return;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, cycles);
        }
        stack.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    wrong.extend(cycles.into_iter().map(|c| format!("import cycle: {c}")));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checker_finds_grouped_and_nested_paths() {
    let found = crate_paths(
        "use crate::core::{store::Tx, decide};\nuse crate::{platform::time, channels::mail::{self, X}};\nlet x = crate::exec::run(); notcrate::a::b;",
    );
    let pairs: Vec<String> = found
        .iter()
        .map(|(a, b)| format!("{a}::{}", b.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        pairs,
        [
            "core::store",
            "core::decide",
            "platform::time",
            "channels::mail",
            "channels::mail",
            "exec::run"
        ]
    );
}

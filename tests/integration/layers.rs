//! The library's layers: imports among `src/`'s top-level modules only go down, and no
//! top-level module depends on one above it (DESIGN section 2; the code's own order below).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom to top. A module may use the ones before it, never one after it.
const ORDER: &[&str] = &[
    "types",
    "dirs",
    "signals",
    "threads",
    "remote",
    "device",
    "data",
    "model",
    "export",
    "checkpoint",
    "quality",
    "detect",
    "train",
    "explore",
    "bench",
    "ui",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("list src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `crate::NAME` references in `text` (unit-test modules excluded), plus `use crate::{A, B}`.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

/// Which top-level modules each top-level library module uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut g = BTreeMap::new();
    for m in ORDER {
        let (dir, file) = (src.join(m), src.join(format!("{m}.rs")));
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        if file.is_file() {
            files.push(file);
        }
        assert!(!files.is_empty(), "no source for module {m}");
        let mut uses = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read source");
            uses.extend(
                crate_refs(&text)
                    .into_iter()
                    .filter(|r| r != m && ORDER.contains(&r.as_str())),
            );
        }
        g.insert(m.to_string(), uses);
    }
    g
}

#[test]
fn every_library_module_is_listed_in_the_layer_order() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    for line in lib.lines() {
        if let Some(m) = line
            .strip_prefix("pub mod ")
            .and_then(|r| r.strip_suffix(';'))
        {
            assert!(ORDER.contains(&m), "module {m} is missing from ORDER");
        }
    }
}

#[test]
fn imports_only_go_down_the_layers() {
    let g = graph();
    let rank = |m: &str| ORDER.iter().position(|o| *o == m).unwrap_or(usize::MAX);
    let upward: Vec<String> = g
        .iter()
        .flat_map(|(m, uses)| {
            uses.iter()
                .filter(|u| rank(u) > rank(m))
                .map(move |u| format!("{m} -> {u}"))
        })
        .collect();
    assert!(upward.is_empty(), "imports going up: {upward:?}");
}

#[test]
fn the_checker_sees_an_upward_import() {
    // The check itself can fail: a made-up file that reaches up is caught.
    let refs = crate_refs("use crate::{train::Trainer, types};\nfn f() { crate::ui::run(); }");
    assert!(refs.contains("train") && refs.contains("types") && refs.contains("ui"));
}

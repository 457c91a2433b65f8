//! The layers of `docs/architecture.md`, as a tested fact: every `crate::`
//! path in `src/` names a module of the same layer or a lower one.
//!
//! The table is read from the guide itself (its `## Layers` section: one row
//! a layer, bottom first, the top-level modules in backquotes in the second
//! column), so the guide and this test cannot disagree. Comments and doc
//! comments are not imports and are skipped, and so are unit tests, which
//! may use the whole crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layer of each top-level module, from the guide's table: 0 for the
/// bottom row.
fn layers(guide: &str) -> BTreeMap<String, usize> {
    let section = guide
        .split("## Layers")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/architecture.md has a Layers section");
    let mut layers = BTreeMap::new();
    let rows = section.lines().filter(|line| line.starts_with('|')).skip(2); // the header and its rule
    for (layer, row) in rows.enumerate() {
        let modules = row.split('|').nth(2).expect("a modules column");
        for module in modules.split('`').skip(1).step_by(2) {
            let previous = layers.insert(module.to_owned(), layer);
            assert!(previous.is_none(), "{module} is in two rows");
        }
    }
    layers
}

/// The top-level module a source file belongs to, or `None` for the root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The top-level modules a file's code (not its comments) names with
/// `crate::`, each with the line it is on.
fn references(code: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                // `use crate::{a::x, b};`
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .collect(),
                None => vec![rest],
            };
            for name in names {
                let module: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !module.is_empty() {
                    found.push((module, number + 1));
                }
            }
        }
    }
    found
}

/// Every reference that runs up the table, as `file:line: a -> b`.
fn upward(layers: &BTreeMap<String, usize>, from: &str, code: &str, file: &str) -> Vec<String> {
    let Some(&own) = layers.get(from) else {
        return vec![format!("{file}: module {from} is in no layer of the table")];
    };
    references(code)
        .into_iter()
        .filter_map(|(to, line)| {
            // Items of the crate root (re-exports, `crate::Error`) are not
            // modules; only the table's modules are checked.
            let &theirs = layers.get(&to)?;
            (theirs > own).then(|| format!("{file}:{line}: {from} -> {to}"))
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/architecture.md")).expect("the guide");
    let layers = layers(&guide);
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        // Unit tests may use the whole crate: a `tests.rs` module, or what
        // follows a file's `#[cfg(test)]`.
        if file.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let code = std::fs::read_to_string(file).expect("a source file");
        let code = code.split("\n#[cfg(test)]").next().unwrap_or("");
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        violations.extend(upward(&layers, &module, code, &name));
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} files read");
    assert!(
        violations.is_empty(),
        "imports that run up the layers:\n{}",
        violations.join("\n")
    );
}

#[test]
fn a_planted_upward_import_is_caught() {
    let layers = layers(
        "## Layers\n\n| layer | modules | what |\n|---|---|---|\n\
         | low | `frame`, `close` | x |\n| high | `handshake` | y |\n",
    );
    let planted = "use crate::close::CloseCode;\n/// crate::handshake in a comment\n\
                   use crate::{close, handshake::HandshakeError};\n";
    assert_eq!(
        upward(&layers, "frame", planted, "src/frame.rs"),
        ["src/frame.rs:3: frame -> handshake"]
    );
    assert!(upward(&layers, "handshake", planted, "src/handshake/mod.rs").is_empty());
    assert_eq!(
        upward(&layers, "mystery", "", "src/mystery.rs"),
        ["src/mystery.rs: module mystery is in no layer of the table"]
    );
}

//! Repository hygiene: every Rust source file opens with a comment saying what it
//! is for and stays under the size limit, and every source file of a library
//! crate is named in ARCHITECTURE.md's code map, so a newcomer finds it there.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

/// Files past this many lines must be split (ARCHITECTURE.md: "files stay under
/// ~800 lines"; the margin absorbs formatting).
const MAX_LINES: usize = 850;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file below `dir`, skipping build output.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for top in ["crates", "examples", "benches", "fuzz"] {
        rust_files(&repo().join(top), &mut files);
    }
    files.sort();
    files
}

fn shown(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_file_says_what_it_is_for() {
    let mut missing = Vec::new();
    for file in sources() {
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if !(first.starts_with("//!") || first.starts_with("//")) {
            missing.push(shown(&file));
        }
    }
    assert!(
        missing.is_empty(),
        "files without a purpose comment on their first line:\n{}",
        missing.join("\n")
    );
}

#[test]
fn files_stay_small() {
    let mut large = Vec::new();
    for file in sources() {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        if lines > MAX_LINES {
            large.push(format!("{} ({lines} lines)", shown(&file)));
        }
    }
    assert!(
        large.is_empty(),
        "files over {MAX_LINES} lines (split them by concern):\n{}",
        large.join("\n")
    );
}

#[test]
fn the_code_map_names_every_library_module() {
    let map = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let mut unnamed = Vec::new();
    let mut files = Vec::new();
    rust_files(&repo().join("crates"), &mut files);
    for file in files {
        let rel = shown(&file);
        // Library code only: tests, examples and benches are found from their crate.
        if !rel.contains("/src/") || rel.starts_with("crates/tidy/") {
            continue;
        }
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if matches!(name.as_str(), "lib.rs" | "mod.rs" | "main.rs") {
            continue;
        }
        // A file is named by its name, or by its directory (`builtins/`, `serde/`).
        let dir = file
            .parent()
            .and_then(|d| d.file_name())
            .map(|d| format!("{}/", d.to_string_lossy()))
            .unwrap_or_default();
        let named = map.contains(&name) || (dir != "src/" && map.contains(&dir));
        if !named {
            unnamed.push(rel);
        }
    }
    assert!(
        unnamed.is_empty(),
        "modules ARCHITECTURE.md does not name:\n{}",
        unnamed.join("\n")
    );
}

//! NAR tests: proptest round trips (restore ∘ dump, parse ∘ dump), strictness of the parser,
//! and oracle comparisons with CppNix's `nix-store --dump` and `nix-hash` when available.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use nixkit_store::nar::{self, NarVisitor, ParseNarError};
use nixkit_store::{HashAlgo, HashSink};
use proptest::prelude::*;

/// An in-memory file system tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File { contents: Vec<u8>, executable: bool },
    Symlink(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, Node>),
}

fn materialize(node: &Node, path: &Path) {
    match node {
        Node::File {
            contents,
            executable,
        } => {
            fs::write(path, contents).unwrap();
            let mode = if *executable { 0o755 } else { 0o644 };
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        }
        Node::Symlink(target) => {
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), path).unwrap()
        }
        Node::Dir(entries) => {
            fs::create_dir(path).unwrap();
            for (name, child) in entries {
                materialize(child, &path.join(std::ffi::OsStr::from_bytes(name)));
            }
        }
    }
}

/// Rebuilds the tree from parser callbacks.
#[derive(Default)]
struct Collector {
    root: Option<Node>,
}

impl Collector {
    fn insert(&mut self, path: &[u8], node: Node) {
        if path.is_empty() {
            self.root = Some(node);
            return;
        }
        let mut cur = self.root.as_mut().unwrap();
        let parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        for part in &parts[..parts.len() - 1] {
            match cur {
                Node::Dir(entries) => cur = entries.get_mut(*part).unwrap(),
                _ => panic!("not a directory"),
            }
        }
        match cur {
            Node::Dir(entries) => {
                entries.insert(parts[parts.len() - 1].to_vec(), node);
            }
            _ => panic!("not a directory"),
        }
    }
}

impl NarVisitor for Collector {
    fn directory(&mut self, path: &[u8]) -> io::Result<()> {
        self.insert(path, Node::Dir(BTreeMap::new()));
        Ok(())
    }
    fn regular_file(
        &mut self,
        path: &[u8],
        executable: bool,
        size: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()> {
        let mut data = Vec::new();
        contents.read_to_end(&mut data)?;
        assert_eq!(data.len() as u64, size);
        self.insert(
            path,
            Node::File {
                contents: data,
                executable,
            },
        );
        Ok(())
    }
    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()> {
        self.insert(path, Node::Symlink(target.to_vec()));
        Ok(())
    }
}

fn dump(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    nar::dump_path(path, &mut out).unwrap();
    out
}

fn name_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof!["[a-zA-Z0-9._+=-]{1,6}", "[a-z é\u{1F600}\n\t~!#]{1,5}",]
        .prop_filter("reserved", |n| n != "." && n != "..")
        .prop_map(String::into_bytes)
}

fn tree_strategy() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        (proptest::collection::vec(any::<u8>(), 0..40), any::<bool>()).prop_map(
            |(contents, executable)| Node::File {
                contents,
                executable
            }
        ),
        "[a-z./]{1,20}".prop_map(|t| Node::Symlink(t.into_bytes())),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        proptest::collection::btree_map(name_strategy(), inner, 0..6).prop_map(Node::Dir)
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(64))]
    #[test]
    fn dump_parse_restore_round_trip(tree in tree_strategy()) {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        materialize(&tree, &src);
        let bytes = dump(&src);

        let mut collector = Collector::default();
        let size = nar::parse_nar(&mut bytes.as_slice(), &mut collector).unwrap();
        prop_assert_eq!(size, bytes.len() as u64);
        prop_assert_eq!(collector.root.as_ref(), Some(&tree));

        let dest = tmp.path().join("dest");
        nar::restore_path(&mut bytes.as_slice(), &dest).unwrap();
        prop_assert_eq!(dump(&dest), bytes.clone());

        let (hash, nar_size) = nar::nar_hash(&src).unwrap();
        let mut sink = HashSink::new(HashAlgo::Sha256);
        sink.update(&bytes);
        prop_assert_eq!((hash, nar_size), sink.finish());
    }
}

// ---------------------------------------------------------------------------------------------
// Strictness.

fn token(out: &mut Vec<u8>, t: &[u8]) {
    out.extend_from_slice(&(t.len() as u64).to_le_bytes());
    out.extend_from_slice(t);
    out.resize(out.len().next_multiple_of(8), 0);
}

fn nar_of(tokens: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tokens {
        token(&mut out, t);
    }
    out
}

fn dir_with(names: &[&[u8]]) -> Vec<u8> {
    let mut toks: Vec<&[u8]> = vec![b"nix-archive-1", b"(", b"type", b"directory"];
    for n in names {
        toks.extend_from_slice(&[b"entry", b"(", b"name", n, b"node"]);
        toks.extend_from_slice(&[b"(", b"type", b"symlink", b"target", b"x", b")", b")"]);
    }
    toks.push(b")");
    nar_of(&toks)
}

fn parse(bytes: &[u8]) -> Result<u64, ParseNarError> {
    nar::parse_nar(&mut &bytes[..], &mut Collector::default())
}

#[test]
fn strict_parser_rejects_malformed_nars() {
    assert!(parse(&dir_with(&[b"a", b"b"])).is_ok());
    assert!(matches!(
        parse(&dir_with(&[b"b", b"a"])),
        Err(ParseNarError::NotSorted { .. })
    ));
    assert!(matches!(
        parse(&dir_with(&[b"a", b"a"])),
        Err(ParseNarError::NotSorted { .. })
    ));
    for bad in [&b".."[..], b".", b"a/b", b"a\0b", b""] {
        assert!(
            matches!(
                parse(&dir_with(&[bad])),
                Err(ParseNarError::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    let long = vec![b'x'; 256];
    assert!(matches!(
        parse(&dir_with(&[&long])),
        Err(ParseNarError::TooLong { .. })
    ));

    // Non-zero padding after "contents" data (offset points at the padding).
    let mut file = nar_of(&[
        b"nix-archive-1",
        b"(",
        b"type",
        b"regular",
        b"contents",
        b"abc",
        b")",
    ]);
    assert!(parse(&file).is_ok());
    // magic (24) + four 16-byte keywords + the length word, then 3 data bytes.
    let pad_at = 24 + 4 * 16 + 8 + 3;
    file[pad_at] = 1;
    match parse(&file) {
        Err(ParseNarError::BadPadding { offset }) => assert_eq!(offset, pad_at as u64),
        other => panic!("{other:?}"),
    }

    // Truncation anywhere is an error, never a panic.
    let good = dir_with(&[b"a", b"b"]);
    for cut in 0..good.len() {
        assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
    }

    // Wrong magic, unknown type, executable without "".
    assert!(matches!(
        parse(&nar_of(&[b"nix-archive-2"])),
        Err(ParseNarError::UnexpectedToken { offset: 0, .. })
    ));
    assert!(matches!(
        parse(&nar_of(&[b"nix-archive-1", b"(", b"type", b"fifo"])),
        Err(ParseNarError::UnexpectedToken { offset: 56, .. })
    ));
    assert!(parse(&nar_of(&[
        b"nix-archive-1",
        b"(",
        b"type",
        b"regular",
        b"executable",
        b"x",
        b"contents",
        b"",
        b")"
    ]))
    .is_err());

    // Depth limit (shared with the writer): MAX_DEPTH nested directories are fine, one more
    // is not.
    let max = nar::MAX_DEPTH;
    for (depth, ok) in [(64usize, true), (max, true), (max + 1, false)] {
        let mut toks: Vec<&[u8]> = vec![b"nix-archive-1", b"(", b"type", b"directory"];
        for _ in 0..depth {
            toks.extend_from_slice(&[
                b"entry",
                b"(",
                b"name",
                b"d",
                b"node",
                b"(",
                b"type",
                b"directory",
            ]);
        }
        for _ in 0..depth {
            toks.extend_from_slice(&[b")", b")"]);
        }
        toks.push(b")");
        assert_eq!(parse(&nar_of(&toks)).is_ok(), ok, "depth {depth}");
    }
}

// ---------------------------------------------------------------------------------------------
// Oracle: CppNix's nix-store / nix-hash.

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Trees covering empty files, executables, symlinks, deep and wide directories, odd names.
fn oracle_trees() -> Vec<(&'static str, Node)> {
    let file = |c: &[u8], x: bool| Node::File {
        contents: c.to_vec(),
        executable: x,
    };
    let dir = |entries: Vec<(&[u8], Node)>| {
        Node::Dir(entries.into_iter().map(|(n, c)| (n.to_vec(), c)).collect())
    };
    let mut deep = file(b"bottom", false);
    for i in 0..40 {
        deep = dir(vec![(if i % 2 == 0 { b"d" } else { b"e.x" }, deep)]);
    }
    let wide = Node::Dir(
        (0..300)
            .map(|i| {
                let name = format!("f{i:03}-{}", "x".repeat(i % 7)).into_bytes();
                (name, file(format!("{i}").as_bytes(), i % 3 == 0))
            })
            .collect(),
    );
    let big: Vec<u8> = (0..(1 << 20) + 3)
        .map(|i: u32| (i * 7 % 251) as u8)
        .collect();
    vec![
        ("empty file", file(b"", false)),
        ("empty executable", file(b"", true)),
        ("small file", file(b"hello\n", false)),
        (
            "padded sizes",
            dir((1..=9u8)
                .map(|n| {
                    (
                        &b"123456789"[..n as usize],
                        file(&vec![n; n as usize], false),
                    )
                })
                .collect()),
        ),
        ("big file", file(&big, true)),
        ("symlink", Node::Symlink(b"/nix/store/somewhere".to_vec())),
        ("empty dir", dir(vec![])),
        (
            "mixed",
            dir(vec![
                (b"bin", dir(vec![(b"tool", file(b"#!/bin/sh\n", true))])),
                (
                    b"lib",
                    dir(vec![(b"libx.so", Node::Symlink(b"../share/x".to_vec()))]),
                ),
                (
                    b"share",
                    dir(vec![(b"x", file(b"", false)), (b"empty", dir(vec![]))]),
                ),
            ]),
        ),
        (
            "odd names",
            dir(vec![
                ("a b".as_bytes(), file(b"1", false)),
                ("ünïcødé".as_bytes(), file(b"2", false)),
                (b"new\nline", file(b"3", false)),
                (b"-dash", file(b"4", false)),
                (b".hidden", file(b"5", false)),
                (b"..dots", file(b"6", false)),
                (b"B", file(b"7", false)),
                (b"a", file(b"8", false)),
                (&[0xff, 0xfe][..], file(b"9", false)),
            ]),
        ),
        ("deep", deep),
        ("wide", wide),
    ]
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn compare_with_cppnix(label: &str, tree: &Node) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("t");
    materialize(tree, &src);
    let ours = dump(&src);
    let theirs = run(Command::new("nix-store").arg("--dump").arg(&src));
    assert!(ours == theirs, "{label}: NAR differs from nix-store --dump");

    let (hash, size) = nar::nar_hash(&src).unwrap();
    assert_eq!(size, theirs.len() as u64, "{label}");
    let base32 = run(Command::new("nix-hash")
        .args(["--type", "sha256", "--base32"])
        .arg(&src));
    assert_eq!(
        String::from_utf8_lossy(&base32).trim(),
        hash.to_nix32(),
        "{label}"
    );

    // CppNix restores our NAR to the same tree.
    let restored = tmp.path().join("r");
    let status = Command::new("nix-store")
        .arg("--restore")
        .arg(&restored)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&ours)?;
            child.wait()
        })
        .unwrap();
    assert!(status.success(), "{label}");
    assert!(
        dump(&restored) == ours,
        "{label}: nix-store --restore of our NAR differs"
    );
}

#[test]
fn oracle_nix_store_dump_and_nix_hash() {
    if !have("nix-store") || !have("nix-hash") {
        eprintln!("skipped: nix-store not on PATH");
        return;
    }
    let trees = oracle_trees();
    for (label, tree) in &trees {
        compare_with_cppnix(label, tree);
    }
    eprintln!(
        "compared {} trees with nix-store --dump / nix-hash",
        trees.len()
    );
}

proptest! {
    #![proptest_config(config(16))]
    #[test]
    fn oracle_random_trees(tree in tree_strategy()) {
        if have("nix-store") && have("nix-hash") {
            compare_with_cppnix("random", &tree);
        }
    }
}

/// `restore_path_with`'s hook hears of every regular file's data, in order, in pieces of at
/// most `WRITTEN_CHUNK` bytes that cover the file exactly (empty files: nothing), and the
/// tree restored is the same as without a hook.
#[test]
fn restore_hook_covers_each_files_data() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    let chunk = nar::WRITTEN_CHUNK as usize;
    let sizes = [0, 1, 100_000, chunk, chunk * 2 + 12_345];
    for (i, size) in sizes.iter().enumerate() {
        let data: Vec<u8> = (0..*size).map(|j| (j * 31 + i) as u8).collect();
        fs::write(src.join("d").join(format!("f{i}")), data).unwrap();
    }
    std::os::unix::fs::symlink("d/f1", src.join("link")).unwrap();
    let bytes = dump(&src);
    let heard = std::sync::Mutex::new(Vec::<(u64, u64, u64)>::new());
    let hook = |file: &fs::File, offset: u64, len: u64| {
        let size = file.metadata().unwrap().len();
        heard.lock().unwrap().push((offset, len, size));
    };
    let dest = tmp.path().join("dest");
    nar::restore_path_with(&mut bytes.as_slice(), &dest, Some(&hook)).unwrap();
    assert_eq!(dump(&dest), bytes);
    // Per file (in NAR order: f0 … f4), the pieces heard, each ending where the file then
    // ended.
    let heard = heard.into_inner().unwrap();
    let mut files: Vec<Vec<(u64, u64)>> = Vec::new();
    for (offset, len, size) in heard {
        assert!(len > 0 && len <= nar::WRITTEN_CHUNK + 256 * 1024, "{len}");
        assert_eq!(offset + len, size);
        if offset == 0 {
            files.push(Vec::new());
        }
        files.last_mut().unwrap().push((offset, len));
    }
    let nonempty: Vec<u64> = sizes
        .iter()
        .filter(|s| **s > 0)
        .map(|s| *s as u64)
        .collect();
    assert_eq!(files.len(), nonempty.len());
    for (pieces, size) in files.iter().zip(&nonempty) {
        let mut at = 0;
        for (offset, len) in pieces {
            assert_eq!(*offset, at);
            at += len;
        }
        assert_eq!(at, *size);
        // Every piece but the last is at least a chunk: the hook is not called per write.
        let (_, all_but_last) = pieces.split_last().unwrap();
        assert!(all_but_last
            .iter()
            .all(|(_, len)| *len >= nar::WRITTEN_CHUNK));
    }
    assert!(
        files.last().unwrap().len() >= 2,
        "a large file is told about in pieces"
    );
}

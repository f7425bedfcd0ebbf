//! `git::export` against real git as the oracle: the same files, modes and links as
//! `git archive`, and the same revision, count and time as `git rev-parse`,
//! `git rev-list --count` and `git log --format=%ct`. Skips without a `git` binary.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use nixkit_fetch::git;

fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Every path under `root` with its kind, mode bits and content (or link target).
fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{rel}/"));
                stack.push(path);
            } else {
                let exec = meta.permissions().mode() & 0o100 != 0;
                out.push(format!(
                    "{rel} x={exec} {:?}",
                    std::fs::read(&path).unwrap()
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn export_matches_git_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("sub/deep")).unwrap();
    if git(&repo, &["init", "-q"]).is_none() {
        println!("skipped: no usable git");
        return;
    }
    std::fs::write(repo.join("a"), "first\n").unwrap();
    git(&repo, &["add", "-A"]).unwrap();
    git(&repo, &["commit", "-qm", "one"]).unwrap();
    let first = git(&repo, &["rev-parse", "HEAD"]).unwrap();
    std::fs::write(repo.join("a"), "second\n").unwrap();
    std::fs::write(repo.join("sub/deep/run"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        repo.join("sub/deep/run"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("../a", repo.join("sub/link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", repo.join("abs")).unwrap();
    git(&repo, &["add", "-A"]).unwrap();
    git(&repo, &["commit", "-qm", "two"]).unwrap();
    // An uncommitted change is not exported.
    std::fs::write(repo.join("a"), "dirty\n").unwrap();

    for rev in [None, Some(first.as_str()), Some("HEAD~1")] {
        let out = tmp
            .path()
            .join(format!("out-{}", rev.unwrap_or("head").replace('~', "_")));
        let export = git::export(&repo, rev, &out).unwrap();
        let spec = rev.unwrap_or("HEAD");
        assert_eq!(export.rev, git(&repo, &["rev-parse", spec]).unwrap());
        assert_eq!(
            export.rev_count.to_string(),
            git(&repo, &["rev-list", "--count", spec]).unwrap()
        );
        assert_eq!(
            export.last_modified.to_string(),
            git(&repo, &["log", "-1", "--format=%ct", spec]).unwrap()
        );
        let archived = tmp.path().join(format!("{}.tar", out.display()));
        git(
            &repo,
            &[
                "archive",
                "--format=tar",
                "-o",
                archived.to_str().unwrap(),
                spec,
            ],
        )
        .unwrap();
        let expected = tmp.path().join(format!("{}-git", out.display()));
        std::fs::create_dir(&expected).unwrap();
        let status = Command::new("tar")
            .arg("-xf")
            .arg(&archived)
            .arg("-C")
            .arg(&expected)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(listing(&out), listing(&expected), "rev {spec}");
    }
}

#[test]
fn bad_repositories_and_revisions_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let err = git::export(tmp.path(), None, &tmp.path().join("o")).unwrap_err();
    assert!(
        err.to_string().contains("not a usable Git repository"),
        "{err}"
    );
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    if git(&repo, &["init", "-q"]).is_none() {
        println!("skipped: no usable git");
        return;
    }
    std::fs::write(repo.join("a"), "a").unwrap();
    git(&repo, &["add", "-A"]).unwrap();
    git(&repo, &["commit", "-qm", "one"]).unwrap();
    let err = git::export(
        &repo,
        Some("0123456789abcdef0123456789abcdef01234567"),
        &tmp.path().join("o"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot find revision"), "{err}");
}

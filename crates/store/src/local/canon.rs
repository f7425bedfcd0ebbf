//! File system helpers for the local store: copying a tree, canonicalising it as CppNix does
//! (read-only permissions 0444/0555, mtime 1) while making it durable with fsync, and
//! removing read-only trees.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// Copies `src` (file, directory or symlink; symlinks are copied, not followed) to `dst`.
/// Iterative: the pending copies are kept in a list, not on the stack.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let mut todo = vec![(src.to_path_buf(), dst.to_path_buf())];
    while let Some((src, dst)) = todo.pop() {
        let meta = fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            symlink(fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            fs::create_dir(&dst)?;
            for entry in fs::read_dir(&src)? {
                let entry = entry?;
                todo.push((entry.path(), dst.join(entry.file_name())));
            }
        } else if ft.is_file() {
            fs::copy(&src, &dst)?;
            let exec = meta.permissions().mode() & 0o100 != 0;
            fs::set_permissions(
                &dst,
                fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
            )?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{}' has an unsupported file type", src.display()),
            ));
        }
    }
    Ok(())
}

fn set_mtime_one(path: &Path) -> io::Result<()> {
    let one = TimeSpec::new(1, 0);
    utimensat(None, path, &one, &one, UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
}

/// Gives `path` CppNix's canonical metadata — files 0444 (0555 if executable by the owner),
/// directories 0555, mtime 1 everywhere — and, with `sync`, fsyncs every file and directory,
/// children first. The walk keeps its own stack, so any depth the file system allows is fine.
pub(crate) fn canonicalise(path: &Path, sync: bool) -> io::Result<()> {
    // Directories whose entries are being walked, with the rest of their entries.
    let mut open: Vec<(PathBuf, fs::ReadDir)> = Vec::new();
    let mut next = Some(path.to_path_buf());
    loop {
        if let Some(current) = next.take() {
            let meta = fs::symlink_metadata(&current)?;
            let ft = meta.file_type();
            if ft.is_dir() {
                let entries = fs::read_dir(&current)?;
                open.push((current, entries));
            } else {
                canonicalise_one(&current, &meta, sync)?;
            }
        }
        let Some((dir, entries)) = open.last_mut() else {
            return Ok(());
        };
        match entries.next() {
            Some(entry) => next = Some(entry?.path()),
            None => {
                let dir = dir.clone();
                open.pop();
                let meta = fs::symlink_metadata(&dir)?;
                canonicalise_one(&dir, &meta, sync)?;
            }
        }
    }
}

/// Canonicalises one object (a directory's entries are done already).
fn canonicalise_one(path: &Path, meta: &fs::Metadata, sync: bool) -> io::Result<()> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        return set_mtime_one(path);
    }
    if !ft.is_dir() && !ft.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' has an unsupported file type", path.display()),
        ));
    }
    let mode = if ft.is_dir() || meta.permissions().mode() & 0o100 != 0 {
        0o555
    } else {
        0o444
    };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    set_mtime_one(path)?;
    if sync {
        fs::File::open(path)?.sync_all()?;
    }
    Ok(())
}

/// fsyncs directory `dir` (so a rename or unlink inside it is durable).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Removes `path` whatever it is, first making read-only directories writable. A missing
/// path is not an error.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        make_writable(path)?;
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// Makes `dir` and every directory below it writable by its owner (0755). Iterative.
pub(crate) fn make_writable(dir: &Path) -> io::Result<()> {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                todo.push(entry.path());
            }
        }
    }
    Ok(())
}

//! File system helpers for the local store: copying a tree, canonicalising it as CppNix does
//! (read-only permissions 0444/0555, mtime 1) while making it durable with fsync, and
//! removing read-only trees.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// Copies `src` (file, directory or symlink; symlinks are copied, not followed) to `dst`.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        symlink(fs::read_link(src)?, dst)
    } else if ft.is_dir() {
        fs::create_dir(dst)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
        Ok(())
    } else if ft.is_file() {
        fs::copy(src, dst)?;
        let exec = meta.permissions().mode() & 0o100 != 0;
        fs::set_permissions(
            dst,
            fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
        )
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' has an unsupported file type", src.display()),
        ))
    }
}

fn set_mtime_one(path: &Path) -> io::Result<()> {
    let one = TimeSpec::new(1, 0);
    utimensat(None, path, &one, &one, UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
}

/// Gives `path` CppNix's canonical metadata — files 0444 (0555 if executable by the owner),
/// directories 0555, mtime 1 everywhere — and fsyncs every file and directory, children first.
pub(crate) fn canonicalise(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        return set_mtime_one(path);
    }
    if ft.is_dir() {
        for entry in fs::read_dir(path)? {
            canonicalise(&entry?.path())?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o555))?;
    } else if ft.is_file() {
        let exec = meta.permissions().mode() & 0o100 != 0;
        fs::set_permissions(
            path,
            fs::Permissions::from_mode(if exec { 0o555 } else { 0o444 }),
        )?;
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' has an unsupported file type", path.display()),
        ));
    }
    set_mtime_one(path)?;
    fs::File::open(path)?.sync_all()
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

pub(crate) fn make_writable(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

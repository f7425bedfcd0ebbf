//! Archives unpacked in-process: tar, plain or compressed with gzip, xz, bzip2 or zstd,
//! told apart by their first bytes (as libarchive does for CppNix), never writing outside
//! the destination (the `tar` crate skips entries whose paths or links would leave it).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// The archive file could not be opened.
    #[error("cannot open '{path}': {source}")]
    Open {
        /// The archive file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Decompressing or unpacking failed (a corrupt or truncated archive, or a write error).
    #[error("{0}")]
    Unpack(io::Error),
    /// The unpacked tree could not be listed.
    #[error("cannot read '{path}': {source}")]
    List {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The compression around a tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (`.tar.gz`, `.tgz`).
    Gzip,
    /// xz (`.tar.xz`).
    Xz,
    /// bzip2 (`.tar.bz2`).
    Bzip2,
    /// zstd (`.tar.zst`).
    Zstd,
}

impl Compression {
    /// Recognises a compression format by the stream's first bytes.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Wraps `input` in the decoder its first bytes call for.
pub fn decompress<'a>(input: impl BufRead + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut input = input;
    let kind = Compression::sniff(input.fill_buf()?);
    Ok(match kind {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(input)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
    })
}

/// Unpacks the tar stream `input` (compressed or not) into the existing directory `dest`.
///
/// File modes keep their execute bits but never setuid/setgid/sticky bits, ownership and
/// extended attributes are not restored, and entries that would land outside `dest`
/// (absolute paths, `..`, links leading out) are not written.
pub fn unpack(input: impl BufRead, dest: &Path) -> Result<(), UnpackError> {
    let mut archive = tar::Archive::new(decompress(input).map_err(UnpackError::Unpack)?);
    archive.set_preserve_permissions(false);
    archive.set_preserve_ownerships(false);
    archive.set_preserve_mtime(false);
    archive.set_unpack_xattrs(false);
    archive.unpack(dest).map_err(UnpackError::Unpack)
}

/// Unpacks the archive file `file` into `dest` and returns the tree's root: its single
/// top-level directory when it has exactly one entry and that is a directory, else `dest`.
pub fn unpack_file(file: &Path, dest: &Path) -> Result<PathBuf, UnpackError> {
    let input = File::open(file).map_err(|source| UnpackError::Open {
        path: file.to_path_buf(),
        source,
    })?;
    unpack(BufReader::new(input), dest)?;
    let list_error = |source| UnpackError::List {
        path: dest.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dest).map_err(list_error)?;
    let first = entries.next().transpose().map_err(list_error)?;
    match (first, entries.next()) {
        (Some(one), None) if one.file_type().map_err(list_error)?.is_dir() => Ok(one.path()),
        _ => Ok(dest.to_path_buf()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_bytes(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn compressed(kind: Compression, data: &[u8]) -> Vec<u8> {
        match kind {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
        }
    }

    #[test]
    fn every_compression_unpacks_to_the_same_tree() {
        let tar = tar_bytes(&[("pkg/a", b"a\n", 0o644), ("pkg/bin/run", b"#!x\n", 0o4755)]);
        for kind in [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Bzip2,
            Compression::Zstd,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("archive");
            let bytes = compressed(kind, &tar);
            assert_eq!(Compression::sniff(&bytes), kind);
            std::fs::write(&file, bytes).unwrap();
            let dest = dir.path().join("out");
            std::fs::create_dir(&dest).unwrap();
            let root = unpack_file(&file, &dest).unwrap();
            assert_eq!(root, dest.join("pkg"), "{kind:?}");
            assert_eq!(std::fs::read(root.join("a")).unwrap(), b"a\n");
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(root.join("bin/run"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o7111,
                0o111,
                "{kind:?}: exec bits kept, setuid dropped"
            );
        }
    }

    #[test]
    fn entries_never_land_outside_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        // A raw header, since the builder refuses such paths itself.
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..9].copy_from_slice(b"../escape");
        header.set_size(1);
        header.set_mode(0o644);
        header.set_cksum();
        let mut tar = header.as_bytes().to_vec();
        tar.extend_from_slice(&[b'x'; 512]);
        tar.extend_from_slice(&[0; 1024]);
        let _ = unpack(&tar[..], &dest);
        assert!(!dir.path().join("escape").exists());
    }

    #[test]
    fn corrupt_archives_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = compressed(Compression::Gzip, &tar_bytes(&[("a", b"a", 0o644)]));
        gz.truncate(gz.len() / 2);
        assert!(unpack(&gz[..], dir.path()).is_err());
        let missing = unpack_file(&dir.path().join("nope"), dir.path()).unwrap_err();
        assert!(missing.to_string().contains("cannot open"), "{missing}");
    }
}

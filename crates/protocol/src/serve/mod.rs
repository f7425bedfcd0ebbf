//! The serve protocol of `nix-store --serve [--write]` (`ssh://` builders,
//! `nix-copy-closure`): magic numbers, handshake, command codes, build options and the
//! export format of `ImportPaths`/`ExportPaths`. The client is in [`client`].

pub mod client;
pub mod export;

use std::io::{Read, Write};

use crate::error::HandshakeError;
use crate::wire::{self, WireError, WireResult};

/// The client's greeting.
pub const SERVE_MAGIC_1: u64 = 0x390c_9deb;
/// The server's answer.
pub const SERVE_MAGIC_2: u64 = 0x5452_eecb;
/// The version this crate speaks: 2.7, CppNix 2.8's.
pub const SERVE_PROTOCOL_VERSION: u64 = (2 << 8) | 7;

/// A serve protocol command code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum ServeCommand {
    /// Which of these paths are valid?
    QueryValidPaths = 1,
    /// Infos of the valid ones among these paths.
    QueryPathInfos = 2,
    /// A path's NAR.
    DumpStorePath = 3,
    /// Import paths in the export format (`--write`).
    ImportPaths = 4,
    /// Export paths in the export format.
    ExportPaths = 5,
    /// Realise paths (`--write`).
    BuildPaths = 6,
    /// The closure of paths.
    QueryClosure = 7,
    /// Build a derivation sent in full (`--write`).
    BuildDerivation = 8,
    /// Add one path with its metadata and NAR (`--write`).
    AddToStoreNar = 9,
}

impl ServeCommand {
    /// The command for a code, if known.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Self::QueryValidPaths,
            2 => Self::QueryPathInfos,
            3 => Self::DumpStorePath,
            4 => Self::ImportPaths,
            5 => Self::ExportPaths,
            6 => Self::BuildPaths,
            7 => Self::QueryClosure,
            8 => Self::BuildDerivation,
            9 => Self::AddToStoreNar,
            _ => return None,
        })
    }
}

/// The packed version's minor part.
pub fn minor(version: u64) -> u64 {
    version & 0xff
}

fn check_version(version: u64) -> Result<(), HandshakeError> {
    if (version >> 8) != 2 {
        return Err(HandshakeError::UnsupportedVersion {
            protocol: "serve",
            major: version >> 8,
            minor: minor(version),
            supported: "2.x",
        });
    }
    Ok(())
}

/// The client half of the handshake; returns the negotiated version.
pub fn client_handshake(r: &mut impl Read, w: &mut impl Write) -> Result<u64, HandshakeError> {
    wire::write_u64(w, SERVE_MAGIC_1)?;
    wire::write_u64(w, SERVE_PROTOCOL_VERSION)?;
    w.flush().map_err(WireError::Io)?;
    let magic = wire::read_u64(r, "serve magic")?;
    if magic != SERVE_MAGIC_2 {
        return Err(HandshakeError::BadMagic {
            protocol: "serve",
            got: magic,
            expected: SERVE_MAGIC_2,
        });
    }
    let version = wire::read_u64(r, "serve protocol version")?;
    check_version(version)?;
    Ok(version.min(SERVE_PROTOCOL_VERSION))
}

/// The server half of the handshake; returns the negotiated version.
pub fn server_handshake(r: &mut impl Read, w: &mut impl Write) -> Result<u64, HandshakeError> {
    let magic = wire::read_u64(r, "serve magic")?;
    if magic != SERVE_MAGIC_1 {
        return Err(HandshakeError::BadMagic {
            protocol: "serve",
            got: magic,
            expected: SERVE_MAGIC_1,
        });
    }
    wire::write_u64(w, SERVE_MAGIC_2)?;
    wire::write_u64(w, SERVE_PROTOCOL_VERSION)?;
    w.flush().map_err(WireError::Io)?;
    let version = wire::read_u64(r, "serve protocol version")?;
    check_version(version)?;
    Ok(version.min(SERVE_PROTOCOL_VERSION))
}

/// The build settings sent with `BuildPaths` and `BuildDerivation`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildOptions {
    /// Seconds without output before the build is killed (0: none).
    pub max_silent_time: u64,
    /// Seconds before the build is killed (0: none).
    pub build_timeout: u64,
    /// Bytes of log before the build is killed (0: none; 2.2+).
    pub max_log_size: u64,
    /// Extra rounds (2.3+; CppNix now refuses anything but 0).
    pub nr_repeats: u64,
    /// Fail on differing rounds (2.3+; ignored).
    pub enforce_determinism: bool,
    /// Keep the build directory of failed builds (2.7+).
    pub keep_failed: bool,
}

impl BuildOptions {
    /// Reads the options of the negotiated `minor`.
    pub fn read(r: &mut impl Read, minor: u64) -> WireResult<Self> {
        let mut o = BuildOptions {
            max_silent_time: wire::read_u64(r, "max silent time")?,
            build_timeout: wire::read_u64(r, "build timeout")?,
            ..Default::default()
        };
        if minor >= 2 {
            o.max_log_size = wire::read_u64(r, "max log size")?;
        }
        if minor >= 3 {
            o.nr_repeats = wire::read_u64(r, "repeats")?;
            o.enforce_determinism = wire::read_flag(r, "enforce determinism")?;
        }
        if minor >= 7 {
            o.keep_failed = wire::read_flag(r, "keep failed")?;
        }
        Ok(o)
    }

    /// Writes the options of the negotiated `minor`.
    pub fn write(&self, w: &mut impl Write, minor: u64) -> WireResult<()> {
        wire::write_u64(w, self.max_silent_time)?;
        wire::write_u64(w, self.build_timeout)?;
        if minor >= 2 {
            wire::write_u64(w, self.max_log_size)?;
        }
        if minor >= 3 {
            wire::write_u64(w, self.nr_repeats)?;
            wire::write_bool(w, self.enforce_determinism)?;
        }
        if minor >= 7 {
            wire::write_bool(w, self.keep_failed)?;
        }
        Ok(())
    }
}

//! Serve protocol requests ([`ServeRequest`], readable by a server and writable by a client),
//! the path-info record of `QueryPathInfos`, and a client ([`ServeClient`]) over any
//! `Read` + `Write` pair (an SSH channel, the pipes of `nix-store --serve`).

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Read, Write};

use nixkit_store::{PathInfo, StoreDir, StorePath};

use super::export::{write_export, ExportedPath};
use super::{client_handshake, BuildOptions, ServeCommand};
use crate::error::{HandshakeError, ProtocolError};
use crate::framed::copy_nar;
use crate::wire::{self, Limits, WireResult};
use crate::worker::types::{
    parse_ca, parse_nar_hash, read_derivation, read_path_info_body, write_derivation,
    write_path_info_body, BuildResult, Ctx, DerivedPath, WireDerivation,
};

/// A request of the serve protocol. Data following it (the NAR of `AddToStoreNar`, the
/// export stream of `ImportPaths`) is streamed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServeRequest {
    /// Which paths are valid; `lock` takes temporary roots, `substitute` substitutes first.
    QueryValidPaths {
        /// Take temporary roots.
        lock: bool,
        /// Substitute missing paths.
        substitute: bool,
        /// The paths.
        paths: BTreeSet<StorePath>,
    },
    /// Infos of the valid ones among the paths.
    QueryPathInfos(BTreeSet<StorePath>),
    /// The path's NAR.
    DumpStorePath(StorePath),
    /// An export stream follows.
    ImportPaths,
    /// Export these paths.
    ExportPaths(BTreeSet<StorePath>),
    /// Realise these paths.
    BuildPaths {
        /// The paths.
        paths: Vec<DerivedPath>,
        /// Settings.
        options: BuildOptions,
    },
    /// The closure of the paths (with outputs of derivations if asked).
    QueryClosure {
        /// Include derivations' outputs.
        include_outputs: bool,
        /// The paths.
        paths: BTreeSet<StorePath>,
    },
    /// Build a derivation sent in full.
    BuildDerivation {
        /// The derivation's path.
        drv_path: StorePath,
        /// The derivation.
        drv: WireDerivation,
        /// Settings.
        options: BuildOptions,
    },
    /// Add a path; its NAR (exactly `nar_size` bytes) follows.
    AddToStoreNar(Box<PathInfo>),
}

impl ServeRequest {
    /// The command code.
    pub fn command(&self) -> ServeCommand {
        match self {
            Self::QueryValidPaths { .. } => ServeCommand::QueryValidPaths,
            Self::QueryPathInfos(_) => ServeCommand::QueryPathInfos,
            Self::DumpStorePath(_) => ServeCommand::DumpStorePath,
            Self::ImportPaths => ServeCommand::ImportPaths,
            Self::ExportPaths(_) => ServeCommand::ExportPaths,
            Self::BuildPaths { .. } => ServeCommand::BuildPaths,
            Self::QueryClosure { .. } => ServeCommand::QueryClosure,
            Self::BuildDerivation { .. } => ServeCommand::BuildDerivation,
            Self::AddToStoreNar(_) => ServeCommand::AddToStoreNar,
        }
    }

    /// Reads a command and its arguments (the server's side).
    pub fn read(r: &mut impl Read, ctx: &Ctx) -> Result<Self, ProtocolError> {
        let code = wire::read_u64(r, "serve command")?;
        let cmd = ServeCommand::from_code(code).ok_or(ProtocolError::UnknownOp {
            protocol: "serve",
            code,
        })?;
        let (s, l) = (&ctx.store, &ctx.limits);
        Ok(match cmd {
            ServeCommand::QueryValidPaths => Self::QueryValidPaths {
                lock: wire::read_flag(r, "lock")?,
                substitute: wire::read_flag(r, "substitute")?,
                paths: wire::read_paths(r, s, l, "paths")?,
            },
            ServeCommand::QueryPathInfos => {
                Self::QueryPathInfos(wire::read_paths(r, s, l, "paths")?)
            }
            ServeCommand::DumpStorePath => Self::DumpStorePath(wire::read_path(r, s, l, "path")?),
            ServeCommand::ImportPaths => Self::ImportPaths,
            ServeCommand::ExportPaths => {
                wire::read_u64(r, "obsolete sign flag")?;
                Self::ExportPaths(wire::read_paths(r, s, l, "paths")?)
            }
            ServeCommand::BuildPaths => Self::BuildPaths {
                paths: crate::worker::types::read_derived_paths(r, ctx)?,
                options: BuildOptions::read(r, ctx.minor)?,
            },
            ServeCommand::QueryClosure => Self::QueryClosure {
                include_outputs: wire::read_flag(r, "include outputs")?,
                paths: wire::read_paths(r, s, l, "paths")?,
            },
            ServeCommand::BuildDerivation => Self::BuildDerivation {
                drv_path: wire::read_path(r, s, l, "derivation")?,
                drv: read_derivation(r, ctx)?,
                options: BuildOptions::read(r, ctx.minor)?,
            },
            ServeCommand::AddToStoreNar => {
                let path = wire::read_path(r, s, l, "path")?;
                // The serve protocol always sends the fields of worker protocol 1.16+.
                let body_ctx = Ctx {
                    minor: 16,
                    ..ctx.clone()
                };
                Self::AddToStoreNar(Box::new(read_path_info_body(r, &body_ctx, path)?))
            }
        })
    }

    /// Writes the command and its arguments (the client's side).
    pub fn write(&self, w: &mut impl Write, ctx: &Ctx) -> WireResult<()> {
        let s = &ctx.store;
        wire::write_u64(w, self.command() as u64)?;
        match self {
            Self::QueryValidPaths {
                lock,
                substitute,
                paths,
            } => {
                wire::write_bool(w, *lock)?;
                wire::write_bool(w, *substitute)?;
                wire::write_paths(w, s, paths.iter())
            }
            Self::QueryPathInfos(paths) => wire::write_paths(w, s, paths.iter()),
            Self::DumpStorePath(p) => wire::write_path(w, s, p),
            Self::ImportPaths => Ok(()),
            Self::ExportPaths(paths) => {
                wire::write_u64(w, 0)?;
                wire::write_paths(w, s, paths.iter())
            }
            Self::BuildPaths { paths, options } => {
                crate::worker::types::write_derived_paths(w, ctx, paths)?;
                options.write(w, ctx.minor)
            }
            Self::QueryClosure {
                include_outputs,
                paths,
            } => {
                wire::write_bool(w, *include_outputs)?;
                wire::write_paths(w, s, paths.iter())
            }
            Self::BuildDerivation {
                drv_path,
                drv,
                options,
            } => {
                wire::write_path(w, s, drv_path)?;
                write_derivation(w, ctx, drv)?;
                options.write(w, ctx.minor)
            }
            Self::AddToStoreNar(info) => {
                wire::write_path(w, s, &info.path)?;
                let body_ctx = Ctx {
                    minor: 16,
                    ..ctx.clone()
                };
                write_path_info_body(w, &body_ctx, info)
            }
        }
    }
}

/// Reads the reply of `QueryPathInfos`: records up to an empty path. `download_size`
/// (which CppNix sets to the NAR size) is dropped; from 2.4 the NAR hash, content address
/// and signatures are included (the hash is otherwise left as the zero sha256).
pub fn read_path_infos(r: &mut impl Read, ctx: &Ctx) -> Result<Vec<PathInfo>, ProtocolError> {
    let (s, l) = (&ctx.store, &ctx.limits);
    let mut out = Vec::new();
    loop {
        let text = wire::read_string(r, l, "path")?;
        if text.is_empty() {
            return Ok(out);
        }
        let path = wire::parse_store_path(s, &text)?;
        let deriver = wire::read_opt_path(r, s, l, "deriver")?;
        let references = wire::read_paths(r, s, l, "references")?;
        let _download_size = wire::read_u64(r, "download size")?;
        let nar_size = wire::read_u64(r, "NAR size")?;
        let (nar_hash, ca, sigs) = if ctx.minor >= 4 {
            let hash = parse_nar_hash(&wire::read_string(r, l, "NAR hash")?)?;
            let ca = parse_ca(&wire::read_string(r, l, "content address")?)?;
            (hash, ca, wire::read_string_set(r, l, "signatures")?)
        } else {
            (
                nixkit_store::Hash::digest(nixkit_store::HashAlgo::Sha256, b""),
                None,
                BTreeSet::new(),
            )
        };
        let mut info = PathInfo::new(path, nar_hash, nar_size);
        info.deriver = deriver;
        info.references = references;
        info.ca = ca;
        info.sigs = sigs;
        out.push(info);
        if out.len() as u64 > l.max_items {
            return Err(ProtocolError::Wire(crate::wire::WireError::TooManyItems {
                what: "path infos",
                len: out.len() as u64,
                limit: l.max_items,
            }));
        }
    }
}

/// Writes the reply of `QueryPathInfos`.
pub fn write_path_infos<'a>(
    w: &mut impl Write,
    ctx: &Ctx,
    infos: impl IntoIterator<Item = &'a PathInfo>,
) -> WireResult<()> {
    let s = &ctx.store;
    for info in infos {
        wire::write_path(w, s, &info.path)?;
        wire::write_opt_path(w, s, info.deriver.as_ref())?;
        wire::write_paths(w, s, info.references.iter())?;
        wire::write_u64(w, info.nar_size)?;
        wire::write_u64(w, info.nar_size)?;
        if ctx.minor >= 4 {
            wire::write_bytes(w, format!("sha256:{}", info.nar_hash.to_nix32()).as_bytes())?;
            let ca = info.ca.as_ref().map(|c| c.to_string()).unwrap_or_default();
            wire::write_bytes(w, ca.as_bytes())?;
            wire::write_strings(w, info.sigs.iter())?;
        }
    }
    wire::write_bytes(w, b"")
}

/// A connected serve protocol client.
#[derive(Debug)]
pub struct ServeClient<R: Read, W: Write> {
    reader: R,
    writer: BufWriter<W>,
    ctx: Ctx,
}

impl<R: Read, W: Write> ServeClient<R, W> {
    /// Performs the handshake.
    pub fn connect(
        mut reader: R,
        mut writer: W,
        store: StoreDir,
        limits: Limits,
    ) -> Result<Self, HandshakeError> {
        let version = client_handshake(&mut reader, &mut writer)?;
        Ok(ServeClient {
            reader,
            writer: BufWriter::new(writer),
            ctx: Ctx {
                store,
                limits,
                minor: super::minor(version),
            },
        })
    }

    /// The store directory, limits and negotiated minor version.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Gives the streams back (anything still buffered was flushed after each request).
    pub fn into_inner(self) -> (R, W) {
        (self.reader, self.writer.into_parts().0)
    }

    fn send(&mut self, request: &ServeRequest) -> Result<(), ProtocolError> {
        request.write(&mut self.writer, &self.ctx)?;
        self.writer.flush()?;
        Ok(())
    }

    fn expect_one(&mut self, op: &'static str) -> Result<(), ProtocolError> {
        let v = wire::read_u64(&mut self.reader, "success flag")?;
        if v != 1 {
            return Err(ProtocolError::BadReply {
                op,
                detail: format!("expected 1, got {v}"),
            });
        }
        Ok(())
    }

    /// `QueryValidPaths`.
    pub fn query_valid_paths(
        &mut self,
        paths: &BTreeSet<StorePath>,
        lock: bool,
        substitute: bool,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.send(&ServeRequest::QueryValidPaths {
            lock,
            substitute,
            paths: paths.clone(),
        })?;
        Ok(wire::read_paths(
            &mut self.reader,
            &self.ctx.store,
            &self.ctx.limits,
            "valid paths",
        )?)
    }

    /// `QueryPathInfos`: infos of the valid ones among `paths`.
    pub fn query_path_infos(
        &mut self,
        paths: &BTreeSet<StorePath>,
    ) -> Result<Vec<PathInfo>, ProtocolError> {
        self.send(&ServeRequest::QueryPathInfos(paths.clone()))?;
        read_path_infos(&mut self.reader, &self.ctx)
    }

    /// `DumpStorePath`: copies the NAR to `out`, returns its size.
    pub fn dump_store_path(
        &mut self,
        path: &StorePath,
        out: &mut impl Write,
    ) -> Result<u64, ProtocolError> {
        self.send(&ServeRequest::DumpStorePath(path.clone()))?;
        Ok(copy_nar(&mut self.reader, out)?)
    }

    /// `QueryClosure`.
    pub fn query_closure(
        &mut self,
        paths: &BTreeSet<StorePath>,
        include_outputs: bool,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.send(&ServeRequest::QueryClosure {
            include_outputs,
            paths: paths.clone(),
        })?;
        Ok(wire::read_paths(
            &mut self.reader,
            &self.ctx.store,
            &self.ctx.limits,
            "closure",
        )?)
    }

    /// `AddToStoreNar` (2.5+): uploads `nar` (exactly `info.nar_size` bytes).
    pub fn add_to_store_nar(
        &mut self,
        info: &PathInfo,
        nar: &mut dyn Read,
    ) -> Result<(), ProtocolError> {
        if self.ctx.minor < 5 {
            return Err(ProtocolError::TooOld {
                op: "AddToStoreNar",
                needed: 5,
                negotiated: self.ctx.minor,
            });
        }
        self.send(&ServeRequest::AddToStoreNar(Box::new(info.clone())))?;
        let sent = io::copy(&mut nar.take(info.nar_size), &mut self.writer)?;
        if sent != info.nar_size {
            return Err(ProtocolError::BadReply {
                op: "AddToStoreNar",
                detail: format!("the NAR has {sent} bytes, the info says {}", info.nar_size),
            });
        }
        self.writer.flush()?;
        self.expect_one("AddToStoreNar")
    }

    /// `ImportPaths`: sends `paths` in the export format (dependencies first).
    pub fn import_paths(&mut self, paths: &[ExportedPath]) -> Result<(), ProtocolError> {
        self.send(&ServeRequest::ImportPaths)?;
        write_export(&mut self.writer, &self.ctx, paths)?;
        self.writer.flush()?;
        self.expect_one("ImportPaths")
    }

    /// `ExportPaths`: the paths in the export format; each NAR at most `max_nar` bytes.
    pub fn export_paths(
        &mut self,
        paths: &BTreeSet<StorePath>,
        max_nar: u64,
    ) -> Result<Vec<ExportedPath>, ProtocolError> {
        self.send(&ServeRequest::ExportPaths(paths.clone()))?;
        super::export::read_export(&mut self.reader, &self.ctx, max_nar)
    }

    /// `BuildPaths`: `Ok(None)` on success, else the status and message the server sent.
    pub fn build_paths(
        &mut self,
        paths: &[DerivedPath],
        options: &BuildOptions,
    ) -> Result<Option<(u64, String)>, ProtocolError> {
        self.send(&ServeRequest::BuildPaths {
            paths: paths.to_vec(),
            options: options.clone(),
        })?;
        let status = wire::read_u64(&mut self.reader, "build status")?;
        if status == 0 {
            return Ok(None);
        }
        let msg = wire::read_bytes(&mut self.reader, &self.ctx.limits, "build error")?;
        Ok(Some((status, String::from_utf8_lossy(&msg).into_owned())))
    }

    /// `BuildDerivation`.
    pub fn build_derivation(
        &mut self,
        drv_path: &StorePath,
        drv: &WireDerivation,
        options: &BuildOptions,
    ) -> Result<BuildResult, ProtocolError> {
        self.send(&ServeRequest::BuildDerivation {
            drv_path: drv_path.clone(),
            drv: drv.clone(),
            options: options.clone(),
        })?;
        Ok(BuildResult::read(
            &mut self.reader,
            &self.ctx.limits,
            self.ctx.minor >= 3,
            self.ctx.minor >= 6,
        )?)
    }
}

//! Worker protocol messages: a request ([`WorkerRequest`], operation code plus arguments)
//! and its reply ([`WorkerReply`]), each with a reader (the daemon's side for requests, the
//! client's for replies) and a writer. Data that follows a message on the stream (the NAR
//! of `AddToStoreNar`/`AddToStore`, the NAR a `NarFromPath` reply is) is not part of the
//! message: the caller streams it (see [`crate::framed`]).

use std::collections::BTreeSet;
use std::io::{Read, Write};

use nixkit_store::{PathInfo, StorePath};

use super::types::{
    read_derivation, read_derived_paths, read_path_info_body, write_derivation,
    write_derived_paths, write_path_info_body, BuildMode, BuildResult, ClientSettings, Ctx,
    DerivedPath, GcOptions, WireDerivation,
};
use super::WorkerOp;
use crate::error::ProtocolError;
use crate::wire::{self, WireResult};

/// A request from client to daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerRequest {
    /// Is the path valid?
    IsValidPath(StorePath),
    /// Which of these paths are valid (substituting them first if asked, 1.27+)?
    QueryValidPaths {
        /// The paths.
        paths: BTreeSet<StorePath>,
        /// Substitute missing ones.
        substitute: bool,
    },
    /// The path's metadata.
    QueryPathInfo(StorePath),
    /// The paths referring to the path.
    QueryReferrers(StorePath),
    /// The valid path with this hash part.
    QueryPathFromHashPart(String),
    /// Register a temporary GC root for the connection.
    AddTempRoot(StorePath),
    /// Register an indirect root: a symlink (absolute path) to a store path.
    AddIndirectRoot(String),
    /// Add a path with metadata; its NAR follows (framed from 1.23).
    AddToStoreNar {
        /// The path and its metadata.
        info: PathInfo,
        /// Replace a corrupt existing copy.
        repair: bool,
        /// Accept it without a trusted signature (trusted clients only).
        dont_check_sigs: bool,
    },
    /// Add a file or directory by content (1.25+); its dump follows, framed.
    AddToStore {
        /// The name of the path.
        name: String,
        /// The content-address method and algorithm (`text:sha256`, `fixed:r:sha256`, ...).
        method: String,
        /// References.
        references: BTreeSet<StorePath>,
        /// Replace a corrupt existing copy.
        repair: bool,
    },
    /// Add a text file.
    AddTextToStore {
        /// The name.
        name: String,
        /// The contents.
        text: Vec<u8>,
        /// References.
        references: BTreeSet<StorePath>,
    },
    /// Send the path's NAR.
    NarFromPath(StorePath),
    /// The derivation's outputs and their paths.
    QueryDerivationOutputMap(StorePath),
    /// What realising these paths takes.
    QueryMissing(Vec<DerivedPath>),
    /// Per-connection settings.
    SetOptions(ClientSettings),
    /// Realise these paths.
    BuildPaths {
        /// The paths.
        paths: Vec<DerivedPath>,
        /// How (1.15+).
        mode: BuildMode,
    },
    /// Build a derivation sent in full.
    BuildDerivation {
        /// The derivation's path.
        drv_path: StorePath,
        /// The derivation.
        drv: WireDerivation,
        /// How.
        mode: BuildMode,
    },
    /// Make the path valid.
    EnsurePath(StorePath),
    /// List the GC roots.
    FindRoots,
    /// Collect garbage.
    CollectGarbage(GcOptions),
    /// Wait until no collection runs.
    SyncWithGC,
    /// Infos of substitutable paths (with content addresses from 1.22).
    QuerySubstitutablePathInfos(Vec<(StorePath, String)>),
}

impl WorkerRequest {
    /// The operation code.
    pub fn op(&self) -> WorkerOp {
        match self {
            WorkerRequest::IsValidPath(_) => WorkerOp::IsValidPath,
            WorkerRequest::QueryValidPaths { .. } => WorkerOp::QueryValidPaths,
            WorkerRequest::QueryPathInfo(_) => WorkerOp::QueryPathInfo,
            WorkerRequest::QueryReferrers(_) => WorkerOp::QueryReferrers,
            WorkerRequest::QueryPathFromHashPart(_) => WorkerOp::QueryPathFromHashPart,
            WorkerRequest::AddTempRoot(_) => WorkerOp::AddTempRoot,
            WorkerRequest::AddIndirectRoot(_) => WorkerOp::AddIndirectRoot,
            WorkerRequest::AddToStoreNar { .. } => WorkerOp::AddToStoreNar,
            WorkerRequest::AddToStore { .. } => WorkerOp::AddToStore,
            WorkerRequest::AddTextToStore { .. } => WorkerOp::AddTextToStore,
            WorkerRequest::NarFromPath(_) => WorkerOp::NarFromPath,
            WorkerRequest::QueryDerivationOutputMap(_) => WorkerOp::QueryDerivationOutputMap,
            WorkerRequest::QueryMissing(_) => WorkerOp::QueryMissing,
            WorkerRequest::SetOptions(_) => WorkerOp::SetOptions,
            WorkerRequest::BuildPaths { .. } => WorkerOp::BuildPaths,
            WorkerRequest::BuildDerivation { .. } => WorkerOp::BuildDerivation,
            WorkerRequest::EnsurePath(_) => WorkerOp::EnsurePath,
            WorkerRequest::FindRoots => WorkerOp::FindRoots,
            WorkerRequest::CollectGarbage(_) => WorkerOp::CollectGarbage,
            WorkerRequest::SyncWithGC => WorkerOp::SyncWithGC,
            WorkerRequest::QuerySubstitutablePathInfos(_) => WorkerOp::QuerySubstitutablePathInfos,
        }
    }

    /// Reads an operation code and its arguments (the daemon's side). An unknown code is
    /// [`ProtocolError::UnknownOp`]; a known one without message types here is
    /// [`ProtocolError::UnsupportedOp`] — the daemon answers either with `STDERR_ERROR`,
    /// though it cannot skip the arguments of an unsupported one and must then close.
    pub fn read(r: &mut impl Read, ctx: &Ctx) -> Result<Self, ProtocolError> {
        let code = wire::read_u64(r, "operation code")?;
        let op = WorkerOp::from_code(code).ok_or(ProtocolError::UnknownOp {
            protocol: "worker",
            code,
        })?;
        let s = &ctx.store;
        let l = &ctx.limits;
        Ok(match op {
            WorkerOp::IsValidPath => Self::IsValidPath(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryValidPaths => {
                let paths = wire::read_paths(r, s, l, "paths")?;
                let substitute = ctx.minor >= 27 && wire::read_flag(r, "substitute")?;
                Self::QueryValidPaths { paths, substitute }
            }
            WorkerOp::QueryPathInfo => Self::QueryPathInfo(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryReferrers => Self::QueryReferrers(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryPathFromHashPart => {
                Self::QueryPathFromHashPart(wire::read_string(r, l, "hash part")?)
            }
            WorkerOp::AddTempRoot => Self::AddTempRoot(wire::read_path(r, s, l, "path")?),
            WorkerOp::AddIndirectRoot => {
                Self::AddIndirectRoot(wire::read_string(r, l, "root path")?)
            }
            WorkerOp::AddToStoreNar => {
                let path = wire::read_path(r, s, l, "path")?;
                let info = read_path_info_body(r, ctx, path)?;
                let repair = wire::read_flag(r, "repair")?;
                let dont_check_sigs = wire::read_flag(r, "don't check signatures")?;
                Self::AddToStoreNar {
                    info,
                    repair,
                    dont_check_sigs,
                }
            }
            WorkerOp::AddToStore if ctx.minor >= 25 => Self::AddToStore {
                name: wire::read_string(r, l, "name")?,
                method: wire::read_string(r, l, "content-address method")?,
                references: wire::read_paths(r, s, l, "references")?,
                repair: wire::read_flag(r, "repair")?,
            },
            WorkerOp::AddTextToStore => Self::AddTextToStore {
                name: wire::read_string(r, l, "name")?,
                text: wire::read_bytes(r, l, "text")?,
                references: wire::read_paths(r, s, l, "references")?,
            },
            WorkerOp::NarFromPath => Self::NarFromPath(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryDerivationOutputMap => {
                Self::QueryDerivationOutputMap(wire::read_path(r, s, l, "derivation")?)
            }
            WorkerOp::QueryMissing => Self::QueryMissing(read_derived_paths(r, ctx)?),
            WorkerOp::SetOptions => Self::SetOptions(ClientSettings::read(r, ctx)?),
            WorkerOp::BuildPaths => {
                let paths = read_derived_paths(r, ctx)?;
                let mode = if ctx.minor >= 15 {
                    BuildMode::read(r)?
                } else {
                    BuildMode::Normal
                };
                Self::BuildPaths { paths, mode }
            }
            WorkerOp::BuildDerivation => Self::BuildDerivation {
                drv_path: wire::read_path(r, s, l, "derivation")?,
                drv: read_derivation(r, ctx)?,
                mode: BuildMode::read(r)?,
            },
            WorkerOp::EnsurePath => Self::EnsurePath(wire::read_path(r, s, l, "path")?),
            WorkerOp::FindRoots => Self::FindRoots,
            WorkerOp::CollectGarbage => Self::CollectGarbage(GcOptions::read(r, ctx)?),
            WorkerOp::SyncWithGC => Self::SyncWithGC,
            WorkerOp::QuerySubstitutablePathInfos => {
                let mut out = Vec::new();
                let n = wire::read_count(r, l, "paths")?;
                for _ in 0..n {
                    let path = wire::read_path(r, s, l, "path")?;
                    let ca = if ctx.minor >= 22 {
                        wire::read_string(r, l, "content address")?
                    } else {
                        String::new()
                    };
                    out.push((path, ca));
                }
                Self::QuerySubstitutablePathInfos(out)
            }
            other => {
                return Err(ProtocolError::UnsupportedOp {
                    protocol: "worker",
                    op: other.name(),
                })
            }
        })
    }

    /// Writes the operation code and arguments (the client's side).
    pub fn write(&self, w: &mut impl Write, ctx: &Ctx) -> WireResult<()> {
        let s = &ctx.store;
        wire::write_u64(w, self.op() as u64)?;
        match self {
            Self::IsValidPath(p)
            | Self::QueryPathInfo(p)
            | Self::QueryReferrers(p)
            | Self::AddTempRoot(p)
            | Self::NarFromPath(p)
            | Self::QueryDerivationOutputMap(p)
            | Self::EnsurePath(p) => wire::write_path(w, s, p),
            Self::QueryValidPaths { paths, substitute } => {
                wire::write_paths(w, s, paths.iter())?;
                if ctx.minor >= 27 {
                    wire::write_bool(w, *substitute)?;
                }
                Ok(())
            }
            Self::QueryPathFromHashPart(t) | Self::AddIndirectRoot(t) => {
                wire::write_bytes(w, t.as_bytes())
            }
            Self::AddToStoreNar {
                info,
                repair,
                dont_check_sigs,
            } => {
                wire::write_path(w, s, &info.path)?;
                write_path_info_body(w, ctx, info)?;
                wire::write_bool(w, *repair)?;
                wire::write_bool(w, *dont_check_sigs)
            }
            Self::AddToStore {
                name,
                method,
                references,
                repair,
            } => {
                wire::write_bytes(w, name.as_bytes())?;
                wire::write_bytes(w, method.as_bytes())?;
                wire::write_paths(w, s, references.iter())?;
                wire::write_bool(w, *repair)
            }
            Self::AddTextToStore {
                name,
                text,
                references,
            } => {
                wire::write_bytes(w, name.as_bytes())?;
                wire::write_bytes(w, text)?;
                wire::write_paths(w, s, references.iter())
            }
            Self::QueryMissing(paths) => write_derived_paths(w, ctx, paths),
            Self::SetOptions(settings) => settings.write(w, ctx),
            Self::BuildPaths { paths, mode } => {
                write_derived_paths(w, ctx, paths)?;
                if ctx.minor >= 15 {
                    wire::write_u64(w, *mode as u64)?;
                }
                Ok(())
            }
            Self::BuildDerivation {
                drv_path,
                drv,
                mode,
            } => {
                wire::write_path(w, s, drv_path)?;
                write_derivation(w, ctx, drv)?;
                wire::write_u64(w, *mode as u64)
            }
            Self::FindRoots | Self::SyncWithGC => Ok(()),
            Self::CollectGarbage(opts) => opts.write(w, ctx),
            Self::QuerySubstitutablePathInfos(items) => {
                wire::write_u64(w, items.len() as u64)?;
                for (p, ca) in items {
                    wire::write_path(w, s, p)?;
                    if ctx.minor >= 22 {
                        wire::write_bytes(w, ca.as_bytes())?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// What realising some paths takes (`QueryMissing`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Missing {
    /// Derivations that would be built.
    pub will_build: BTreeSet<StorePath>,
    /// Paths that would be substituted.
    pub will_substitute: BTreeSet<StorePath>,
    /// Paths neither buildable nor substitutable.
    pub unknown: BTreeSet<StorePath>,
    /// Bytes to download.
    pub download_size: u64,
    /// Bytes of NAR to unpack.
    pub nar_size: u64,
}

/// One substitutable path's info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstitutableInfo {
    /// The path.
    pub path: StorePath,
    /// Its deriver.
    pub deriver: Option<StorePath>,
    /// Its references.
    pub references: BTreeSet<StorePath>,
    /// Compressed download size.
    pub download_size: u64,
    /// NAR size.
    pub nar_size: u64,
}

/// A reply from daemon to client, sent after `STDERR_LAST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerReply {
    /// No payload (`SetOptions`, `AddToStoreNar`, `NarFromPath` before its NAR).
    Nothing,
    /// The constant 1 CppNix sends for success (`AddTempRoot`, `BuildPaths`, ...).
    Done,
    /// A boolean (`IsValidPath`).
    Bool(bool),
    /// A path set (`QueryValidPaths`, `QueryReferrers`).
    Paths(BTreeSet<StorePath>),
    /// A path info, if the path is valid (`QueryPathInfo`).
    PathInfo(Option<Box<PathInfo>>),
    /// A path, if one is found (`QueryPathFromHashPart`).
    OptPath(Option<StorePath>),
    /// A path (`AddTextToStore`).
    Path(StorePath),
    /// A path with its info (`AddToStore`).
    PathWithInfo(Box<PathInfo>),
    /// Output names and paths (`QueryDerivationOutputMap`).
    OutputMap(Vec<(String, Option<StorePath>)>),
    /// `QueryMissing`.
    Missing(Missing),
    /// GC roots: link and target (`FindRoots`).
    Roots(Vec<(String, StorePath)>),
    /// `CollectGarbage`: the paths returned or deleted, bytes freed.
    Gc {
        /// The paths (printed).
        paths: Vec<String>,
        /// Bytes freed.
        bytes_freed: u64,
    },
    /// `BuildDerivation`.
    BuildResult(BuildResult),
    /// `QuerySubstitutablePathInfos`.
    SubstitutableInfos(Vec<SubstitutableInfo>),
}

impl WorkerReply {
    /// Reads the reply to `request`.
    pub fn read(
        request: &WorkerRequest,
        r: &mut impl Read,
        ctx: &Ctx,
    ) -> Result<Self, ProtocolError> {
        let op = request.op();
        let s = &ctx.store;
        let l = &ctx.limits;
        Ok(match op {
            WorkerOp::SetOptions | WorkerOp::AddToStoreNar | WorkerOp::NarFromPath => Self::Nothing,
            WorkerOp::AddTempRoot
            | WorkerOp::AddIndirectRoot
            | WorkerOp::BuildPaths
            | WorkerOp::EnsurePath
            | WorkerOp::SyncWithGC => {
                let v = wire::read_u64(r, "success flag")?;
                if v != 1 {
                    return Err(ProtocolError::BadReply {
                        op: op.name(),
                        detail: format!("expected 1, got {v}"),
                    });
                }
                Self::Done
            }
            WorkerOp::IsValidPath => Self::Bool(wire::read_flag(r, "validity")?),
            WorkerOp::QueryValidPaths | WorkerOp::QueryReferrers => {
                Self::Paths(wire::read_paths(r, s, l, "paths")?)
            }
            WorkerOp::QueryPathInfo => match request {
                // The path itself is not sent back: it is the request's.
                WorkerRequest::QueryPathInfo(path) => {
                    Self::PathInfo(Self::read_path_info(r, ctx, path.clone())?.map(Box::new))
                }
                _ => Self::Nothing,
            },
            WorkerOp::QueryPathFromHashPart => Self::OptPath(wire::read_opt_path(r, s, l, "path")?),
            WorkerOp::AddTextToStore => Self::Path(wire::read_path(r, s, l, "path")?),
            WorkerOp::AddToStore => {
                let path = wire::read_path(r, s, l, "path")?;
                Self::PathWithInfo(Box::new(read_path_info_body(r, ctx, path)?))
            }
            WorkerOp::QueryDerivationOutputMap => {
                let n = wire::read_count(r, l, "outputs")?;
                let mut out = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    let name = wire::read_string(r, l, "output name")?;
                    out.push((name, wire::read_opt_path(r, s, l, "output path")?));
                }
                Self::OutputMap(out)
            }
            WorkerOp::QueryMissing => Self::Missing(Missing {
                will_build: wire::read_paths(r, s, l, "will build")?,
                will_substitute: wire::read_paths(r, s, l, "will substitute")?,
                unknown: wire::read_paths(r, s, l, "unknown")?,
                download_size: wire::read_u64(r, "download size")?,
                nar_size: wire::read_u64(r, "NAR size")?,
            }),
            WorkerOp::FindRoots => {
                let n = wire::read_count(r, l, "roots")?;
                let mut out = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let link = wire::read_string(r, l, "root link")?;
                    out.push((link, wire::read_path(r, s, l, "root target")?));
                }
                Self::Roots(out)
            }
            WorkerOp::CollectGarbage => {
                let paths = wire::read_strings(r, l, "GC paths")?;
                let bytes_freed = wire::read_u64(r, "bytes freed")?;
                wire::read_u64(r, "obsolete GC field")?;
                Self::Gc { paths, bytes_freed }
            }
            WorkerOp::BuildDerivation => {
                Self::BuildResult(BuildResult::read(r, l, ctx.minor >= 29, ctx.minor >= 28)?)
            }
            WorkerOp::QuerySubstitutablePathInfos => {
                let n = wire::read_count(r, l, "substitutable infos")?;
                let mut out = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    out.push(SubstitutableInfo {
                        path: wire::read_path(r, s, l, "path")?,
                        deriver: wire::read_opt_path(r, s, l, "deriver")?,
                        references: wire::read_paths(r, s, l, "references")?,
                        download_size: wire::read_u64(r, "download size")?,
                        nar_size: wire::read_u64(r, "NAR size")?,
                    });
                }
                Self::SubstitutableInfos(out)
            }
            other => {
                return Err(ProtocolError::UnsupportedOp {
                    protocol: "worker",
                    op: other.name(),
                })
            }
        })
    }

    /// Reads the reply to `QueryPathInfo` for `path`: a validity flag, then the info.
    pub fn read_path_info(
        r: &mut impl Read,
        ctx: &Ctx,
        path: StorePath,
    ) -> Result<Option<PathInfo>, ProtocolError> {
        if ctx.minor >= 17 && !wire::read_flag(r, "validity")? {
            return Ok(None);
        }
        Ok(Some(read_path_info_body(r, ctx, path)?))
    }

    /// Writes the reply.
    pub fn write(&self, w: &mut impl Write, ctx: &Ctx) -> WireResult<()> {
        let s = &ctx.store;
        match self {
            Self::Nothing => Ok(()),
            Self::Done => wire::write_u64(w, 1),
            Self::Bool(b) => wire::write_bool(w, *b),
            Self::Paths(p) => wire::write_paths(w, s, p.iter()),
            Self::PathInfo(info) => {
                if ctx.minor >= 17 {
                    wire::write_bool(w, info.is_some())?;
                }
                match info {
                    Some(info) => write_path_info_body(w, ctx, info),
                    None => Ok(()),
                }
            }
            Self::OptPath(p) => wire::write_opt_path(w, s, p.as_ref()),
            Self::Path(p) => wire::write_path(w, s, p),
            Self::PathWithInfo(info) => {
                wire::write_path(w, s, &info.path)?;
                write_path_info_body(w, ctx, info)
            }
            Self::OutputMap(outs) => {
                wire::write_u64(w, outs.len() as u64)?;
                for (name, path) in outs {
                    wire::write_bytes(w, name.as_bytes())?;
                    wire::write_opt_path(w, s, path.as_ref())?;
                }
                Ok(())
            }
            Self::Missing(m) => {
                wire::write_paths(w, s, m.will_build.iter())?;
                wire::write_paths(w, s, m.will_substitute.iter())?;
                wire::write_paths(w, s, m.unknown.iter())?;
                wire::write_u64(w, m.download_size)?;
                wire::write_u64(w, m.nar_size)
            }
            Self::Roots(roots) => {
                wire::write_u64(w, roots.len() as u64)?;
                for (link, target) in roots {
                    wire::write_bytes(w, link.as_bytes())?;
                    wire::write_path(w, s, target)?;
                }
                Ok(())
            }
            Self::Gc { paths, bytes_freed } => {
                wire::write_strings(w, paths.iter())?;
                wire::write_u64(w, *bytes_freed)?;
                wire::write_u64(w, 0)
            }
            Self::BuildResult(res) => res.write(w, ctx.minor >= 29, ctx.minor >= 28),
            Self::SubstitutableInfos(infos) => {
                wire::write_u64(w, infos.len() as u64)?;
                for i in infos {
                    wire::write_path(w, s, &i.path)?;
                    wire::write_opt_path(w, s, i.deriver.as_ref())?;
                    wire::write_paths(w, s, i.references.iter())?;
                    wire::write_u64(w, i.download_size)?;
                    wire::write_u64(w, i.nar_size)?;
                }
                Ok(())
            }
        }
    }
}

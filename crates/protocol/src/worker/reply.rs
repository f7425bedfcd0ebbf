//! Worker protocol replies ([`WorkerReply`]): what the daemon sends after `STDERR_LAST`,
//! written by a daemon and read by a client that knows which request it answers.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use nixkit_store::{PathInfo, StorePath};

use super::request::WorkerRequest;
use super::types::{read_path_info_body, write_path_info_body, BuildResult, Ctx, DerivedPath};
use super::WorkerOp;
use crate::error::ProtocolError;
use crate::wire::{self, WireResult};

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
    /// A string (`QueryPathHash`).
    Text(String),
    /// A list of strings (`QueryDerivationOutputNames`, `QueryRealisation` from 1.31,
    /// `ImportPaths`).
    Strings(Vec<String>),
    /// A result per requested path (`BuildPathsWithResults`).
    BuildResults(Vec<(DerivedPath, BuildResult)>),
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
            WorkerOp::SetOptions
            | WorkerOp::AddToStoreNar
            | WorkerOp::NarFromPath
            | WorkerOp::AddMultipleToStore
            | WorkerOp::RegisterDrvOutput => Self::Nothing,
            WorkerOp::AddSignatures
            | WorkerOp::OptimiseStore
            | WorkerOp::AddBuildLog
            | WorkerOp::AddTempRoot
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
            WorkerOp::IsValidPath | WorkerOp::HasSubstitutes | WorkerOp::VerifyStore => {
                Self::Bool(wire::read_flag(r, "boolean reply")?)
            }
            WorkerOp::QueryPathHash => Self::Text(wire::read_string(r, l, "NAR hash")?),
            WorkerOp::QueryDerivationOutputNames | WorkerOp::ImportPaths => {
                Self::Strings(wire::read_strings(r, l, "strings")?)
            }
            WorkerOp::QueryRealisation if ctx.minor >= 31 => {
                Self::Strings(wire::read_strings(r, l, "realisations")?)
            }
            WorkerOp::BuildPathsWithResults => {
                let n = wire::read_count(r, l, "build results")?;
                let mut out = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let path = DerivedPath::parse(s, &wire::read_string(r, l, "derived path")?)?;
                    out.push((path, BuildResult::read(r, l, true, true)?));
                }
                Self::BuildResults(out)
            }
            WorkerOp::QueryDeriver => Self::OptPath(wire::read_opt_path(r, s, l, "deriver")?),
            WorkerOp::QueryValidPaths
            | WorkerOp::QueryReferrers
            | WorkerOp::QuerySubstitutablePaths
            | WorkerOp::QueryAllValidPaths
            | WorkerOp::QueryValidDerivers
            | WorkerOp::QueryDerivationOutputs
            | WorkerOp::QueryReferences
            | WorkerOp::QueryRealisation => Self::Paths(wire::read_paths(r, s, l, "paths")?),
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
            Self::Text(t) => wire::write_bytes(w, t.as_bytes()),
            Self::Strings(items) => wire::write_strings(w, items.iter()),
            Self::BuildResults(results) => {
                wire::write_u64(w, results.len() as u64)?;
                for (path, res) in results {
                    wire::write_bytes(w, path.render(s).as_bytes())?;
                    res.write(w, true, true)?;
                }
                Ok(())
            }
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

//! Worker protocol requests ([`WorkerRequest`]: operation code plus arguments), read by a
//! daemon and written by a client. Data that follows a request on the stream (the NAR of
//! `AddToStoreNar`/`AddToStore`, the framed stream of `AddMultipleToStore`/`AddBuildLog`,
//! the export stream of `ImportPaths`) is not part of the message: the caller streams it
//! (see [`crate::framed`]). Replies are in [`super::reply`].

use std::collections::BTreeSet;
use std::io::{Read, Write};

use nixkit_store::{PathInfo, StorePath};

use super::types::{
    read_derivation, read_derived_paths, read_path_info_body, write_derivation,
    write_derived_paths, write_path_info_body, BuildMode, ClientSettings, Ctx, DerivedPath,
    GcOptions, WireDerivation,
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
    /// Which of these paths have substitutes.
    QuerySubstitutablePaths(BTreeSet<StorePath>),
    /// Has the path a substitute?
    HasSubstitutes(StorePath),
    /// Every valid path.
    QueryAllValidPaths,
    /// The valid derivations that produced the path.
    QueryValidDerivers(StorePath),
    /// The output paths of a derivation.
    QueryDerivationOutputs(StorePath),
    /// Obsolete: the path's references (use `QueryPathInfo`).
    QueryReferences(StorePath),
    /// Obsolete: the path's deriver.
    QueryDeriver(StorePath),
    /// Obsolete: the path's NAR hash.
    QueryPathHash(StorePath),
    /// Obsolete: a derivation's output names.
    QueryDerivationOutputNames(StorePath),
    /// Add signatures to a path (trusted clients only).
    AddSignatures {
        /// The path.
        path: StorePath,
        /// The signatures (`key:base64`).
        sigs: BTreeSet<String>,
    },
    /// Deduplicate the store by hard links.
    OptimiseStore,
    /// Check the store's consistency (and contents), repairing if asked.
    VerifyStore {
        /// Hash every path's contents.
        check_contents: bool,
        /// Repair what is wrong (trusted clients only).
        repair: bool,
    },
    /// Realise paths, with a result per path (1.34).
    BuildPathsWithResults {
        /// The paths.
        paths: Vec<DerivedPath>,
        /// How.
        mode: BuildMode,
    },
    /// Add several paths; a framed stream follows holding their count, then each path's
    /// info (with its path) and NAR.
    AddMultipleToStore {
        /// Replace corrupt existing copies.
        repair: bool,
        /// Accept them without trusted signatures (trusted clients only).
        dont_check_sigs: bool,
    },
    /// Store a derivation's build log; the log follows, framed.
    AddBuildLog(StorePath),
    /// Import paths; the daemon asks for the export stream with `STDERR_READ`.
    ImportPaths,
    /// Register a realisation (its JSON; 1.31+).
    RegisterDrvOutput(String),
    /// The realisations of a derivation output (`sha256:…!out`).
    QueryRealisation(String),
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
            WorkerRequest::QuerySubstitutablePaths(_) => WorkerOp::QuerySubstitutablePaths,
            WorkerRequest::HasSubstitutes(_) => WorkerOp::HasSubstitutes,
            WorkerRequest::QueryAllValidPaths => WorkerOp::QueryAllValidPaths,
            WorkerRequest::QueryValidDerivers(_) => WorkerOp::QueryValidDerivers,
            WorkerRequest::QueryDerivationOutputs(_) => WorkerOp::QueryDerivationOutputs,
            WorkerRequest::QueryReferences(_) => WorkerOp::QueryReferences,
            WorkerRequest::QueryDeriver(_) => WorkerOp::QueryDeriver,
            WorkerRequest::QueryPathHash(_) => WorkerOp::QueryPathHash,
            WorkerRequest::QueryDerivationOutputNames(_) => WorkerOp::QueryDerivationOutputNames,
            WorkerRequest::AddSignatures { .. } => WorkerOp::AddSignatures,
            WorkerRequest::OptimiseStore => WorkerOp::OptimiseStore,
            WorkerRequest::VerifyStore { .. } => WorkerOp::VerifyStore,
            WorkerRequest::BuildPathsWithResults { .. } => WorkerOp::BuildPathsWithResults,
            WorkerRequest::AddMultipleToStore { .. } => WorkerOp::AddMultipleToStore,
            WorkerRequest::AddBuildLog(_) => WorkerOp::AddBuildLog,
            WorkerRequest::ImportPaths => WorkerOp::ImportPaths,
            WorkerRequest::RegisterDrvOutput(_) => WorkerOp::RegisterDrvOutput,
            WorkerRequest::QueryRealisation(_) => WorkerOp::QueryRealisation,
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
            WorkerOp::QuerySubstitutablePaths => {
                Self::QuerySubstitutablePaths(wire::read_paths(r, s, l, "paths")?)
            }
            WorkerOp::HasSubstitutes => Self::HasSubstitutes(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryAllValidPaths => Self::QueryAllValidPaths,
            WorkerOp::QueryValidDerivers => {
                Self::QueryValidDerivers(wire::read_path(r, s, l, "path")?)
            }
            WorkerOp::QueryDerivationOutputs => {
                Self::QueryDerivationOutputs(wire::read_path(r, s, l, "derivation")?)
            }
            WorkerOp::QueryReferences => Self::QueryReferences(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryDeriver => Self::QueryDeriver(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryPathHash => Self::QueryPathHash(wire::read_path(r, s, l, "path")?),
            WorkerOp::QueryDerivationOutputNames => {
                Self::QueryDerivationOutputNames(wire::read_path(r, s, l, "derivation")?)
            }
            WorkerOp::AddSignatures => Self::AddSignatures {
                path: wire::read_path(r, s, l, "path")?,
                sigs: wire::read_string_set(r, l, "signatures")?,
            },
            WorkerOp::OptimiseStore => Self::OptimiseStore,
            WorkerOp::VerifyStore => Self::VerifyStore {
                check_contents: wire::read_flag(r, "check contents")?,
                repair: wire::read_flag(r, "repair")?,
            },
            WorkerOp::BuildPathsWithResults => Self::BuildPathsWithResults {
                paths: read_derived_paths(r, ctx)?,
                mode: BuildMode::read(r)?,
            },
            WorkerOp::AddMultipleToStore => Self::AddMultipleToStore {
                repair: wire::read_flag(r, "repair")?,
                dont_check_sigs: wire::read_flag(r, "don't check signatures")?,
            },
            WorkerOp::AddBuildLog => {
                // Sent as a base name (`hash-name`), not a full path.
                let base = wire::read_string(r, l, "derivation")?;
                let path = StorePath::from_base_name(&base).map_err(|e| {
                    wire::WireError::BadStorePath {
                        path: base.chars().take(200).collect(),
                        reason: e.to_string(),
                    }
                })?;
                Self::AddBuildLog(path)
            }
            WorkerOp::ImportPaths => Self::ImportPaths,
            WorkerOp::RegisterDrvOutput if ctx.minor >= 31 => {
                Self::RegisterDrvOutput(wire::read_string(r, l, "realisation")?)
            }
            WorkerOp::QueryRealisation => {
                Self::QueryRealisation(wire::read_string(r, l, "derivation output")?)
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
            | Self::EnsurePath(p)
            | Self::HasSubstitutes(p)
            | Self::QueryValidDerivers(p)
            | Self::QueryDerivationOutputs(p)
            | Self::QueryReferences(p)
            | Self::QueryDeriver(p)
            | Self::QueryPathHash(p)
            | Self::QueryDerivationOutputNames(p) => wire::write_path(w, s, p),
            Self::QuerySubstitutablePaths(paths) => wire::write_paths(w, s, paths.iter()),
            Self::QueryAllValidPaths | Self::OptimiseStore | Self::ImportPaths => Ok(()),
            Self::AddSignatures { path, sigs } => {
                wire::write_path(w, s, path)?;
                wire::write_strings(w, sigs.iter())
            }
            Self::VerifyStore {
                check_contents,
                repair,
            } => {
                wire::write_bool(w, *check_contents)?;
                wire::write_bool(w, *repair)
            }
            Self::BuildPathsWithResults { paths, mode } => {
                write_derived_paths(w, ctx, paths)?;
                wire::write_u64(w, *mode as u64)
            }
            Self::AddMultipleToStore {
                repair,
                dont_check_sigs,
            } => {
                wire::write_bool(w, *repair)?;
                wire::write_bool(w, *dont_check_sigs)
            }
            Self::AddBuildLog(p) => wire::write_bytes(w, p.to_base_name().as_bytes()),
            Self::RegisterDrvOutput(t) | Self::QueryRealisation(t) => {
                wire::write_bytes(w, t.as_bytes())
            }
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

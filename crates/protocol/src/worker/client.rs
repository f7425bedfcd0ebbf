//! A worker protocol client over any `Read` + `Write` pair (a Unix socket, an SSH channel,
//! the pipes of `nix-daemon --stdio`): the handshake, then one method per operation, each
//! writing its request, following the log stream and reading the reply.

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Read, Write};

use nixkit_store::{PathInfo, StoreDir, StorePath};

use super::reply::{Missing, SubstitutableInfo, WorkerReply};
use super::request::WorkerRequest;
use super::stderr::{ReadStderrError, StderrMsg};
use super::types::{
    write_path_info_body, BuildMode, BuildResult, ClientSettings, Ctx, DerivedPath, GcOptions,
    WireDerivation,
};
use super::{client_hello, Negotiated};
use crate::error::{HandshakeError, ProtocolError};
use crate::framed::{copy_nar, FramedWriter};
use crate::wire::{self, Limits};

/// Receives the daemon's log messages (lines, activities, results).
pub type Logger = Box<dyn FnMut(&StderrMsg) + Send>;

/// The result of `CollectGarbage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcResult {
    /// The paths returned or deleted, as printed by the daemon.
    pub paths: Vec<String>,
    /// Bytes freed.
    pub bytes_freed: u64,
}

/// A connected worker protocol client.
pub struct WorkerClient<R: Read, W: Write> {
    reader: R,
    writer: BufWriter<W>,
    ctx: Ctx,
    negotiated: Negotiated,
    logger: Option<Logger>,
}

impl<R: Read, W: Write> std::fmt::Debug for WorkerClient<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerClient")
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

fn stderr_error(e: ReadStderrError) -> ProtocolError {
    match e {
        ReadStderrError::Wire(w) => ProtocolError::Wire(w),
        ReadStderrError::UnknownCode(code) => ProtocolError::UnknownStderr { code },
    }
}

impl<R: Read, W: Write> WorkerClient<R, W> {
    /// Performs the handshake over `reader`/`writer`; paths are printed in `store`.
    pub fn connect(
        mut reader: R,
        mut writer: W,
        store: StoreDir,
        limits: Limits,
    ) -> Result<Self, HandshakeError> {
        let negotiated = client_hello(&mut reader, &mut writer, &limits)?;
        let mut client = WorkerClient {
            ctx: Ctx {
                store,
                limits,
                minor: negotiated.minor(),
            },
            reader,
            writer: BufWriter::new(writer),
            negotiated,
            logger: None,
        };
        match client.process_stderr("handshake", None, None) {
            Ok(()) => Ok(client),
            Err(ProtocolError::Remote(e)) => Err(HandshakeError::Refused(e)),
            Err(e) => Err(HandshakeError::Stream(Box::new(e))),
        }
    }

    /// What the handshake agreed on.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// The store directory, limits and version used for payloads.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Sends the daemon's log messages to `logger` (by default they are dropped).
    pub fn set_logger(&mut self, logger: Logger) {
        self.logger = Some(logger);
    }

    /// Gives the streams back (anything still buffered was flushed after each request).
    pub fn into_inner(self) -> (R, W) {
        (self.reader, self.writer.into_parts().0)
    }

    /// Follows the log stream up to `STDERR_LAST` (success) or `STDERR_ERROR`, feeding
    /// `STDERR_READ` requests from `source` and `STDERR_WRITE` data to `sink`.
    fn process_stderr(
        &mut self,
        op: &'static str,
        mut source: Option<&mut dyn Read>,
        mut sink: Option<&mut dyn Write>,
    ) -> Result<(), ProtocolError> {
        loop {
            let msg = StderrMsg::read(&mut self.reader, &self.ctx.limits, self.negotiated.version)
                .map_err(stderr_error)?;
            match msg {
                StderrMsg::Last => return Ok(()),
                StderrMsg::Error(e) => return Err(ProtocolError::Remote(Box::new(e))),
                StderrMsg::Read(n) => {
                    let Some(src) = source.as_mut() else {
                        return Err(ProtocolError::Unexpected {
                            what: "request for data (STDERR_READ)",
                            op,
                        });
                    };
                    let want = n.min(self.ctx.limits.max_string).min(1 << 20);
                    let mut buf = Vec::with_capacity(want as usize);
                    src.take(want).read_to_end(&mut buf)?;
                    wire::write_bytes(&mut self.writer, &buf)?;
                    self.writer.flush()?;
                }
                StderrMsg::Write(data) => match sink.as_mut() {
                    Some(s) => s.write_all(&data)?,
                    None => {
                        return Err(ProtocolError::Unexpected {
                            what: "data (STDERR_WRITE)",
                            op,
                        })
                    }
                },
                other => {
                    if let Some(logger) = self.logger.as_mut() {
                        logger(&other);
                    }
                }
            }
        }
    }

    fn send(&mut self, request: &WorkerRequest) -> Result<(), ProtocolError> {
        request.write(&mut self.writer, &self.ctx)?;
        self.writer.flush()?;
        Ok(())
    }

    /// Sends `request`, follows the log stream, reads the reply.
    pub fn call(&mut self, request: &WorkerRequest) -> Result<WorkerReply, ProtocolError> {
        self.send(request)?;
        self.process_stderr(request.op().name(), None, None)?;
        WorkerReply::read(request, &mut self.reader, &self.ctx)
    }

    fn bad_reply(op: &'static str, reply: &WorkerReply) -> ProtocolError {
        ProtocolError::BadReply {
            op,
            detail: format!("unexpected reply {reply:?}"),
        }
    }

    fn call_done(&mut self, request: WorkerRequest) -> Result<(), ProtocolError> {
        match self.call(&request)? {
            WorkerReply::Done | WorkerReply::Nothing => Ok(()),
            other => Err(Self::bad_reply(request.op().name(), &other)),
        }
    }

    fn call_paths(&mut self, request: WorkerRequest) -> Result<BTreeSet<StorePath>, ProtocolError> {
        match self.call(&request)? {
            WorkerReply::Paths(p) => Ok(p),
            other => Err(Self::bad_reply(request.op().name(), &other)),
        }
    }

    /// `IsValidPath`.
    pub fn is_valid_path(&mut self, path: &StorePath) -> Result<bool, ProtocolError> {
        match self.call(&WorkerRequest::IsValidPath(path.clone()))? {
            WorkerReply::Bool(b) => Ok(b),
            other => Err(Self::bad_reply("IsValidPath", &other)),
        }
    }

    /// `QueryValidPaths`.
    pub fn query_valid_paths(
        &mut self,
        paths: &BTreeSet<StorePath>,
        substitute: bool,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.call_paths(WorkerRequest::QueryValidPaths {
            paths: paths.clone(),
            substitute,
        })
    }

    /// `QueryPathInfo`: `None` for an invalid path.
    pub fn query_path_info(&mut self, path: &StorePath) -> Result<Option<PathInfo>, ProtocolError> {
        match self.call(&WorkerRequest::QueryPathInfo(path.clone()))? {
            WorkerReply::PathInfo(info) => Ok(info.map(|b| *b)),
            other => Err(Self::bad_reply("QueryPathInfo", &other)),
        }
    }

    /// `QueryReferrers`.
    pub fn query_referrers(
        &mut self,
        path: &StorePath,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.call_paths(WorkerRequest::QueryReferrers(path.clone()))
    }

    /// `QueryPathFromHashPart`.
    pub fn query_path_from_hash_part(
        &mut self,
        hash_part: &str,
    ) -> Result<Option<StorePath>, ProtocolError> {
        match self.call(&WorkerRequest::QueryPathFromHashPart(hash_part.to_owned()))? {
            WorkerReply::OptPath(p) => Ok(p),
            other => Err(Self::bad_reply("QueryPathFromHashPart", &other)),
        }
    }

    /// `AddTempRoot`.
    pub fn add_temp_root(&mut self, path: &StorePath) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::AddTempRoot(path.clone()))
    }

    /// `AddIndirectRoot`: `link` is an absolute path to a symlink into the store.
    pub fn add_indirect_root(&mut self, link: &str) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::AddIndirectRoot(link.to_owned()))
    }

    /// `EnsurePath`.
    pub fn ensure_path(&mut self, path: &StorePath) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::EnsurePath(path.clone()))
    }

    /// `SyncWithGC`.
    pub fn sync_with_gc(&mut self) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::SyncWithGC)
    }

    /// `SetOptions`.
    pub fn set_options(&mut self, settings: &ClientSettings) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::SetOptions(settings.clone()))
    }

    /// `BuildPaths`.
    pub fn build_paths(
        &mut self,
        paths: &[DerivedPath],
        mode: BuildMode,
    ) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::BuildPaths {
            paths: paths.to_vec(),
            mode,
        })
    }

    /// `BuildDerivation`.
    pub fn build_derivation(
        &mut self,
        drv_path: &StorePath,
        drv: &WireDerivation,
        mode: BuildMode,
    ) -> Result<BuildResult, ProtocolError> {
        match self.call(&WorkerRequest::BuildDerivation {
            drv_path: drv_path.clone(),
            drv: drv.clone(),
            mode,
        })? {
            WorkerReply::BuildResult(r) => Ok(r),
            other => Err(Self::bad_reply("BuildDerivation", &other)),
        }
    }

    /// `AddTextToStore`.
    pub fn add_text_to_store(
        &mut self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<StorePath, ProtocolError> {
        match self.call(&WorkerRequest::AddTextToStore {
            name: name.to_owned(),
            text: text.to_vec(),
            references: references.clone(),
        })? {
            WorkerReply::Path(p) => Ok(p),
            other => Err(Self::bad_reply("AddTextToStore", &other)),
        }
    }

    /// `QueryDerivationOutputMap`.
    pub fn query_derivation_output_map(
        &mut self,
        drv: &StorePath,
    ) -> Result<Vec<(String, Option<StorePath>)>, ProtocolError> {
        match self.call(&WorkerRequest::QueryDerivationOutputMap(drv.clone()))? {
            WorkerReply::OutputMap(m) => Ok(m),
            other => Err(Self::bad_reply("QueryDerivationOutputMap", &other)),
        }
    }

    /// `QueryMissing`.
    pub fn query_missing(&mut self, paths: &[DerivedPath]) -> Result<Missing, ProtocolError> {
        match self.call(&WorkerRequest::QueryMissing(paths.to_vec()))? {
            WorkerReply::Missing(m) => Ok(m),
            other => Err(Self::bad_reply("QueryMissing", &other)),
        }
    }

    /// `FindRoots`: (link, target) pairs.
    pub fn find_roots(&mut self) -> Result<Vec<(String, StorePath)>, ProtocolError> {
        match self.call(&WorkerRequest::FindRoots)? {
            WorkerReply::Roots(r) => Ok(r),
            other => Err(Self::bad_reply("FindRoots", &other)),
        }
    }

    /// `CollectGarbage`.
    pub fn collect_garbage(&mut self, options: &GcOptions) -> Result<GcResult, ProtocolError> {
        match self.call(&WorkerRequest::CollectGarbage(options.clone()))? {
            WorkerReply::Gc { paths, bytes_freed } => Ok(GcResult { paths, bytes_freed }),
            other => Err(Self::bad_reply("CollectGarbage", &other)),
        }
    }

    /// `QuerySubstitutablePathInfos` (content addresses may be empty).
    pub fn query_substitutable_path_infos(
        &mut self,
        paths: &[(StorePath, String)],
    ) -> Result<Vec<SubstitutableInfo>, ProtocolError> {
        match self.call(&WorkerRequest::QuerySubstitutablePathInfos(paths.to_vec()))? {
            WorkerReply::SubstitutableInfos(i) => Ok(i),
            other => Err(Self::bad_reply("QuerySubstitutablePathInfos", &other)),
        }
    }

    /// `NarFromPath`: copies the path's NAR to `out`, returns its size.
    pub fn nar_from_path(
        &mut self,
        path: &StorePath,
        out: &mut impl Write,
    ) -> Result<u64, ProtocolError> {
        self.send(&WorkerRequest::NarFromPath(path.clone()))?;
        self.process_stderr("NarFromPath", None, None)?;
        Ok(copy_nar(&mut self.reader, out)?)
    }

    /// `AddToStoreNar`: uploads `nar` (exactly `info.nar_size` bytes are expected by the
    /// daemon) with its metadata. From 1.23 the NAR is framed; 1.21–1.22 feed it on the
    /// daemon's `STDERR_READ` requests. The whole NAR is written before the log stream is
    /// read: a daemon that logs more than a pipe buffer while receiving would stall.
    pub fn add_to_store_nar(
        &mut self,
        info: &PathInfo,
        nar: &mut dyn Read,
        repair: bool,
        dont_check_sigs: bool,
    ) -> Result<(), ProtocolError> {
        self.send(&WorkerRequest::AddToStoreNar {
            info: info.clone(),
            repair,
            dont_check_sigs,
        })?;
        if self.ctx.minor >= 23 {
            let mut framed = FramedWriter::new(&mut self.writer);
            io::copy(nar, &mut framed)?;
            framed.finish()?;
            self.process_stderr("AddToStoreNar", None, None)
        } else {
            self.process_stderr("AddToStoreNar", Some(nar), None)
        }
    }

    /// `AddToStore` (1.25+): adds the dump `data` (a NAR for `fixed:r:…`, the flat contents
    /// otherwise) under `name` with the method `method` (`fixed:r:sha256`, `text:sha256`, ...).
    pub fn add_to_store(
        &mut self,
        name: &str,
        method: &str,
        references: &BTreeSet<StorePath>,
        repair: bool,
        data: &mut dyn Read,
    ) -> Result<PathInfo, ProtocolError> {
        if self.ctx.minor < 25 {
            return Err(ProtocolError::TooOld {
                op: "AddToStore",
                needed: 25,
                negotiated: self.ctx.minor,
            });
        }
        let request = WorkerRequest::AddToStore {
            name: name.to_owned(),
            method: method.to_owned(),
            references: references.clone(),
            repair,
        };
        self.send(&request)?;
        let mut framed = FramedWriter::new(&mut self.writer);
        io::copy(data, &mut framed)?;
        framed.finish()?;
        self.process_stderr("AddToStore", None, None)?;
        match WorkerReply::read(&request, &mut self.reader, &self.ctx)? {
            WorkerReply::PathWithInfo(info) => Ok(*info),
            other => Err(Self::bad_reply("AddToStore", &other)),
        }
    }

    /// `QueryAllValidPaths`.
    pub fn query_all_valid_paths(&mut self) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.call_paths(WorkerRequest::QueryAllValidPaths)
    }

    /// `QueryValidDerivers`.
    pub fn query_valid_derivers(
        &mut self,
        path: &StorePath,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.call_paths(WorkerRequest::QueryValidDerivers(path.clone()))
    }

    /// `QueryDerivationOutputs`.
    pub fn query_derivation_outputs(
        &mut self,
        drv: &StorePath,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.call_paths(WorkerRequest::QueryDerivationOutputs(drv.clone()))
    }

    /// `QuerySubstitutablePaths`.
    pub fn query_substitutable_paths(
        &mut self,
        paths: &BTreeSet<StorePath>,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.call_paths(WorkerRequest::QuerySubstitutablePaths(paths.clone()))
    }

    fn call_bool(&mut self, request: WorkerRequest) -> Result<bool, ProtocolError> {
        match self.call(&request)? {
            WorkerReply::Bool(b) => Ok(b),
            other => Err(Self::bad_reply(request.op().name(), &other)),
        }
    }

    /// `HasSubstitutes`.
    pub fn has_substitutes(&mut self, path: &StorePath) -> Result<bool, ProtocolError> {
        self.call_bool(WorkerRequest::HasSubstitutes(path.clone()))
    }

    /// `VerifyStore`: true if errors were found (and not all repaired).
    pub fn verify_store(
        &mut self,
        check_contents: bool,
        repair: bool,
    ) -> Result<bool, ProtocolError> {
        self.call_bool(WorkerRequest::VerifyStore {
            check_contents,
            repair,
        })
    }

    /// `AddSignatures`.
    pub fn add_signatures(
        &mut self,
        path: &StorePath,
        sigs: &BTreeSet<String>,
    ) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::AddSignatures {
            path: path.clone(),
            sigs: sigs.clone(),
        })
    }

    /// `OptimiseStore`.
    pub fn optimise_store(&mut self) -> Result<(), ProtocolError> {
        self.call_done(WorkerRequest::OptimiseStore)
    }

    /// `BuildPathsWithResults` (1.34): a result per path; failures are results, not errors.
    pub fn build_paths_with_results(
        &mut self,
        paths: &[DerivedPath],
        mode: BuildMode,
    ) -> Result<Vec<(DerivedPath, BuildResult)>, ProtocolError> {
        if self.ctx.minor < 34 {
            return Err(ProtocolError::TooOld {
                op: "BuildPathsWithResults",
                needed: 34,
                negotiated: self.ctx.minor,
            });
        }
        match self.call(&WorkerRequest::BuildPathsWithResults {
            paths: paths.to_vec(),
            mode,
        })? {
            WorkerReply::BuildResults(r) => Ok(r),
            other => Err(Self::bad_reply("BuildPathsWithResults", &other)),
        }
    }

    /// `AddMultipleToStore` (1.32+): uploads each path's info and NAR (exactly
    /// `nar_size` bytes) in one framed stream.
    pub fn add_multiple_to_store<'a>(
        &mut self,
        items: impl ExactSizeIterator<Item = (&'a PathInfo, &'a mut dyn Read)>,
        repair: bool,
        dont_check_sigs: bool,
    ) -> Result<(), ProtocolError> {
        if self.ctx.minor < 32 {
            return Err(ProtocolError::TooOld {
                op: "AddMultipleToStore",
                needed: 32,
                negotiated: self.ctx.minor,
            });
        }
        self.send(&WorkerRequest::AddMultipleToStore {
            repair,
            dont_check_sigs,
        })?;
        // Path infos inside the stream always use the 1.16 layout.
        let item_ctx = Ctx {
            minor: 16,
            ..self.ctx.clone()
        };
        let mut framed = FramedWriter::new(&mut self.writer);
        wire::write_u64(&mut framed, items.len() as u64)?;
        for (info, nar) in items {
            wire::write_path(&mut framed, &item_ctx.store, &info.path)?;
            write_path_info_body(&mut framed, &item_ctx, info)?;
            let sent = io::copy(&mut nar.take(info.nar_size), &mut framed)?;
            if sent != info.nar_size {
                // The stream is now unusable: the daemon expects more bytes.
                return Err(ProtocolError::BadReply {
                    op: "AddMultipleToStore",
                    detail: format!(
                        "the NAR of {} has {sent} bytes, its info says {}",
                        info.path, info.nar_size
                    ),
                });
            }
        }
        framed.finish()?;
        self.process_stderr("AddMultipleToStore", None, None)
    }

    /// `AddBuildLog`: stores `log` as the build log of `drv`.
    pub fn add_build_log(
        &mut self,
        drv: &StorePath,
        log: &mut dyn Read,
    ) -> Result<(), ProtocolError> {
        self.send(&WorkerRequest::AddBuildLog(drv.clone()))?;
        let mut framed = FramedWriter::new(&mut self.writer);
        io::copy(log, &mut framed)?;
        framed.finish()?;
        self.process_stderr("AddBuildLog", None, None)?;
        WorkerReply::read(
            &WorkerRequest::AddBuildLog(drv.clone()),
            &mut self.reader,
            &self.ctx,
        )
        .map(drop)
    }

    /// `ImportPaths`: feeds `export` (a `nix-store --export` stream) to the daemon as it
    /// asks for it; returns the imported paths.
    pub fn import_paths(
        &mut self,
        export: &mut dyn Read,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        self.send(&WorkerRequest::ImportPaths)?;
        self.process_stderr("ImportPaths", Some(export), None)?;
        match WorkerReply::read(&WorkerRequest::ImportPaths, &mut self.reader, &self.ctx)? {
            WorkerReply::Strings(paths) => paths
                .iter()
                .map(|p| Ok(wire::parse_store_path(&self.ctx.store, p)?))
                .collect(),
            other => Err(Self::bad_reply("ImportPaths", &other)),
        }
    }
}

//! Substitution from binary caches of any backend ([`BinaryCache`]): the narinfos of the
//! missing closure are fetched and checked for trust, and meanwhile each NAR is streamed
//! download → file hash → decompress → NAR restore (NAR hash and size checked) into
//! staging (`pipeline.rs`), never held whole in memory; paths are registered only once
//! every narinfo has passed. [`Substituters`] tries several caches by priority, the next
//! after a failure, and names the cache and the path in every error.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::rc::Rc;
use std::sync::Arc;

use super::compression::Compression;
use super::file_cache::CacheError;
use super::narinfo::{has_valid_signature, is_safe_nar_url, NarInfo, NarInfoError};
use super::parallel::Stoppable;
use super::signing::PublicKey;
use super::source::BinaryCache;
use crate::local::{AddError, LocalStore, StagedPath, Stager};
use crate::{HashEncoding, HashSink, StoreDir, StorePath};

/// True if `info` has a content address that yields `info.path`.
fn is_content_addressed(store_dir: &StoreDir, info: &crate::PathInfo) -> bool {
    let Some(ca) = &info.ca else {
        return false;
    };
    let refs: BTreeSet<StorePath> = info.references_without_self().cloned().collect();
    let self_ref = info.references.contains(&info.path);
    store_dir
        .make_path_from_ca(info.path.name(), ca, &refs, self_ref)
        .is_ok_and(|p| p == info.path)
}

/// Substitutes `path` and its missing closure from `cache` into `store`; returns the paths
/// added, references first. With `require_sigs`, every narinfo needs a signature by one of
/// `trusted`, unless its path is content-addressed (then the content is checked against the
/// address instead). Nothing is added unless every narinfo of the closure passed the checks.
pub fn substitute_closure(
    cache: &dyn BinaryCache,
    store: &LocalStore,
    path: &StorePath,
    trusted: &[PublicKey],
    require_sigs: bool,
) -> Result<Vec<StorePath>, CacheError> {
    let store_dir = store.store_dir();
    cache.cache_info()?.check_store_dir(store_dir)?;
    // The narinfos of the whole missing closure are fetched level by level (each level's
    // in parallel; no recursion, so a chain of any length is fine), each checked for trust
    // and then handed to the workers, which download, check and restore it into staging
    // meanwhile; the staged paths are committed in order, references first, only after
    // every narinfo of the closure has passed, in batches (one sync and one transaction
    // each). After a failure, the paths staged before it (in that order) are still
    // committed; none after it.
    let jobs = cache.parallel_jobs();
    let discover = |publisher: &super::pipeline::Publisher<'_>| {
        let mut wanted: BTreeMap<StorePath, BTreeSet<StorePath>> = BTreeMap::new();
        let mut seen: BTreeSet<StorePath> = BTreeSet::new();
        let mut frontier = vec![path.clone()];
        while !frontier.is_empty() {
            let mut level = Vec::new();
            for p in std::mem::take(&mut frontier) {
                if seen.insert(p.clone()) && !store.is_valid(&p)? {
                    level.push(p);
                }
            }
            let answers = super::parallel::map_parallel(jobs, &level, |p| {
                let narinfo = trusted_narinfo(cache, store_dir, p, trusted, require_sigs)?;
                publisher.publish(narinfo.clone());
                Ok::<_, CacheError>(narinfo)
            });
            for (p, answer) in level.into_iter().zip(answers) {
                let narinfo = answer?;
                frontier.extend(
                    narinfo
                        .info
                        .references_without_self()
                        .filter(|r| !seen.contains(*r))
                        .cloned(),
                );
                wanted.insert(p, narinfo.info.references);
            }
        }
        let keys: BTreeSet<StorePath> = wanted.keys().cloned().collect();
        crate::topo::topo_sort::<_, CacheError>(&keys, |p| {
            Ok(wanted
                .get(p)
                .map(|refs| refs.iter().cloned().collect())
                .unwrap_or_default())
        })
    };
    let stager = store.stager();
    let mut added = Vec::new();
    let mut batch: Vec<StagedPath> = Vec::new();
    let mut batch_bytes: u64 = 0;
    let result = super::pipeline::stage_while_discovering(
        jobs,
        discover,
        |narinfo, stop| {
            let raw = cache.nar_reader(narinfo)?;
            let raw = Box::new(Stoppable { inner: raw, stop });
            add_from_cache(cache, &stager, narinfo.clone(), raw)
        },
        |staged: StagedPath| {
            batch_bytes += staged.nar_size();
            batch.push(staged);
            if batch.len() >= COMMIT_PATHS || batch_bytes >= COMMIT_BYTES {
                added.extend(store.commit_staged(std::mem::take(&mut batch))?);
                batch_bytes = 0;
            }
            Ok(())
        },
    );
    // The first error wins: a failed download explains more than a failed commit after it.
    let committed = store.commit_staged(batch);
    result?;
    added.extend(committed?);
    Ok(added)
}

/// The narinfo of `path` from `cache`, checked for trust: with `require_sigs`, signed by
/// one of `trusted` or content-addressed. A remembered answer that fails is asked for
/// again, once.
fn trusted_narinfo(
    cache: &dyn BinaryCache,
    store_dir: &StoreDir,
    path: &StorePath,
    trusted: &[PublicKey],
    require_sigs: bool,
) -> Result<NarInfo, CacheError> {
    let printed = store_dir.print_path(path);
    let mut narinfo = cache
        .narinfo(path)?
        .ok_or_else(|| CacheError::NotInCache(printed.clone()))?;
    let is_trusted = |n: &NarInfo| {
        !require_sigs
            || is_content_addressed(store_dir, &n.info)
            || has_valid_signature(store_dir, &n.info, trusted)
    };
    if !is_trusted(&narinfo) {
        // A remembered answer (from a cache file edited since, say) is trusted no more
        // than the cache itself: ask it again, once.
        if cache.forget_remembered_narinfo(path) {
            narinfo = cache
                .narinfo(path)?
                .ok_or_else(|| CacheError::NotInCache(printed.clone()))?;
        }
        if !is_trusted(&narinfo) {
            return Err(CacheError::Untrusted(printed));
        }
    }
    Ok(narinfo)
}

/// Paths, and NAR bytes, restored before a batch is committed.
const COMMIT_PATHS: usize = 64;
const COMMIT_BYTES: u64 = 256 << 20;

/// The raw (compressed) download, hashed and counted as it is read, shared between the
/// decoder reading it and the final check that drains and hashes the rest.
struct RawTee<'r> {
    inner: Box<dyn Read + Send + 'r>,
    sink: Option<HashSink>,
    read: u64,
    limit: u64,
}

impl RawTee<'_> {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.limit.saturating_add(1).saturating_sub(self.read);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if want == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("NAR file is larger than {} bytes", self.limit),
            ));
        }
        let n = self.inner.read(&mut buf[..want])?;
        if let Some(sink) = &mut self.sink {
            sink.update(&buf[..n]);
        }
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("NAR file is larger than {} bytes", self.limit),
            ));
        }
        Ok(n)
    }
}

struct SharedRaw<'r>(Rc<RefCell<RawTee<'r>>>);

impl Read for SharedRaw<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read_some(buf)
    }
}

/// Checks and stages (restores, not yet registers) the NAR `narinfo` describes, streaming from `raw`, the NAR file as the
/// cache stores it (`cache` names it in errors).
fn add_from_cache(
    cache: &dyn BinaryCache,
    store: &Stager,
    narinfo: NarInfo,
    raw: Box<dyn Read + Send + '_>,
) -> Result<StagedPath, CacheError> {
    let compression = Compression::parse(&narinfo.compression)
        .ok_or_else(|| CacheError::UnsupportedCompression(narinfo.compression.clone()))?;
    // Only a file inside the cache (also checked when parsing, but `NarInfo` can be built
    // by hand).
    if !is_safe_nar_url(&narinfo.url) {
        return Err(CacheError::UnsafeUrl {
            path: narinfo.url.clone().into(),
            source: NarInfoError::UnsafeUrl(narinfo.url.clone()),
        });
    }
    let nar_size = narinfo.info.nar_size;
    // Read no further than the narinfo says the file is long (or, without `FileSize`, a
    // generous bound above the NAR size: compression never grows data by more).
    let limit = narinfo.file_size.unwrap_or_else(|| {
        nar_size
            .saturating_add(nar_size / 8)
            .saturating_add(1 << 16)
    });
    // An uncompressed file whose `FileHash` and `FileSize` are the NAR's: the NAR hash
    // check covers the same bytes, so they are hashed once (sha256 was half the CPU time
    // of a substitution). Any other file hash is checked on its own.
    let file_is_the_nar = compression == Compression::None
        && narinfo.file_hash.as_ref() == Some(&narinfo.info.nar_hash)
        && narinfo.file_size.map_or(true, |size| size == nar_size);
    let tee = Rc::new(RefCell::new(RawTee {
        inner: raw,
        sink: narinfo
            .file_hash
            .as_ref()
            .filter(|_| !file_is_the_nar)
            .map(|h| HashSink::new(h.algo())),
        read: 0,
        limit,
    }));
    let nar_file = std::path::PathBuf::from(format!(
        "{}/{}",
        cache.url().trim_end_matches('/'),
        narinfo.url
    ));
    let store_path = store.store_dir().print_path(&narinfo.info.path);
    let decoder = compression
        .decoder(SharedRaw(Rc::clone(&tee)))
        .map_err(|source| CacheError::Io {
            path: nar_file.clone(),
            source,
        })?;
    // Decompressed, no more than `NarSize` (plus one byte, so a longer NAR is seen as a
    // size mismatch rather than cut short into a valid one).
    let mut reader = decoder.take(nar_size.saturating_add(1));
    let mut info = narinfo.info;
    info.ultimate = false;
    // Before the path is registered: the rest of the download is read and the file hash of
    // the whole compared with `FileHash`.
    let mut late_error: Option<CacheError> = None;
    let mut accept = || {
        let mut tee = tee.borrow_mut();
        let mut buf = [0u8; 8192];
        loop {
            match tee.read_some(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(source) => {
                    late_error = Some(CacheError::Io {
                        path: nar_file.clone(),
                        source,
                    });
                    return false;
                }
            }
        }
        if let (Some(expected), Some(sink)) = (&narinfo.file_hash, tee.sink.take()) {
            let (got, _) = sink.finish();
            if got != *expected {
                late_error = Some(CacheError::FileHashMismatch {
                    path: nar_file.clone(),
                    store_path: store_path.clone(),
                    expected: expected.encode(HashEncoding::Nix32, true),
                    got: got.encode(HashEncoding::Nix32, true),
                });
                return false;
            }
        }
        true
    };
    let result = store.stage_nar_checked(&info, &mut reader, &mut accept);
    drop(reader);
    match result {
        Ok(staged) => Ok(staged),
        Err(AddError::Rejected(_)) => Err(late_error.unwrap_or_else(|| CacheError::Io {
            path: nar_file,
            source: io::Error::other("download refused"),
        })),
        Err(e) => {
            // A file hash mismatch of a complete download explains a broken NAR better than
            // the decoder's error (a short download is reported as it is).
            if let (Some(expected), Some(size)) = (&narinfo.file_hash, narinfo.file_size) {
                if let Ok(mut tee) = tee.try_borrow_mut() {
                    if drain(&mut tee).is_ok() && tee.read == size {
                        if let Some(sink) = tee.sink.take() {
                            let (got, _) = sink.finish();
                            if got != *expected {
                                return Err(CacheError::FileHashMismatch {
                                    path: nar_file,
                                    store_path,
                                    expected: expected.encode(HashEncoding::Nix32, true),
                                    got: got.encode(HashEncoding::Nix32, true),
                                });
                            }
                        }
                    }
                }
            }
            Err(match e {
                AddError::Restore(source) => CacheError::BadNar {
                    path: nar_file,
                    store_path,
                    source: Box::new(source),
                },
                e => e.into(),
            })
        }
    }
}

fn drain(tee: &mut RawTee<'_>) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    while tee.read_some(&mut buf)? != 0 {}
    Ok(())
}

/// Why no cache could substitute a path: what each cache tried said.
#[derive(Debug, thiserror::Error)]
#[error("cannot substitute path '{path}': {}", describe(.attempts))]
pub struct SubstituteError {
    /// The path asked for.
    pub path: String,
    /// Each cache tried (its URL) and its error, in the order tried.
    pub attempts: Vec<(String, CacheError)>,
}

fn describe(attempts: &[(String, CacheError)]) -> String {
    if attempts.is_empty() {
        return "no substituters are configured".to_owned();
    }
    attempts
        .iter()
        .map(|(url, e)| format!("from cache '{url}': {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Several caches, tried by priority (lower `Priority` in `nix-cache-info` first; equal
/// priorities in the order given), with the keys substitutes must be signed by.
#[derive(Debug)]
pub struct Substituters {
    caches: Vec<Arc<dyn BinaryCache>>,
    trusted: Vec<PublicKey>,
    require_sigs: bool,
    sorted: std::sync::OnceLock<Vec<usize>>,
}

impl Substituters {
    /// The caches `caches`; their order by priority is found on first use.
    pub fn new(
        caches: Vec<Arc<dyn BinaryCache>>,
        trusted: Vec<PublicKey>,
        require_sigs: bool,
    ) -> Self {
        Self {
            caches,
            trusted,
            require_sigs,
            sorted: std::sync::OnceLock::new(),
        }
    }

    /// True if there are no caches.
    pub fn is_empty(&self) -> bool {
        self.caches.is_empty()
    }

    /// The caches, in the order they are tried.
    pub fn in_order(&self) -> impl Iterator<Item = &dyn BinaryCache> {
        let order = self.sorted.get_or_init(|| {
            // A cache whose info cannot be read sorts by the default priority; the error
            // comes again, with its path, when it is tried.
            let mut keyed: Vec<(u32, usize)> = self
                .caches
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let prio = c
                        .cache_info()
                        .map_or(super::source::DEFAULT_PRIORITY, |info| info.priority);
                    (prio, i)
                })
                .collect();
            keyed.sort();
            keyed.into_iter().map(|(_, i)| i).collect()
        });
        order
            .iter()
            .filter_map(|&i| self.caches.get(i).map(|c| &**c))
    }

    /// The mass query (CppNix's `querySubstitutablePaths`, behind `nix-env -qas`,
    /// `HasSubstitutes` and the daemon's `QuerySubstitutablePaths`): which of `paths` some
    /// cache has. Only caches whose `nix-cache-info` says `WantMassQuery: 1` are asked (and
    /// only those for this store directory); the others are left to single-path
    /// substitution. A cache that fails to answer counts as not having the path.
    pub fn query_substitutable(
        &self,
        store_dir: &StoreDir,
        paths: &BTreeSet<StorePath>,
    ) -> BTreeSet<StorePath> {
        let mut found = BTreeSet::new();
        for cache in self.in_order() {
            let wanted = cache
                .cache_info()
                .is_ok_and(|info| info.want_mass_query && info.check_store_dir(store_dir).is_ok());
            if !wanted {
                continue;
            }
            let ask: Vec<StorePath> = paths.difference(&found).cloned().collect();
            let answers =
                super::parallel::map_parallel(cache.parallel_jobs(), &ask, |p| cache.narinfo(p));
            for (p, answer) in ask.into_iter().zip(answers) {
                if matches!(answer, Ok(Some(_))) {
                    found.insert(p);
                }
            }
        }
        found
    }

    /// The narinfos of those of `paths` some cache has, each from the first cache (by
    /// priority) that has it (CppNix's `querySubstitutablePathInfos`: every cache is asked,
    /// whatever its `WantMassQuery`). A cache that fails to answer counts as not having
    /// the path.
    pub fn query_substitutable_infos(
        &self,
        store_dir: &StoreDir,
        paths: &BTreeSet<StorePath>,
    ) -> BTreeMap<StorePath, NarInfo> {
        let mut found: BTreeMap<StorePath, NarInfo> = BTreeMap::new();
        for cache in self.in_order() {
            if !cache
                .cache_info()
                .is_ok_and(|info| info.check_store_dir(store_dir).is_ok())
            {
                continue;
            }
            let ask: Vec<StorePath> = paths
                .iter()
                .filter(|p| !found.contains_key(*p))
                .cloned()
                .collect();
            let answers =
                super::parallel::map_parallel(cache.parallel_jobs(), &ask, |p| cache.narinfo(p));
            for (p, answer) in ask.into_iter().zip(answers) {
                if let Ok(Some(info)) = answer {
                    found.insert(p, info);
                }
            }
        }
        found
    }

    /// Substitutes `path` and its missing closure into `store` from the first cache (by
    /// priority) that can; returns the paths added. A cache that fails leaves nothing of
    /// the failed path registered, and the next is tried.
    pub fn substitute(
        &self,
        store: &LocalStore,
        path: &StorePath,
    ) -> Result<Vec<StorePath>, SubstituteError> {
        self.substitute_from(store, path).map(|(_, paths)| paths)
    }

    /// [`Substituters::substitute`], also saying which cache (its URL) supplied the paths.
    pub fn substitute_from(
        &self,
        store: &LocalStore,
        path: &StorePath,
    ) -> Result<(String, Vec<StorePath>), SubstituteError> {
        let mut attempts = Vec::new();
        for cache in self.in_order() {
            // Part of the closure may have come from a cache before it failed; those paths
            // are valid and complete, and stay (the next cache skips them).
            match substitute_closure(cache, store, path, &self.trusted, self.require_sigs) {
                Ok(paths) => return Ok((cache.url().to_owned(), paths)),
                Err(e) => attempts.push((cache.url().to_owned(), e)),
            }
        }
        Err(SubstituteError {
            path: store.store_dir().print_path(path),
            attempts,
        })
    }
}

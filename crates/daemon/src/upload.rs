//! Adding paths through the daemon: `AddToStoreNar`, `AddToStore` (content-addressed dumps),
//! `AddMultipleToStore`, `ImportPaths` and `AddBuildLog`. The data is streamed into the
//! store, never held whole in memory (except an export stream's NAR, as the export format
//! requires), and a path from an untrusted client needs a trusted signature unless it is
//! content-addressed — whose address the store checks against the content.

use std::fs;
use std::io::{self, Read, Write};

use nixkit_protocol::framed::FramedReader;
use nixkit_protocol::worker::reply::WorkerReply;
use nixkit_protocol::worker::server::{TunnelSource, UploadSource};
use nixkit_protocol::worker::types::{read_path_info_body, Ctx};
use nixkit_protocol::{wire, ProtocolError};
use nixkit_store::binary_cache::has_valid_signature;
use nixkit_store::{FileIngestionMethod, HashAlgo, PathInfo, StorePath};

use crate::connection::{lock, Conn, OpError, Outcome};
use crate::Trust;

/// The largest text (`text:` method, e.g. a `.drv`) accepted in one request.
const MAX_TEXT: u64 = 64 << 20;

pub(crate) fn add_to_store_nar<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    info: PathInfo,
    dont_check_sigs: bool,
) -> Result<Outcome, OpError> {
    let minor = conn.ctx.minor;
    // The upload reads from the connection's reader and (before 1.23) asks on its writer;
    // the store and settings are used in between.
    let mut writer = lock(&conn.writer);
    let result = {
        let mut source = UploadSource::new(minor, &mut conn.reader, &mut *writer);
        let r = add_nar_from(
            &conn.store,
            conn.settings,
            conn.trust,
            &info,
            &mut source,
            dont_check_sigs,
        );
        let drained = source.drain();
        match (r, drained) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(OpError::Protocol(e.into())),
            (Ok(()), Ok(())) => Ok(()),
        }
    };
    drop(writer);
    result.map(|()| Outcome::Reply(WorkerReply::Nothing))
}

/// Adds `info`'s path from `nar` unless it is valid; exactly `nar_size` bytes are read
/// from `nar` either way, so the stream stays in step after a refusal.
fn add_nar_from(
    store: &std::sync::Mutex<nixkit_store::local::LocalStore>,
    settings: &crate::DaemonSettings,
    trust: Trust,
    info: &PathInfo,
    nar: &mut dyn Read,
    dont_check_sigs: bool,
) -> Result<(), OpError> {
    let mut nar = nar.take(info.nar_size);
    let result = (|| {
        let store = lock(store);
        if store.is_valid(&info.path)? {
            return Ok(());
        }
        let trusted = matches!(trust, Trust::Trusted);
        let exempt = (trusted && dont_check_sigs) || !settings.require_sigs || info.ca.is_some();
        if !exempt && !has_valid_signature(store.store_dir(), info, &settings.trusted_public_keys) {
            return Err(OpError::Unsigned(store.store_dir().print_path(&info.path)));
        }
        Ok(store.add_nar(info, &mut nar)?)
    })();
    io::copy(&mut nar, &mut io::sink()).map_err(|e| OpError::Protocol(e.into()))?;
    result
}

/// How an `AddToStore` request's method (`text:sha256`, `fixed:r:sha256`, `fixed:md5`)
/// says to read the dump.
enum DumpMethod {
    Text,
    Fixed(FileIngestionMethod, HashAlgo),
}

fn parse_method(method: &str) -> Result<DumpMethod, OpError> {
    let invalid = || OpError::Invalid(format!("invalid content-address method '{method}'"));
    if let Some(algo) = method.strip_prefix("text:") {
        return match algo {
            "sha256" => Ok(DumpMethod::Text),
            _ => Err(invalid()),
        };
    }
    let rest = method.strip_prefix("fixed:").ok_or_else(invalid)?;
    let (ingestion, algo) = match rest.strip_prefix("r:") {
        Some(a) => (FileIngestionMethod::Recursive, a),
        None => (FileIngestionMethod::Flat, rest),
    };
    let algo: HashAlgo = algo.parse().map_err(|_| invalid())?;
    Ok(DumpMethod::Fixed(ingestion, algo))
}

pub(crate) fn add_to_store<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    name: &str,
    method: &str,
    references: &std::collections::BTreeSet<StorePath>,
) -> Result<Outcome, OpError> {
    let mut framed = FramedReader::new(&mut conn.reader);
    let result = add_dump(&conn.store, name, method, references, &mut framed);
    framed
        .drain()
        .map_err(|e| OpError::Protocol(ProtocolError::from(wire::WireError::Io(e))))?;
    let path = result?;
    let store = lock(&conn.store);
    let info = store
        .query_path_info(&path)?
        .ok_or_else(|| OpError::NotValid(store.store_dir().print_path(&path)))?;
    Ok(Outcome::Reply(WorkerReply::PathWithInfo(Box::new(info))))
}

fn add_dump(
    store: &std::sync::Mutex<nixkit_store::local::LocalStore>,
    name: &str,
    method: &str,
    references: &std::collections::BTreeSet<StorePath>,
    dump: &mut dyn Read,
) -> Result<StorePath, OpError> {
    match parse_method(method)? {
        DumpMethod::Text => {
            let mut text = Vec::new();
            dump.take(MAX_TEXT + 1)
                .read_to_end(&mut text)
                .map_err(|e| OpError::Protocol(e.into()))?;
            if text.len() as u64 > MAX_TEXT {
                return Err(OpError::Invalid(format!(
                    "text of '{name}' is larger than {MAX_TEXT} bytes"
                )));
            }
            Ok(lock(store).add_text_to_store(name, &text, references)?)
        }
        DumpMethod::Fixed(ingestion, algo) => {
            if !references.is_empty() {
                return Err(OpError::Unsupported(format!(
                    "fixed-output path '{name}' with references is not supported by nixkit's daemon"
                )));
            }
            let store = lock(store);
            let temp = tempfile::Builder::new()
                .prefix("add-")
                .tempdir_in(store.state_dir())
                .map_err(OpError::io("creating a temporary directory"))?;
            let dest = temp.path().join("dump");
            match ingestion {
                FileIngestionMethod::Recursive => {
                    nixkit_store::nar::restore_path(&mut &mut *dump, &dest).map_err(|e| {
                        OpError::Invalid(format!("reading the NAR of '{name}': {e}"))
                    })?;
                }
                FileIngestionMethod::Flat => {
                    let mut file = fs::File::create(&dest)
                        .map_err(OpError::io("creating a temporary file"))?;
                    io::copy(dump, &mut file).map_err(|e| OpError::Protocol(e.into()))?;
                }
            }
            Ok(store.add_to_store(name, &dest, ingestion, algo)?)
        }
    }
}

pub(crate) fn add_multiple_to_store<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    dont_check_sigs: bool,
) -> Result<Outcome, OpError> {
    // Path infos inside the stream always use the 1.16 layout.
    let item_ctx = Ctx {
        minor: 16,
        ..conn.ctx.clone()
    };
    let mut framed = FramedReader::new(&mut conn.reader);
    let result = (|| -> Result<(), OpError> {
        let count = wire::read_u64(&mut framed, "path count").map_err(ProtocolError::from)?;
        for _ in 0..count {
            let path = wire::read_path(&mut framed, &item_ctx.store, &item_ctx.limits, "path")
                .map_err(ProtocolError::from)?;
            let info =
                read_path_info_body(&mut framed, &item_ctx, path).map_err(ProtocolError::from)?;
            add_nar_from(
                &conn.store,
                conn.settings,
                conn.trust,
                &info,
                &mut framed,
                dont_check_sigs,
            )?;
        }
        Ok(())
    })();
    framed
        .drain()
        .map_err(|e| OpError::Protocol(ProtocolError::from(wire::WireError::Io(e))))?;
    result.map(|()| Outcome::Reply(WorkerReply::Nothing))
}

pub(crate) fn import_paths<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
) -> Result<Outcome, OpError> {
    // The export format carries no trusted signatures CppNix still checks: trusted only.
    conn.require_trust("you are not privileged to import paths")?;
    let mut writer = lock(&conn.writer);
    let mut source = TunnelSource::new(&mut conn.reader, &mut *writer);
    let store = lock(&conn.store);
    let paths = nixkit_store::export::import_paths(&store, &mut source)?;
    let printed = paths
        .iter()
        .map(|p| store.store_dir().print_path(p))
        .collect();
    Ok(Outcome::Reply(WorkerReply::Strings(printed)))
}

pub(crate) fn add_build_log<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    drv: &StorePath,
) -> Result<Outcome, OpError> {
    let trusted = matches!(conn.trust, Trust::Trusted);
    let mut framed = FramedReader::new(&mut conn.reader);
    let result = (|| -> Result<(), OpError> {
        if !trusted {
            return Err(OpError::NotPrivileged("you are not privileged to add logs"));
        }
        let store = lock(&conn.store);
        let path = nixkit_sandbox::build::log_path(&store, drv);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .map_err(OpError::io(format!("creating '{}'", dir.display())))?;
        }
        let mut file = fs::File::create(&path)
            .map_err(OpError::io(format!("writing '{}'", path.display())))?;
        io::copy(&mut framed, &mut file).map_err(|e| OpError::Protocol(e.into()))?;
        Ok(())
    })();
    framed
        .drain()
        .map_err(|e| OpError::Protocol(ProtocolError::from(wire::WireError::Io(e))))?;
    result.map(|()| Outcome::Reply(WorkerReply::Done))
}

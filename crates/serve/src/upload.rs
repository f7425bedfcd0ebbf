//! Uploads (`--upload-token`): `PUT /nar/<file>.nar[.xz|.zst|.bz2]` and `PUT /<hash>.narinfo`,
//! as CppNix's HTTP binary cache store (`nix copy --to http://…`) and `nixkit store
//! --copy-to http://…` send them. The token comes as `Authorization: Bearer TOKEN` or as
//! basic auth with the token for password (what CppNix's netrc-driven client sends).
//!
//! A NAR is streamed into a staging file beside the store's state (never whole in memory),
//! bounded by the size limit, and its file hash checked against its name when the name is a
//! hash (CppNix names NARs by their file hash). Nothing is visible to clients until the
//! narinfo that names it arrives: then the staged file's hash and size are checked against
//! `FileHash`/`FileSize`, it is decompressed and restored through the store's `add_nar`,
//! which checks `NarHash`/`NarSize` (and a content address) before registering the path in
//! one transaction. A half-uploaded or wrong NAR never becomes a valid path.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use nixkit_store::binary_cache::{Compression, NarInfo};
use nixkit_store::local::AddError;
use nixkit_store::{Hash, HashAlgo, HashSink};

use crate::routes::{internal, is_hash_part, parse_nar_file, plain};
use crate::AppState;

/// The most a narinfo may hold.
const MAX_NARINFO: u64 = 1 << 20;
/// The most NARs waiting for their narinfo at once.
const MAX_STAGED: usize = 4096;

/// Upload settings and the NARs received but not yet claimed by a narinfo.
pub(crate) struct Uploads {
    /// Where the NAR hash of every accepted upload is kept under the NAR's uploaded file
    /// name, so the name the uploader's narinfo gave keeps working (CppNix caches the
    /// narinfo it uploaded and later asks for that URL).
    names: std::path::PathBuf,
    token: String,
    max_size: u64,
    dir: tempfile::TempDir,
    staged: Mutex<HashMap<String, Staged>>,
}

impl Uploads {
    /// The NAR hash of the upload named `file` (`<name>.nar[.ext]` below `nar/`), if any.
    pub(crate) fn uploaded_nar_hash(&self, file: &str) -> Option<Hash> {
        if file.contains(['/', '\0']) || file.starts_with('.') {
            return None;
        }
        let text = std::fs::read_to_string(self.names.join(file)).ok()?;
        Hash::parse_bare(text.trim(), HashAlgo::Sha256).ok()
    }

    fn remember(&self, url: &str, nar_hash: &Hash) -> io::Result<()> {
        let Some(file) = url.strip_prefix("nar/") else {
            return Ok(());
        };
        let text = nar_hash.encode(nixkit_store::HashEncoding::Nix32, false);
        let temp = tempfile::NamedTempFile::new_in(&self.names)?;
        std::fs::write(temp.path(), text)?;
        temp.persist(self.names.join(file))
            .map(drop)
            .map_err(|e| e.error)
    }
}

/// A received NAR file: where it is, its sha256 and size as received.
struct Staged {
    file: tempfile::TempPath,
    hash: Hash,
    size: u64,
}

impl Uploads {
    /// Uploads with `token`, NARs of at most `max_size` bytes, staged in a new directory
    /// below `parent` (on the store's file system).
    pub(crate) fn new(token: String, max_size: u64, parent: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(parent)?;
        let names = parent.join("serve-uploaded-nars");
        std::fs::create_dir_all(&names)?;
        Ok(Self {
            names,
            token,
            max_size,
            dir: tempfile::Builder::new()
                .prefix("serve-uploads-")
                .tempdir_in(parent)?,
            staged: Mutex::new(HashMap::new()),
        })
    }
}

fn bad_request(text: &str) -> Response {
    plain(StatusCode::BAD_REQUEST, text)
}

/// Compares without returning early on the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `headers` carry the upload token.
fn authorized(uploads: &Uploads, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let token = uploads.token.as_bytes();
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        return same(bearer.trim().as_bytes(), token);
    }
    if let Some(basic) = value.strip_prefix("Basic ") {
        let Ok(decoded) = nixkit_store::base64::decode(basic.trim()) else {
            return false;
        };
        let password = match decoded.iter().position(|&b| b == b':') {
            Some(i) => &decoded[i + 1..],
            None => &decoded[..],
        };
        return same(password, token);
    }
    false
}

/// Handles a `PUT`.
pub(crate) async fn put(
    state: Arc<AppState>,
    path: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(uploads) = &state.uploads else {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "uploads are not enabled");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    };
    if !authorized(uploads, &headers) {
        let mut r = plain(StatusCode::UNAUTHORIZED, "a valid upload token is required");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"nixkit serve\""),
        );
        return r;
    }
    if path == "/nix-cache-info" {
        // The cache describes itself; an uploaded description is accepted and ignored.
        return plain(StatusCode::OK, "ok");
    }
    if let Some(hash) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix(".narinfo"))
    {
        if !is_hash_part(hash) {
            return bad_request("not a narinfo name");
        }
        return put_narinfo(&state, uploads, hash.to_owned(), body).await;
    }
    if let Some(file) = path.strip_prefix("/nar/") {
        if parse_nar_file(file).is_none() {
            return bad_request("not a NAR file name");
        }
        return put_nar(uploads, format!("nar/{file}"), body).await;
    }
    plain(StatusCode::NOT_FOUND, "not found")
}

/// Streams `body` into `sink`, at most `limit` bytes; returns its sha256 and size.
async fn receive(
    body: Body,
    limit: u64,
    sink: &mut (dyn Write + Send),
) -> Result<(Hash, u64), Response> {
    let mut stream = body.into_data_stream();
    let mut hash = HashSink::new(HashAlgo::Sha256);
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad_request(&format!("reading the body: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {limit} bytes"),
            ));
        }
        hash.update(&chunk);
        tokio::task::block_in_place(|| sink.write_all(&chunk)).map_err(internal)?;
    }
    tokio::task::block_in_place(|| sink.flush()).map_err(internal)?;
    Ok((hash.finish().0, size))
}

async fn put_nar(uploads: &Uploads, url: String, body: Body) -> Response {
    if uploads
        .staged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len()
        >= MAX_STAGED
    {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many NARs are waiting for their narinfo",
        );
    }
    let mut file = match tempfile::NamedTempFile::new_in(uploads.dir.path()) {
        Ok(f) => f,
        Err(e) => return internal(e),
    };
    let (hash, size) = match receive(body, uploads.max_size, file.as_file_mut()).await {
        Ok(got) => got,
        Err(r) => return r,
    };
    // `nar/<filehash>.nar[.ext]`: the name promises the file's hash.
    let name = url
        .trim_start_matches("nar/")
        .split('.')
        .next()
        .unwrap_or_default();
    if name.len() == 52 {
        if let Ok(named) = Hash::parse_bare(name, HashAlgo::Sha256) {
            if named != hash {
                return bad_request(&format!(
                    "the NAR's hash is {}, not the one its name gives",
                    hash.to_sri()
                ));
            }
        }
    }
    let staged = Staged {
        file: file.into_temp_path(),
        hash,
        size,
    };
    uploads
        .staged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(url, staged);
    plain(StatusCode::OK, "ok")
}

async fn put_narinfo(
    state: &Arc<AppState>,
    uploads: &Uploads,
    hash_part: String,
    body: Body,
) -> Response {
    let mut data = Vec::new();
    if let Err(r) = receive(body, MAX_NARINFO, &mut data).await {
        return r;
    }
    let Ok(text) = String::from_utf8(data) else {
        return bad_request("the narinfo is not UTF-8");
    };
    let narinfo = match NarInfo::parse(&state.store_dir, &text) {
        Ok(n) => n,
        Err(e) => return bad_request(&format!("malformed narinfo: {e}")),
    };
    if narinfo.info.path.hash_part() != hash_part {
        return bad_request("the narinfo's StorePath does not match its name");
    }
    let Some(compression) = Compression::parse(&narinfo.compression) else {
        return bad_request(&format!("unknown compression '{}'", narinfo.compression));
    };
    let staged = uploads
        .staged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(narinfo.url.trim_start_matches('/'));
    let path = narinfo.info.path.clone();
    let already = {
        let state = Arc::clone(state);
        tokio::task::spawn_blocking(move || {
            let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
            store.is_valid(&path)
        })
        .await
    };
    match already {
        Ok(Ok(true)) => return plain(StatusCode::OK, "already valid"),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    }
    let Some(staged) = staged else {
        return bad_request(&format!("the NAR '{}' has not been uploaded", narinfo.url));
    };
    if narinfo.file_hash.is_some_and(|h| h != staged.hash)
        || narinfo.file_size.is_some_and(|s| s != staged.size)
    {
        return bad_request("the uploaded NAR file does not match FileHash/FileSize");
    }
    let state2 = Arc::clone(state);
    let (url, nar_hash) = (narinfo.url.clone(), narinfo.info.nar_hash);
    let added = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&staged.file)?;
        let mut nar = compression.decoder(io::BufReader::with_capacity(1 << 16, file))?;
        // Restored and checked without the store's lock (other requests' queries go on),
        // then made valid under it.
        let stager = state2
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stager();
        let added = stager
            .stage_nar_checked(&narinfo.info, &mut nar, &mut || true)
            .and_then(|staged| {
                let store = state2.store.lock().unwrap_or_else(|e| e.into_inner());
                store.commit_staged(vec![staged]).map(drop)
            });
        Ok::<_, io::Error>(added)
    })
    .await;
    match added {
        Ok(Ok(Ok(()))) => match uploads.remember(url.trim_start_matches('/'), &nar_hash) {
            Ok(()) => plain(StatusCode::OK, "ok"),
            Err(e) => internal(e),
        },
        Ok(Ok(Err(
            e @ (AddError::HashMismatch { .. }
            | AddError::SizeMismatch { .. }
            | AddError::CaMismatch { .. }
            | AddError::CaPathMismatch(_)
            | AddError::Restore(_)
            | AddError::Db(_)),
        ))) => bad_request(&e.to_string()),
        Ok(Ok(Err(e))) => internal(e),
        Ok(Err(e)) => bad_request(&format!("decompressing the NAR: {e}")),
        Err(e) => internal(e),
    }
}

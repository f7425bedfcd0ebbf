//! The binary-cache routes: `/nix-cache-info`, `/<hash>.narinfo`, `/nar/<narhash>.nar[.xz|
//! .zst|.bz2]` (also nix-serve's `/nar/<hash>-<narhash>.nar`), `/log/<drv>`. GET and HEAD;
//! PUT goes to `upload.rs`; everything else is 404 or 405. Request paths are parsed strictly (fixed-length nixbase32
//! hashes, one path segment), so no request names a file outside the store or the log
//! directory.

use std::io::{self, Read};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use nixkit_store::binary_cache::{sign, CacheInfo, Compression, NarInfo};
use nixkit_store::local::QueryError;
use nixkit_store::nar::dump_path;
use nixkit_store::{Hash, HashAlgo, HashEncoding, PathInfo, StorePath};

use crate::stream::{acquire_stream, blocking_body};
use crate::AppState;

const NARINFO_TYPE: &str = "text/x-nix-narinfo";
const NAR_TYPE: &str = "application/x-nix-nar";
const CACHE_INFO_TYPE: &str = "text/x-nix-cache-info";
const LOG_TYPE: &str = "text/plain; charset=utf-8";

/// The router: one handler that dispatches on the path.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

pub(crate) fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found")
}

/// Every body stream is taken ([`crate::ServeConfig::max_streams`]): try again later.
fn busy() -> Response {
    let mut r = plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many downloads at once; try again",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// A complete response of known length; for HEAD, the headers alone.
fn fixed(content_type: &'static str, data: Vec<u8>, head: bool) -> Response {
    let len = data.len();
    let mut r = Response::new(if head {
        Body::empty()
    } else {
        Body::from(data)
    });
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.access_log {
        return dispatch(state, &method, &uri, headers, body).await;
    }
    let response = dispatch(Arc::clone(&state), &method, &uri, headers, body).await;
    eprintln!("{method} {} {}", uri.path(), response.status().as_u16());
    response
}

async fn dispatch(
    state: Arc<AppState>,
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let head = *method == Method::HEAD;
    if *method == Method::PUT {
        return crate::upload::put(state, uri.path().to_owned(), headers, body).await;
    }
    if *method != Method::GET && !head {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        let allow = if state.uploads.is_some() {
            "GET, HEAD, PUT"
        } else {
            "GET, HEAD"
        };
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return r;
    }
    let path = uri.path();
    if path == "/nix-cache-info" {
        let info = CacheInfo {
            store_dir: Some(state.store_dir.as_str().to_owned()),
            want_mass_query: state.want_mass_query,
            priority: state.priority,
        };
        return fixed(CACHE_INFO_TYPE, info.to_text().into_bytes(), head);
    }
    if let Some(hash) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix(".narinfo"))
    {
        return narinfo(state, hash.to_owned(), head).await;
    }
    if let Some(file) = path.strip_prefix("/nar/") {
        return nar(state, file.to_owned(), head).await;
    }
    if let Some(drv) = path.strip_prefix("/log/") {
        return log(state, drv.to_owned(), head).await;
    }
    not_found()
}

/// True for a 32-character nixbase32 hash part.
pub(crate) fn is_hash_part(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_lowercase() && !b"eotu".contains(&b)))
}

/// Runs a store query on the blocking pool; `None` if the task failed.
async fn query<T, F>(state: &Arc<AppState>, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce(&nixkit_store::local::LocalStore) -> T + Send + 'static,
{
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
        f(&store)
    })
    .await
    .ok()
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("error: {e}"))
}

/// The path's info, found by its hash part.
async fn info_by_hash_part(
    state: &Arc<AppState>,
    hash: String,
) -> Result<Option<PathInfo>, Response> {
    let found = query(state, move |store| {
        let Some(path) = store.query_path_from_hash_part(&hash)? else {
            return Ok(None);
        };
        store.query_path_info(&path)
    })
    .await
    .ok_or_else(|| internal("store query task failed"))?;
    found.map_err(internal)
}

async fn narinfo(state: Arc<AppState>, hash: String, head: bool) -> Response {
    if !is_hash_part(&hash) {
        return not_found();
    }
    let mut info = match info_by_hash_part(&state, hash).await {
        Ok(Some(info)) => info,
        Ok(None) => return not_found(),
        Err(r) => return r,
    };
    if let Some(key) = &state.sign_key {
        sign(&state.store_dir, &mut info, key);
    }
    {
        let mut known = state.by_nar_hash.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a client walking a huge store cannot grow it without end.
        if known.len() >= 100_000 {
            known.clear();
        }
        known.insert(info.nar_hash, info.path.clone());
    }
    let url = format!(
        "nar/{}.nar",
        info.nar_hash.encode(HashEncoding::Nix32, false)
    );
    let text = NarInfo {
        info,
        url,
        compression: "none".to_owned(),
        file_hash: None,
        file_size: None,
    }
    .to_text(&state.store_dir);
    fixed(NARINFO_TYPE, text.into_bytes(), head)
}

/// Splits `<name>.nar[.ext]` into the name and the compression the extension asks for.
pub(crate) fn parse_nar_file(file: &str) -> Option<(&str, Compression)> {
    for c in [
        Compression::None,
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
    ] {
        let suffix = format!(".nar{}", c.extension());
        if let Some(name) = file.strip_suffix(suffix.as_str()) {
            // `.nar` is a suffix of nothing else, but `x.nar.xz` also ends in neither
            // `.nar` alone: the first match with a valid name wins.
            if !name.contains(['.', '/']) {
                return Some((name, c));
            }
        }
    }
    None
}

/// The valid path with NAR hash `nar_hash` (and hash part `hash`, nix-serve's form).
async fn path_by_nar_hash(
    state: &Arc<AppState>,
    hash_part: Option<String>,
    nar_hash: Hash,
) -> Result<Option<(StorePath, u64)>, Response> {
    let known = state
        .by_nar_hash
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&nar_hash)
        .cloned();
    let found = query(state, move |store| {
        let matching = |candidates: Vec<StorePath>| -> Result<_, QueryError> {
            for p in candidates {
                if let Some(info) = store.query_path_info(&p)? {
                    if info.nar_hash == nar_hash {
                        return Ok(Some((p, info.nar_size)));
                    }
                }
            }
            Ok(None)
        };
        if let Some(h) = &hash_part {
            return matching(store.query_path_from_hash_part(h)?.into_iter().collect());
        }
        // A path remembered from its narinfo is checked again (it may have been deleted
        // since); otherwise, or then, the database is searched.
        if let Some(found) = matching(known.into_iter().collect())? {
            return Ok(Some(found));
        }
        matching(store.query_paths_by_nar_hash(&nar_hash)?)
    })
    .await
    .ok_or_else(|| internal("store query task failed"))?;
    found.map_err(|e: QueryError| internal(e))
}

async fn nar(state: Arc<AppState>, file: String, head: bool) -> Response {
    let Some((name, compression)) = parse_nar_file(&file) else {
        return not_found();
    };
    let (hash_part, nar_hash) = match name.split_once('-') {
        Some((h, n)) if is_hash_part(h) => (Some(h.to_owned()), n),
        Some(_) => return not_found(),
        None => (None, name),
    };
    if nar_hash.len() != 52 {
        return not_found();
    }
    let Ok(nar_hash) = Hash::parse_bare(nar_hash, HashAlgo::Sha256) else {
        return not_found();
    };
    let found = match path_by_nar_hash(&state, hash_part, nar_hash).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    // Not a NAR hash: maybe the name an upload gave its NAR (its file hash).
    let found = match (found, state.uploads.as_ref()) {
        (Some(found), _) => Some(found),
        (None, Some(uploads)) => match uploads.uploaded_nar_hash(&file) {
            Some(h) => match path_by_nar_hash(&state, None, h).await {
                Ok(found) => found,
                Err(r) => return r,
            },
            None => None,
        },
        (None, None) => None,
    };
    let Some((path, nar_size)) = found else {
        return not_found();
    };
    let real = state.real_store.join(path.to_base_name());
    let body = if head {
        Body::empty()
    } else {
        let Some(permit) = acquire_stream(&state.streams, state.stream_wait).await else {
            return busy();
        };
        blocking_body(state.send_timeout, permit, move |w| {
            let mut enc = compression.encoder(w)?;
            dump_path(&real, &mut enc).map_err(io::Error::other)?;
            enc.finish()?;
            Ok(())
        })
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(NAR_TYPE));
    if compression == Compression::None {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(nar_size));
    }
    r
}

async fn log(state: Arc<AppState>, drv: String, head: bool) -> Response {
    // A `.drv` base name: `<hash>-<name>.drv`, one path segment.
    let ok = drv.len() > 33
        && is_hash_part(&drv[..32])
        && drv.as_bytes()[32] == b'-'
        && drv.ends_with(".drv")
        && !drv.contains(['/', '\0'])
        && drv != "."
        && drv != "..";
    if !ok {
        return not_found();
    }
    let (a, b) = drv.split_at(2);
    let plain_file = state.log_dir.join(a).join(b);
    let bz2_file = state.log_dir.join(a).join(format!("{b}.bz2"));
    let (file, compressed) = if plain_file.is_file() {
        (plain_file, false)
    } else if bz2_file.is_file() {
        (bz2_file, true)
    } else {
        return not_found();
    };
    let body = if head {
        Body::empty()
    } else {
        let Some(permit) = acquire_stream(&state.streams, state.stream_wait).await else {
            return busy();
        };
        blocking_body(state.send_timeout, permit, move |w| {
            let f = std::fs::File::open(&file)?;
            let mut reader: Box<dyn Read> = if compressed {
                Box::new(bzip2::read::MultiBzDecoder::new(f))
            } else {
                Box::new(f)
            };
            io::copy(&mut reader, w)?;
            Ok(())
        })
    };
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(LOG_TYPE));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_names_are_parsed_strictly() {
        assert!(is_hash_part("0123456789abcdfghijklmnpqrsvwxyz"));
        assert!(!is_hash_part("0123456789abcdfghijklmnpqrsvwxye"));
        assert!(!is_hash_part("short"));
        let n = "1kdg5s0vhwiwa100i9x8vzhq94bfvqdivj5g62v8nwpi58c1zcn3";
        assert_eq!(
            parse_nar_file(&format!("{n}.nar")),
            Some((n, Compression::None))
        );
        assert_eq!(
            parse_nar_file(&format!("{n}.nar.zst")),
            Some((n, Compression::Zstd))
        );
        assert_eq!(
            parse_nar_file(&format!("{n}.nar.xz")),
            Some((n, Compression::Xz))
        );
        assert_eq!(parse_nar_file(&format!("{n}.nar.gz")), None);
        assert_eq!(parse_nar_file("../x.nar"), None);
        assert_eq!(parse_nar_file("a/b.nar"), None);
    }
}

//! Response bodies produced by blocking code (NAR dumps, compression, log files): the
//! producer runs on a thread of its own and writes into a bounded channel of chunks, so at
//! most a few chunks per response are in memory however large the NAR. A client that goes
//! away makes the producer's next write fail, which stops the dump; a client that stops
//! reading makes it fail after the send timeout. Producers do not run on tokio's blocking
//! pool: one waiting on a slow client there would hold a thread of the pool that store
//! queries need, and enough slow clients would stall every other request.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Bytes per chunk sent to the client.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight per response.
const DEPTH: usize = 8;

/// Chunk buffers once sent, for producers to fill again: a fresh buffer per chunk was
/// mapped and faulted in anew each time (a sixth of the server's CPU time serving NARs).
type ChunkPool = Arc<Mutex<Vec<Vec<u8>>>>;

/// The most buffers the pool keeps (4 MiB).
const POOL_MAX: usize = 64;

/// The server's pool, shared by all responses.
fn shared_pool() -> ChunkPool {
    static POOL: std::sync::OnceLock<ChunkPool> = std::sync::OnceLock::new();
    Arc::clone(POOL.get_or_init(ChunkPool::default))
}

/// A chunk on its way to the client; its buffer goes back to the pool when sent.
struct PooledChunk {
    buf: Vec<u8>,
    pool: ChunkPool,
}

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(buf);
        }
    }
}

/// A writer into the response channel.
pub(crate) struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    pool: ChunkPool,
    runtime: Handle,
    timeout: Duration,
}

impl ChannelWriter {
    /// Sends `item`, waiting at most the send timeout for room.
    fn send_item(&self, item: io::Result<Bytes>) -> io::Result<()> {
        match self
            .runtime
            .block_on(self.tx.send_timeout(item, self.timeout))
        {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "client went away",
            )),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("client took nothing for {:?}", self.timeout),
            )),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let spare = self
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let chunk = PooledChunk {
            buf: std::mem::replace(&mut self.buf, spare),
            pool: Arc::clone(&self.pool),
        };
        self.send_item(Ok(Bytes::from_owner(chunk)))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The right to produce one response body (see [`acquire_stream`]).
pub(crate) type StreamPermit = tokio::sync::OwnedSemaphorePermit;

/// One of the server's body streams, waiting up to `wait` for one to end; `None` when
/// none did (the caller answers 503).
pub(crate) async fn acquire_stream(
    streams: &std::sync::Arc<tokio::sync::Semaphore>,
    wait: Duration,
) -> Option<StreamPermit> {
    match tokio::time::timeout(wait, streams.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Some(permit),
        _ => None,
    }
}

/// A streaming body whose bytes `produce` writes, on a thread of its own; a client that
/// takes nothing for `timeout` ends it. An error of `produce` ends the body with an error,
/// so the client sees a broken response (never a short one that looks complete). Must be
/// called on the runtime.
pub(crate) fn blocking_body<F>(timeout: Duration, permit: StreamPermit, produce: F) -> Body
where
    F: FnOnce(&mut ChannelWriter) -> io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(DEPTH);
    let mut writer = ChannelWriter {
        tx,
        buf: Vec::with_capacity(CHUNK),
        pool: shared_pool(),
        runtime: Handle::current(),
        timeout,
    };
    let spawned = std::thread::Builder::new()
        .name("nixkit-serve-body".to_owned())
        .spawn(move || {
            // Held while the body is produced: one of the server's `max_streams`.
            let _permit = permit;
            let result = produce(&mut writer).and_then(|()| writer.flush());
            if let Err(e) = result {
                // The client may be gone; then nobody needs to hear why.
                let _ = writer.send_item(Err(e));
            }
        });
    if let Err(e) = spawned {
        return Body::from_stream(futures_util::stream::once(async move {
            Err::<Bytes, io::Error>(e)
        }));
    }
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}

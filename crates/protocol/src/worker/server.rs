//! Daemon-side stream helpers: reading the data a client sends with an operation (framed
//! from 1.23, pulled with `STDERR_READ` before) and sending data back with `STDERR_WRITE`.
//! The request loop itself (trust, store access, logging) belongs to the daemon.

use std::io::{self, Read, Write};

use super::stderr::{STDERR_READ, STDERR_WRITE};
use crate::framed::FramedReader;
use crate::wire;

/// A [`Read`] that pulls the client's data on demand, as CppNix's daemon does for
/// `ImportPaths` and (before 1.23) `AddToStoreNar`: each read sends `STDERR_READ` with the
/// room left in the buffer and reads back a string of at most that many bytes.
#[derive(Debug)]
pub struct TunnelSource<'a, R: Read, W: Write> {
    reader: &'a mut R,
    writer: &'a mut W,
}

impl<'a, R: Read, W: Write> TunnelSource<'a, R, W> {
    /// Pulls from `reader`, asking on `writer`.
    pub fn new(reader: &'a mut R, writer: &'a mut W) -> Self {
        Self { reader, writer }
    }
}

fn to_io(e: wire::WireError) -> io::Error {
    match e {
        wire::WireError::Io(e) => e,
        wire::WireError::Truncated { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, e),
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

impl<R: Read, W: Write> Read for TunnelSource<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(64 * 1024);
        wire::write_u64(self.writer, STDERR_READ).map_err(to_io)?;
        wire::write_u64(self.writer, want as u64).map_err(to_io)?;
        self.writer.flush()?;
        let limits = wire::Limits {
            max_string: want as u64,
            max_items: 0,
        };
        let data = wire::read_bytes(self.reader, &limits, "tunnelled data").map_err(to_io)?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

/// A [`Write`] that sends what is written to the client as `STDERR_WRITE` messages.
#[derive(Debug)]
pub struct TunnelSink<'a, W: Write> {
    writer: &'a mut W,
}

impl<'a, W: Write> TunnelSink<'a, W> {
    /// Sends on `writer`.
    pub fn new(writer: &'a mut W) -> Self {
        Self { writer }
    }
}

impl<W: Write> Write for TunnelSink<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        wire::write_u64(self.writer, STDERR_WRITE).map_err(to_io)?;
        wire::write_bytes(self.writer, data).map_err(to_io)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Where the NAR of an `AddToStoreNar` comes from at the negotiated `minor`: framed from
/// 1.23, pulled with `STDERR_READ` before.
#[derive(Debug)]
pub enum UploadSource<'a, R: Read, W: Write> {
    /// 1.23+.
    Framed(FramedReader<&'a mut R>),
    /// 1.21–1.22.
    Tunnel(TunnelSource<'a, R, W>),
}

impl<'a, R: Read, W: Write> UploadSource<'a, R, W> {
    /// The source for `minor`.
    pub fn new(minor: u64, reader: &'a mut R, writer: &'a mut W) -> Self {
        if minor >= 23 {
            UploadSource::Framed(FramedReader::new(reader))
        } else {
            UploadSource::Tunnel(TunnelSource::new(reader, writer))
        }
    }

    /// Reads and drops whatever the client still sends (the rest of the frames), so that
    /// the next request starts where it should even after an error. A tunnel needs nothing.
    pub fn drain(self) -> io::Result<()> {
        match self {
            UploadSource::Framed(f) => f.drain().map(drop),
            UploadSource::Tunnel(_) => Ok(()),
        }
    }
}

impl<R: Read, W: Write> Read for UploadSource<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            UploadSource::Framed(f) => f.read(buf),
            UploadSource::Tunnel(t) => t.read(buf),
        }
    }
}

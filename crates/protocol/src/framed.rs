//! The framed stream of worker protocol 1.23+ (NAR uploads: `AddToStoreNar`,
//! `AddToStore`, `AddMultipleToStore`): chunks each preceded by their length as a `u64`,
//! unpadded, ended by an empty chunk. Also a NAR copier that finds the end of a NAR sent
//! bare on the stream by parsing it.

use std::io::{self, Read, Write};

use nixkit_store::nar::{parse_nar, NarVisitor, ParseNarError};

/// The chunk size [`FramedWriter`] buffers before sending a frame.
pub const FRAME_SIZE: usize = 32 * 1024;

/// A [`Write`] that sends what is written as frames; [`FramedWriter::finish`] sends the
/// closing empty frame. Dropping it without `finish` leaves the stream unterminated.
#[derive(Debug)]
pub struct FramedWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> FramedWriter<W> {
    /// Frames onto `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(FRAME_SIZE),
        }
    }

    fn send_frame(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner
                .write_all(&(self.buf.len() as u64).to_le_bytes())?;
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Sends what is buffered and the terminating empty frame; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.send_frame()?;
        self.inner.write_all(&0u64.to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for FramedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = FRAME_SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == FRAME_SIZE {
            self.send_frame()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_frame()?;
        self.inner.flush()
    }
}

/// A [`Read`] over a framed stream: yields the frames' bytes, then end of file at the empty
/// frame. Reads nothing past the terminator. Frame lengths need no limit: the data is
/// copied into the caller's buffer, never allocated at the declared size.
#[derive(Debug)]
pub struct FramedReader<R: Read> {
    inner: R,
    left_in_frame: u64,
    done: bool,
}

impl<R: Read> FramedReader<R> {
    /// Reads frames from `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            left_in_frame: 0,
            done: false,
        }
    }

    /// Reads (and drops) whatever is left up to the terminator, so the stream is positioned
    /// after it; returns the inner reader.
    pub fn drain(mut self) -> io::Result<R> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.inner)
    }

    /// True once the terminating empty frame was read.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl<R: Read> Read for FramedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left_in_frame == 0 {
            let mut len = [0u8; 8];
            self.inner.read_exact(&mut len)?;
            self.left_in_frame = u64::from_le_bytes(len);
            if self.left_in_frame == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left_in_frame).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "framed stream ended inside a frame",
            ));
        }
        self.left_in_frame -= n as u64;
        Ok(n)
    }
}

/// A reader that copies every byte it reads into a writer.
struct Tee<'a, R: Read, W: Write> {
    reader: &'a mut R,
    copy: &'a mut W,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

struct SkipEverything;

impl NarVisitor for SkipEverything {
    fn directory(&mut self, _path: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn regular_file(
        &mut self,
        _path: &[u8],
        _executable: bool,
        _size: u64,
        _contents: &mut dyn Read,
    ) -> io::Result<()> {
        Ok(())
    }
    fn symlink(&mut self, _path: &[u8], _target: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// Copies one NAR from `reader` to `out`, parsing it to find where it ends (the worker
/// protocol's `NarFromPath` and the serve protocol's `DumpStorePath` send it bare).
/// Returns its size. Reads exactly the NAR's bytes.
pub fn copy_nar(reader: &mut impl Read, out: &mut impl Write) -> Result<u64, ParseNarError> {
    let mut tee = Tee { reader, copy: out };
    parse_nar(&mut tee, &mut SkipEverything)
}

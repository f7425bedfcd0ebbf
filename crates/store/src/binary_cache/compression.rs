//! NAR compression for binary caches: none, xz, zstd and bzip2 (the latter read by
//! substitution, as older caches such as CppNix's defaults before xz use it).

use std::io::{self, Read, Write};

/// How a NAR file in a binary cache is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `Compression: none`, `.nar`.
    None,
    /// `Compression: xz`, `.nar.xz`.
    Xz,
    /// `Compression: zstd`, `.nar.zst`.
    Zstd,
    /// `Compression: bzip2`, `.nar.bz2`.
    Bzip2,
}

impl Compression {
    /// Parses a narinfo `Compression` value (a missing one means bzip2, as in CppNix);
    /// `None` for unsupported ones (e.g. brotli).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "xz" => Some(Self::Xz),
            "zstd" => Some(Self::Zstd),
            "bzip2" => Some(Self::Bzip2),
            _ => None,
        }
    }

    /// The narinfo `Compression` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
        }
    }

    /// The file extension after `.nar`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Xz => ".xz",
            Self::Zstd => ".zst",
            Self::Bzip2 => ".bz2",
        }
    }

    /// Compresses `data`.
    pub fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Self::None => Ok(data.to_vec()),
            Self::Xz => {
                let mut enc = xz2::write::XzEncoder::new(Vec::new(), 6);
                enc.write_all(data)?;
                enc.finish()
            }
            Self::Zstd => zstd::stream::encode_all(data, 3),
            Self::Bzip2 => {
                let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
                enc.write_all(data)?;
                enc.finish()
            }
        }
    }

    /// A reader that decompresses `input` as it is read (nothing is buffered beyond the
    /// decoders' own small windows).
    pub fn decoder<'a, R: Read + 'a>(self, input: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Self::None => Box::new(input),
            Self::Xz => Box::new(xz2::read::XzDecoder::new(input)),
            Self::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
            Self::Bzip2 => Box::new(bzip2::read::BzDecoder::new(input)),
        })
    }

    /// A writer that compresses into `output`; `finish` must be called at the end.
    pub fn encoder<'a, W: Write + 'a>(self, output: W) -> io::Result<Encoder<'a, W>> {
        Ok(match self {
            Self::None => Encoder::None(output),
            Self::Xz => Encoder::Xz(xz2::write::XzEncoder::new(output, 6)),
            Self::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(output, 3)?),
            Self::Bzip2 => Encoder::Bzip2(bzip2::write::BzEncoder::new(
                output,
                bzip2::Compression::default(),
            )),
        })
    }
}

/// A compressing writer of one of the [`Compression`]s.
pub enum Encoder<'a, W: Write> {
    /// Uncompressed.
    None(W),
    /// xz.
    Xz(xz2::write::XzEncoder<W>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'a, W>),
    /// bzip2.
    Bzip2(bzip2::write::BzEncoder<W>),
}

impl<W: Write> Encoder<'_, W> {
    /// Writes the end of the compressed stream; returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Self::None(w) => Ok(w),
            Self::Xz(e) => e.finish(),
            Self::Zstd(e) => e.finish(),
            Self::Bzip2(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::None(w) => w.write(buf),
            Self::Xz(e) => e.write(buf),
            Self::Zstd(e) => e.write(buf),
            Self::Bzip2(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::None(w) => w.flush(),
            Self::Xz(e) => e.flush(),
            Self::Zstd(e) => e.flush(),
            Self::Bzip2(e) => e.flush(),
        }
    }
}

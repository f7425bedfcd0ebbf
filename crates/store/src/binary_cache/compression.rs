//! NAR compression for binary caches: none, xz and zstd.

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
}

impl Compression {
    /// Parses a narinfo `Compression` value; `None` for unsupported ones (e.g. bzip2).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "xz" => Some(Self::Xz),
            "zstd" => Some(Self::Zstd),
            _ => None,
        }
    }

    /// The narinfo `Compression` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
        }
    }

    /// The file extension after `.nar`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Xz => ".xz",
            Self::Zstd => ".zst",
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
        }
    }

    /// A reader that decompresses `input`.
    pub fn decoder<'a>(self, input: &'a [u8]) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Self::None => Box::new(input),
            Self::Xz => Box::new(xz2::read::XzDecoder::new(input)),
            Self::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        })
    }
}

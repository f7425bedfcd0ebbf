//! The export format (`nix-store --export`), which the serve protocol's `ImportPaths` and
//! `ExportPaths` carry: per path a 1, its NAR, a magic number, the path, its references,
//! its deriver and a 0 (no signature); a 0 ends the stream.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use nixkit_store::StorePath;

use crate::error::ProtocolError;
use crate::framed::copy_nar;
use crate::wire::{self, WireError};
use crate::worker::types::Ctx;

/// The magic number after each NAR (`"NIXE"`).
pub const EXPORT_MAGIC: u64 = 0x4558_494e;

/// One path of an export stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedPath {
    /// The path.
    pub path: StorePath,
    /// Its NAR.
    pub nar: Vec<u8>,
    /// Its references.
    pub references: BTreeSet<StorePath>,
    /// Its deriver.
    pub deriver: Option<StorePath>,
}

/// Writes an export stream of `paths` (in order: dependencies first).
pub fn write_export<'a>(
    w: &mut impl Write,
    ctx: &Ctx,
    paths: impl IntoIterator<Item = &'a ExportedPath>,
) -> Result<(), WireError> {
    for p in paths {
        wire::write_u64(w, 1)?;
        w.write_all(&p.nar)?;
        wire::write_u64(w, EXPORT_MAGIC)?;
        wire::write_path(w, &ctx.store, &p.path)?;
        wire::write_paths(w, &ctx.store, p.references.iter())?;
        wire::write_opt_path(w, &ctx.store, p.deriver.as_ref())?;
        wire::write_u64(w, 0)?;
    }
    wire::write_u64(w, 0)
}

/// Reads an export stream. Each NAR is held in memory: `max_nar` bounds its size.
pub fn read_export(
    r: &mut impl Read,
    ctx: &Ctx,
    max_nar: u64,
) -> Result<Vec<ExportedPath>, ProtocolError> {
    let mut out = Vec::new();
    loop {
        match wire::read_u64(r, "export item marker")? {
            0 => return Ok(out),
            1 => {}
            v => {
                return Err(ProtocolError::Wire(WireError::BadValue {
                    what: "export item marker",
                    detail: format!("{v} (expected 0 or 1)"),
                }))
            }
        }
        let mut nar = Vec::new();
        let mut limited = LimitedWriter {
            inner: &mut nar,
            left: max_nar,
        };
        copy_nar(r, &mut limited)?;
        let magic = wire::read_u64(r, "export magic")?;
        if magic != EXPORT_MAGIC {
            return Err(ProtocolError::Wire(WireError::BadValue {
                what: "export magic",
                detail: format!("{magic:#x}"),
            }));
        }
        let path = wire::read_path(r, &ctx.store, &ctx.limits, "exported path")?;
        let references = wire::read_paths(r, &ctx.store, &ctx.limits, "references")?;
        let deriver = wire::read_opt_path(r, &ctx.store, &ctx.limits, "deriver")?;
        if wire::read_u64(r, "signature flag")? != 0 {
            // CppNix 2.x never signs exports; a signature block is not understood here.
            return Err(ProtocolError::Wire(WireError::BadValue {
                what: "export signature",
                detail: "signed exports are not supported".into(),
            }));
        }
        out.push(ExportedPath {
            path,
            nar,
            references,
            deriver,
        });
        if out.len() as u64 > ctx.limits.max_items {
            return Err(ProtocolError::Wire(WireError::TooManyItems {
                what: "exported paths",
                len: out.len() as u64,
                limit: ctx.limits.max_items,
            }));
        }
    }
}

struct LimitedWriter<'a> {
    inner: &'a mut Vec<u8>,
    left: u64,
}

impl Write for LimitedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other("NAR larger than the limit"));
        }
        self.left -= buf.len() as u64;
        self.inner.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

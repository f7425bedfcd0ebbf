//! The Nix ARchive format: streaming serialisation of a file system tree ([`dump_path`]),
//! a strict streaming parser ([`parse_nar`]) with a file system restorer ([`restore_path`]),
//! and the NAR hash of a path ([`nar_hash`]).
//!
//! Every token is a little-endian `u64` length, the bytes, and zero padding to a multiple of 8.

mod dump;
mod parse;
mod restore;

pub use dump::{
    dump_from, dump_path, nar_hash, write_flat_file_nar, DumpError, NarNode, NarSource,
};
pub use parse::{parse_nar, NarVisitor, ParseNarError};
pub use restore::{restore_path, restore_path_with, RestoreError, WrittenHook, WRITTEN_CHUNK};

/// The magic string every NAR starts with.
pub const NAR_MAGIC: &[u8] = b"nix-archive-1";
/// Longest accepted directory entry name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Longest accepted symlink target, in bytes.
pub const MAX_TARGET_LEN: usize = 4095;
/// Deepest directory nesting, shared by the writer ([`dump_path`]) and the parser
/// ([`parse_nar`]), so every NAR nixkit writes it can read. CppNix sets no limit of its own,
/// but it reads and writes trees through full paths, so no tree deeper than `PATH_MAX` (4096
/// bytes, at least two bytes a level) can be dumped or restored there: 2048 levels is more
/// than any NAR CppNix can make or unpack, and bounds the parser's memory. Neither side
/// recurses, so the limit is not what protects the stack.
pub const MAX_DEPTH: usize = 2048;

/// Zero padding needed after `len` bytes.
#[inline]
pub(crate) const fn padding_len(len: u64) -> usize {
    ((8 - (len % 8)) % 8) as usize
}

/// True if `name` may appear as a directory entry.
pub(crate) fn is_valid_entry_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name != b"."
        && name != b".."
        && name.len() <= MAX_NAME_LEN
        && !name.iter().any(|&b| b == b'/' || b == 0)
}

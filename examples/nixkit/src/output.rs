//! Standard output and error that never panic: std's `println!`/`eprintln!` panic when the
//! stream is a closed pipe (EPIPE) or a full disk (ENOSPC), and the release build aborts on
//! a panic. Commands write their results with [`bytes()`] (or to a locked standard output) and end with
//! [`write_failed`] when standard output fails; diagnostics go through the crate's
//! `eprintln!`, which ignores a failing standard error.

use std::io::{self, Write};

/// Writes `data` to standard output and flushes it.
pub(crate) fn bytes(data: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(data)?;
    out.flush()
}

/// The exit status after standard output failed with `error`: a closed pipe (the reader
/// has all it wanted, as with `| head`) ends the command quietly and successfully, as
/// CppNix's line output does; anything else, such as a full disk, is reported and fails.
pub(crate) fn write_failed(error: &io::Error) -> i32 {
    if error.kind() == io::ErrorKind::BrokenPipe {
        0
    } else {
        eprintln!("error: writing to standard output: {error}");
        1
    }
}

/// Reports `message` as `error: MESSAGE` on standard error. A message that is already a
/// rendered diagnostic (an evaluation error, which starts with `error: `) is written as it
/// is, so no `error: error:` appears. Bytes that were not UTF-8 go out as they came in.
pub(crate) fn error(message: &str) {
    let text = if message.starts_with("error: ") {
        format!("{}\n", message.trim_end_matches('\n'))
    } else {
        format!("error: {message}\n")
    };
    let _ = io::stderr().write_all(&nixkit_syntax::encode_bytes(&text));
}

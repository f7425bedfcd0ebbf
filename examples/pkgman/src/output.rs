//! Output that never panics (a closed pipe or a full disk is an error, not a panic); the
//! build progress display is `nixkit_core::progress`, shared with `nixkit build`.

use std::fmt::Display;
use std::io::{self, Write};

/// Writes `text` and a newline to standard output; a closed pipe ends quietly.
pub(crate) fn line(text: &dyn Display) -> Result<(), String> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing to standard output: {e}")),
    }
}

/// Writes a message line to standard error (a failing standard error is ignored).
pub(crate) fn err_line(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}

/// Reports an error as `error: MESSAGE`.
pub(crate) fn error(message: &str) {
    if message.starts_with("error: ") {
        err_line(message.trim_end());
    } else {
        err_line(&format!("error: {message}"));
    }
}

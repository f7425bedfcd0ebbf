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

/// Writes a message line to standard error (a failing standard error is ignored), after
/// clearing the progress display's status line.
pub(crate) fn err_line(text: &str) {
    clear_progress();
    let _ = writeln!(io::stderr(), "{text}");
}

/// The progress display of builds and downloads (a live status line on a terminal).
static PROGRESS: std::sync::OnceLock<std::sync::Arc<nixkit_core::progress::Progress>> =
    std::sync::OnceLock::new();

/// The progress display (one per process; `quiet` leaves builders' output out).
pub(crate) fn progress(quiet: bool) -> std::sync::Arc<nixkit_core::progress::Progress> {
    PROGRESS
        .get_or_init(|| std::sync::Arc::new(nixkit_core::progress::Progress::new(quiet)))
        .clone()
}

/// Clears the progress display's status line, if it was shown.
pub(crate) fn clear_progress() {
    if let Some(p) = PROGRESS.get() {
        p.finish();
    }
}

/// Reports an error as `error: MESSAGE`.
pub(crate) fn error(message: &str) {
    if message.starts_with("error: ") {
        err_line(message.trim_end());
    } else {
        err_line(&format!("error: {message}"));
    }
}

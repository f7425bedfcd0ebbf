//! Output that never panics (a closed pipe or a full disk is an error, not a panic) and
//! the build progress display: plain lines, or a status line on a terminal.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

use nixkit_sandbox::Event;
use nixkit_store::StoreDir;

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

/// Build progress.
pub(crate) struct Progress {
    tty: bool,
    quiet: bool,
    store_dir: StoreDir,
    state: Mutex<(usize, usize, usize)>,
}

impl Progress {
    pub(crate) fn new(quiet: bool, store_dir: StoreDir) -> Self {
        Self {
            tty: io::stderr().is_terminal(),
            quiet,
            store_dir,
            state: Mutex::new((0, 0, 0)),
        }
    }

    pub(crate) fn event(&self, e: Event<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K");
        }
        match e {
            Event::Planned { builds } => {
                st.0 = builds;
                if builds > 0 && !self.tty {
                    let _ = writeln!(err, "these {builds} derivations will be built");
                }
            }
            Event::Started { drv } => {
                st.2 += 1;
                if !self.tty {
                    let _ = writeln!(err, "building '{}'...", self.store_dir.print_path(drv));
                }
            }
            Event::Output { data, .. } => {
                if !self.quiet {
                    let _ = err.write_all(data);
                }
            }
            Event::Finished { ok, .. } => {
                st.2 = st.2.saturating_sub(1);
                if ok {
                    st.1 += 1;
                }
            }
            Event::Substituted { path } => {
                if !self.tty {
                    let _ = writeln!(
                        err,
                        "copied '{}' from a binary cache",
                        self.store_dir.print_path(path)
                    );
                }
            }
        }
        if self.tty && st.0 > 0 {
            let _ = write!(err, "[{}/{} built, {} running]", st.1, st.0, st.2);
            if st.1 == st.0 {
                let _ = write!(err, "\r\x1b[K");
            }
        }
        let _ = err.flush();
    }
}

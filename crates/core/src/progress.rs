//! Build progress on standard error, as `nix-build` shows it: plain lines when
//! standard error is not a terminal, a live status line when it is.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use nixkit_sandbox::Event;
use nixkit_store::StoreDir;

/// Progress: plain lines when stderr is not a terminal, a live status line when it is.
pub struct Progress {
    tty: bool,
    quiet: bool,
    state: Mutex<(usize, usize, usize, String)>,
}

impl Progress {
    /// Progress on standard error; `quiet` (`-Q`) leaves builders' output out.
    pub fn new(quiet: bool) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            quiet,
            state: Mutex::new((0, 0, 0, String::new())),
        }
    }

    fn status(&self, st: &(usize, usize, usize, String)) -> String {
        format!("[{}/{} built, {} running] {}", st.1, st.0, st.2, st.3)
    }

    /// Shows one realisation event.
    pub fn event(&self, store_dir: &StoreDir, e: Event<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K");
        }
        match e {
            Event::Planned { builds } => {
                st.0 = builds;
                if !self.tty && builds > 0 {
                    let _ = writeln!(err, "these {builds} derivations will be built");
                }
            }
            Event::Started { drv } => {
                st.2 += 1;
                st.3 = format!("building {}", drv.name());
                if !self.tty {
                    let _ = writeln!(err, "building '{}'...", store_dir.print_path(drv));
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
            Event::Substituting { path } => {
                st.3 = format!("copying {} from a binary cache", path.name());
                if !self.tty {
                    let _ = writeln!(
                        err,
                        "copying path '{}' from a binary cache...",
                        store_dir.print_path(path)
                    );
                }
            }
            Event::Substituted { path } => {
                st.3.clear();
                if !self.tty {
                    let _ = writeln!(
                        err,
                        "copied '{}' from a binary cache",
                        store_dir.print_path(path)
                    );
                }
            }
        }
        if self.tty {
            let _ = write!(err, "{}", self.status(&st));
        }
        let _ = err.flush();
    }

    /// Clears the status line.
    pub fn finish(&self) {
        if self.tty {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

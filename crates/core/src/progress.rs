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

/// Download progress shared by every fetch of the process: bytes so far, the current URL,
/// and when the last status line was drawn.
struct Downloads {
    tty: bool,
    started: Option<std::time::Instant>,
    drawn: Option<std::time::Instant>,
    bytes: u64,
    url: String,
}

/// `1234567` as `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The status line of a download: URL, bytes so far and the rate.
pub fn download_status(url: &str, bytes: u64, elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    format!(
        "[downloading '{url}': {}, {}/s]",
        human_bytes(bytes),
        human_bytes((bytes as f64 / secs) as u64)
    )
}

impl Downloads {
    fn chunk(&mut self, url: &str, n: u64, err: &mut dyn Write) {
        let now = std::time::Instant::now();
        if self.url != url {
            self.url = url.to_owned();
            self.bytes = 0;
            self.started = Some(now);
            if !self.tty {
                let _ = writeln!(err, "downloading '{url}'...");
            }
        }
        self.bytes += n;
        let due = self
            .drawn
            .map_or(true, |t| now.duration_since(t).as_millis() >= 100);
        if self.tty && due {
            self.drawn = Some(now);
            let elapsed = now.duration_since(self.started.unwrap_or(now));
            let _ = write!(err, "\r\x1b[K{}", download_status(url, self.bytes, elapsed));
            let _ = err.flush();
        }
    }
}

/// A progress callback for [`nixkit_fetch::HttpFetcher`]: a live status line (bytes, rate)
/// on standard error when it is a terminal, one `downloading '…'...` line per URL
/// otherwise.
pub fn download_reporter() -> nixkit_fetch::ProgressFn {
    let state = Mutex::new(Downloads {
        tty: std::io::stderr().is_terminal(),
        started: None,
        drawn: None,
        bytes: 0,
        url: String::new(),
    });
    std::sync::Arc::new(move |url: &str, n: u64| {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.chunk(url, n, &mut std::io::stderr().lock());
    })
}

/// Substitution progress: NARs started, bytes received and the rate.
struct Substitutions {
    started: Option<std::time::Instant>,
    drawn: Option<std::time::Instant>,
    nars: usize,
    last_url: String,
    bytes: u64,
}

/// The status line of substitution: NARs so far, bytes and rate.
pub fn substitution_status(nars: usize, bytes: u64, elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    format!(
        "[copying from binary caches: {nars} paths, {}, {}/s]",
        human_bytes(bytes),
        human_bytes((bytes as f64 / secs) as u64)
    )
}

impl Substitutions {
    /// Counts a chunk of `url`; returns the status line when one is due.
    fn chunk(&mut self, url: &str, n: u64) -> Option<String> {
        if !url.contains("/nar/") {
            return None;
        }
        let now = std::time::Instant::now();
        if self.last_url != url {
            self.last_url = url.to_owned();
            self.nars += 1;
        }
        let started = *self.started.get_or_insert(now);
        self.bytes += n;
        let due = self
            .drawn
            .map_or(true, |t| now.duration_since(t).as_millis() >= 100);
        if !due {
            return None;
        }
        self.drawn = Some(now);
        Some(substitution_status(
            self.nars,
            self.bytes,
            now.duration_since(started),
        ))
    }
}

/// A progress hook for HTTP substituters: a live line (paths, bytes, rate) on standard
/// error when it is a terminal; `None` otherwise (the plain log names each path copied).
pub fn substitution_hook() -> Option<nixkit_store::binary_cache::ProgressHook> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let state = Mutex::new(Substitutions {
        started: None,
        drawn: None,
        nars: 0,
        last_url: String::new(),
        bytes: 0,
    });
    Some(nixkit_store::binary_cache::ProgressHook(
        std::sync::Arc::new(move |url: &str, n: u64| {
            let line = state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .chunk(url, n);
            if let Some(line) = line {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[K{line}");
                let _ = err.flush();
            }
        }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
        let s = download_status("http://h/f", 2 << 20, std::time::Duration::from_secs(2));
        assert_eq!(s, "[downloading 'http://h/f': 2.0 MiB, 1.0 MiB/s]");
    }

    #[test]
    fn substitution_lines_count_nars_and_bytes() {
        let mut s = Substitutions {
            started: None,
            drawn: None,
            nars: 0,
            last_url: String::new(),
            bytes: 0,
        };
        assert_eq!(s.chunk("http://c/abc.narinfo", 100), None);
        let line = s.chunk("http://c/nar/x.nar.xz", 2048).unwrap();
        assert!(
            line.starts_with("[copying from binary caches: 1 paths, 2.0 KiB"),
            "{line}"
        );
        assert_eq!(s.chunk("http://c/nar/x.nar.xz", 10), None, "throttled");
        s.drawn = None;
        let line = s.chunk("http://c/nar/y.nar", 1024).unwrap();
        assert!(
            line.starts_with("[copying from binary caches: 2 paths, 3.0 KiB"),
            "{line}"
        );
    }

    #[test]
    fn plain_lines_name_each_url_once_and_tty_lines_are_redrawn() {
        let mut plain = Downloads {
            tty: false,
            started: None,
            drawn: None,
            bytes: 0,
            url: String::new(),
        };
        let mut out = Vec::new();
        plain.chunk("http://h/a", 10, &mut out);
        plain.chunk("http://h/a", 10, &mut out);
        plain.chunk("http://h/b", 10, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "downloading 'http://h/a'...\ndownloading 'http://h/b'...\n"
        );
        let mut tty = Downloads { tty: true, ..plain };
        let mut out = Vec::new();
        tty.chunk("http://h/c", 2048, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("\r\x1b[K[downloading 'http://h/c': 2.0 KiB"),
            "{text}"
        );
    }
}

//! `builtin:fetchurl`: downloads an `http(s)://` URL (through the workspace's HTTP client)
//! or copies a `file://` URL to `$out`, executable with `executable`; with `unpack` the
//! download is a NAR (`.xz` when the URL says so) restored at `$out`, as in CppNix (the
//! hash is checked afterwards, as for every fixed-output output). A flat fixed-output
//! fetch first tries the hashed mirrors (CppNix's `hashed-mirrors`: `MIRROR/<algo>/<base16
//! hash>`), so the URL itself may be unreachable. As CppNix runs its built-in
//! builders in the forked build process after dropping to the build user, the source is
//! opened and read by a forked child running as the build user (when nixkit runs as root),
//! so a derivation can only fetch what that unprivileged user may read: never
//! `/etc/shadow`. Only regular files are accepted (opened non-blocking, so a FIFO cannot
//! hang it; devices such as `/dev/zero` are refused), and the parent enforces `--timeout`,
//! interruption (SIGINT/SIGTERM) and the output size limit while it writes `$out`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};
use nixkit_derivation::{Derivation, DerivationOutput};
use nixkit_store::{ContentAddressMethod, FileIngestionMethod, StoreDir, StorePath};

use crate::build::BuildError;
use crate::layout::BuildDir;

/// What bounds a fetch, and where it may look first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchLimits<'a> {
    /// `--timeout`.
    pub(crate) timeout: Option<Duration>,
    /// The output size limit.
    pub(crate) max_size: Option<u64>,
    /// The host uid and gid to read as, when running as root.
    pub(crate) build_ids: (u32, u32),
    /// `hashed-mirrors`.
    pub(crate) hashed_mirrors: &'a [String],
}

/// The URLs a flat fixed-output fetch of `drv` is looked up at in `mirrors` (each
/// `MIRROR/<algo>/<base16 hash>`), in order; none for a recursive fetch.
pub(crate) fn hashed_mirror_urls(drv: &Derivation, mirrors: &[String]) -> Vec<String> {
    let Some(DerivationOutput::CaFixed(ca)) = drv.outputs.get("out") else {
        return Vec::new();
    };
    if ca.method != ContentAddressMethod::Fixed(FileIngestionMethod::Flat) {
        return Vec::new();
    }
    mirrors
        .iter()
        .map(|m| {
            format!(
                "{}/{}/{}",
                m.trim_end_matches('/'),
                ca.hash.algo(),
                ca.hash.to_base16()
            )
        })
        .collect()
}

/// Runs built-in builder `name` for `drv`, leaving its output in `dir`.
pub(crate) fn run_builtin(
    name: &str,
    printed_drv: &str,
    drv: &Derivation,
    store_dir: &StoreDir,
    dir: &BuildDir,
    outputs: &BTreeMap<String, StorePath>,
    limits: FetchLimits<'_>,
) -> Result<(), BuildError> {
    if name != "fetchurl" {
        return Err(BuildError::UnknownBuiltin(format!("builtin:{name}")));
    }
    let fail = |reason: String| BuildError::Fetch {
        drv: printed_drv.to_owned(),
        reason,
    };
    if !drv.is_fixed_output() {
        return Err(fail(
            "builtin:fetchurl requires a fixed-output derivation".into(),
        ));
    }
    let url = drv
        .env
        .get("url")
        .ok_or_else(|| fail("no 'url' attribute".into()))?;
    let unpack = drv.env.get("unpack").is_some_and(|v| v == "1");
    let exec = drv.env.get("executable").is_some_and(|v| v == "1");
    let out = outputs
        .get("out")
        .ok_or_else(|| fail("no 'out' output".into()))?;
    let host = dir.host_path(&store_dir.print_path(out));
    if let Some(parent) = host.parent() {
        fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    }
    // The mirrors first (a miss is not an error), then the URL itself.
    for mirror_url in hashed_mirror_urls(drv, limits.hashed_mirrors) {
        if fetch_url(&mirror_url, &host, exec, false, limits).is_ok() {
            return Ok(());
        }
    }
    fetch_url(url, &host, exec, unpack, limits).map_err(fail)
}

/// Fetches `url` into a new file or tree `host` (removed again on failure); with `unpack`
/// the download is a NAR restored at `host`.
fn fetch_url(
    url: &str,
    host: &Path,
    exec: bool,
    unpack: bool,
    limits: FetchLimits<'_>,
) -> Result<(), String> {
    // A NAR to unpack is downloaded beside the output, then restored at it.
    let download = if unpack {
        let mut name = host.to_path_buf().into_os_string();
        name.push(".download");
        std::path::PathBuf::from(name)
    } else {
        host.to_path_buf()
    };
    let mut dest = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if exec && !unpack { 0o755 } else { 0o644 })
        .custom_flags(libc::O_NOFOLLOW)
        .open(&download)
        .map_err(|e| format!("creating '{}': {e}", download.display()))?;
    let fetched = if nixkit_http::is_http_url(url) {
        download_http(url, &mut dest, limits)
    } else if let Some(path) = url.strip_prefix("file://") {
        let path: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
        match std::ffi::CString::new(path) {
            Ok(source) => copy_as_build_user(&source, &mut dest, limits)
                .map_err(|reason| format!("reading '{url}': {reason}")),
            Err(_) => Err(format!("URL '{url}' contains a NUL byte")),
        }
    } else {
        Err(format!(
            "unsupported URL '{url}' (only file://, http:// and https:// URLs are supported)"
        ))
    };
    drop(dest);
    if let Err(reason) = fetched {
        let _ = fs::remove_file(&download);
        return Err(reason);
    }
    if unpack {
        let unpacked = unpack_into(url, &download, host);
        let _ = fs::remove_file(&download);
        unpacked.map_err(|e| format!("unpacking the NAR from '{url}': {e}"))?;
    }
    Ok(())
}

/// `unpack`, as CppNix has it: the download is a NAR (xz-compressed when the URL ends in
/// `.xz`), restored at `dest`.
fn unpack_into(url: &str, file: &std::path::Path, dest: &std::path::Path) -> Result<(), String> {
    use nixkit_store::binary_cache::Compression;
    let input = io::BufReader::new(fs::File::open(file).map_err(|e| e.to_string())?);
    let compression = if url.ends_with(".xz") {
        Compression::Xz
    } else {
        Compression::None
    };
    let mut nar = compression.decoder(input).map_err(|e| e.to_string())?;
    nixkit_store::nar::restore_path(&mut nar, dest)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Downloads an `http(s)://` URL into `dest` through the workspace's HTTP client, honouring
/// `--timeout`, interruption and the output size limit.
fn download_http(url: &str, dest: &mut fs::File, limits: FetchLimits<'_>) -> Result<(), String> {
    let start = Instant::now();
    let client = nixkit_http::HttpClient::new(nixkit_http::HttpConfig::default());
    let mut check = |_n: u64| -> io::Result<()> {
        if crate::run::interrupted() {
            return Err(io::Error::other("interrupted"));
        }
        if let Some(t) = limits.timeout.filter(|t| start.elapsed() >= *t) {
            return Err(io::Error::other(format!(
                "timed out after {} seconds",
                t.as_secs()
            )));
        }
        Ok(())
    };
    client
        .download(url, dest, limits.max_size, &mut check)
        .map(drop)
        .map_err(|e| match e {
            nixkit_http::HttpError::TooLarge { limit, .. } => {
                format!("the output is larger than {limit} bytes")
            }
            other => other.to_string(),
        })
}

/// Copies `source` into `dest`, reading it in a child process that runs as the build user.
fn copy_as_build_user(
    source: &std::ffi::CStr,
    dest: &mut fs::File,
    limits: FetchLimits<'_>,
) -> Result<(), String> {
    fn sys(what: &'static str) -> impl Fn(Errno) -> String {
        move |e: Errno| format!("{what}: {}", e.desc())
    }
    let (data_r, data_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("creating a pipe"))?;
    let (status_r, status_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("creating a pipe"))?;
    let parent = nix::unistd::getpid();
    let as_root = nix::unistd::geteuid().is_root();
    // SAFETY: the child only makes system calls on descriptors it owns and ends with
    // `_exit` (`exit_now`); no lock is taken.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.map_err(sys("forking the fetcher"))?;
    let child = match forked {
        nix::unistd::ForkResult::Child => {
            crate::run::close_other_fds(&mut [data_w.as_raw_fd(), status_w.as_raw_fd()]);
            reader(source, parent, as_root, limits.build_ids, data_w, status_w)
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop((data_w, status_w));
    let result = pump(&data_r, dest, limits);
    if result.is_err() {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    }
    let status = reap(child);
    let mut msg = Vec::new();
    let _ = io::Read::read_to_end(&mut fs::File::from(status_r), &mut msg);
    result?;
    if !msg.is_empty() {
        return Err(String::from_utf8_lossy(&msg).into_owned());
    }
    if status != 0 {
        return Err(format!("the fetcher exited with status {status}"));
    }
    dest.flush().map_err(|e| e.to_string())
}

fn reap(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return -1,
        }
    }
}

/// Moves the data from the reader to `dest`, enforcing the limits.
fn pump(data: &OwnedFd, dest: &mut fs::File, limits: FetchLimits<'_>) -> Result<(), String> {
    let start = Instant::now();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 65536];
    loop {
        if crate::run::interrupted() {
            return Err("interrupted".into());
        }
        if let Some(t) = limits.timeout.filter(|t| start.elapsed() >= *t) {
            return Err(format!("timed out after {} seconds", t.as_secs()));
        }
        let mut fds = [PollFd::new(data.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.desc().to_owned()),
        }
        let n = match nix::unistd::read(data.as_raw_fd(), &mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => return Err(e.desc().to_owned()),
        };
        total += n as u64;
        if let Some(max) = limits.max_size.filter(|m| total > *m) {
            return Err(format!("the output is larger than {max} bytes"));
        }
        dest.write_all(&buf[..n]).map_err(|e| e.to_string())?;
    }
}

fn write_all(fd: RawFd, mut buf: &[u8]) -> Result<(), Errno> {
    // SAFETY: `fd` is one of the child's own open descriptors for the whole call.
    #[allow(unsafe_code)]
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(0) => return Err(Errno::EPIPE),
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The forked reader: drops to the build user, opens `source` (a regular file only) and
/// copies it into `data`. Errors go to `status` as text.
fn reader(
    source: &std::ffi::CStr,
    parent: Pid,
    as_root: bool,
    (uid, gid): (u32, u32),
    data: OwnedFd,
    status: OwnedFd,
) -> ! {
    let fail = |what: &str| -> ! {
        let _ = write_all(status.as_raw_fd(), what.as_bytes());
        crate::child::exit_now(1)
    };
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid() != parent {
        crate::child::exit_now(1);
    }
    if as_root {
        if let Err(e) = nix::unistd::setgroups(&[Gid::from_raw(gid)]) {
            fail(&format!("dropping supplementary groups: {}", e.desc()));
        }
        if let Err(e) = nix::unistd::setgid(Gid::from_raw(gid)) {
            fail(&format!("switching to the build group: {}", e.desc()));
        }
        if let Err(e) = nix::unistd::setuid(Uid::from_raw(uid)) {
            fail(&format!("switching to the build user: {}", e.desc()));
        }
        // Changing credentials cleared it.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
        if nix::unistd::getppid() != parent {
            crate::child::exit_now(1);
        }
    }
    crate::child::reset_signals();
    let fd = match open(
        source,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => fail(e.desc()),
    };
    match fstat(fd) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG => {}
        Ok(_) => fail("not a regular file"),
        Err(e) => fail(e.desc()),
    }
    let mut buf = [0u8; 65536];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => crate::child::exit_now(0),
            Ok(n) => {
                if let Err(e) = write_all(data.as_raw_fd(), &buf[..n]) {
                    fail(e.desc());
                }
            }
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => fail(e.desc()),
        }
    }
}

//! The sandbox's file system, prepared on the host before the builder starts: a build
//! directory `<builds>/nixkit-<pid>-<n>/` holding `root/` (the future `/`) and `build/`
//! (bound to `/build`), the `/etc` files CppNix writes, a skeleton `/dev`, mount points for
//! every input, and the list of mounts the sandbox's init makes (`ChildPlan`).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::statvfs::FsFlags;

use crate::child::{ChildPlan, MountOp};
use crate::run::SandboxError;

/// The `/etc/passwd` of the sandbox (CppNix's).
pub const ETC_PASSWD: &str = "root:x:0:0:Nix build user:/build:/noshell\n\
nixbld:x:1000:100:Nix build user:/build:/noshell\n\
nobody:x:65534:65534:Nobody:/:/noshell\n";
/// The `/etc/group` of the sandbox (CppNix's).
pub const ETC_GROUP: &str = "root:x:0:\nnixbld:!:100:\nnogroup:x:65534:\n";
/// The `/etc/hosts` of the sandbox.
pub const ETC_HOSTS: &str = "127.0.0.1 localhost\n::1 localhost\n";

/// Device nodes bound from the host into `/dev`.
const DEVICES: [&str; 6] = ["full", "null", "random", "tty", "urandom", "zero"];

/// What to build in a sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxSpec {
    /// The logical store directory (`/nix/store`).
    pub store_dir: String,
    /// Paths visible read-only in the sandbox: physical path on the host, logical absolute
    /// path inside (the input closure, and any extra paths such as `/bin/sh`).
    pub inputs: Vec<(PathBuf, String)>,
    /// The builder (a path inside the sandbox) and its arguments.
    pub builder: String,
    /// Arguments after `argv[0]`.
    pub args: Vec<String>,
    /// The environment.
    pub env: BTreeMap<String, String>,
    /// Files to create in `/build` (name, contents).
    pub build_files: Vec<(String, Vec<u8>)>,
    /// Share the host's network (fixed-output derivations) instead of a private loopback.
    pub network: bool,
    /// The host uid and gid the build user (1000/100 inside) maps to when running as root.
    /// Ignored for unprivileged users, whose own ids are mapped.
    pub build_user: Option<(u32, u32)>,
    /// At most this many processes in the sandbox (`RLIMIT_NPROC` in its user namespace).
    pub max_processes: Option<u64>,
    /// The `size=` of the `/dev/shm` tmpfs (`sandbox-dev-shm-size`; default `50%`).
    pub dev_shm_size: Option<String>,
    /// The `size=` of the `/tmp` tmpfs (default `50%`).
    pub tmp_size: Option<String>,
    /// Run the build in a cgroup of its own with these limits (`use-cgroups`).
    pub cgroup: Option<crate::cgroup::CgroupLimits>,
    /// Let the builder reach abstract Unix sockets (and signal processes) outside its
    /// sandbox; by default a Landlock scope forbids it.
    pub share_abstract_sockets: bool,
}

/// A build directory on the host: `root/` becomes `/`, `build/` becomes `/build`.
///
/// The directory itself is created with a random name and mode 0700 (only its owner, the
/// user running nixkit, can traverse it: CVE-2024-38531), and removed through directory
/// descriptors that never follow symbolic links.
#[derive(Debug)]
pub struct BuildDir {
    top: PathBuf,
    keep: bool,
}

/// Why `parent` may not hold build directories: somebody else could replace ours.
fn check_parent(parent: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(parent)?;
    let me = nix::unistd::geteuid().as_raw();
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    if !meta.is_dir() || (meta.uid() != me && meta.uid() != 0) || (mode & 0o022 != 0 && !sticky) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "'{}' is not a directory owned by uid {me} or root and writable only by its owner (mode {:o}, owner {})",
                parent.display(),
                mode & 0o7777,
                meta.uid()
            ),
        ));
    }
    Ok(())
}

/// Removes the build directories that processes which no longer exist left in `parent`
/// (a nixkit that was killed with SIGKILL cannot clean up after itself).
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("nixkit-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // Only our own: another user's entry is not ours to remove.
        let ours = entry.metadata().is_ok_and(|m| {
            std::os::unix::fs::MetadataExt::uid(&m) == nix::unistd::geteuid().as_raw()
        });
        if ours && pid > 0 && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = remove_tree(&entry.path());
        }
    }
}

impl BuildDir {
    /// Creates a fresh, empty build directory under `parent` (created with mode 0700 if it
    /// does not exist; refused if others may write to it without the sticky bit).
    pub fn create(parent: &Path) -> io::Result<Self> {
        if fs::symlink_metadata(parent).is_err() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
        check_parent(parent)?;
        static CLEANED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
        let first = {
            let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
            let new = !cleaned.iter().any(|p| p == parent);
            if new {
                cleaned.push(parent.to_path_buf());
            }
            new
        };
        if first {
            remove_stale(parent);
        }
        let top = tempfile::Builder::new()
            .prefix(&format!("nixkit-{}-", std::process::id()))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)?
            .keep();
        let dir = Self { top, keep: false };
        fs::DirBuilder::new().mode(0o750).create(dir.root())?;
        fs::DirBuilder::new().mode(0o700).create(dir.build())?;
        Ok(dir)
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.top
    }

    /// The host directory that becomes the sandbox's `/`.
    pub fn root(&self) -> PathBuf {
        self.top.join("root")
    }

    /// The host directory that becomes `/build`.
    pub fn build(&self) -> PathBuf {
        self.top.join("build")
    }

    /// Where the logical absolute path `logical` (say an output) is on the host.
    pub fn host_path(&self, logical: &str) -> PathBuf {
        self.root().join(logical.trim_start_matches('/'))
    }

    /// Keeps the directory when this value is dropped (`--keep-failed`).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_tree(&self.top);
        }
    }
}

/// Removes `path` recursively, making directories writable (and readable) first: builders
/// may leave directories without permissions. Works on directory descriptors opened with
/// `O_NOFOLLOW`, so a symbolic link swapped in for a directory while this runs is removed,
/// never followed (the 2025 build-directory advisories of CppNix and Lix).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to remove '{}'", path.display()),
        ));
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let dir = fs::File::open(parent)?;
    match remove_at(&dir, name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Removes entry `name` of directory `dir` and everything under it, without following links.
fn remove_at(dir: &fs::File, name: &std::ffi::OsStr) -> io::Result<()> {
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::{fchmod, Mode};
    use nix::unistd::{unlinkat, UnlinkatFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => return Ok(()),
        Err(nix::errno::Errno::EISDIR | nix::errno::Errno::EPERM) => {}
        Err(e) => return Err(e.into()),
    }
    let fd = openat(
        Some(dir.as_raw_fd()),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `openat` just returned this descriptor, which nothing else owns.
    #[allow(unsafe_code)]
    let sub = unsafe { fs::File::from_raw_fd(fd) };
    fchmod(sub.as_raw_fd(), Mode::from_bits_truncate(0o700))?;
    let names: Vec<std::ffi::OsString> = {
        let mut d = nix::dir::Dir::from_fd(nix::unistd::dup(sub.as_raw_fd())?)?;
        d.iter()
            .filter_map(Result::ok)
            .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_owned())
            .filter(|n| n != "." && n != "..")
            .collect()
    };
    for n in &names {
        remove_at(&sub, n)?;
    }
    unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::RemoveDir)?;
    Ok(())
}

fn cstr(p: &Path) -> Result<CString, SandboxError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| SandboxError::BadString(p.display().to_string()))
}

fn cstring(s: &str) -> Result<CString, SandboxError> {
    CString::new(s).map_err(|_| SandboxError::BadString(s.to_owned()))
}

/// The mount flags a read-only remount of the file system holding `path` must keep (a
/// mount namespace owned by a user namespace may not clear them).
fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs_flag) {
            out |= ms_flag;
        }
    }
    out
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Io { what, source }
}

fn chown(path: &Path, ids: Option<(u32, u32)>) -> Result<(), SandboxError> {
    if let Some((u, g)) = ids {
        std::os::unix::fs::lchown(path, Some(u), Some(g)).map_err(io_err(format!(
            "changing the owner of '{}'",
            path.display()
        )))?;
    }
    Ok(())
}

fn write_file(path: &Path, text: &[u8], mode: u32) -> Result<(), SandboxError> {
    fs::write(path, text).map_err(io_err(format!("writing '{}'", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(format!(
        "setting permissions of '{}'",
        path.display()
    )))
}

/// Prepares `dir` for `spec` and returns the plan the children follow. `build_ids` is the
/// host uid/gid of the build user when the files must be given to it (root), else `None`.
pub(crate) fn prepare(
    spec: &SandboxSpec,
    dir: &BuildDir,
    build_ids: Option<(u32, u32)>,
) -> Result<ChildPlan, SandboxError> {
    let root = dir.root();
    // `/` of the sandbox: traversable by the build group only (CppNix's 0750).
    chown(&root, build_ids.map(|(_, g)| (0, g)))?;
    let mkdir = |p: &Path, mode: u32| -> Result<(), SandboxError> {
        fs::create_dir_all(p).map_err(io_err(format!("creating '{}'", p.display())))?;
        fs::set_permissions(p, fs::Permissions::from_mode(mode))
            .map_err(io_err(format!("setting permissions of '{}'", p.display())))
    };
    for (d, mode) in [
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("build", 0o755),
        ("proc", 0o555),
        ("dev", 0o755),
    ] {
        mkdir(&root.join(d), mode)?;
    }
    let store = dir.host_path(&spec.store_dir);
    mkdir(&store, 0o1775)?;
    chown(&store, build_ids.map(|(_, g)| (0, g)))?;
    let etc = root.join("etc");
    write_file(&etc.join("passwd"), ETC_PASSWD.as_bytes(), 0o444)?;
    write_file(&etc.join("group"), ETC_GROUP.as_bytes(), 0o444)?;
    let hosts = if spec.network {
        fs::read("/etc/hosts").ok()
    } else {
        None
    };
    write_file(
        &etc.join("hosts"),
        hosts.as_deref().unwrap_or(ETC_HOSTS.as_bytes()),
        0o444,
    )?;
    if spec.network {
        // Fixed-output builds may resolve names: give them the host's resolver setup.
        for f in ["resolv.conf", "nsswitch.conf", "services"] {
            if let Ok(text) = fs::read(Path::new("/etc").join(f)) {
                write_file(&etc.join(f), &text, 0o444)?;
            }
        }
    }
    let dev = root.join("dev");
    for d in DEVICES {
        write_file(&dev.join(d), b"", 0o644)?;
    }
    mkdir(&dev.join("shm"), 0o1777)?;
    mkdir(&dev.join("pts"), 0o755)?;
    for (name, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, dev.join(name)).map_err(io_err("creating /dev symlinks"))?;
    }

    let build = dir.build();
    fs::set_permissions(&build, fs::Permissions::from_mode(0o700))
        .map_err(io_err("setting permissions of the build directory"))?;
    chown(&build, build_ids)?;
    for (name, text) in &spec.build_files {
        let p = build.join(name);
        write_file(&p, text, 0o644)?;
        chown(&p, build_ids)?;
    }

    // Nothing the builder writes may run with set-user-id bits, even if one slipped past
    // the system call filter.
    let keep_root = locked_flags(&root);
    let mut mounts = vec![
        MountOp::Bind {
            src: cstr(&root)?,
            dst: cstr(&root)?,
            remount: MsFlags::MS_NOSUID,
            keep: keep_root,
        },
        MountOp::Bind {
            src: cstr(&store)?,
            dst: cstr(&store)?,
            remount: MsFlags::MS_NOSUID,
            keep: keep_root,
        },
    ];
    let mut keep_cache: BTreeMap<PathBuf, MsFlags> = BTreeMap::new();
    for (phys, logical) in &spec.inputs {
        let target = dir.host_path(logical);
        let meta = fs::symlink_metadata(phys)
            .map_err(io_err(format!("reading input '{}'", phys.display())))?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(io_err(format!("creating '{}'", parent.display())))?;
        }
        if meta.file_type().is_symlink() {
            // Store paths never change, so a copy of the link is as good as a mount.
            let link =
                fs::read_link(phys).map_err(io_err(format!("reading '{}'", phys.display())))?;
            symlink(link, &target).map_err(io_err(format!("creating '{}'", target.display())))?;
            continue;
        }
        if meta.is_dir() {
            fs::create_dir_all(&target)
        } else {
            fs::File::create(&target).map(drop)
        }
        .map_err(io_err(format!(
            "creating mount point '{}'",
            target.display()
        )))?;
        let parent = phys.parent().unwrap_or(phys).to_path_buf();
        let keep = *keep_cache
            .entry(parent)
            .or_insert_with_key(|p| locked_flags(p));
        mounts.push(MountOp::Bind {
            src: cstr(phys)?,
            dst: cstr(&target)?,
            remount: MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
            keep,
        });
    }
    mounts.push(MountOp::Bind {
        src: cstr(&build)?,
        dst: cstr(&root.join("build"))?,
        remount: MsFlags::MS_NOSUID,
        keep: keep_root,
    });
    for d in DEVICES {
        mounts.push(MountOp::Bind {
            src: cstr(&Path::new("/dev").join(d))?,
            dst: cstr(&dev.join(d))?,
            remount: MsFlags::empty(),
            keep: MsFlags::empty(),
        });
    }
    let fs_op = |fstype: &str,
                 dst: &Path,
                 flags: MsFlags,
                 data: Option<&str>|
     -> Result<MountOp, SandboxError> {
        Ok(MountOp::Fs {
            fstype: cstring(fstype)?,
            dst: cstr(dst)?,
            flags,
            data: data.map(cstring).transpose()?,
        })
    };
    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mounts.push(fs_op(
        "tmpfs",
        &dev.join("shm"),
        nosuid_nodev,
        Some(&format!(
            "mode=1777,size={}",
            tmpfs_size(spec.dev_shm_size.as_deref())?
        )),
    )?);
    mounts.push(fs_op(
        "devpts",
        &dev.join("pts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?);
    mounts.push(fs_op(
        "tmpfs",
        &root.join("tmp"),
        nosuid_nodev,
        Some(&format!(
            "mode=1777,size={}",
            tmpfs_size(spec.tmp_size.as_deref())?
        )),
    )?);
    let proc_flags = nosuid_nodev | MsFlags::MS_NOEXEC;
    mounts.push(fs_op("proc", &root.join("proc"), proc_flags, None)?);
    let sys = root.join("proc/sys");
    mounts.push(MountOp::Bind {
        src: cstr(&sys)?,
        dst: cstr(&sys)?,
        remount: MsFlags::MS_RDONLY,
        keep: proc_flags,
    });
    mounts.push(MountOp::ReadOnly {
        dst: cstr(&root)?,
        keep: keep_root,
    });

    let mut namespaces = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if !spec.network {
        namespaces |= CloneFlags::CLONE_NEWNET;
    }
    let argv0 = Path::new(&spec.builder).file_name().map_or_else(
        || spec.builder.clone(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut argv = vec![cstring(&argv0)?];
    for a in &spec.args {
        argv.push(cstring(a)?);
    }
    let envp = spec
        .env
        .iter()
        .map(|(k, v)| cstring(&format!("{k}={v}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChildPlan {
        namespaces,
        root: cstr(&root)?,
        mounts,
        bring_up_loopback: !spec.network,
        drop_groups: build_ids.is_some(),
        builder: cstring(&spec.builder)?,
        argv,
        envp,
        cwd: cstring(crate::env::SANDBOX_BUILD_DIR)?,
        seccomp: crate::seccomp::build_filters()?,
        max_processes: spec.max_processes,
        parent: nix::unistd::getpid(),
        share_abstract_sockets: spec.share_abstract_sockets,
    })
}

/// A tmpfs `size=` value: digits with an optional `k`, `m`, `g` or `%` suffix.
fn tmpfs_size(size: Option<&str>) -> Result<String, SandboxError> {
    let size = size.unwrap_or("50%");
    let digits = size.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || size.len() - digits.len() > 1
    {
        return Err(SandboxError::Setup(format!(
            "invalid tmpfs size '{size}' (expected a number with an optional k, m, g or % suffix)"
        )));
    }
    Ok(size.to_owned())
}

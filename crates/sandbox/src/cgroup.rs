//! Per-build cgroups (v2), CppNix's `use-cgroups`: each build runs in a cgroup of its own
//! under nixkit's, with `memory.max` (swap off), `cpu.max` and `pids.max` when asked for;
//! the whole cgroup is killed (`cgroup.kill`) and removed when the build ends, and an
//! out-of-memory kill is reported as such. Requires a cgroup v2 hierarchy whose
//! controllers are delegated to nixkit's cgroup; when they are not, the build fails with a
//! message naming what is missing (never silently unlimited).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::unistd::Pid;

use crate::run::SandboxError;

/// The limits a build's cgroup enforces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupLimits {
    /// `memory.max` in bytes (and `memory.swap.max` 0).
    pub memory_max: Option<u64>,
    /// CPU time, in cores (`cpu.max`: quota per 100 ms period).
    pub cpu_max: Option<f64>,
    /// `pids.max`.
    pub pids_max: Option<u64>,
}

/// A build's cgroup; killed and removed when dropped.
#[derive(Debug)]
pub(crate) struct BuildCgroup {
    dir: PathBuf,
}

fn setup(msg: String) -> SandboxError {
    SandboxError::Setup(format!("use-cgroups: {msg}"))
}

/// Where the cgroup v2 hierarchy is mounted.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// This process's cgroup directory in the v2 hierarchy.
fn own_cgroup() -> Result<PathBuf, SandboxError> {
    let mount =
        cgroup2_mount().ok_or_else(|| setup("no cgroup v2 file system is mounted".into()))?;
    let text = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| setup(format!("reading /proc/self/cgroup: {e}")))?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| setup("this process is in no cgroup v2".into()))?;
    Ok(mount.join(rel.trim_start_matches('/')))
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), SandboxError> {
    let p = dir.join(file);
    fs::write(&p, value).map_err(|e| setup(format!("writing '{value}' to '{}': {e}", p.display())))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl BuildCgroup {
    /// Creates a fresh cgroup enforcing `limits` under this process's cgroup.
    pub(crate) fn create(limits: &CgroupLimits) -> Result<Self, SandboxError> {
        let parent = own_cgroup()?;
        let available = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        let available: Vec<&str> = available.split_whitespace().collect();
        let mut wanted = Vec::new();
        if limits.memory_max.is_some() {
            wanted.push("memory");
        }
        if limits.cpu_max.is_some() {
            wanted.push("cpu");
        }
        if limits.pids_max.is_some() && available.contains(&"pids") {
            wanted.push("pids");
        }
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|c| !available.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(setup(format!(
                "the cgroup v2 controller(s) {} are not available in '{}' (delegate them to nixkit, or remove the limits)",
                missing.join(", "),
                parent.display()
            )));
        }
        let enable: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
        if !enable.is_empty() {
            write(&parent, "cgroup.subtree_control", &enable.join(" "))?;
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("nixkit-build-{}-{n}", std::process::id()));
        fs::create_dir(&dir).map_err(|e| setup(format!("creating '{}': {e}", dir.display())))?;
        let cg = Self { dir };
        if let Some(m) = limits.memory_max {
            write(&cg.dir, "memory.max", &m.to_string())?;
            let _ = write(&cg.dir, "memory.swap.max", "0");
        }
        if let Some(c) = limits.cpu_max {
            let period = 100_000u64;
            let quota = (c * period as f64).max(1000.0) as u64;
            write(&cg.dir, "cpu.max", &format!("{quota} {period}"))?;
        }
        if let Some(p) = limits.pids_max.filter(|_| wanted.contains(&"pids")) {
            write(&cg.dir, "pids.max", &p.to_string())?;
        }
        Ok(cg)
    }

    /// Moves `pid` (and so everything it forks later) into the cgroup.
    pub(crate) fn add(&self, pid: Pid) -> Result<(), SandboxError> {
        write(&self.dir, "cgroup.procs", &pid.as_raw().to_string())
    }

    /// True if the kernel killed a process of the cgroup for exceeding `memory.max`.
    pub(crate) fn oom_killed(&self) -> bool {
        fs::read_to_string(self.dir.join("memory.events"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .is_some_and(|n| n > 0)
    }
}

impl Drop for BuildCgroup {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

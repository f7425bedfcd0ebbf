//! A deadline for the commands a test runs: a command still running after it fails the
//! test with what each of its processes and threads was waiting in (the kernel's wait
//! channel and, where gdb is installed, every thread's backtrace), instead of hanging the
//! whole test run until CI's own limit cuts it off without a word.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Commands of these tests take seconds; this is far beyond any of them on a busy machine.
pub const LIMIT: Duration = Duration::from_secs(300);

/// `cmd.output()`, but a command still running after `limit` is killed (with what it
/// started) and the test fails with where each of its threads was waiting.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let (report, pids) = describe_tree(child.id());
            // Every process of the tree: one left alive would keep the pipes open.
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(pids.iter().map(u32::to_string))
                .status();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            panic!(
                "{what} still ran after {} s; killed. Its processes:\n{report}\nIts stderr:\n{stderr}",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `pid` and every process below it: each thread's name and wait channel, and each
/// process's backtraces from gdb when it is installed; and the processes' ids.
fn describe_tree(pid: u32) -> (String, Vec<u32>) {
    let mut report = String::new();
    let mut seen = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        describe_process(p, &mut report);
        seen.push(p);
        todo.extend(children(p));
    }
    (report, seen)
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                // The parent is the second field after the parenthesised name.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

fn describe_process(pid: u32, report: &mut String) {
    let read = |p: String| std::fs::read_to_string(p).unwrap_or_default();
    let cmdline = read(format!("/proc/{pid}/cmdline")).replace('\0', " ");
    let _ = writeln!(report, "process {pid}: {cmdline}");
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let tid = task.file_name().to_string_lossy().into_owned();
            let base = format!("/proc/{pid}/task/{tid}");
            let _ = writeln!(
                report,
                "  thread {tid} {}: waits in {} (syscall {})",
                read(format!("{base}/comm")).trim(),
                read(format!("{base}/wchan")).trim(),
                read(format!("{base}/syscall"))
                    .split_whitespace()
                    .next()
                    .unwrap_or("?"),
            );
        }
    }
    let gdb = Command::new("gdb")
        .args(["-p", &pid.to_string(), "-batch", "-nx"])
        .args(["-ex", "thread apply all bt 30"])
        .stdin(Stdio::null())
        .output();
    if let Ok(gdb) = gdb {
        let text = String::from_utf8_lossy(&gdb.stdout);
        // The frames only: gdb's loading chatter says nothing.
        for line in text
            .lines()
            .filter(|l| l.starts_with("Thread ") || l.starts_with('#'))
        {
            let _ = writeln!(report, "    {line}");
        }
    }
}

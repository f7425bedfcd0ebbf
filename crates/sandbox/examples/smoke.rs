//! Manual smoke test: runs a busybox shell in the sandbox.
#![allow(missing_docs, clippy::unwrap_used)]
use nixkit_sandbox::*;
use std::time::Duration;
fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let bb = tmp
        .path()
        .join("store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-busybox");
    std::fs::create_dir_all(&bb).unwrap();
    std::fs::copy("/bin/busybox", bb.join("busybox")).unwrap();
    let script = std::env::args().nth(1).unwrap_or("id; hostname; ls -la / /dev /build; cat /etc/passwd; ps; ip addr; mount | head -30; echo hi > $out".into());
    let mut env = std::collections::BTreeMap::new();
    env.insert(
        "out".to_string(),
        "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-out".to_string(),
    );
    env.insert(
        "PATH".to_string(),
        "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-busybox".to_string(),
    );
    let spec = SandboxSpec {
        store_dir: "/nix/store".into(),
        inputs: vec![(
            bb.clone(),
            "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-busybox".into(),
        )],
        builder: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-busybox/busybox".into(),
        args: vec!["sh".into(), "-c".into(), script],
        env,
        network: std::env::var("NET").is_ok(),
        ..Default::default()
    };
    let mut dir = BuildDir::create(&tmp.path().join("builds")).unwrap();
    let mut out = |b: &[u8]| {
        use std::io::Write;
        std::io::stderr().write_all(b).unwrap();
    };
    let t = std::time::Instant::now();
    let r = run_sandboxed(
        &spec,
        &dir,
        RunOptions {
            max_silent_time: Some(Duration::from_secs(3)),
            timeout: None,
            max_log_size: None,
            on_output: &mut out,
            log_file: None,
        },
    );
    println!("{:?} in {:?}", r.as_ref().map(|r| r.outcome), t.elapsed());
    if let Err(e) = r {
        println!("{e}");
    }
    println!(
        "{:?}",
        std::fs::read_to_string(dir.host_path("/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-out"))
    );
    dir.keep();
    drop(dir);
}

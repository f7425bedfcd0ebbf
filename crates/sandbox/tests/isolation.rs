//! Isolation: builders must not reach the host network, host files, store paths outside
//! their closure, host processes or the host's hostname, and must not write outside their
//! outputs. A fixed-output builder can reach the host loopback.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nixkit_store::{Hash, HashAlgo};

/// A loopback server that counts connections and answers each with an HTTP response
/// carrying `body`; it stops after `deadline`.
fn serve(body: &'static [u8], deadline: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            match listener.accept() {
                Ok((mut s, _)) => {
                    c.fetch_add(1, Ordering::SeqCst);
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf);
                    let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    let _ = s.write_all(head.as_bytes());
                    let _ = s.write_all(body);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (port, count)
}

fn output_text(t: &TestStore, drv: &nixkit_store::StorePath) -> String {
    std::fs::read_to_string(t.real(&t.out(drv, "out"))).unwrap()
}

#[test]
fn no_network_to_host_loopback() {
    if unsupported() {
        return;
    }
    let (port, count) = serve(b"secret", Duration::from_secs(20));
    let mut t = TestStore::new();
    let script = format!(
        "if echo GET | nc -w 2 127.0.0.1 {port} > /build/got 2>&1 && test -s /build/got; then echo reached > $out; else echo isolated > $out; fi; ip link >> $out"
    );
    let a = t.drv("net", &script, &[], &["out"], &[]);
    t.build(&a).unwrap();
    let text = output_text(&t, &a);
    assert!(text.starts_with("isolated\n"), "{text}");
    // Only the loopback interface, and it is up.
    assert!(text.contains("lo: <LOOPBACK,UP"), "{text}");
    assert_eq!(text.matches(": <").count(), 1, "{text}");
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[test]
fn fixed_output_can_reach_host_loopback() {
    if unsupported() {
        return;
    }
    let body: &'static [u8] = b"fetched over loopback\n";
    let (port, count) = serve(body, Duration::from_secs(20));
    let mut t = TestStore::new();
    let script = format!("wget -q -O $out http://127.0.0.1:{port}/file");
    let a = t.fod("fetched", &script, Hash::digest(HashAlgo::Sha256, body));
    t.build(&a).unwrap();
    assert_eq!(output_text(&t, &a).as_bytes(), body);
    assert!(count.load(Ordering::SeqCst) >= 1);
}

#[test]
fn host_files_are_invisible() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let secret = t
        .store
        .lock()
        .unwrap()
        .add_text_to_store("secret", b"top secret", &Default::default())
        .unwrap();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let script = "for f in /etc/shadow /root \"$HOSTHOME\" \"$SECRET\" /work /usr /bin/sh /home /var; do \
        if test -e \"$f\"; then echo \"visible $f\"; cat \"$f\" 2>/dev/null; fi; done > $out; ls / >> $out; ls /nix/store | wc -l >> $out";
    let secret_path = t.print(&secret);
    let a = t.drv(
        "read",
        script,
        &[("HOSTHOME", &home), ("SECRET", &secret_path)],
        &["out"],
        &[],
    );
    t.build(&a).unwrap();
    let text = output_text(&t, &a);
    assert!(!text.contains("visible"), "{text}");
    assert!(!text.contains("top secret"), "{text}");
    let listing: Vec<&str> = text.lines().collect();
    // `/` holds exactly the sandbox's directories; the store only busybox and the output.
    assert_eq!(
        listing,
        ["build", "dev", "etc", "nix", "proc", "tmp", "2"],
        "{text}"
    );
}

#[test]
fn cannot_write_outside_outputs() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let evil = "/nix/store/00000000000000000000000000000000-evil";
    let script = format!(
        "for f in \"$BB/new\" \"$BB/busybox\" /etc/passwd /newfile /nix/store/../x /dev/newdev /proc/sys/kernel/hostname; do \
           if (echo x > \"$f\") 2>/dev/null; then echo \"wrote $f\"; fi; done > $out; \
         chmod 777 \"$BB\" 2>/dev/null && echo chmod-ok >> $out; \
         echo x > {evil} && echo store-write-ok >> $out; echo done >> $out"
    );
    let bb = t.print(&t.busybox);
    let a = t.drv("write", &script, &[("BB", &bb)], &["out"], &[]);
    t.build(&a).unwrap();
    let text = output_text(&t, &a);
    assert!(!text.contains("wrote"), "{text}");
    assert!(!text.contains("chmod-ok"), "{text}");
    // A stray file in the sandbox's store directory never reaches the real store.
    assert!(!t
        .real(
            &nixkit_store::StorePath::from_base_name("00000000000000000000000000000000-evil")
                .unwrap()
        )
        .exists());
    assert!(text.ends_with("done\n"), "{text}");
    // Busybox is unchanged.
    let real_bb = t.real(&t.busybox).join("busybox");
    assert_eq!(
        std::fs::read(real_bb).unwrap(),
        std::fs::read(BUSYBOX).unwrap()
    );
}

#[test]
fn host_processes_and_hostname() {
    if unsupported() {
        return;
    }
    let before = nix::unistd::gethostname().unwrap();
    let mut t = TestStore::new();
    let script = "ls /proc | grep -E '^[0-9]+$' > $out; echo host-pid-visible: >> $out; test -e /proc/$HOSTPID/status && cat /proc/$HOSTPID/status >> $out; \
                  hostname evil 2>/dev/null && echo renamed >> $out; hostname >> $out; true";
    let pid = std::process::id().to_string();
    let a = t.drv("proc", script, &[("HOSTPID", &pid)], &["out"], &[]);
    t.build(&a).unwrap();
    let text = output_text(&t, &a);
    let pids: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("host-pid"))
        .collect();
    // The builder (pid 1), ls and grep at most.
    assert!(pids.len() <= 4 && pids.contains(&"1"), "{text}");
    assert!(!text.contains("renamed"), "{text}");
    assert!(text.ends_with("localhost\n"), "{text}");
    assert_eq!(nix::unistd::gethostname().unwrap(), before);
}

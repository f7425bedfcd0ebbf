//! `daemon-load SOCKET CLIENTS OPS [HOLD_MS]`: load for a Nix daemon (nixkit's or
//! CppNix's: both speak the worker protocol). CLIENTS connections at once, each adding OPS
//! small text files (`AddTextToStore`, unique per run) and querying each one's path info
//! (`QueryPathInfo`); then every connection is held open HOLD_MS milliseconds, so that the
//! daemon's memory with all of them connected can be measured. Prints `ops`, `seconds` and
//! `ops/s` on one line.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::Limits;
use nixkit_store::StoreDir;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: daemon-load SOCKET CLIENTS OPS [HOLD_MS]";
    let socket = args.get(1).ok_or(usage)?.clone();
    let number = |i: usize, default: Option<u64>| -> Result<u64, String> {
        match args.get(i) {
            Some(s) => s
                .parse()
                .map_err(|_| format!("{usage}: '{s}' is not a number")),
            None => default.ok_or_else(|| usage.to_owned()),
        }
    };
    let clients = number(2, None)? as usize;
    let ops = number(3, None)?;
    let hold = Duration::from_millis(number(4, Some(0))?);
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let ready = Barrier::new(clients + 1);
    let done = Barrier::new(clients + 1);
    let result = std::thread::scope(|scope| -> Result<Duration, String> {
        let mut handles = Vec::new();
        for c in 0..clients {
            let (socket, ready, done) = (&socket, &ready, &done);
            handles.push(scope.spawn(move || -> Result<(), String> {
                let s = UnixStream::connect(socket).map_err(|e| e.to_string())?;
                let r = s.try_clone().map_err(|e| e.to_string())?;
                let mut client =
                    WorkerClient::connect(r, s, StoreDir::default(), Limits::default())
                        .map_err(|e| e.to_string());
                ready.wait();
                let run = (|| -> Result<(), String> {
                    let client = client.as_mut().map_err(|e| e.clone())?;
                    for j in 0..ops {
                        let text = format!("load {nonce} {c} {j}\n");
                        let path = client
                            .add_text_to_store(
                                &format!("load-{c}-{j}"),
                                text.as_bytes(),
                                &BTreeSet::new(),
                            )
                            .map_err(|e| e.to_string())?;
                        client.query_path_info(&path).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })();
                done.wait();
                std::thread::sleep(hold);
                run
            }));
        }
        ready.wait();
        let start = Instant::now();
        done.wait();
        let elapsed = start.elapsed();
        for h in handles {
            h.join().map_err(|_| "a client panicked".to_owned())??;
        }
        Ok(elapsed)
    })?;
    let total = clients as u64 * ops * 2;
    let secs = result.as_secs_f64();
    println!(
        "ops {total} seconds {secs:.3} ops/s {:.0}",
        total as f64 / secs
    );
    Ok(())
}

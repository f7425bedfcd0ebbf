//! Fuzz target: the wire protocols' decoders (worker requests at every supported minor
//! version, the log stream, path infos, serve requests, export streams). Each must give a
//! value or a typed error: no panic, no allocation a peer merely claims, no hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nixkit_protocol::serve::client::{read_path_infos, ServeRequest};
use nixkit_protocol::serve::export::read_export;
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::stderr::StderrMsg;
use nixkit_protocol::worker::types::Ctx;
use nixkit_protocol::Limits;
use nixkit_store::StoreDir;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let ctx = Ctx {
        store: StoreDir::default(),
        // Small limits, so that random lengths pass them and reach deeper code.
        limits: Limits {
            max_string: 4096,
            max_items: 64,
        },
        minor: 21 + u64::from(selector >> 3) % 14,
    };
    let mut input = rest;
    match selector % 5 {
        0 => drop(WorkerRequest::read(&mut input, &ctx)),
        1 => drop(StderrMsg::read(&mut input, &ctx.limits, (1 << 8) | ctx.minor)),
        2 => drop(ServeRequest::read(&mut input, &ctx)),
        3 => drop(read_path_infos(&mut input, &ctx)),
        _ => drop(read_export(&mut input, &ctx, 1 << 16)),
    }
});

//! Nix's wire protocols, as CppNix 2.8 speaks them, over any [`std::io::Read`] and
//! [`std::io::Write`]: no sockets, processes or threads inside — the caller owns the
//! streams and the policy.
//!
//! - [`wire`]: the primitives (little-endian `u64`, padded byte strings, string lists and
//!   store-path sets), every length checked against [`wire::Limits`] before anything is
//!   allocated, every failure a typed [`wire::WireError`].
//! - [`worker`]: the daemon's worker protocol (version 1.34, peers from 1.21): handshakes
//!   for both sides, the log stream ([`worker::stderr`]), request and reply messages
//!   ([`worker::request`], [`worker::reply`]) and a client
//!   ([`worker::client::WorkerClient`]).
//! - [`serve`]: `nix-store --serve` (version 2.7): handshake, commands, a client.
//! - [`framed`]: the framed stream of NAR uploads, and a NAR copier that finds where a NAR
//!   sent bare on the stream ends.
//!
//! Messages are separate from the stream loop (requests and replies only read and write
//! bytes), so an async server or client can reuse them over buffered frames.
//!
//! ```
//! use nixkit_protocol::wire::Limits;
//! use nixkit_protocol::worker::reply::WorkerReply;
//! use nixkit_protocol::worker::request::WorkerRequest;
//! use nixkit_protocol::worker::types::Ctx;
//! use nixkit_store::{StoreDir, StorePath};
//!
//! let ctx = Ctx { store: StoreDir::default(), limits: Limits::default(), minor: 34 };
//! let path = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-hello-2.12").unwrap();
//!
//! // The client writes a request...
//! let mut wire = Vec::new();
//! WorkerRequest::IsValidPath(path.clone()).write(&mut wire, &ctx).unwrap();
//! // ...the daemon reads it and writes its reply...
//! let request = WorkerRequest::read(&mut wire.as_slice(), &ctx).unwrap();
//! assert_eq!(request, WorkerRequest::IsValidPath(path));
//! let mut reply = Vec::new();
//! WorkerReply::Bool(true).write(&mut reply, &ctx).unwrap();
//! // ...which the client reads knowing its request.
//! let got = WorkerReply::read(&request, &mut reply.as_slice(), &ctx).unwrap();
//! assert_eq!(got, WorkerReply::Bool(true));
//! ```

pub mod error;
pub mod framed;
pub mod serve;
pub mod wire;
pub mod worker;

pub use error::{HandshakeError, ProtocolError};
pub use wire::{Limits, WireError};

//! A Nix daemon over nixkit's local store: CppNix's worker protocol (through
//! `nixkit-protocol`) served on a Unix socket, so that CppNix 2.8's `nix-store`, `nix-build`
//! and `nix-env` (`--store unix://…`, `NIX_REMOTE`) and nixkit's own client work against a
//! nixkit store unchanged.
//!
//! - [`trust`]: who may connect and who is trusted (`allowed-users`, `trusted-users`),
//!   judged from the kernel's peer credentials.
//! - [`connection`]: one connection's request loop — handshake, requests, the log stream,
//!   errors reported to the client without closing the connection.
//! - `ops`, `upload` and `build`: the operations (queries and roots; adding paths; building
//!   and garbage collection).
//! - [`serve`]: `nix-store --serve [--write]`, the serve protocol on standard input and
//!   output, for CppNix's `ssh://` stores and remote builders.
//! - [`substitute`]: the substituters a connection uses (the daemon's `substituters`, with
//!   the client's narinfo cache TTLs) and the signatures substitutes need, for the
//!   substitutable-path queries, `QueryValidPaths` and builds.
//! - [`listen`]: the accept loop: a thread and a store handle of its own per connection,
//!   with temporary roots kept per connection.
//!
//! Every connection opens its own [`LocalStore`](nixkit_store::local::LocalStore) handle:
//! the store's locks and SQLite transactions make concurrent connections safe, as they do
//! for CppNix's forked per-connection processes. Builds of all connections go through one
//! lock, so that two connections never share a build slot.

mod build;
pub mod connection;
pub mod listen;
mod ops;
pub mod serve;
pub mod substitute;
pub mod trust;
mod upload;

use nixkit_sandbox::BuildSettings;
use nixkit_store::binary_cache::PublicKey;
use nixkit_store::local::StoreConfig;

pub use connection::{serve_connection, ConnectionError, OpError};
pub use listen::{Daemon, ListenError};
pub use serve::{serve_store, ServeSettings};
pub use substitute::{SignaturePolicy, SubstituterSettings};
pub use trust::{NotAllowed, Peer, Trust, TrustSettings};

/// How the daemon runs: its store, whom it trusts, how it builds.
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    /// The store served.
    pub store: StoreConfig,
    /// `allowed-users` and `trusted-users`.
    pub trust: TrustSettings,
    /// Settings of every build.
    pub build: BuildSettings,
    /// Builds at once for one request (`max-jobs`; a client may lower or raise it).
    pub max_jobs: usize,
    /// Keys whose signatures make a path acceptable from an untrusted client, and a
    /// substitute (a trusted client may replace or extend them for its connection).
    pub trusted_public_keys: Vec<PublicKey>,
    /// Whether untrusted clients' paths and substitutes need a trusted signature (unless
    /// content-addressed; a trusted client may change it for its connection).
    pub require_sigs: bool,
    /// The Nix version string sent to clients (protocol 1.33+).
    pub nix_version: String,
    /// The caches paths are substituted from, and how (a client may change this for its
    /// connection: the TTLs always, the rest when trusted).
    pub substitution: SubstituterSettings,
}

impl DaemonSettings {
    /// Defaults for the store `store`: everyone allowed, root trusted, signatures required.
    pub fn new(store: StoreConfig) -> Self {
        Self {
            store,
            trust: TrustSettings::default(),
            build: BuildSettings::default(),
            max_jobs: 1,
            trusted_public_keys: Vec::new(),
            require_sigs: true,
            nix_version: concat!("nixkit ", env!("CARGO_PKG_VERSION")).to_owned(),
            substitution: SubstituterSettings::default(),
        }
    }
}

//! The daemon's worker protocol (`unix://` sockets, `ssh-ng://`, `nix-daemon --stdio`):
//! magic numbers, version negotiation, handshakes, the operation codes. The log stream is in
//! [`stderr`], message payloads in [`types`], [`request`] and [`reply`], the client in
//! [`client`], the daemon's stream helpers in [`server`].

pub mod client;
pub mod reply;
pub mod request;
pub mod server;
pub mod stderr;
pub mod types;

use std::io::{Read, Write};

use crate::error::HandshakeError;
use crate::wire::{self, Limits};

/// The client's greeting (`"cxin"`).
pub const WORKER_MAGIC_1: u64 = 0x6e69_7863;
/// The daemon's answer (`"oixd"`).
pub const WORKER_MAGIC_2: u64 = 0x6478_696f;
/// The version this crate speaks: 1.34, CppNix 2.8's.
pub const PROTOCOL_VERSION: u64 = (1 << 8) | 34;
/// The oldest minor version accepted from a peer.
pub const MIN_MINOR: u64 = 21;

/// The major part of a packed version.
pub fn major(version: u64) -> u64 {
    (version >> 8) & 0xff
}

/// The minor part of a packed version.
pub fn minor(version: u64) -> u64 {
    version & 0xff
}

fn check_peer_version(version: u64) -> Result<(), HandshakeError> {
    if major(version) != 1 || minor(version) < MIN_MINOR || version > 0xffff {
        return Err(HandshakeError::UnsupportedVersion {
            protocol: "worker",
            major: major(version),
            minor: minor(version),
            supported: "1.21 and later",
        });
    }
    Ok(())
}

macro_rules! ops {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        /// A worker protocol operation code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u64)]
        pub enum WorkerOp {
            $($(#[$doc])* $name = $code,)*
        }

        impl WorkerOp {
            /// The operation for a code, if known.
            pub fn from_code(code: u64) -> Option<Self> {
                match code {
                    $($code => Some(WorkerOp::$name),)*
                    _ => None,
                }
            }

            /// The operation's name as CppNix spells it (`wopIsValidPath` without `wop`).
            pub fn name(self) -> &'static str {
                match self {
                    $(WorkerOp::$name => stringify!($name),)*
                }
            }
        }
    };
}

ops! {
    /// Is one path valid?
    IsValidPath = 1,
    /// Obsolete: has a path substitutes?
    HasSubstitutes = 3,
    /// Obsolete: a path's NAR hash.
    QueryPathHash = 4,
    /// Obsolete: a path's references.
    QueryReferences = 5,
    /// The paths referring to a path.
    QueryReferrers = 6,
    /// Add a file or directory (framed dump, 1.25+).
    AddToStore = 7,
    /// Add a text file.
    AddTextToStore = 8,
    /// Build or substitute paths.
    BuildPaths = 9,
    /// Make one path valid (substituting it if need be).
    EnsurePath = 10,
    /// Register a temporary root.
    AddTempRoot = 11,
    /// Register an indirect root (a symlink outside the store).
    AddIndirectRoot = 12,
    /// Wait for a running collection.
    SyncWithGC = 13,
    /// List the GC roots.
    FindRoots = 14,
    /// Obsolete: export one path.
    ExportPath = 16,
    /// Obsolete: a path's deriver.
    QueryDeriver = 18,
    /// Per-connection settings.
    SetOptions = 19,
    /// Collect garbage.
    CollectGarbage = 20,
    /// Obsolete: one substitutable path's info.
    QuerySubstitutablePathInfo = 21,
    /// Obsolete: a derivation's outputs.
    QueryDerivationOutputs = 22,
    /// All valid paths.
    QueryAllValidPaths = 23,
    /// Obsolete.
    QueryFailedPaths = 24,
    /// Obsolete.
    ClearFailedPaths = 25,
    /// A path's metadata.
    QueryPathInfo = 26,
    /// Import paths in the export format.
    ImportPaths = 27,
    /// Obsolete: a derivation's output names.
    QueryDerivationOutputNames = 28,
    /// The path with a given hash part.
    QueryPathFromHashPart = 29,
    /// Substitutable paths' infos.
    QuerySubstitutablePathInfos = 30,
    /// Which of some paths are valid.
    QueryValidPaths = 31,
    /// Which of some paths have substitutes.
    QuerySubstitutablePaths = 32,
    /// The valid derivations that produced a path.
    QueryValidDerivers = 33,
    /// Deduplicate the store.
    OptimiseStore = 34,
    /// Check the store.
    VerifyStore = 35,
    /// Build a derivation sent in full.
    BuildDerivation = 36,
    /// Add signatures to a path.
    AddSignatures = 37,
    /// A path's NAR.
    NarFromPath = 38,
    /// Add a path with its metadata and NAR.
    AddToStoreNar = 39,
    /// What building some paths would take.
    QueryMissing = 40,
    /// A derivation's output names and paths.
    QueryDerivationOutputMap = 41,
    /// Register a realisation (content-addressed derivations).
    RegisterDrvOutput = 42,
    /// Query a realisation.
    QueryRealisation = 43,
    /// Add several paths in one framed stream.
    AddMultipleToStore = 44,
    /// Add a build log.
    AddBuildLog = 45,
    /// Build paths, returning a result per path.
    BuildPathsWithResults = 46,
}

/// What the two sides agreed on in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The version both sides use: the smaller of the two.
    pub version: u64,
    /// The peer's own version number.
    pub peer_version: u64,
    /// The daemon's Nix version string (sent from 1.33 on; client side only).
    pub daemon_nix_version: Option<String>,
}

impl Negotiated {
    /// The negotiated minor version.
    pub fn minor(&self) -> u64 {
        minor(self.version)
    }
}

/// The client half of the handshake, up to (not including) the log stream that ends it:
/// greeting, versions, CPU affinity (none), reserve-space (no), daemon version string.
/// [`client::WorkerClient::connect`] also reads that log stream.
pub fn client_hello(
    r: &mut impl Read,
    w: &mut impl Write,
    limits: &Limits,
) -> Result<Negotiated, HandshakeError> {
    wire::write_u64(w, WORKER_MAGIC_1)?;
    w.flush().map_err(wire::WireError::Io)?;
    let magic = wire::read_u64(r, "daemon magic")?;
    if magic != WORKER_MAGIC_2 {
        return Err(HandshakeError::BadMagic {
            protocol: "worker",
            got: magic,
            expected: WORKER_MAGIC_2,
        });
    }
    let daemon_version = wire::read_u64(r, "daemon protocol version")?;
    check_peer_version(daemon_version)?;
    let version = daemon_version.min(PROTOCOL_VERSION);
    wire::write_u64(w, PROTOCOL_VERSION)?;
    // CPU affinity (1.14+): none. Reserve space (1.11+): no.
    wire::write_u64(w, 0)?;
    wire::write_bool(w, false)?;
    w.flush().map_err(wire::WireError::Io)?;
    let daemon_nix_version = if minor(version) >= 33 {
        Some(wire::read_string(r, limits, "daemon Nix version")?)
    } else {
        None
    };
    Ok(Negotiated {
        version,
        peer_version: daemon_version,
        daemon_nix_version,
    })
}

/// What a client said in the handshake, beyond its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The agreed versions.
    pub negotiated: Negotiated,
    /// The CPU the client asked the daemon to pin to (obsolete; ignored by CppNix).
    pub cpu_affinity: Option<u64>,
    /// Whether the client asked the daemon to reserve disk space for GC.
    pub reserve_space: bool,
}

/// The daemon half of the handshake: checks the greeting, sends our version, reads the
/// client's and its settings, sends `nix_version` (1.33+), then the empty log stream
/// (`STDERR_LAST`) that lets the client proceed.
pub fn server_handshake(
    r: &mut impl Read,
    w: &mut impl Write,
    nix_version: &str,
) -> Result<ClientHello, HandshakeError> {
    server_handshake_at(r, w, nix_version, PROTOCOL_VERSION)
}

/// [`server_handshake`] offering `max_version` (at most [`PROTOCOL_VERSION`], at least
/// 1.21) instead of the newest: a daemon that must look like an older CppNix, or a test of
/// a client's older paths.
pub fn server_handshake_at(
    r: &mut impl Read,
    w: &mut impl Write,
    nix_version: &str,
    max_version: u64,
) -> Result<ClientHello, HandshakeError> {
    let offered = max_version.clamp((1 << 8) | MIN_MINOR, PROTOCOL_VERSION);
    let magic = wire::read_u64(r, "client magic")?;
    if magic != WORKER_MAGIC_1 {
        return Err(HandshakeError::BadMagic {
            protocol: "worker",
            got: magic,
            expected: WORKER_MAGIC_1,
        });
    }
    wire::write_u64(w, WORKER_MAGIC_2)?;
    wire::write_u64(w, offered)?;
    w.flush().map_err(wire::WireError::Io)?;
    let client_version = wire::read_u64(r, "client protocol version")?;
    check_peer_version(client_version)?;
    let version = client_version.min(offered);
    let cpu_affinity = if wire::read_flag(r, "CPU affinity flag")? {
        Some(wire::read_u64(r, "CPU affinity")?)
    } else {
        None
    };
    let reserve_space = wire::read_flag(r, "reserve space")?;
    if minor(version) >= 33 {
        wire::write_bytes(w, nix_version.as_bytes())?;
    }
    stderr::StderrMsg::Last.write(w, version)?;
    w.flush().map_err(wire::WireError::Io)?;
    Ok(ClientHello {
        negotiated: Negotiated {
            version,
            peer_version: client_version,
            daemon_nix_version: None,
        },
        cpu_affinity,
        reserve_space,
    })
}

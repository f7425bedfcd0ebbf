//! The errors of protocol operations: wire errors, handshakes that fail, unknown operation
//! codes, unexpected log-stream messages and errors the peer reports.

use nixkit_store::nar::ParseNarError;

use crate::wire::WireError;
use crate::worker::stderr::RemoteError;

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Reading or writing failed.
    #[error("handshake: {0}")]
    Wire(#[from] WireError),
    /// The peer's magic number is not the protocol's.
    #[error("handshake: the peer does not speak the {protocol} protocol (magic {got:#x}, expected {expected:#x})")]
    BadMagic {
        /// Which protocol.
        protocol: &'static str,
        /// What was received.
        got: u64,
        /// What was expected.
        expected: u64,
    },
    /// The peer's protocol version cannot be served.
    #[error("handshake: unsupported {protocol} protocol version {major}.{minor} (supported: {supported})")]
    UnsupportedVersion {
        /// Which protocol.
        protocol: &'static str,
        /// The peer's major version.
        major: u64,
        /// The peer's minor version.
        minor: u64,
        /// The range accepted.
        supported: &'static str,
    },
    /// The daemon reported an error before accepting the connection.
    #[error("handshake: the daemon refused the connection: {0}")]
    Refused(#[from] Box<RemoteError>),
    /// Something else went wrong in the log stream that ends the handshake.
    #[error("handshake: {0}")]
    Stream(Box<ProtocolError>),
}

/// Why a protocol operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Reading or writing a value failed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The peer reported an error for this operation (`STDERR_ERROR`); the connection stays
    /// usable.
    #[error("remote error: {0}")]
    Remote(Box<RemoteError>),
    /// An operation code this side does not know.
    #[error("unknown {protocol} operation code {code}")]
    UnknownOp {
        /// Which protocol.
        protocol: &'static str,
        /// The code received.
        code: u64,
    },
    /// A known operation this crate has no message types for.
    #[error("unsupported {protocol} operation {op}")]
    UnsupportedOp {
        /// Which protocol.
        protocol: &'static str,
        /// The operation's name.
        op: &'static str,
    },
    /// A log-stream message code this side does not know.
    #[error("unknown log message code {code:#x} from the daemon")]
    UnknownStderr {
        /// The code received.
        code: u64,
    },
    /// The daemon asked for data (`STDERR_READ`) or sent data (`STDERR_WRITE`) in an
    /// operation that has none.
    #[error("the daemon sent an unexpected {what} during {op}")]
    Unexpected {
        /// The message.
        what: &'static str,
        /// The operation.
        op: &'static str,
    },
    /// A NAR on the stream did not parse.
    #[error("NAR on the protocol stream: {0}")]
    Nar(#[from] ParseNarError),
    /// The operation is not available at the negotiated protocol version.
    #[error("{op} needs protocol minor {needed}, the connection negotiated {negotiated}")]
    TooOld {
        /// The operation.
        op: &'static str,
        /// The minor version it needs.
        needed: u64,
        /// The minor version negotiated.
        negotiated: u64,
    },
    /// A reply whose content is inconsistent (a NAR whose hash differs from its path info,
    /// a serve-protocol status other than 1, ...).
    #[error("bad reply to {op}: {detail}")]
    BadReply {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl From<std::io::Error> for ProtocolError {
    fn from(err: std::io::Error) -> Self {
        ProtocolError::Wire(WireError::from(err))
    }
}

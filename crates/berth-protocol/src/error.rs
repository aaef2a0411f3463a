//! The one error type of the wire protocol.
//!
//! Everything that reads bytes from the peer returns [`ProtocolError`] on bad input; nothing in
//! this crate panics on what the other side sends.

use std::io;

use crate::frame::MAX_FRAME;
use crate::{MIN_SUPPORTED, PROTOCOL_VERSION};

/// Why a frame or message could not be read, written or agreed on.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A length prefix (or an outgoing message) larger than [`MAX_FRAME`]. Nothing of that size
    /// was allocated; the connection should be dropped since the stream is out of step.
    #[error("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit")]
    FrameTooLong {
        /// The announced (or encoded) payload length.
        len: u64,
    },
    /// A frame whose payload is not JSON, or not the JSON of the expected message.
    #[error("malformed message: {0}")]
    Malformed(#[source] serde_json::Error),
    /// A message that could not be turned into JSON.
    #[error("cannot encode message: {0}")]
    Encode(#[source] serde_json::Error),
    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The two sides share no protocol version.
    #[error(
        "incompatible protocol versions: host speaks {host}, agent speaks {agent}; \
         this side supports {MIN_SUPPORTED}..={PROTOCOL_VERSION}"
    )]
    IncompatibleVersion {
        /// The version the host offered.
        host: u32,
        /// The version the agent offered.
        agent: u32,
    },
    /// The underlying stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

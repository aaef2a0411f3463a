//! Data connections ([`crate::DATA_PORT`]): one vsock connection per relayed stream.
//!
//! The host opens the connection and sends one [`DataHeader`] frame naming the target; the agent
//! answers with one [`DataReply`] frame. After [`DataReply::Accepted`] both sides relay bytes
//! as [`crate::stream`] chunks until both directions have ended (for [`DataHeader::Udp`]:
//! [`crate::datagram`] frames until either side closes); after [`DataReply::Refused`] the agent
//! closes the connection.
//!
//! ```text
//! host  → {"type":"tcp","port":8080}
//! agent → {"type":"accepted"}
//! ...chunked bytes both ways, each direction ending with an empty chunk...
//! ```
//!
//! The helpers read exactly one frame, never past it, so the first raw byte stays in the stream.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::ProtocolError;
use crate::frame::{read_message, write_message};

/// What a data connection carries; the first frame the host sends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DataHeader {
    /// Relay to the container engine's API socket.
    EngineApi,
    /// Relay to a TCP port on the guest's loopback.
    Tcp {
        /// The guest port.
        port: u16,
    },
    /// Relay UDP datagrams to a guest port on the guest's loopback, one flow per connection,
    /// each datagram a [`crate::datagram`] frame.
    Udp {
        /// The guest port.
        port: u16,
    },
    /// A root shell in the guest: the stream carries its input and its merged output.
    Shell {
        /// Run it on a pseudo-terminal (interactive use) rather than on pipes (scripts).
        tty: bool,
        /// Terminal width, with `tty`.
        cols: u16,
        /// Terminal height, with `tty`.
        rows: u16,
    },
}

/// The agent's answer to a [`DataHeader`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DataReply {
    /// The target is connected; raw bytes follow.
    Accepted,
    /// The target could not be reached; the agent closes the connection.
    Refused {
        /// Why, for the host's logs and the user.
        reason: String,
    },
}

/// Sends the header that opens a data connection.
pub async fn write_header<S>(stream: &mut S, header: &DataHeader) -> Result<(), ProtocolError>
where
    S: AsyncWrite + Unpin + ?Sized,
{
    write_message(stream, header).await
}

/// Reads the header that opens a data connection, leaving `stream` at the first raw byte.
pub async fn read_header<S>(stream: &mut S) -> Result<DataHeader, ProtocolError>
where
    S: AsyncRead + Unpin + ?Sized,
{
    read_message(stream).await
}

/// Sends the agent's answer to a header.
pub async fn write_reply<S>(stream: &mut S, reply: &DataReply) -> Result<(), ProtocolError>
where
    S: AsyncWrite + Unpin + ?Sized,
{
    write_message(stream, reply).await
}

/// Reads the agent's answer to a header, leaving `stream` at the first raw byte.
pub async fn read_reply<S>(stream: &mut S) -> Result<DataReply, ProtocolError>
where
    S: AsyncRead + Unpin + ?Sized,
{
    read_message(stream).await
}

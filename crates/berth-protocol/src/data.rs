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
//!
//! The guest operations ([`DataHeader::ListDir`], [`DataHeader::Export`], [`DataHeader::Exec`];
//! agents offering [`crate::message::Capability::VolumeOps`]) are one-way after [`DataReply::Accepted`]:
//! the host sends nothing more, and the agent answers with typed frames:
//!
//! ```text
//! ListDir: agent → one ListReply frame
//! Export:  agent → tar bytes as chunks, the end-of-stream marker, one ExportEnd frame
//! Exec:    agent → output (stdout and stderr merged) as chunks, the marker, one ExecEnd frame
//! ```
//!
//! so that a stream cut short (no trailer) is told apart from one that ended well.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::ProtocolError;
use crate::frame::{read_message, write_message};

/// What a data connection carries; the first frame the host sends on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The entries of one folder of a volume, resolved beneath the volume's `_data` folder
    /// without following a symlink at any step; answered by one [`ListReply`] frame.
    ListDir {
        /// The engine's name of the volume.
        volume: String,
        /// The folder, relative to the volume's root (`""` for the root; no `..`).
        path: String,
    },
    /// The whole volume as a tar stream (symlinks stored as symlinks, never followed); ended
    /// by one [`ExportEnd`] frame.
    Export {
        /// The engine's name of the volume.
        volume: String,
    },
    /// Runs a program with these arguments, no shell in between; its output is streamed and
    /// one [`ExecEnd`] frame follows. The agent runs only [`EXEC_PROGRAMS`].
    Exec {
        /// The program and its arguments.
        argv: Vec<String>,
        /// The absolute folder to run it in.
        cwd: String,
    },
}

/// The programs [`DataHeader::Exec`] may run: the engine's command-line clients.
pub const EXEC_PROGRAMS: &[&str] = &["docker", "docker-compose"];

/// Most entries one [`ListReply::Entries`] carries; the agent stops sooner when the frame
/// would near [`crate::frame::MAX_FRAME`] (see [`DirEntry::wire_size`]).
pub const MAX_LIST_ENTRIES: usize = 5000;

/// What a folder entry is, as seen without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A folder.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (never followed).
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// One entry of a [`DataHeader::ListDir`] folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The name's bytes as the file system has them (any bytes but `/` and NUL: newlines,
    /// tabs, not UTF-8).
    pub name: Vec<u8>,
    /// What it is.
    pub kind: EntryKind,
    /// Its size in bytes (for a symlink, its target's length).
    pub size: u64,
    /// A symlink's target text, as stored; `None` for anything else.
    pub target: Option<Vec<u8>>,
}

impl DirEntry {
    /// An upper bound of this entry's JSON length (each byte at most `255,`).
    pub fn wire_size(&self) -> usize {
        64 + 4 * (self.name.len() + self.target.as_ref().map_or(0, Vec::len))
    }
}

/// Why a volume operation was refused or stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum VolumeError {
    /// There is no volume of that name (or the name could not be one).
    #[error("there is no volume {volume:?}")]
    NotAVolume {
        /// The name asked for.
        volume: String,
    },
    /// The path is absolute or has a `..` component.
    #[error("{path:?} is not a path inside the volume")]
    OutsideVolume {
        /// The path asked for.
        path: String,
    },
    /// A component of the path is a symlink, which is never followed.
    #[error("{path:?} goes through a symlink, which is not followed")]
    ThroughSymlink {
        /// The path asked for.
        path: String,
    },
    /// Nothing is at the path.
    #[error("{path:?} does not exist in the volume")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The path is not a folder.
    #[error("{path:?} is not a folder")]
    NotADirectory {
        /// The path asked for.
        path: String,
    },
    /// The volume was deleted while it was being read.
    #[error("volume {volume:?} disappeared while it was being read")]
    Vanished {
        /// The volume.
        volume: String,
    },
    /// Any other failure of the guest's file system.
    #[error("{message}")]
    Io {
        /// The OS error, with the path.
        message: String,
    },
}

/// The answer to [`DataHeader::ListDir`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ListReply {
    /// The folder's entries, in no particular order.
    Entries {
        /// At most [`MAX_LIST_ENTRIES`].
        entries: Vec<DirEntry>,
        /// Whether the folder had more.
        truncated: bool,
    },
    /// Refused.
    Failed(VolumeError),
}

/// The trailer of a [`DataHeader::Export`] stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportEnd {
    /// The tar stream is complete.
    Done {
        /// Its length in bytes.
        bytes: u64,
        /// Devices, FIFOs and sockets left out.
        skipped: u64,
    },
    /// The stream stopped short (or never started); what was sent is not a whole export.
    Failed(VolumeError),
}

/// The trailer of a [`DataHeader::Exec`] stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecEnd {
    /// The program exited with this code.
    Exited {
        /// The exit code.
        code: i32,
    },
    /// A signal killed the program.
    Killed {
        /// The signal number.
        signal: i32,
    },
    /// The program did not start.
    NotStarted(ExecError),
}

/// Why a [`DataHeader::Exec`] program did not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ExecError {
    /// The program is not one of [`EXEC_PROGRAMS`] (or `argv` is empty).
    #[error("the agent runs only {}, not {program:?}", EXEC_PROGRAMS.join(" and "))]
    NotAllowed {
        /// `argv[0]`.
        program: String,
    },
    /// The folder to run in is not there (in the VM).
    #[error("{cwd} is not a folder in the VM")]
    NoSuchFolder {
        /// The folder.
        cwd: String,
    },
    /// The program could not be started.
    #[error("cannot start {program}: {message}")]
    Spawn {
        /// `argv[0]`.
        program: String,
        /// The OS error.
        message: String,
    },
}

/// Sends one typed frame of a guest operation ([`ListReply`], [`ExportEnd`], [`ExecEnd`]).
pub async fn write_frame<S, T>(stream: &mut S, frame: &T) -> Result<(), ProtocolError>
where
    S: AsyncWrite + Unpin + ?Sized,
    T: Serialize,
{
    write_message(stream, frame).await
}

/// Reads one typed frame of a guest operation.
pub async fn read_frame<S, T>(stream: &mut S) -> Result<T, ProtocolError>
where
    S: AsyncRead + Unpin + ?Sized,
    T: DeserializeOwned,
{
    read_message(stream).await
}

/// Reads a guest operation's chunked bytes into `sink` (shut down at their end), then its
/// trailer. A stream that ends before the trailer is an error: what reached `sink` is partial.
pub async fn read_stream_and_trailer<S, W, T>(
    stream: &mut S,
    sink: &mut W,
) -> Result<(u64, T), ProtocolError>
where
    S: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
    T: DeserializeOwned,
{
    let moved = crate::stream::from_chunks(stream, sink).await?;
    let trailer = read_message(stream).await?;
    Ok((moved, trailer))
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

//! Framing: every message is one JSON document behind a 4-byte big-endian length.
//!
//! ```text
//! +----------------+---------------------------+
//! | len: u32 (BE)  | len bytes of UTF-8 JSON   |
//! +----------------+---------------------------+
//! ```
//!
//! `len` counts the payload only and is at most [`MAX_FRAME`]. A longer prefix is an error
//! before anything of that size is allocated.
//!
//! - [`FrameCodec`] plugs into `tokio_util::codec::Framed` for the long-lived control connection.
//! - [`read_message`] / [`write_message`] move exactly one frame on a raw stream and never read
//!   past it, for the header that opens a data connection (see [`crate::data`]).
//! - [`decode_frame`] / [`encode_frame`] work on plain byte slices (tests, fuzzing).

use std::fmt;
use std::io;
use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LengthDelimitedCodecError};

use crate::error::ProtocolError;
use crate::message::{AgentToHost, HostToAgent};

/// The largest payload a frame may carry: 1 MiB.
pub const MAX_FRAME: usize = 1 << 20;

/// The size of the length prefix.
pub const LENGTH_PREFIX: usize = 4;

/// A codec that turns length-prefixed frames into `In` messages and `Out` messages into frames.
///
/// Decoding never panics: an oversize prefix, a payload that is not JSON or JSON of the wrong
/// shape is a [`ProtocolError`], after which the connection should be dropped.
pub struct FrameCodec<In, Out = In> {
    inner: LengthDelimitedCodec,
    // `fn` keeps the codec Send + Sync whatever the message types are.
    _types: PhantomData<fn(Out) -> In>,
}

/// The host's side of the control connection: reads [`AgentToHost`], writes [`HostToAgent`].
pub type HostCodec = FrameCodec<AgentToHost, HostToAgent>;

/// The agent's side of the control connection: reads [`HostToAgent`], writes [`AgentToHost`].
pub type AgentCodec = FrameCodec<HostToAgent, AgentToHost>;

impl<In, Out> FrameCodec<In, Out> {
    /// A codec with the protocol's framing and [`MAX_FRAME`] limit.
    pub fn new() -> Self {
        FrameCodec {
            inner: LengthDelimitedCodec::builder()
                .length_field_length(LENGTH_PREFIX)
                .big_endian()
                .max_frame_length(MAX_FRAME)
                .new_codec(),
            _types: PhantomData,
        }
    }
}

impl<In, Out> Default for FrameCodec<In, Out> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In, Out> fmt::Debug for FrameCodec<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameCodec")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<In: DeserializeOwned, Out> Decoder for FrameCodec<In, Out> {
    type Item = In;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, ProtocolError> {
        match self.inner.decode(src) {
            Ok(Some(frame)) => serde_json::from_slice(&frame)
                .map(Some)
                .map_err(ProtocolError::Malformed),
            Ok(None) => Ok(None),
            Err(err) => Err(too_long(err, src)),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<In>, ProtocolError> {
        match self.decode(buf)? {
            Some(msg) => Ok(Some(msg)),
            None if buf.is_empty() => Ok(None),
            None => Err(ProtocolError::Truncated),
        }
    }
}

impl<In, Out: Serialize> Encoder<Out> for FrameCodec<In, Out> {
    type Error = ProtocolError;

    fn encode(&mut self, item: Out, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let payload = payload(&item)?;
        self.inner.encode(Bytes::from(payload), dst)?;
        Ok(())
    }
}

/// The length codec rejects an oversize prefix before consuming it, so the prefix is still at
/// the front of `src`: report its value.
fn too_long(err: io::Error, src: &BytesMut) -> ProtocolError {
    let is_too_long = err
        .get_ref()
        .is_some_and(|inner| inner.is::<LengthDelimitedCodecError>());
    match src.get(..LENGTH_PREFIX) {
        Some(&[a, b, c, d]) if is_too_long => ProtocolError::FrameTooLong {
            len: u64::from(u32::from_be_bytes([a, b, c, d])),
        },
        _ => ProtocolError::Io(err),
    }
}

/// Serializes `msg` and checks it fits in a frame.
fn payload<T: Serialize + ?Sized>(msg: &T) -> Result<Vec<u8>, ProtocolError> {
    let payload = serde_json::to_vec(msg).map_err(ProtocolError::Encode)?;
    if payload.len() > MAX_FRAME {
        return Err(ProtocolError::FrameTooLong {
            len: payload.len() as u64,
        });
    }
    Ok(payload)
}

/// Decodes the first frame of `bytes` as a `T`. Returns the message and the number of bytes it
/// took (prefix included), `Ok(None)` if `bytes` holds no complete frame yet, or an error.
pub fn decode_frame<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<Option<(T, usize)>, ProtocolError> {
    let mut buf = BytesMut::from(bytes);
    let msg = FrameCodec::<T>::new().decode(&mut buf)?;
    Ok(msg.map(|msg| (msg, bytes.len() - buf.len())))
}

/// Encodes `msg` as one complete frame, prefix included.
pub fn encode_frame<T: Serialize + ?Sized>(msg: &T) -> Result<Vec<u8>, ProtocolError> {
    let payload = payload(msg)?;
    let len = u32::try_from(payload.len()).map_err(|_| ProtocolError::FrameTooLong {
        len: payload.len() as u64,
    })?;
    let mut frame = Vec::with_capacity(LENGTH_PREFIX + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Writes `msg` as one frame and flushes.
pub async fn write_message<W, T>(writer: &mut W, msg: &T) -> Result<(), ProtocolError>
where
    W: AsyncWrite + Unpin + ?Sized,
    T: Serialize + ?Sized,
{
    writer.write_all(&encode_frame(msg)?).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads exactly one frame and decodes it as a `T`, leaving `reader` at the first byte after
/// the frame. The payload buffer grows with the bytes that actually arrive, so a lying prefix
/// costs no memory.
pub async fn read_message<R, T>(reader: &mut R) -> Result<T, ProtocolError>
where
    R: AsyncRead + Unpin + ?Sized,
    T: DeserializeOwned,
{
    let mut prefix = [0u8; LENGTH_PREFIX];
    reader.read_exact(&mut prefix).await.map_err(eof)?;
    let len = u32::from_be_bytes(prefix);
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize > MAX_FRAME {
        return Err(ProtocolError::FrameTooLong {
            len: u64::from(len),
        });
    }
    let mut payload = Vec::new();
    (&mut *reader)
        .take(u64::from(len))
        .read_to_end(&mut payload)
        .await?;
    if payload.len() != len_usize {
        return Err(ProtocolError::Truncated);
    }
    serde_json::from_slice(&payload).map_err(ProtocolError::Malformed)
}

fn eof(err: io::Error) -> ProtocolError {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        ProtocolError::Truncated
    } else {
        ProtocolError::Io(err)
    }
}

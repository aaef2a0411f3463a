//! UDP datagrams over a data connection ([`crate::data::DataHeader::Udp`]).
//!
//! A stream loses datagram boundaries, so after [`crate::data::DataReply::Accepted`] each
//! datagram travels as one frame, both ways:
//!
//! ```text
//! [u16 big-endian length][length bytes]   (a zero length is an empty datagram)
//! ```
//!
//! A UDP payload never exceeds 65 535 bytes, so every length is valid and no frame can claim
//! more than the transport can carry. There is no end-of-stream marker: a flow ends when either
//! side closes the connection (the host does after an idle timeout). One data connection
//! carries one flow, i.e. one client address on the host, so the guest answers each client
//! from its own socket.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest datagram a frame carries.
pub const MAX_DATAGRAM: usize = u16::MAX as usize;

/// Bytes of framing before each datagram.
pub const HEADER_LEN: usize = 2;

/// Encodes `payload` as one frame into `out` (cleared first). A payload over
/// [`MAX_DATAGRAM`] is an `InvalidInput` error (no UDP socket can produce one).
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "a datagram of {} bytes exceeds {MAX_DATAGRAM}",
                payload.len()
            ),
        )
    })?;
    out.clear();
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Decodes the first frame of `bytes`: `Some((payload, bytes used))`, or `None` when `bytes`
/// holds no complete frame yet.
pub fn decode(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let header: [u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
    let len = usize::from(u16::from_be_bytes(header));
    let payload = bytes.get(HEADER_LEN..HEADER_LEN + len)?;
    Some((payload, HEADER_LEN + len))
}

/// Writes one datagram as a frame and flushes it, in a single write.
pub async fn write_datagram<W>(
    writer: &mut W,
    payload: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    encode(payload, buf)?;
    writer.write_all(buf).await?;
    writer.flush().await
}

/// Reads one frame into `buf` (resized to the datagram); `Ok(false)` on a clean end of stream
/// between frames. A stream that ends inside a frame is an `UnexpectedEof` error.
pub async fn read_datagram<R>(reader: &mut R, buf: &mut Vec<u8>) -> std::io::Result<bool>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut header = [0u8; HEADER_LEN];
    let first = reader.read(&mut header).await?;
    if first == 0 {
        return Ok(false);
    }
    if first < HEADER_LEN {
        reader.read_exact(&mut header[first..]).await?;
    }
    let len = usize::from(u16::from_be_bytes(header));
    buf.resize(len, 0);
    reader.read_exact(buf).await?;
    Ok(true)
}

/// For a flow's idle timeout, on either side: resolves once `activity` (a counter bumped on
/// every datagram) has not moved for a whole `idle` period (so after `idle` to
/// `2 × idle` of silence).
pub async fn idle_for(idle: std::time::Duration, activity: &std::sync::atomic::AtomicU64) {
    let mut seen = activity.load(std::sync::atomic::Ordering::Relaxed);
    loop {
        tokio::time::sleep(idle).await;
        let now = activity.load(std::sync::atomic::Ordering::Relaxed);
        if now == seen {
            return;
        }
        seen = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_including_empty_and_maximal_datagrams() {
        let mut out = Vec::new();
        for payload in [vec![], b"ping".to_vec(), vec![0xab; MAX_DATAGRAM]] {
            encode(&payload, &mut out).expect("encodes");
            assert_eq!(out.len(), HEADER_LEN + payload.len());
            let (got, used) = decode(&out).expect("complete");
            assert_eq!((got, used), (payload.as_slice(), out.len()));
            // Every strict prefix is incomplete, never a shorter datagram.
            for cut in [0, 1, out.len().saturating_sub(1)] {
                if cut < out.len() {
                    assert_eq!(decode(&out[..cut]), None, "prefix {cut}");
                }
            }
        }
        assert!(encode(&vec![0; MAX_DATAGRAM + 1], &mut out).is_err());
    }

    #[tokio::test]
    async fn a_stream_of_frames_keeps_datagram_boundaries() {
        let (mut a, mut b) = tokio::io::duplex(16);
        let sent: Vec<Vec<u8>> = vec![b"one".to_vec(), vec![], vec![7; 1000], b"last".to_vec()];
        let to_send = sent.clone();
        let writer = tokio::spawn(async move {
            let mut buf = Vec::new();
            for d in &to_send {
                write_datagram(&mut a, d, &mut buf).await.expect("write");
            }
        });
        let mut got = Vec::new();
        let mut buf = Vec::new();
        while read_datagram(&mut b, &mut buf).await.expect("read") {
            got.push(buf.clone());
        }
        writer.await.expect("writer");
        assert_eq!(got, sent);
    }

    #[tokio::test]
    async fn a_stream_ending_inside_a_frame_is_an_error() {
        let mut buf = Vec::new();
        for truncated in [&[0u8][..], &[0, 5, 1, 2][..]] {
            let mut input = truncated;
            let err = read_datagram(&mut input, &mut buf)
                .await
                .expect_err("truncated");
            assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        }
        let mut input: &[u8] = &[];
        assert!(!read_datagram(&mut input, &mut buf)
            .await
            .expect("clean end"));
    }
}

//! The engine's output on a hijacked connection (`attach`, `exec`, `run -i`), coalesced by
//! line on its way to the client, so that a line reaches it in one read (raw) or one frame
//! (multiplexed), as from a native engine.
//!
//! Why: the guest's terminal hands its reader `hello\n` as `hello`, then `\r\n` (the line
//! discipline writes the `\r\n` of `ONLCR` on its own), and in the slower VM the engine often
//! reads between the two, where a native engine reads both at once. The engine then writes
//! two pieces, or two frames of a multiplexed stream: a client that takes a line per read or
//! per frame (docker-py's `exec_start(stream=True)` on a TTY exec) gets it in two. So output
//! that ends mid-line is held up to [`LINE_HOLD`] for the rest of its line; adjacent frames of
//! one stream are merged into one. A prompt or an echoed key, which no line end follows, goes
//! after [`LINE_HOLD`]. Every byte is passed on, in order; only the frame boundaries of one
//! stream's consecutive frames change.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long output that ends mid-line is held for the rest of its line.
pub const LINE_HOLD: Duration = Duration::from_millis(20);

/// The most held before it is written anyway; a multiplexed frame larger than this (dockerd
/// writes at most 32 KiB a frame) turns coalescing off for the connection.
const MAX_HELD: usize = 1 << 20;

/// The length of a multiplexed frame's header: `[stream, 0, 0, 0, u32 length]`.
const HEADER: usize = 8;

/// How the engine's output is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Raw bytes (a TTY's stream).
    Raw,
    /// Multiplexed frames (`application/vnd.docker.multiplexed-stream`).
    Multiplexed,
}

/// Copies `reader` to `writer` until its end: as it comes without `framing`, else coalesced
/// by line (the module's doc).
pub async fn copy_output<R, W>(
    reader: &mut R,
    writer: &mut W,
    framing: Option<Framing>,
) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let Some(framing) = framing else {
        return tokio::io::copy(reader, writer).await;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut held: Vec<u8> = Vec::new();
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(total + write(writer, &held).await?);
        }
        held.extend_from_slice(&buf[..n]);
        let deadline = tokio::time::Instant::now() + LINE_HOLD;
        let mut ended = false;
        while !complete(framing, &held) && held.len() < MAX_HELD {
            // `read` is cancel-safe: a timeout loses no bytes.
            match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
                Ok(Ok(0)) => ended = true,
                Ok(Ok(more)) => {
                    held.extend_from_slice(&buf[..more]);
                    continue;
                }
                Ok(Err(err)) => {
                    write(writer, &held).await?;
                    return Err(err);
                }
                Err(_elapsed) => {}
            }
            break;
        }
        if ended {
            return Ok(total + write(writer, &held).await?);
        }
        match framing {
            Framing::Raw => {
                total += write(writer, &held).await?;
                held.clear();
            }
            Framing::Multiplexed => {
                let whole = whole_frames(&held);
                if whole == 0 && held.len() >= MAX_HELD {
                    // Not dockerd's framing: pass everything on as it is.
                    total += write(writer, &held).await?;
                    return Ok(total + tokio::io::copy(reader, writer).await?);
                }
                total += write(writer, &merged(&held[..whole])).await?;
                held.drain(..whole);
            }
        }
    }
}

/// Writes and flushes `bytes` (nothing when empty); their length.
async fn write<W: AsyncWrite + Unpin + ?Sized>(
    writer: &mut W,
    bytes: &[u8],
) -> std::io::Result<u64> {
    if bytes.is_empty() {
        return Ok(0);
    }
    writer.write_all(bytes).await?;
    writer.flush().await?;
    Ok(bytes.len() as u64)
}

/// `held` ends at a line's end: raw bytes ending in `\n`; frames, all whole, the last one's
/// payload ending in `\n` (or empty).
fn complete(framing: Framing, held: &[u8]) -> bool {
    match framing {
        Framing::Raw => held.last() == Some(&b'\n'),
        Framing::Multiplexed => {
            let whole = whole_frames(held);
            whole == held.len()
                && frames(held)
                    .last()
                    .is_none_or(|(_, p)| p.last() == Some(&b'\n'))
        }
    }
}

/// The length of the whole frames at the start of `bytes`.
fn whole_frames(bytes: &[u8]) -> usize {
    frames(bytes)
        .map(|(_, payload)| HEADER + payload.len())
        .sum()
}

/// The whole frames at the start of `bytes`: (stream, payload).
fn frames(mut bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let header = bytes.get(..HEADER)?;
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let payload = bytes.get(HEADER..HEADER + len)?;
        let stream = header[0];
        bytes = &bytes[HEADER + len..];
        Some((stream, payload))
    })
}

/// Whole `frames`, each run of one stream's consecutive frames merged into one frame.
fn merged(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut last: Option<(u8, usize)> = None; // the stream and header offset of the last frame
    for (stream, payload) in frames(bytes) {
        match last {
            Some((s, at)) if s == stream && !payload.is_empty() => {
                let len = u32::from_be_bytes([out[at + 4], out[at + 5], out[at + 6], out[at + 7]]);
                let len = len + payload.len() as u32;
                out[at + 4..at + 8].copy_from_slice(&len.to_be_bytes());
            }
            _ => {
                last = Some((stream, out.len()));
                out.extend_from_slice(&[stream, 0, 0, 0]);
                out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn one_streams_consecutive_frames_are_merged_and_others_kept_apart() {
        let bytes = [
            frame(1, b"hello out"),
            frame(1, b"\r\n"),
            frame(2, b"err\n"),
            frame(1, b"x"),
        ]
        .concat();
        assert_eq!(whole_frames(&bytes), bytes.len());
        assert_eq!(
            merged(&bytes),
            [
                frame(1, b"hello out\r\n"),
                frame(2, b"err\n"),
                frame(1, b"x")
            ]
            .concat()
        );
        assert!(!complete(Framing::Multiplexed, &bytes));
        assert!(complete(Framing::Multiplexed, &bytes[..bytes.len() - 9]));
        // A frame cut short is not whole.
        assert_eq!(whole_frames(&bytes[..bytes.len() - 1]), bytes.len() - 9);
        assert!(complete(Framing::Raw, b"a\r\n") && !complete(Framing::Raw, b"a"));
    }

    /// Two ends of a loopback TCP connection (every OS has them).
    async fn pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (one, other) = tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        let one = one.expect("connect");
        let (other, _) = other.expect("accept");
        one.set_nodelay(true).expect("nodelay");
        other.set_nodelay(true).expect("nodelay");
        (one, other)
    }

    /// Writes `pieces` with pauses (ms) into one end of a socket pair and reads what the
    /// other end of the copy gets, read by read.
    async fn through(framing: Framing, pieces: Vec<(Vec<u8>, u64)>) -> Vec<Vec<u8>> {
        let (mut engine, mut relay_in) = pair().await;
        let (mut relay_out, mut client) = pair().await;
        tokio::spawn(async move {
            for (bytes, pause) in pieces {
                engine.write_all(&bytes).await.expect("write");
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        });
        tokio::spawn(async move {
            copy_output(&mut relay_in, &mut relay_out, Some(framing))
                .await
                .expect("copy");
        });
        let mut reads = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = client.read(&mut buf).await.expect("read");
            if n == 0 {
                return reads;
            }
            reads.push(buf[..n].to_vec());
        }
    }

    #[tokio::test]
    async fn frames_of_one_line_reach_the_client_as_one() {
        let reads = through(
            Framing::Multiplexed,
            vec![
                (frame(1, b"hello out"), 5),
                (frame(1, b"\r\n"), 100),
                // A header and its payload apart, then a prompt no line end follows.
                (frame(1, b"$ ")[..3].to_vec(), 5),
                (frame(1, b"$ ")[3..].to_vec(), 0),
            ],
        )
        .await;
        assert_eq!(reads, vec![frame(1, b"hello out\r\n"), frame(1, b"$ ")]);
    }

    #[tokio::test]
    async fn raw_output_is_coalesced_by_line() {
        let reads = through(
            Framing::Raw,
            vec![
                (b"hello out".to_vec(), 5),
                (b"\r\n".to_vec(), 100),
                (b"$ ".to_vec(), 0),
            ],
        )
        .await;
        assert_eq!(reads, vec![b"hello out\r\n".to_vec(), b"$ ".to_vec()]);
    }
}

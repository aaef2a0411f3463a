//! The byte stream of an accepted data connection, with half-close that survives any vsock
//! transport.
//!
//! vhost-device-vsock (0.3) drops half-close: a guest `shutdown(SHUT_WR)` never reaches the host
//! and a host EOF becomes a full shutdown in the guest. Interactive engine connections
//! (`docker run -i`, `attach`, an HTTP/1.0 response ending in EOF) depend on half-close, so each
//! direction carries its bytes in chunks and ends with an explicit end-of-stream:
//!
//! ```text
//! [u32 big-endian length][length bytes] ... [0u32]   (one sequence per direction)
//! ```
//!
//! [`relay`] joins a chunked stream (the vsock side) to a plain one (the engine's socket in the
//! guest, a client's socket on the host): plain bytes become chunks one way, chunks become plain
//! bytes the other, and each end-of-stream becomes a `shutdown` of the matching writer.
//!
//! Interactive shells also carry control records host → guest (a terminal resize): a length
//! word with its high bit set, then that many bytes (`[1][cols u16][rows u16]` for a resize).
//! Only [`from_chunks_with_control`] accepts them; on any other stream they are an error.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest chunk either side sends or accepts.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Bytes moved by [`relay`]: (plain → chunked, chunked → plain).
pub type Moved = (u64, u64);

/// Copies `plain` ⇄ `chunked` until both directions have ended. An error in either direction
/// ends both.
pub async fn relay<C, P>(chunked: C, plain: P) -> std::io::Result<Moved>
where
    C: AsyncRead + AsyncWrite + Unpin,
    P: AsyncRead + AsyncWrite + Unpin,
{
    let (chunked_read, mut chunked_write) = tokio::io::split(chunked);
    // Buffered, so a chunk's length word and its bytes usually arrive in one read.
    let mut chunked_read = tokio::io::BufReader::with_capacity(MAX_CHUNK + 4, chunked_read);
    let (mut plain_read, mut plain_write) = tokio::io::split(plain);
    tokio::try_join!(
        to_chunks(&mut plain_read, &mut chunked_write),
        from_chunks(&mut chunked_read, &mut plain_write)
    )
}

/// Reads plain bytes until EOF and writes them as chunks, then the end-of-stream marker.
pub async fn to_chunks<R, W>(reader: &mut R, writer: &mut W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0u8; MAX_CHUNK + 4];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf[4..]).await?;
        let len = u32::try_from(n).unwrap_or(u32::MAX);
        buf[..4].copy_from_slice(&len.to_be_bytes());
        writer.write_all(&buf[..4 + n]).await?;
        writer.flush().await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Writes `data` as one chunk (at most [`MAX_CHUNK`] bytes); an empty `data` is the
/// end-of-stream marker. For writers that interleave chunks with control records; bulk copies
/// use [`to_chunks`].
pub async fn write_chunk<W>(writer: &mut W, data: &[u8]) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let len = u32::try_from(data.len())
        .ok()
        .filter(|&n| n as usize <= MAX_CHUNK)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    writer.write_all(&len.to_be_bytes()).await?;
    writer.write_all(data).await?;
    writer.flush().await
}

/// Marks a control record's length word.
const CONTROL_FLAG: u32 = 0x8000_0000;
/// The longest control record accepted.
const MAX_CONTROL: usize = 64;
/// The tag of a resize record.
const RESIZE: u8 = 1;

/// A control record of an interactive stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The host terminal's new size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

/// Writes a resize record.
pub async fn write_resize<W>(writer: &mut W, cols: u16, rows: u16) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut record = [0u8; 9];
    record[..4].copy_from_slice(&(CONTROL_FLAG | 5).to_be_bytes());
    record[4] = RESIZE;
    record[5..7].copy_from_slice(&cols.to_be_bytes());
    record[7..9].copy_from_slice(&rows.to_be_bytes());
    writer.write_all(&record).await?;
    writer.flush().await
}

/// Reads chunks until the end-of-stream marker, writing their bytes; then shuts `writer` down
/// (the half-close). A chunk over [`MAX_CHUNK`], a control record, or a stream ending mid-chunk
/// is an error.
pub async fn from_chunks<R, W>(reader: &mut R, writer: &mut W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    read_chunks::<_, _, fn(Control)>(reader, writer, None).await
}

/// [`from_chunks`] that also accepts control records, handing each to `on_control`. Records
/// with an unknown tag are skipped (a newer host may send more kinds).
pub async fn from_chunks_with_control<R, W>(
    reader: &mut R,
    writer: &mut W,
    on_control: impl FnMut(Control),
) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    read_chunks(reader, writer, Some(on_control)).await
}

async fn read_chunks<R, W, F>(
    reader: &mut R,
    writer: &mut W,
    mut on_control: Option<F>,
) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
    F: FnMut(Control),
{
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidData, message);
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut total = 0u64;
    loop {
        let mut len = [0u8; 4];
        reader.read_exact(&mut len).await?;
        let word = u32::from_be_bytes(len);
        if word & CONTROL_FLAG != 0 {
            let len = (word & !CONTROL_FLAG) as usize;
            let Some(handler) = on_control.as_mut() else {
                return Err(invalid("a control record on a plain data stream".into()));
            };
            if len == 0 || len > MAX_CONTROL {
                return Err(invalid(format!("a control record of {len} bytes")));
            }
            reader.read_exact(&mut buf[..len]).await?;
            if let [RESIZE, c0, c1, r0, r1, ..] = buf[..len] {
                handler(Control::Resize {
                    cols: u16::from_be_bytes([c0, c1]),
                    rows: u16::from_be_bytes([r0, r1]),
                });
            }
            continue;
        }
        let len = word as usize;
        if len == 0 {
            writer.shutdown().await?;
            return Ok(total);
        }
        if len > MAX_CHUNK {
            return Err(invalid(format!(
                "data chunk of {len} bytes exceeds the {MAX_CHUNK}-byte limit"
            )));
        }
        reader.read_exact(&mut buf[..len]).await?;
        writer.write_all(&buf[..len]).await?;
        total += len as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[tokio::test]
    async fn half_close_travels_and_the_other_direction_keeps_flowing() {
        // client ⇄ [plain | relay A | chunked] ⇄ [chunked | relay B | plain] ⇄ server
        let (client, a_plain) = duplex(1024);
        let (a_chunked, b_chunked) = duplex(1024);
        let (b_plain, server) = duplex(1024);
        let a = tokio::spawn(relay(a_chunked, a_plain));
        let b = tokio::spawn(relay(b_chunked, b_plain));

        let (mut client_read, mut client_write) = tokio::io::split(client);
        let (mut server_read, mut server_write) = tokio::io::split(server);
        client_write.write_all(b"request").await.expect("write");
        client_write.shutdown().await.expect("half-close");
        let mut request = Vec::new();
        server_read
            .read_to_end(&mut request)
            .await
            .expect("server sees EOF");
        assert_eq!(request, b"request");
        // After the client's half-close, the answer still flows back.
        let big = vec![7u8; 3 * MAX_CHUNK + 5];
        let sent = big.clone();
        let server = tokio::spawn(async move {
            server_write.write_all(&sent).await.expect("answer");
            server_write.shutdown().await.expect("server done");
        });
        let mut answer = Vec::new();
        client_read
            .read_to_end(&mut answer)
            .await
            .expect("client sees EOF");
        server.await.expect("server");
        assert_eq!(answer, big);
        assert_eq!(a.await.expect("a").expect("relay a"), (7, big.len() as u64));
        assert_eq!(b.await.expect("b").expect("relay b"), (big.len() as u64, 7));
    }

    #[tokio::test]
    async fn resize_records_reach_only_a_control_reader() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&[0, 0, 0, 2, b'h', b'i']);
        write_resize(&mut wire, 132, 43).await.expect("resize");
        // An unknown control kind is skipped.
        wire.extend_from_slice(&[0x80, 0, 0, 2, 9, 9]);
        wire.extend_from_slice(&[0, 0, 0, 1, b'!', 0, 0, 0, 0]);
        let mut seen = Vec::new();
        let mut out = Vec::new();
        let n = from_chunks_with_control(&mut wire.as_slice(), &mut out, |c| seen.push(c))
            .await
            .expect("ok");
        assert_eq!((n, out.as_slice()), (3, b"hi!".as_slice()));
        assert_eq!(
            seen,
            [Control::Resize {
                cols: 132,
                rows: 43
            }]
        );
        let err = from_chunks(&mut wire.as_slice(), &mut Vec::new())
            .await
            .expect_err("plain streams refuse control records");
        assert!(err.to_string().contains("control record"), "{err}");
        let mut oversize: &[u8] = &[0x80, 0, 1, 0];
        assert!(
            from_chunks_with_control(&mut oversize, &mut Vec::new(), |_| {})
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn oversize_and_truncated_chunks_are_errors() {
        let mut out = Vec::new();
        let mut input: &[u8] = &[0, 0x10, 0, 1];
        assert!(from_chunks(&mut input, &mut out).await.is_err());
        let mut input: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(from_chunks(&mut input, &mut out).await.is_err());
        let mut input: &[u8] = &[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 0];
        assert_eq!(from_chunks(&mut input, &mut out).await.expect("ok"), 2);
        assert_eq!(out, b"hi");
    }
}

//! The guest's end of a vsock stream, with every write capped at [`MAX_WRITE`] bytes.
//!
//! The guest kernel turns each `write` on a vsock stream into packets of up to 64 KiB, and
//! those over about 32 KiB become multi-buffer packets, which vhost-device-vsock 0.3 does not
//! deliver: the bytes never reach the host and the connection stalls (seen with any response
//! over 32 KiB: `docker save`, a download through a published port, a large log tail). Writing
//! in pieces of [`MAX_WRITE`] keeps every packet in one buffer, at the cost of a few more
//! system calls.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The largest single write passed to the vsock socket.
pub const MAX_WRITE: usize = 16 * 1024;

/// A stream whose writes are split into pieces of at most [`MAX_WRITE`] bytes.
pub struct CappedWrites<S>(pub S);

impl<S: AsyncRead + Unpin> AsyncRead for CappedWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CappedWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len().min(MAX_WRITE);
        Pin::new(&mut self.0).poll_write(cx, &buf[..len])
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Records the size of every write it is given.
    struct Sizes(Vec<usize>);

    impl AsyncWrite for Sizes {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.push(buf.len());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn large_writes_are_split_and_reads_pass_through() {
        let mut capped = CappedWrites(Sizes(Vec::new()));
        capped
            .write_all(&vec![1u8; 3 * MAX_WRITE + 5])
            .await
            .expect("write");
        assert_eq!(capped.0 .0, vec![MAX_WRITE, MAX_WRITE, MAX_WRITE, 5]);

        let mut reader = CappedWrites(&b"all of it"[..]);
        let mut got = String::new();
        reader.read_to_string(&mut got).await.expect("read");
        assert_eq!(got, "all of it");
    }
}

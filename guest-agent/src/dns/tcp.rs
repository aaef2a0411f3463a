//! DNS over TCP (RFC 7766): each message preceded by its 2-byte length, any number on one
//! connection. A client may stay idle between messages for a while, but once a message starts
//! it must arrive whole within its own timeout, and the answer be taken within the same, so a
//! client that stalls halfway (a partial length or message, an unread answer) is dropped.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::resolver::Resolver;

/// How long a TCP client may wait between messages, and may take over each.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Between messages (before a message's first byte).
    pub idle: Duration,
    /// Reading one message, from its first byte, and writing one answer.
    pub message: Duration,
}

/// Answers the client's queries until it closes, stalls or sends something unanswerable.
pub async fn serve<S>(mut stream: S, resolver: &Resolver, timeouts: Timeouts)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut query = Vec::new();
    while read_message(&mut stream, &mut query, timeouts).await {
        let Some(answer) = resolver.answer(&query).await else {
            return;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        let write = async {
            stream.write_all(&len.to_be_bytes()).await?;
            stream.write_all(&answer).await
        };
        if !matches!(
            tokio::time::timeout(timeouts.message, write).await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
}

/// Reads the next message into `message`; `false` when the client closed, failed or timed out.
async fn read_message<S>(stream: &mut S, message: &mut Vec<u8>, timeouts: Timeouts) -> bool
where
    S: AsyncRead + Unpin,
{
    let Ok(Ok(high)) = tokio::time::timeout(timeouts.idle, stream.read_u8()).await else {
        return false;
    };
    let rest = async {
        let low = stream.read_u8().await?;
        message.resize(usize::from(u16::from_be_bytes([high, low])), 0);
        stream.read_exact(message).await
    };
    matches!(
        tokio::time::timeout(timeouts.message, rest).await,
        Ok(Ok(_))
    )
}

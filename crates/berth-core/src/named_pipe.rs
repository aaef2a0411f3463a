//! Windows: a named pipe served like a Unix socket, for the engine's pipe and the daemon's
//! command channel. Only the current user may open it ([`crate::pipe_security::UserOnly`]),
//! only from this machine, and binding takes its first instance, so a pipe another process
//! (another engine, another user's Berth) already serves is refused rather than shared (a
//! probe connection says so first, which also holds where the first-instance flag is not
//! enforced, as under Wine).
//!
//! The pipe is in message mode, as the Docker engine's own pipe: a named pipe has no
//! half-close, and a Windows docker client ends its input (`CloseWrite`, stdin's end in
//! `docker run -i`) with a zero-length message, which reads here as end of file.

use std::ffi::OsString;
use std::path::Path;

use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeServer, PipeMode, ServerOptions};

use crate::pipe_security::UserOnly;

/// A bound pipe; each [`PipeListener::accept`] gives one connected client.
pub struct PipeListener {
    name: OsString,
    security: UserOnly,
    next: NamedPipeServer,
}

impl PipeListener {
    /// Takes the pipe `name` (`\\.\pipe\…`). `ErrorKind::AddrInUse` when another process
    /// serves it already.
    pub fn bind(name: &Path) -> std::io::Result<PipeListener> {
        // One descriptor serves every instance (Windows reads it when one is made).
        let mut security = UserOnly::new()?;
        let name = name.as_os_str().to_owned();
        let in_use = || {
            std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another process serves {}", name.to_string_lossy()),
            )
        };
        if served(&name) {
            return Err(in_use());
        }
        let next = create(&name, &mut security, true).map_err(|err| {
            // ERROR_ACCESS_DENIED, ERROR_PIPE_BUSY: someone else made the first instance.
            if matches!(err.raw_os_error(), Some(5 | 231)) {
                in_use()
            } else {
                err
            }
        })?;
        Ok(PipeListener {
            name,
            security,
            next,
        })
    }

    /// Waits for a client; a fresh instance then waits for the next one.
    pub async fn accept(&mut self) -> std::io::Result<NamedPipeServer> {
        let connected = self.next.connect().await;
        // Either way this instance is spent: the next client gets a new one.
        let next = create(&self.name, &mut self.security, false)?;
        let instance = std::mem::replace(&mut self.next, next);
        connected.map(|()| instance)
    }
}

/// Whether some process serves `name`: it opens, is busy, or refuses this user.
fn served(name: &OsString) -> bool {
    match ClientOptions::new().open(name) {
        Ok(_) => true,
        // ERROR_ACCESS_DENIED, ERROR_PIPE_BUSY.
        Err(err) => matches!(err.raw_os_error(), Some(5 | 231)),
    }
}

fn create(
    name: &OsString,
    security: &mut UserOnly,
    first: bool,
) -> std::io::Result<NamedPipeServer> {
    let mut options = ServerOptions::new();
    options
        .first_pipe_instance(first)
        .pipe_mode(PipeMode::Message)
        .reject_remote_clients(true);
    // SAFETY: the attributes and the descriptor they point at live in `security` until after
    // the call, which only reads them.
    unsafe { options.create_with_security_attributes_raw(name, security.as_ptr()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::windows::named_pipe::ClientOptions;

    fn unique_name(what: &str) -> std::path::PathBuf {
        format!(
            r"\\.\pipe\berth-test-{what}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        )
        .replace([' ', ':', '{', '}', ','], "")
        .into()
    }

    #[tokio::test]
    async fn clients_connect_one_after_the_other_and_a_taken_pipe_is_refused() {
        let name = unique_name("listener");
        let mut listener = PipeListener::bind(&name).expect("bind");
        let err = PipeListener::bind(&name).err().expect("taken");
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
        let server = tokio::spawn(async move {
            let mut served = 0;
            // The refused bind's probe was a client too; it left at once.
            while served < 3 {
                let mut pipe = listener.accept().await.expect("accept");
                let mut byte = [0u8; 1];
                if pipe.read_exact(&mut byte).await.is_ok() {
                    pipe.write_all(&[byte[0] + 1]).await.expect("write");
                    served += 1;
                }
            }
        });
        for i in 0..3u8 {
            let mut client = loop {
                match ClientOptions::new().open(name.as_os_str()) {
                    Ok(client) => break client,
                    // All instances busy for a moment: retry, as docker's client does.
                    Err(e) if e.raw_os_error() == Some(231) => {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await
                    }
                    Err(e) => panic!("open: {e}"),
                }
            };
            client.write_all(&[i]).await.expect("write");
            let mut back = [0u8; 1];
            client.read_exact(&mut back).await.expect("read");
            assert_eq!(back[0], i + 1);
        }
        server.await.expect("server");
    }

    #[tokio::test]
    async fn a_zero_length_message_is_the_end_of_the_input() {
        let name = unique_name("eof");
        let mut listener = PipeListener::bind(&name).expect("bind");
        let server = tokio::spawn(async move {
            let mut pipe = listener.accept().await.expect("accept");
            let mut got = Vec::new();
            pipe.read_to_end(&mut got).await.expect("read to the end");
            pipe.write_all(&got).await.expect("answer");
        });
        let mut client = ClientOptions::new()
            .pipe_mode(PipeMode::Message)
            .open(name.as_os_str())
            .expect("open");
        client.write_all(b"input").await.expect("write");
        // What a Windows docker client's CloseWrite sends.
        assert_eq!(client.write(&[]).await.expect("end of input"), 0);
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.expect("the answer");
        assert_eq!(&back, b"input");
        server.await.expect("server");
    }
}

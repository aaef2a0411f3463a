//! The boot's private channel ([`berth_protocol::auth::BootChannel`]): the secret every host
//! connection must start with, and the engine's settings that must not be on the kernel command
//! line (proxy credentials, registry tokens). `berth.secret` names where it is: QEMU's `fw_cfg`
//! item, the second virtio console port (Virtualization.framework) or standard input (WSL).
//!
//! Without a channel the agent still boots and prints its ready line, but refuses every
//! connection (fail closed), saying why.

use std::time::Duration;

use berth_protocol::auth::{BootChannel, ChannelError, FW_CFG_NAME, MAX_CHANNEL};
use berth_protocol::settings::SecretSource;
use tokio::io::{AsyncRead, AsyncReadExt};

/// How long the channel may take to arrive (a console port is fed by the hypervisor, standard
/// input by `wsl.exe`).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Where QEMU's `fw_cfg` items appear once the `qemu_fw_cfg` module is loaded.
const FW_CFG_DIR: &str = "/sys/firmware/qemu_fw_cfg/by_name";

/// The console port Virtualization.framework feeds from the host's 0600 file.
const HVC1: &str = "/dev/hvc1";

/// Why the channel could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// `berth.secret` is missing.
    #[error("the kernel command line names no boot secret (berth.secret): refusing every connection; start the VM with Berth")]
    NoSource,
    /// The source could not be read.
    #[error("cannot read the boot channel from {from}: {source}")]
    Io {
        /// What was read.
        from: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The source said nothing whole in time.
    #[error("the boot channel from {0} was not complete within {READ_TIMEOUT:?}")]
    Timeout(String),
    /// The text is not a channel.
    #[error("the boot channel from {from} is malformed: {source}")]
    Malformed {
        /// What was read.
        from: String,
        /// What is wrong.
        source: ChannelError,
    },
}

/// Reads the channel from `source`.
pub async fn read(source: SecretSource) -> Result<BootChannel, ReadError> {
    let from = match source {
        SecretSource::None => return Err(ReadError::NoSource),
        SecretSource::FwCfg => format!("{FW_CFG_DIR}/{FW_CFG_NAME}/raw"),
        SecretSource::Hvc1 => HVC1.to_owned(),
        SecretSource::Stdin => "standard input".to_owned(),
    };
    let io = |source| ReadError::Io {
        from: from.clone(),
        source,
    };
    let text = match source {
        SecretSource::Stdin => read_until_end(&mut tokio::io::stdin(), &from).await?,
        SecretSource::Hvc1 => {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .open(HVC1)
                .map_err(io)?;
            raw_mode(&file).map_err(io)?;
            read_until_end(&mut tokio::fs::File::from_std(file), &from).await?
        }
        _ => {
            let file = tokio::fs::File::open(&from).await.map_err(io)?;
            read_until_end(&mut file.take(MAX_CHANNEL as u64 + 1), &from).await?
        }
    };
    BootChannel::parse(&text).map_err(|source| ReadError::Malformed { from, source })
}

/// Reads `reader` until the channel's `end` line, its end of file, [`MAX_CHANNEL`] bytes or
/// [`READ_TIMEOUT`].
async fn read_until_end<R: AsyncRead + Unpin>(
    reader: &mut R,
    from: &str,
) -> Result<String, ReadError> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let n = reader.read(&mut buf).await?;
            bytes.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&bytes);
            if n == 0 || bytes.len() > MAX_CHANNEL || BootChannel::is_complete(&text) {
                return Ok::<_, std::io::Error>(text.into_owned());
            }
        }
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(source)) => Err(ReadError::Io {
            from: from.to_owned(),
            source,
        }),
        Err(_) => Err(ReadError::Timeout(from.to_owned())),
    }
}

/// A console port echoes and edits lines unless raw: the channel must arrive byte for byte.
fn raw_mode(file: &std::fs::File) -> std::io::Result<()> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let mut attrs = tcgetattr(file)?;
    cfmakeraw(&mut attrs);
    tcsetattr(file, SetArg::TCSANOW, &attrs)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::auth::BootSecret;

    #[tokio::test]
    async fn reads_up_to_the_end_line_of_a_stream_that_stays_open() {
        let channel = BootChannel {
            secret: BootSecret::from_bytes([3; 32]),
            params: vec!["berth.dns=1.1.1.1".into()],
        };
        let (mut host, mut agent) = tokio::io::duplex(64);
        let text = channel.to_text();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            host.write_all(text.as_bytes()).await.expect("write");
            // Like a console port: never closed.
            std::future::pending::<()>().await;
            drop(host);
        });
        let got = read_until_end(&mut agent, "test").await.expect("read");
        assert_eq!(BootChannel::parse(&got), Ok(channel));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unfinished_channel_times_out_and_a_missing_source_is_named() {
        let (_host, mut agent) = tokio::io::duplex(64);
        assert!(matches!(
            read_until_end(&mut agent, "test").await,
            Err(ReadError::Timeout(_))
        ));
        let err = read(SecretSource::None).await.expect_err("no source");
        assert!(err.to_string().contains("berth.secret"), "{err}");
    }
}

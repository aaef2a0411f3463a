//! The boot secret: what makes a connection to the agent the host's.
//!
//! The host draws [`SECRET_LEN`] random bytes for every boot and hands them to the agent by a
//! channel neither containers nor other host users can read: QEMU's `fw_cfg` item
//! [`FW_CFG_NAME`] from a 0600 file, a Virtualization.framework console port fed from such a
//! file, the WSL agent's standard input; the kernel parameter [`crate::settings`]'s
//! `berth.secret` names only which (`/proc/cmdline` is readable in containers). Every control and
//! data connection then starts with the secret's raw bytes (the *preamble*), before the hello or
//! the data header, on every transport alike (hybrid, kernel vsock, Hyper-V, the VZ bridge); the
//! agent compares it in constant time and refuses the connection otherwise.
//!
//! The channel carries a [`BootChannel`]: the secret's hex text on the first line, then the
//! engine's settings ([`crate::settings::AgentSettings::private_params`], which may hold proxy
//! credentials and registry tokens) one parameter a line, then a line `end` (a console port has
//! no end of file).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes in a boot secret.
pub const SECRET_LEN: usize = 32;

/// The QEMU `fw_cfg` item carrying the secret (the guest reads it at
/// `/sys/firmware/qemu_fw_cfg/by_name/opt/berth/secret/raw`).
pub const FW_CFG_NAME: &str = "opt/berth/secret";

/// One boot's secret. Its `Debug` never shows it; it serializes as its hex text (for the 0600
/// state file other host processes read it from).
#[derive(Clone, PartialEq, Eq)]
pub struct BootSecret([u8; SECRET_LEN]);

/// A secret's text that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a boot secret is 64 hex digits; got {0} characters that are not")]
pub struct SecretError(pub usize);

impl BootSecret {
    /// The secret made of `bytes` (random ones: the host draws them from the OS).
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> BootSecret {
        BootSecret(bytes)
    }

    /// The secret as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses [`BootSecret::to_hex`]'s text; surrounding whitespace (a newline) is ignored.
    pub fn parse_hex(text: &str) -> Result<BootSecret, SecretError> {
        let text = text.trim();
        let mut bytes = [0u8; SECRET_LEN];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| SecretError(text.len()))?;
        Ok(BootSecret(bytes))
    }

    /// Whether `preamble` is this secret, compared in constant time.
    pub fn matches(&self, preamble: &[u8; SECRET_LEN]) -> bool {
        self.0.ct_eq(preamble).into()
    }
}

impl fmt::Debug for BootSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BootSecret(…)")
    }
}

impl Serialize for BootSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BootSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BootSecret::parse_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Most bytes of a [`BootChannel`]'s text the agent reads.
pub const MAX_CHANNEL: usize = 64 * 1024;

/// What the private channel carries at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootChannel {
    /// This boot's secret.
    pub secret: BootSecret,
    /// `berth.KEY=VALUE` parameters, percent-encoded (no whitespace in any).
    pub params: Vec<String>,
}

/// A channel's text that is not a [`BootChannel`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The first line is not a secret.
    #[error("the boot channel does not start with a secret: {0}")]
    Secret(#[from] SecretError),
    /// The text ended before its `end` line.
    #[error("the boot channel ended before its end line")]
    Unterminated,
    /// The text is longer than [`MAX_CHANNEL`].
    #[error("the boot channel is over {MAX_CHANNEL} bytes")]
    TooLong,
}

impl BootChannel {
    /// The channel of a boot with `secret` and `settings` (their private part).
    pub fn new(secret: BootSecret, settings: &crate::settings::AgentSettings) -> BootChannel {
        BootChannel {
            secret,
            params: settings.private_params(),
        }
    }

    /// The channel's text.
    pub fn to_text(&self) -> String {
        let mut text = self.secret.to_hex();
        text.push('\n');
        for param in &self.params {
            text.push_str(param);
            text.push('\n');
        }
        text.push_str("end\n");
        text
    }

    /// Whether `text` holds a whole channel yet (its `end` line), for a reader of a device that
    /// does not end.
    pub fn is_complete(text: &str) -> bool {
        text.lines().any(|line| line.trim_ascii() == "end")
    }

    /// Parses [`BootChannel::to_text`]'s text (carriage returns tolerated); what follows the
    /// `end` line is ignored, and so is every word of a line that is not a `berth.` parameter.
    /// Only ASCII whitespace separates (as on a kernel command line), so a parameter's value
    /// keeps any other.
    pub fn parse(text: &str) -> Result<BootChannel, ChannelError> {
        if text.len() > MAX_CHANNEL {
            return Err(ChannelError::TooLong);
        }
        let mut lines = text.lines().map(str::trim_ascii);
        let secret = BootSecret::parse_hex(lines.next().unwrap_or(""))?;
        let mut params = Vec::new();
        for line in lines {
            if line == "end" {
                return Ok(BootChannel { secret, params });
            }
            params.extend(
                line.split_ascii_whitespace()
                    .filter(|word| word.starts_with("berth."))
                    .map(str::to_owned),
            );
        }
        Err(ChannelError::Unterminated)
    }
}

/// Sends the preamble: the first bytes the host writes on every connection to the agent.
pub async fn write_preamble<S>(stream: &mut S, secret: &BootSecret) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin + ?Sized,
{
    stream.write_all(&secret.0).await
}

/// Reads a connection's preamble (exactly [`SECRET_LEN`] bytes, never more), to be checked
/// with [`BootSecret::matches`].
pub async fn read_preamble<S>(stream: &mut S) -> std::io::Result<[u8; SECRET_LEN]>
where
    S: AsyncRead + Unpin + ?Sized,
{
    let mut preamble = [0u8; SECRET_LEN];
    stream.read_exact(&mut preamble).await?;
    Ok(preamble)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> BootSecret {
        BootSecret::from_bytes([byte; SECRET_LEN])
    }

    #[test]
    fn hex_text_round_trips_and_bad_text_is_refused() {
        let s = BootSecret::from_bytes(std::array::from_fn(|i| i as u8));
        let text = s.to_hex();
        assert_eq!(text.len(), 64);
        assert_eq!(BootSecret::parse_hex(&format!("{text}\n")), Ok(s.clone()));
        for bad in [
            "",
            "zz",
            &text[..62],
            &format!("{text}00"),
            &text.replace('0', "g"),
        ] {
            assert!(BootSecret::parse_hex(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&s).expect("serialize");
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<BootSecret>(&json).expect("parse"), s);
        assert!(serde_json::from_str::<BootSecret>("\"00\"").is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        assert_eq!(format!("{:?}", secret(0xab)), "BootSecret(…)");
    }

    #[test]
    fn the_channel_round_trips_and_bad_text_is_refused() {
        let channel = BootChannel {
            secret: secret(1),
            params: vec![
                "berth.http_proxy=http://u:p@proxy:3128".into(),
                "berth.dns=1.1.1.1".into(),
            ],
        };
        let text = channel.to_text();
        assert!(BootChannel::is_complete(&text));
        assert_eq!(BootChannel::parse(&text), Ok(channel.clone()));
        assert_eq!(
            BootChannel::parse(&text.replace('\n', "\r\n")),
            Ok(channel.clone())
        );
        assert_eq!(
            BootChannel::parse(&format!("{text}garbage after")),
            Ok(channel)
        );
        let unterminated = text.replace("end\n", "");
        assert!(!BootChannel::is_complete(&unterminated));
        assert_eq!(
            BootChannel::parse(&unterminated),
            Err(ChannelError::Unterminated)
        );
        assert!(matches!(
            BootChannel::parse("nope\nend\n"),
            Err(ChannelError::Secret(_))
        ));
        assert!(matches!(
            BootChannel::parse(""),
            Err(ChannelError::Secret(_))
        ));
        let long = format!("{}\n{}end\n", secret(1).to_hex(), "x ".repeat(MAX_CHANNEL));
        assert_eq!(BootChannel::parse(&long), Err(ChannelError::TooLong));
    }

    /// Found by the `boot_channel` fuzz target: a word `end` inside a line and a value ending
    /// in non-ASCII whitespace did not survive being written back.
    #[test]
    fn what_parses_writes_back_to_the_same_channel() {
        let hex = secret(1).to_hex();
        for text in [
            format!("{hex}\nberth.a=1 end\t020=1\nend\n"),
            format!("{hex}\nberth.a=x\u{a0} berth.b=y\nend\n"),
            format!("{hex}\nberth.a=x\n\u{a0}end\nberth.b=y\nend\n"),
        ] {
            let channel = BootChannel::parse(&text).expect("parses");
            assert!(BootChannel::is_complete(&text));
            assert_eq!(
                BootChannel::parse(&channel.to_text()),
                Ok(channel),
                "{text:?}"
            );
        }
        let channel = BootChannel::parse(&format!("{hex}\nberth.a=x\u{a0} noise end\nend\n"));
        assert_eq!(
            channel.expect("parses").params,
            ["berth.a=x\u{a0}"],
            "only berth. words, non-ASCII whitespace kept"
        );
    }

    #[tokio::test]
    async fn the_preamble_is_the_raw_secret_and_only_it_matches() {
        let (mut host, mut agent) = tokio::io::duplex(256);
        write_preamble(&mut host, &secret(7)).await.expect("write");
        host.write_all(b"next").await.expect("write");
        let got = read_preamble(&mut agent).await.expect("read");
        assert!(secret(7).matches(&got));
        assert!(!secret(8).matches(&got));
        let mut rest = [0u8; 4];
        agent.read_exact(&mut rest).await.expect("rest");
        assert_eq!(&rest, b"next", "nothing past the preamble is consumed");
        drop(host);
        assert!(
            read_preamble(&mut agent).await.is_err(),
            "a short preamble fails"
        );
    }
}

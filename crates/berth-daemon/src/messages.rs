//! The daemon's command channel: what a client sends and what the daemon answers, as
//! length-prefixed JSON frames (`berth_protocol::frame::FrameCodec`, the agent's framing).
//!
//! A client opens with [`Request::Hello`] naming [`CHANNEL_VERSION`]; the daemon answers
//! [`Reply::Hello`] or, for another version, [`Reply::Refused`] naming both. Then:
//! - [`Request::Status`] → one [`Reply::View`];
//! - [`Request::Stop`] → [`Reply::Stopping`], then the daemon stops the engine and powers off;
//!   the connection closes when it exits;
//! - [`Request::Subscribe`] → the current [`Reply::View`], then one per change until the daemon
//!   exits;
//! - [`Request::Hold`] → [`Reply::Awake`] once the VM runs (a paused one is resumed first);
//!   the VM is then kept from pausing until the client closes the connection (`berth shell`,
//!   `berth logs`). A daemon older than the request drops the connection;
//! - [`Request::Observe`] → [`Reply::Awake`] if the VM runs now, holding it from pausing
//!   (without restarting its quiet time) until the connection closes, or [`Reply::Asleep`]
//!   at once: for `berth status` and the app's figures, which read the guest and must neither
//!   wake it nor be caught by a pause halfway;
//! - [`Request::Pause`] → [`Reply::Paused`] once the VM is paused (`berth pause`), or
//!   [`Reply::NotPaused`] saying why not.

use std::path::PathBuf;

use berth_core::instance::VmView;
use berth_core::paths::Paths;
use berth_protocol::frame::FrameCodec;
use serde::{Deserialize, Serialize};

/// The channel's version. Bumped on incompatible changes; a daemon refuses any other.
pub const CHANNEL_VERSION: u32 = 1;

/// Where the channel is served: the socket `berth.sock` in the runtime directory on Unix; on
/// Windows the named pipe `\\.\pipe\berth-daemon-<hash>`, its name derived from the runtime
/// directory (so each user, and each test's directories, has its own).
pub fn address(paths: &Paths) -> PathBuf {
    #[cfg(windows)]
    return paths.pipe("daemon");
    #[cfg(not(windows))]
    paths.supervisor_socket()
}

/// From a client to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// The first message: the client's channel version.
    Hello {
        /// [`CHANNEL_VERSION`] of the client.
        version: u32,
    },
    /// The VM's view now.
    Status,
    /// Stop the engine and power the VM off.
    Stop,
    /// The VM's view now and after each change.
    Subscribe,
    /// Keep the VM awake (resuming it if paused) while this connection is open.
    Hold,
    /// If the VM is awake, keep it from pausing while this connection is open (without waking
    /// it, nor restarting its quiet time).
    Observe,
    /// Pause the VM now, whether containers run or not (the next use resumes it).
    Pause,
}

/// From the daemon to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The answer to a compatible hello.
    Hello {
        /// The daemon's [`CHANNEL_VERSION`].
        version: u32,
        /// The daemon's process id.
        pid: u32,
        /// The daemon's Berth version.
        daemon_version: String,
    },
    /// The answer to a hello of another version; the connection closes.
    Refused {
        /// The daemon's [`CHANNEL_VERSION`].
        version: u32,
        /// Why, for people.
        reason: String,
    },
    /// The VM's view.
    View {
        /// The view.
        view: VmView,
    },
    /// The stop was taken; the daemon is stopping.
    Stopping,
    /// The answer to [`Request::Hold`]: the VM runs, and stays awake while the connection is
    /// open.
    Awake,
    /// The answer to [`Request::Observe`] while the VM is paused (or pausing).
    Asleep,
    /// The answer to [`Request::Pause`]: the VM is paused.
    Paused,
    /// The answer to [`Request::Pause`]: the VM was not paused.
    NotPaused {
        /// Why, for people.
        reason: String,
    },
}

/// The daemon's side of the channel.
pub type DaemonCodec = FrameCodec<Request, Reply>;
/// A client's side of the channel.
pub type ClientCodec = FrameCodec<Reply, Request>;

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::frame::{decode_frame, encode_frame};

    #[test]
    fn messages_are_tagged_json() {
        let frame = encode_frame(&Request::Hello { version: 1 }).expect("encode");
        assert_eq!(&frame[4..], br#"{"type":"hello","version":1}"#);
        let view = Reply::View {
            view: VmView::stopped(),
        };
        let back = decode_frame::<Reply>(&encode_frame(&view).expect("encode")).expect("decode");
        assert_eq!(back.map(|(m, _)| m), Some(view));
        assert!(decode_frame::<Request>(&encode_frame(&"nonsense").expect("encode")).is_err());
    }
}

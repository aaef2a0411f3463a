//! Docker Hub and registries for Berth, independent of the app's UI:
//!
//! - [`client`]: a small client of the Hub's public JSON API (search, repository details,
//!   tags with sizes and architectures, paging) with a configurable base URL, a short
//!   in-memory cache, bounded honouring of `429 Retry-After`, and typed errors for offline,
//!   timeouts and rate limits ([`HubError`]);
//! - [`reference`]: image references checked by the registry grammar before anything reaches
//!   the engine, and the registry each one belongs to (whose credentials a pull or push needs);
//! - [`credentials`]: registry accounts in the OS keychain (Secret Service on Linux, the
//!   Keychain on macOS, the Credential Manager on Windows) through the `keyring` crate, never
//!   in plain files.

pub mod cache;
pub mod client;
pub mod credentials;
pub mod error;
pub mod model;
pub mod reference;

pub use client::{HubClient, HubConfig};
pub use error::HubError;
pub use reference::Reference;

/// The Hub's public API, the default base URL.
pub const DEFAULT_HUB_API: &str = "https://hub.docker.com";

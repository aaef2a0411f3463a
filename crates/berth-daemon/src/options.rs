//! What a start is asked for: the guest image, how long to wait, and settings that override
//! `settings.json` for this run. Plain data with no CLI types, sent to the detached daemon as
//! JSON on its standard input (never on its command line: the overrides may one day carry a
//! proxy's credentials).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long the guest and the engine may take, unless asked otherwise.
pub const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// One start of the VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartOptions {
    /// The guest image directory.
    pub image: PathBuf,
    /// Seconds to wait for the guest and the engine.
    pub boot_timeout_secs: u64,
    /// Settings for this run over `settings.json` (validated together with the file).
    #[serde(default)]
    pub overrides: berth_core::settings::SettingsUpdate,
    /// Point the `berth` docker context at the engine socket (off in unit tests).
    #[serde(default = "yes")]
    pub docker_context: bool,
    /// Berth's directories: the client's own, so a daemon and the client that launched it
    /// always agree (the user's when absent).
    #[serde(default)]
    pub paths: Option<berth_core::paths::Paths>,
}

fn yes() -> bool {
    true
}

impl StartOptions {
    /// A start of `image` with the defaults.
    pub fn new(image: PathBuf) -> StartOptions {
        StartOptions {
            image,
            boot_timeout_secs: DEFAULT_BOOT_TIMEOUT.as_secs(),
            overrides: Default::default(),
            docker_context: true,
            paths: None,
        }
    }

    /// The time the guest and the engine may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.boot_timeout_secs)
    }

    /// The image a start uses unless told otherwise: `BERTH_IMAGE`, else an installed
    /// Berth's own (beside this executable), else the Debian package's place.
    pub fn default_image() -> PathBuf {
        if let Some(image) = std::env::var_os("BERTH_IMAGE").filter(|v| !v.is_empty()) {
            return PathBuf::from(image);
        }
        berth_core::install::Layout::current()
            .map(|layout| layout.image)
            .unwrap_or_else(|| PathBuf::from("/usr/share/berth/image"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_travel_as_json_and_refuse_unknown_fields() {
        let mut options = StartOptions::new(PathBuf::from("/img"));
        options.overrides.cpus = Some(3);
        let json = serde_json::to_string(&options).expect("json");
        let back: StartOptions = serde_json::from_str(&json).expect("back");
        assert_eq!(back, options);
        let err = serde_json::from_str::<StartOptions>(
            r#"{"image": "/img", "boot_timeout_secs": 5, "bogus": 1}"#,
        )
        .expect_err("unknown field");
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}

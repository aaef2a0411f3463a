//! The one error type every command returns. It reaches the UI as `{code, message}`: the UI
//! chooses what to show (and which fix to offer) by `code`, never by parsing `message`. The
//! codes are [`ErrorCode`], the shape is [`ErrorView`]; both reach the UI's TypeScript through
//! [`crate::bindings`].

use serde::{Deserialize, Serialize, Serializer};
use ts_rs::TS;

/// Why a command failed. Each variant's message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The VM (and so the engine) is not running.
    #[error("Berth is not running: start it from the dashboard (or `berth start`)")]
    VmNotRunning,
    /// Starting, stopping or asking the Berth daemon failed; its own code, message and field
    /// (a settings error names the setting).
    #[error(transparent)]
    Daemon(#[from] berth_daemon::ClientError),
    /// The engine answered with an error.
    #[error("the engine refused: {message}")]
    Engine {
        /// The HTTP status the engine gave.
        status: u16,
        /// The engine's own message.
        message: String,
    },
    /// The engine could not be reached although the VM runs.
    #[error("cannot reach the engine: {0}; try restarting Berth")]
    EngineUnreachable(String),
    /// The container, image or volume does not exist (any more).
    #[error("{0} no longer exists; the list was refreshed")]
    NotFound(String),
    /// The engine refused because of the object's state (in use, running…).
    #[error("{0}")]
    Conflict(String),
    /// An argument from the UI is invalid; `field` names the form field.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The form field.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The settings file is unreadable or a value out of range.
    #[error("{0}")]
    Settings(#[from] berth_core::settings::SettingsError),
    /// The guest agent failed.
    #[error("the guest agent: {0}")]
    Agent(#[from] berth_core::agent::AgentError),
    /// A file on the host could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Hub's API failed (offline, timeout, rate limit, not found…); its own code.
    #[error("{0}")]
    Hub(#[from] berth_hub::HubError),
    /// The OS keychain could not be used; its own code.
    #[error("{0}")]
    Keychain(#[from] berth_hub::credentials::CredentialError),
    /// The registry refused the credentials (or asked for some).
    #[error("{0}")]
    Unauthorized(String),
    /// The image or tag does not exist in its registry.
    #[error("{0}")]
    ImageNotFound(String),
    /// The engine could not complete a pull, push or login with the registry (down, slow,
    /// refusing); the message is the engine's, with what was being done.
    #[error("{0}")]
    Registry(String),
    /// The OS's start-at-login entry could not be read or changed.
    #[error("cannot change starting at login: {0}")]
    LoginItem(String),
    /// The user dismissed a dialog or the operation was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// An unknown terminal or stream id.
    #[error("that session has ended; open it again")]
    NoSession,
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

/// Every code an [`AppError`] reaches the UI with: its own, and those of the daemon, the Hub
/// and the keychain it passes on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    TS,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    /// [`AppError::VmNotRunning`].
    VmNotRunning,
    /// The daemon: another Berth runs already.
    AlreadyRunning,
    /// The daemon: the guest image is missing or unreadable.
    Image,
    /// The daemon: the hypervisor failed or is missing.
    Hypervisor,
    /// The daemon: the VM did not boot.
    Boot,
    /// The daemon: the VM ended while starting or running.
    VmEnded,
    /// The daemon: the engine socket could not be served.
    EngineSocket,
    /// The daemon refuses to run as root.
    Root,
    /// The daemon died.
    DaemonDied,
    /// The daemon does not answer.
    DaemonUnresponsive,
    /// The daemon is another version than the app.
    DaemonVersion,
    /// The daemon could not be launched.
    DaemonLaunch,
    /// The daemon exited while starting.
    DaemonExited,
    /// The VM did not start in time.
    StartTimeout,
    /// The VM did not stop in time.
    StopTimeout,
    /// The daemon: the VM is stopped.
    Stopped,
    /// The daemon: the operation failed.
    Failed,
    /// [`AppError::Engine`] (and the daemon's engine wait).
    Engine,
    /// [`AppError::EngineUnreachable`].
    EngineUnreachable,
    /// [`AppError::NotFound`].
    NotFound,
    /// [`AppError::Conflict`].
    Conflict,
    /// [`AppError::InvalidInput`] (and the Hub's).
    InvalidInput,
    /// A setting is out of range; `field` names it.
    InvalidSetting,
    /// The settings file is unreadable.
    SettingsFile,
    /// [`AppError::Agent`].
    Agent,
    /// [`AppError::Io`] (and the daemon's).
    Io,
    /// [`AppError::Cancelled`].
    Cancelled,
    /// [`AppError::NoSession`].
    NoSession,
    /// The Hub cannot be reached.
    HubOffline,
    /// The Hub did not answer in time.
    HubTimeout,
    /// The Hub limits requests.
    HubRateLimited,
    /// The Hub has no such repository.
    HubNotFound,
    /// The Hub answered with an error.
    HubError,
    /// The OS keychain cannot be used.
    KeychainUnavailable,
    /// A keychain item does not parse.
    KeychainCorrupt,
    /// [`AppError::Unauthorized`].
    Unauthorized,
    /// [`AppError::ImageNotFound`].
    ImageNotFound,
    /// [`AppError::Registry`].
    Registry,
    /// [`AppError::LoginItem`].
    LoginItem,
    /// [`AppError::Internal`], and a code this app does not know.
    Internal,
}

impl ErrorCode {
    /// The code as the UI spells it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The code another crate (the daemon, the Hub, the keychain) gave as text; one this
    /// version does not know becomes [`ErrorCode::Internal`] (the message still says what
    /// happened).
    fn from_code(code: &str) -> ErrorCode {
        code.parse().unwrap_or_else(|_| {
            tracing::warn!("unknown error code {code:?}, shown as internal");
            ErrorCode::Internal
        })
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An [`AppError`] as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(rename = "AppError")]
pub struct ErrorView {
    /// What failed, to act on.
    pub code: ErrorCode,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// The form field or setting at fault, for input and settings errors.
    pub field: Option<String>,
}

impl AppError {
    /// The stable code the UI switches on.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::VmNotRunning => ErrorCode::VmNotRunning,
            AppError::Daemon(e) => ErrorCode::from_code(e.code()),
            AppError::Engine { .. } => ErrorCode::Engine,
            AppError::EngineUnreachable(_) => ErrorCode::EngineUnreachable,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::InvalidInput { .. } => ErrorCode::InvalidInput,
            AppError::Settings(berth_core::settings::SettingsError::Invalid { .. }) => {
                ErrorCode::InvalidSetting
            }
            AppError::Settings(_) => ErrorCode::SettingsFile,
            AppError::Agent(_) => ErrorCode::Agent,
            AppError::Io { .. } => ErrorCode::Io,
            AppError::Hub(e) => ErrorCode::from_code(e.code()),
            AppError::Keychain(e) => ErrorCode::from_code(e.code()),
            AppError::Unauthorized(_) => ErrorCode::Unauthorized,
            AppError::ImageNotFound(_) => ErrorCode::ImageNotFound,
            AppError::Registry(_) => ErrorCode::Registry,
            AppError::LoginItem(_) => ErrorCode::LoginItem,
            AppError::Cancelled => ErrorCode::Cancelled,
            AppError::NoSession => ErrorCode::NoSession,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The error as the UI receives it.
    pub fn view(&self) -> ErrorView {
        ErrorView {
            code: self.code(),
            message: self.to_string(),
            field: self.field().map(str::to_owned),
        }
    }

    /// The form field at fault, for input and settings errors.
    fn field(&self) -> Option<&str> {
        match self {
            AppError::InvalidInput { field, .. } => Some(field),
            AppError::Settings(berth_core::settings::SettingsError::Invalid { field, .. }) => {
                Some(field)
            }
            AppError::Hub(e) => e.field(),
            AppError::Daemon(e) => e.field(),
            _ => None,
        }
    }

    /// An invalid-input error.
    pub fn input(field: &str, message: impl Into<String>) -> AppError {
        AppError::InvalidInput {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> AppError {
        AppError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

impl From<bollard::errors::Error> for AppError {
    fn from(err: bollard::errors::Error) -> AppError {
        use bollard::errors::Error as E;
        match err {
            E::DockerResponseServerError {
                status_code: 404,
                message,
            } => AppError::NotFound(message),
            E::DockerResponseServerError {
                status_code: 409,
                message,
            } => AppError::Conflict(message),
            E::DockerResponseServerError {
                status_code,
                message,
            } => AppError::Engine {
                status: status_code,
                message,
            },
            E::DockerStreamError { error } => AppError::Engine {
                status: 500,
                message: error,
            },
            other => AppError::EngineUnreachable(other.to_string()),
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
}

/// What every command returns.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_with_a_code_and_a_message() {
        let value = serde_json::to_value(AppError::VmNotRunning).expect("json");
        assert_eq!(value["code"], "vm_not_running");
        assert!(value["message"]
            .as_str()
            .unwrap_or_default()
            .contains("start"));
        let value =
            serde_json::to_value(AppError::input("name", "must not be empty")).expect("json");
        assert_eq!(value["code"], "invalid_input");
        assert_eq!(value["field"], "name");
    }

    #[test]
    fn engine_statuses_map_to_codes() {
        let e = |status_code| bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: "m".into(),
        };
        assert_eq!(AppError::from(e(404)).code(), "not_found");
        assert_eq!(AppError::from(e(409)).code(), "conflict");
        assert_eq!(AppError::from(e(500)).code(), "engine");
    }

    #[test]
    fn codes_serialize_as_they_are_spelt_and_parse_back() {
        use strum::IntoEnumIterator;
        for code in ErrorCode::iter() {
            assert_eq!(
                serde_json::to_value(code).expect("json"),
                code.as_str(),
                "{code:?}"
            );
            assert_eq!(ErrorCode::from_code(code.as_str()), code);
        }
        assert_eq!(ErrorCode::from_code("no_such_code"), ErrorCode::Internal);
    }

    #[test]
    fn the_daemon_and_hub_codes_are_known() {
        let hub = berth_hub::HubError::NotFound("x".into());
        assert_eq!(AppError::from(hub).code(), ErrorCode::HubNotFound);
        let keychain = berth_hub::credentials::CredentialError::Corrupt("x".into());
        assert_eq!(AppError::from(keychain).code(), ErrorCode::KeychainCorrupt);
    }
}

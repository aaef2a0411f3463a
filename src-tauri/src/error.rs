//! The one error type every command returns. It reaches the UI as `{code, message}`: the UI
//! chooses what to show (and which fix to offer) by `code`, never by parsing `message`.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

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

impl AppError {
    /// The stable code the UI switches on.
    pub fn code(&self) -> &str {
        match self {
            AppError::VmNotRunning => "vm_not_running",
            AppError::Daemon(e) => e.code(),
            AppError::Engine { .. } => "engine",
            AppError::EngineUnreachable(_) => "engine_unreachable",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::InvalidInput { .. } => "invalid_input",
            AppError::Settings(berth_core::settings::SettingsError::Invalid { .. }) => {
                "invalid_setting"
            }
            AppError::Settings(_) => "settings_file",
            AppError::Agent(_) => "agent",
            AppError::Io { .. } => "io",
            AppError::Hub(e) => e.code(),
            AppError::Keychain(e) => e.code(),
            AppError::Unauthorized(_) => "unauthorized",
            AppError::ImageNotFound(_) => "image_not_found",
            AppError::Registry(_) => "registry",
            AppError::LoginItem(_) => "login_item",
            AppError::Cancelled => "cancelled",
            AppError::NoSession => "no_session",
            AppError::Internal(_) => "internal",
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
        let mut s = serializer.serialize_struct("AppError", 3)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.serialize_field("field", &self.field())?;
        s.end()
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
}

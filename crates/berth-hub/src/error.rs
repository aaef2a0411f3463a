//! What can go wrong talking to the Hub's API, each with a stable [`HubError::code`] the UI
//! switches on and a message saying what to do.

use std::time::Duration;

/// Why a Hub request failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The Hub could not be reached at all (no network, DNS, connection refused).
    #[error("cannot reach Docker Hub at {base}: {reason}; check the network connection (or the Hub API URL in settings)")]
    Offline {
        /// The base URL tried.
        base: String,
        /// The underlying failure.
        reason: String,
    },
    /// The Hub did not answer in time.
    #[error("Docker Hub did not answer within {0:?}; try again later")]
    Timeout(Duration),
    /// Too many requests; `retry_after` is what the Hub asked for, when it said.
    #[error("{}", rate_limited_message(*.retry_after))]
    RateLimited {
        /// How long the Hub asked to wait.
        retry_after: Option<Duration>,
    },
    /// The repository or tag does not exist on the Hub.
    #[error("{0} was not found on Docker Hub")]
    NotFound(String),
    /// The Hub answered with another error status.
    #[error("Docker Hub answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The body's message, or the status's reason.
        message: String,
    },
    /// The answer was not the JSON the API documents.
    #[error("Docker Hub sent an answer Berth does not understand: {0}")]
    InvalidResponse(String),
    /// An argument is invalid; `field` names it.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The argument (form field).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn rate_limited_message(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(
            "Docker Hub is limiting requests; try again in {} s",
            wait.as_secs().max(1)
        ),
        None => "Docker Hub is limiting requests; try again in a minute".to_owned(),
    }
}

impl HubError {
    /// The stable code the UI acts on.
    pub fn code(&self) -> &'static str {
        match self {
            HubError::Offline { .. } => "hub_offline",
            HubError::Timeout(_) => "hub_timeout",
            HubError::RateLimited { .. } => "hub_rate_limited",
            HubError::NotFound(_) => "hub_not_found",
            HubError::Status { .. } => "hub_error",
            HubError::InvalidResponse(_) => "hub_error",
            HubError::InvalidInput { .. } => "invalid_input",
        }
    }

    /// The form field at fault, for invalid input.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            HubError::InvalidInput { field, .. } => Some(field),
            _ => None,
        }
    }
}

//! Registry accounts: log in (the engine checks the credentials with the registry first, so a
//! wrong password stores nothing), log out, list; and the credentials a pull or push of a
//! reference needs, read from the OS keychain ([`berth_hub::credentials`]) and handed to the
//! engine (bollard sends them as `X-Registry-Auth`).

use berth_hub::credentials::{Account, Keychain, Secret};
use berth_hub::reference::{self, Reference};
use bollard::auth::DockerCredentials;
use bollard::models::AuthConfig;
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

async fn blocking<T: Send + 'static>(
    keychain: &Keychain,
    f: impl FnOnce(Keychain) -> Result<T, berth_hub::credentials::CredentialError> + Send + 'static,
) -> AppResult<T> {
    let keychain = keychain.clone();
    tokio::task::spawn_blocking(move || f(keychain))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(AppError::from)
}

/// The accounts stored in the keychain.
#[tauri::command]
pub async fn registry_accounts(state: State<'_, AppState>) -> AppResult<Vec<Account>> {
    blocking(&state.keychain, |k| k.accounts()).await
}

/// Checks the credentials with the registry through the engine, then stores them. An empty
/// `registry` is Docker Hub.
#[tauri::command]
pub async fn registry_login(
    state: State<'_, AppState>,
    registry: String,
    username: String,
    password: String,
) -> AppResult<Account> {
    let key =
        reference::registry_key(&registry).map_err(|e| AppError::input("registry", e.reason))?;
    let username = username.trim().to_owned();
    if username.is_empty() {
        return Err(AppError::input("username", "enter the user name"));
    }
    if password.is_empty() {
        return Err(AppError::input(
            "password",
            "enter the password or access token",
        ));
    }
    let socket = state.engine_socket()?;
    let answer = crate::engine_auth::check_auth(
        &socket,
        &AuthConfig {
            username: Some(username.clone()),
            password: Some(password.clone()),
            serveraddress: Some(reference::server_address(&key)),
        },
    )
    .await
    .map_err(|e| registry_error(e, &format!("logging in to {key}")))?;
    let secret = Secret {
        username: username.clone(),
        password,
        identity_token: answer.identity_token.filter(|t| !t.is_empty()),
    };
    let stored_key = key.clone();
    blocking(&state.keychain, move |k| k.store(&stored_key, &secret)).await?;
    tracing::info!("logged in to {key} as {username}");
    Ok(Account {
        registry: key,
        username,
    })
}

/// Forgets the account for `registry`; true if there was one.
#[tauri::command]
pub async fn registry_logout(state: State<'_, AppState>, registry: String) -> AppResult<bool> {
    let key =
        reference::registry_key(&registry).map_err(|e| AppError::input("registry", e.reason))?;
    blocking(&state.keychain, move |k| k.remove(&key)).await
}

/// The stored credentials for the registry of `reference`, if any. A keychain that cannot be
/// read is logged and the operation goes on without credentials (public images still pull).
pub async fn credentials_for(
    keychain: &Keychain,
    reference: &Reference,
) -> Option<DockerCredentials> {
    let registry = reference.registry.clone();
    let secret = match blocking(keychain, move |k| k.get(&registry)).await {
        Ok(secret) => secret?,
        Err(e) => {
            tracing::warn!("no credentials for {}: {e}", reference.registry);
            return None;
        }
    };
    Some(DockerCredentials {
        username: Some(secret.username),
        password: secret.identity_token.is_none().then_some(secret.password),
        identitytoken: secret.identity_token,
        serveraddress: Some(reference.server_address()),
        ..Default::default()
    })
}

/// An engine error while it talked to a registry, as the error the UI acts on: refused
/// credentials are `unauthorized`, a missing image `image_not_found`, the rest `registry`
/// (down, slow, refusing) with the engine's own explanation. The engine gives only text for
/// failures inside a progress stream, so those are recognized here, once, by its wording.
pub fn registry_error(err: bollard::errors::Error, doing: &str) -> AppError {
    use bollard::errors::Error as E;
    match err {
        E::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            401 | 403 => unauthorized(doing, &message),
            404 => AppError::ImageNotFound(format!(
                "{doing}: not found in the registry ({message}); check the name and tag"
            )),
            _ => from_message(doing, &message),
        },
        E::DockerStreamError { error } => from_message(doing, &error),
        other => AppError::from(other),
    }
}

/// The same for an error reported inside a pull or push stream.
pub fn from_message(doing: &str, message: &str) -> AppError {
    let lower = message.to_lowercase();
    if lower.contains("unauthorized")
        || lower.contains("authentication required")
        || lower.contains("no basic auth credentials")
        || lower.contains("denied")
    {
        unauthorized(doing, message)
    } else if lower.contains("manifest unknown")
        || lower.contains("not found")
        || lower.contains("does not exist")
    {
        AppError::ImageNotFound(format!("{doing}: {message}; check the name and tag"))
    } else {
        AppError::Registry(format!("{doing}: {message}"))
    }
}

fn unauthorized(doing: &str, message: &str) -> AppError {
    AppError::Unauthorized(format!(
        "{doing}: the registry refused the credentials ({message}); check the user name and password, or log in under Accounts"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_failures_get_codes() {
        let status =
            |status_code, message: &str| bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.into(),
            };
        let e = registry_error(
            status(401, "login attempt failed with status: 401 Unauthorized"),
            "logging in to r",
        );
        assert_eq!(e.code(), "unauthorized");
        assert!(e.to_string().contains("logging in to r"), "{e}");
        assert_eq!(
            registry_error(status(404, "manifest unknown"), "pulling x").code(),
            "image_not_found"
        );
        assert_eq!(
            registry_error(
                status(
                    500,
                    "Get \"http://10.0.2.2:1/v2/\": dial tcp: connection refused"
                ),
                "pulling x"
            )
            .code(),
            "registry"
        );
        assert_eq!(
            from_message("pushing x", "unauthorized: authentication required").code(),
            "unauthorized"
        );
        assert_eq!(
            from_message("pushing x", "no basic auth credentials").code(),
            "unauthorized"
        );
        assert_eq!(
            from_message(
                "pulling x",
                "manifest for x:nope not found: manifest unknown"
            )
            .code(),
            "image_not_found"
        );
        assert_eq!(from_message("pulling x", "i/o timeout").code(), "registry");
    }
}

//! Registry accounts in the OS keychain through the `keyring` crate: the Secret Service
//! (GNOME Keyring, KWallet) on Linux, the Keychain on macOS, the Credential Manager on
//! Windows. Nothing is written to a plain file.
//!
//! Each account is one keychain item (user `registry:<key>`, the secret a small JSON of user
//! name, password and identity token), and one more item (user `accounts`) lists the
//! registries with accounts, since keychains cannot be enumerated portably. All calls block
//! (D-Bus, Security framework): call them from `spawn_blocking`.

use keyring::Entry;
use serde::{Deserialize, Serialize};

/// The keychain service Berth's items are filed under.
pub const SERVICE: &str = "berth-registry";
const INDEX_USER: &str = "accounts";

/// A registry account as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    /// The registry key (`docker.io`, `host:port`).
    pub registry: String,
    /// The user name.
    pub username: String,
}

/// What the engine needs to act as the account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
    /// A token the registry handed out at login, used instead of the password when present.
    #[serde(default)]
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why the keychain could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No keychain service answers, or it is locked and refused to unlock.
    #[error("the system keychain is not available ({0}); on Linux, run a Secret Service such as GNOME Keyring and unlock it")]
    Unavailable(String),
    /// An item Berth wrote does not parse any more.
    #[error("the keychain item for {0} is damaged; log in again to replace it")]
    Corrupt(String),
}

impl CredentialError {
    /// The stable code the UI acts on.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::Unavailable(_) => "keychain_unavailable",
            CredentialError::Corrupt(_) => "keychain_corrupt",
        }
    }
}

/// Berth's registry accounts in the keychain, under one service name.
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

impl Default for Keychain {
    fn default() -> Keychain {
        Keychain::new(SERVICE)
    }
}

impl Keychain {
    /// Items filed under `service` (tests use their own).
    pub fn new(service: impl Into<String>) -> Keychain {
        Keychain {
            service: service.into(),
        }
    }

    fn entry(&self, user: &str) -> Result<Entry, CredentialError> {
        Entry::new(&self.service, user).map_err(unavailable)
    }

    fn read(&self, user: &str) -> Result<Option<String>, CredentialError> {
        match self.entry(user)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The accounts stored, sorted by registry.
    pub fn accounts(&self) -> Result<Vec<Account>, CredentialError> {
        let Some(json) = self.read(INDEX_USER)? else {
            return Ok(Vec::new());
        };
        serde_json::from_str(&json).map_err(|_| CredentialError::Corrupt("the account list".into()))
    }

    /// The secret for `registry`, if an account is stored.
    pub fn get(&self, registry: &str) -> Result<Option<Secret>, CredentialError> {
        let Some(json) = self.read(&item_user(registry))? else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|_| CredentialError::Corrupt(registry.to_owned()))
    }

    /// Stores (or replaces) the account for `registry`.
    pub fn store(&self, registry: &str, secret: &Secret) -> Result<(), CredentialError> {
        let json = serde_json::to_string(secret)
            .map_err(|e| CredentialError::Unavailable(e.to_string()))?;
        self.entry(&item_user(registry))?
            .set_password(&json)
            .map_err(unavailable)?;
        let mut accounts = self.accounts().unwrap_or_default();
        accounts.retain(|a| a.registry != registry);
        accounts.push(Account {
            registry: registry.to_owned(),
            username: secret.username.clone(),
        });
        accounts.sort_by(|a, b| a.registry.cmp(&b.registry));
        self.write_index(&accounts)
    }

    /// Removes the account for `registry`; true if one was stored.
    pub fn remove(&self, registry: &str) -> Result<bool, CredentialError> {
        let removed = match self.entry(&item_user(registry))?.delete_credential() {
            Ok(()) => true,
            Err(keyring::Error::NoEntry) => false,
            Err(e) => return Err(unavailable(e)),
        };
        let mut accounts = self.accounts().unwrap_or_default();
        let before = accounts.len();
        accounts.retain(|a| a.registry != registry);
        if accounts.len() != before {
            self.write_index(&accounts)?;
        }
        Ok(removed || accounts.len() != before)
    }

    fn write_index(&self, accounts: &[Account]) -> Result<(), CredentialError> {
        let entry = self.entry(INDEX_USER)?;
        if accounts.is_empty() {
            return match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(unavailable(e)),
            };
        }
        let json = serde_json::to_string(accounts)
            .map_err(|e| CredentialError::Unavailable(e.to_string()))?;
        entry.set_password(&json).map_err(unavailable)
    }
}

fn item_user(registry: &str) -> String {
    format!("registry:{registry}")
}

fn unavailable(e: keyring::Error) -> CredentialError {
    CredentialError::Unavailable(e.to_string())
}

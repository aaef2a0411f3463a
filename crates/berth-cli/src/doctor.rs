//! `berth doctor`: checks what Berth needs on this machine ([`berth_core::doctor`]) and prints
//! the fix for each problem.

use std::path::PathBuf;

use anyhow::Result;
use berth_core::doctor::{self, CheckStatus};
use berth_core::paths::Paths;

/// Runs every check; fails when any check fails.
pub async fn run(image: Option<PathBuf>) -> Result<()> {
    let paths = Paths::for_user()?;
    let checks = doctor::checks(&paths, image).await;
    for check in &checks {
        println!("{check}");
    }
    if checks.iter().any(|c| c.status == CheckStatus::Fail) {
        anyhow::bail!("some checks failed");
    }
    Ok(())
}

//! The Hub view's commands over [`berth_hub::HubClient`]: search, a repository's page and its
//! tags, one page at a time, from the API named by the settings' `hub_api_url`. Pulling a tag
//! is the images view's `image_pull`.

use berth_hub::model::{Page, RepoSummary, Repository, Tag};
use tauri::State;

use crate::error::AppResult;
use crate::state::AppState;

/// Searches the Hub's repositories; `page` counts from 1.
#[tauri::command]
pub async fn hub_search(
    state: State<'_, AppState>,
    query: String,
    page: u32,
    page_size: Option<u32>,
) -> AppResult<Page<RepoSummary>> {
    let hub = state.hub()?;
    Ok(hub
        .search(&query, page, page_size.unwrap_or_default())
        .await?)
}

/// A repository's details (`busybox`, `owner/name`).
#[tauri::command]
pub async fn hub_repository(state: State<'_, AppState>, name: String) -> AppResult<Repository> {
    let hub = state.hub()?;
    Ok(hub.repository(&name).await?)
}

/// A page of a repository's tags, most recently pushed first.
#[tauri::command]
pub async fn hub_tags(
    state: State<'_, AppState>,
    name: String,
    page: u32,
    page_size: Option<u32>,
) -> AppResult<Page<Tag>> {
    let hub = state.hub()?;
    Ok(hub.tags(&name, page, page_size.unwrap_or_default()).await?)
}

//! Building an image from a folder with a Dockerfile: the folder is sent as a tar build
//! context (the `tar` crate, on a blocking thread) and the engine's output streamed to the UI.

use std::path::{Path, PathBuf};

use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Packs `dir` as a build context (a tar of its files, paths relative to it).
pub fn pack_context(dir: &Path) -> AppResult<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", dir)
        .map_err(|e| AppError::io(dir, e))?;
    builder.into_inner().map_err(|e| AppError::io(dir, e))
}

/// Builds `folder` (its `dockerfile`, default `Dockerfile`) as `tag`, streaming the output
/// lines to `on_output`; returns the new image id.
#[tauri::command]
pub async fn image_build<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    folder: String,
    dockerfile: Option<String>,
    tag: String,
    on_output: Channel<String>,
) -> AppResult<String> {
    let dir = PathBuf::from(&folder);
    let dockerfile = dockerfile
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "Dockerfile".into());
    if !dir.is_dir() {
        return Err(AppError::input(
            "folder",
            format!("{folder} is not a folder"),
        ));
    }
    if !dir.join(&dockerfile).is_file() {
        return Err(AppError::input(
            "dockerfile",
            format!("{folder} has no {dockerfile}"),
        ));
    }
    crate::images::split_reference(&tag)
        .map_err(|_| AppError::input("tag", "name the image, such as myapp:dev"))?;
    let docker = state.docker().await?;
    let context = tokio::task::spawn_blocking(move || pack_context(&dir))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let _ = on_output.send(format!(
        "Sending a build context of {} bytes\n",
        context.len()
    ));
    let mut build = docker.build_image(
        BuildImageOptions {
            dockerfile,
            t: Some(tag.clone()),
            rm: true,
            ..Default::default()
        },
        None,
        Some(bollard::body_full(context.into())),
    );
    let mut id = String::new();
    while let Some(item) = build.next().await {
        let info = item?;
        if let Some(message) = info.error_detail.and_then(|d| d.message) {
            return Err(AppError::Engine {
                status: 500,
                message,
            });
        }
        if let Some(image) = info.aux.and_then(|a| a.id) {
            id = image;
        }
        if let Some(text) = info.stream.or(info.status) {
            if on_output.send(text).is_err() {
                break;
            }
        }
    }
    crate::notify::done(&app, "Build finished", &tag);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_holds_the_folders_files_relative_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
        std::fs::create_dir(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src/app.txt"), "hi").expect("write");
        let tar = pack_context(dir.path()).expect("pack");
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        names.sort();
        assert!(names.contains(&"Dockerfile".to_string()), "{names:?}");
        assert!(names.contains(&"src/app.txt".to_string()), "{names:?}");
    }
}

//! Desktop integration commands: file dialogs (the UI asks for a path, then passes it to the
//! command that writes or reads it) and opening URLs in the default browser.

use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::error::{AppError, AppResult};

/// Asks for a file to save to; `None` when the user cancelled.
#[tauri::command]
pub async fn pick_save_path<R: Runtime>(
    app: AppHandle<R>,
    default_name: String,
) -> AppResult<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_file_name(&default_name)
        .save_file(move |path| {
            let _ = tx.send(path);
        });
    let path = rx.await.map_err(|_| AppError::Cancelled)?;
    Ok(path
        .and_then(|p| p.into_path().ok())
        .map(|p| p.display().to_string()))
}

/// Asks for a folder (or, with `file`, a file); `None` when the user cancelled.
#[tauri::command]
pub async fn pick_path<R: Runtime>(app: AppHandle<R>, file: bool) -> AppResult<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let dialog = app.dialog().file();
    if file {
        dialog.pick_file(move |path| {
            let _ = tx.send(path);
        });
    } else {
        dialog.pick_folder(move |path| {
            let _ = tx.send(path);
        });
    }
    let path = rx.await.map_err(|_| AppError::Cancelled)?;
    Ok(path
        .and_then(|p| p.into_path().ok())
        .map(|p| p.display().to_string()))
}

/// Opens an http(s) URL (a published port) in the default browser.
#[tauri::command]
pub fn open_url<R: Runtime>(app: AppHandle<R>, url: String) -> AppResult<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(AppError::input(
            "url",
            "only http:// and https:// addresses open",
        ));
    }
    app.opener()
        .open_url(&url, None::<&str>)
        .map_err(|e| AppError::Internal(format!("cannot open {url}: {e}")))
}

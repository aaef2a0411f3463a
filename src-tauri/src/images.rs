//! Image commands: the list (size, created, in use), pull and push with per-layer progress,
//! delete, prune, tag, history (layers) and running a container from an image.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, CreateImageInfo, HostConfig, PortBinding, ProgressDetail, PushImageInfo,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListImagesOptions,
    PruneImagesOptions, PushImageOptions, RemoveImageOptions, StartContainerOptions,
    TagImageOptions,
};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use berth_hub::Reference;

use crate::accounts::{credentials_for, from_message, registry_error};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// One row of the image list.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ImageRow {
    /// The image id (sha256:…).
    pub id: String,
    /// Its tags (`<none>:<none>` removed).
    pub tags: Vec<String>,
    /// Size in bytes.
    pub size: i64,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Containers (in any state) using it.
    pub containers: u32,
}

/// Every image, with how many containers use each.
#[tauri::command]
pub async fn images_list(state: State<'_, AppState>) -> AppResult<Vec<ImageRow>> {
    let docker = state.docker().await?;
    let (images, containers) = tokio::try_join!(
        docker.list_images(Some(ListImagesOptions::default())),
        docker.list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
    )?;
    let mut users: HashMap<String, u32> = HashMap::new();
    for c in containers {
        *users.entry(c.image_id.unwrap_or_default()).or_default() += 1;
    }
    Ok(images
        .into_iter()
        .map(|i| ImageRow {
            containers: users.get(&i.id).copied().unwrap_or(0),
            tags: i
                .repo_tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect(),
            id: i.id,
            size: i.size,
            created: i.created,
        })
        .collect())
}

/// Checks a reference (`berth_hub::Reference`, the registry's grammar) and splits it into
/// the repository and the tag (or digest) to ask the engine for; the tag defaults to latest.
pub fn split_reference(reference: &str) -> AppResult<(String, String)> {
    let parsed = parse_reference("reference", reference)?;
    let tag = parsed.tag_or_digest().to_owned();
    Ok((parsed.name(), tag))
}

/// Parses a reference, the error naming `field`.
pub fn parse_reference(field: &str, reference: &str) -> AppResult<Reference> {
    Reference::parse(reference).map_err(|e| AppError::input(field, e.to_string()))
}

/// Progress of one layer (or a status line when `layer` is empty).
#[derive(Debug, Clone, Serialize, TS)]
pub struct Progress {
    /// The layer id, empty for overall status.
    pub layer: String,
    /// Downloading, Extracting, Pull complete, …
    pub status: String,
    /// Bytes done in the current phase.
    pub current: i64,
    /// Bytes in the current phase, 0 when unknown.
    pub total: i64,
}

/// Pulls an image (the reference checked first) with the stored account's credentials for
/// its registry, streaming per-layer progress; returns when the pull finished.
#[tauri::command]
pub async fn image_pull<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    reference: String,
    on_progress: Channel<Progress>,
) -> AppResult<()> {
    let parsed = parse_reference("reference", &reference)?;
    let docker = state.docker().await?;
    let credentials = credentials_for(&state.keychain, &parsed).await;
    let doing = format!("pulling {parsed}");
    let pull = docker.create_image(
        Some(CreateImageOptions {
            from_image: Some(parsed.name()),
            tag: Some(parsed.tag_or_digest().to_owned()),
            ..Default::default()
        }),
        None,
        credentials,
    );
    relay(pull, &doing, &on_progress).await?;
    crate::notify::done(&app, "Pull finished", &reference);
    Ok(())
}

/// Pushes an image to its registry with the stored account's credentials, streaming status
/// and byte progress (bollard's push messages carry no layer id); returns when done.
#[tauri::command]
pub async fn image_push<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    reference: String,
    on_progress: Channel<Progress>,
) -> AppResult<()> {
    let parsed = parse_reference("reference", &reference)?;
    let docker = state.docker().await?;
    let credentials = credentials_for(&state.keychain, &parsed).await;
    let doing = format!("pushing {parsed}");
    let push = docker.push_image(
        &parsed.name(),
        Some(PushImageOptions {
            tag: Some(parsed.tag_or_digest().to_owned()),
            ..Default::default()
        }),
        credentials,
    );
    relay(push, &doing, &on_progress).await?;
    crate::notify::done(&app, "Push finished", &reference);
    Ok(())
}

/// One message of a pull or a push, whose streams carry the same fields in two types.
struct Step {
    layer: Option<String>,
    status: Option<String>,
    error: Option<String>,
    detail: Option<ProgressDetail>,
}

impl From<CreateImageInfo> for Step {
    fn from(info: CreateImageInfo) -> Step {
        Step {
            layer: info.id,
            status: info.status,
            error: info.error_detail.and_then(|d| d.message),
            detail: info.progress_detail,
        }
    }
}

impl From<PushImageInfo> for Step {
    fn from(info: PushImageInfo) -> Step {
        Step {
            layer: None,
            status: info.status,
            error: info.error_detail.and_then(|d| d.message),
            detail: info.progress_detail,
        }
    }
}

/// Sends each step of a pull or push (`doing`) to the UI; the first error ends it.
async fn relay<T: Into<Step>>(
    steps: impl Stream<Item = Result<T, bollard::errors::Error>>,
    doing: &str,
    on_progress: &Channel<Progress>,
) -> AppResult<()> {
    let mut steps = std::pin::pin!(steps);
    while let Some(step) = steps.next().await {
        let step: Step = step.map_err(|e| registry_error(e, doing))?.into();
        if let Some(error) = step.error {
            return Err(from_message(doing, &error));
        }
        let detail = step.detail.unwrap_or_default();
        let _ = on_progress.send(Progress {
            layer: step.layer.unwrap_or_default(),
            status: step.status.unwrap_or_default(),
            current: detail.current.unwrap_or(0),
            total: detail.total.unwrap_or(0),
        });
    }
    Ok(())
}

/// Deletes an image (`force` also untags it from stopped containers' use).
#[tauri::command]
pub async fn image_remove(state: State<'_, AppState>, id: String, force: bool) -> AppResult<()> {
    let docker = state.docker().await?;
    docker
        .remove_image(
            &id,
            Some(RemoveImageOptions {
                force,
                ..Default::default()
            }),
            None,
        )
        .await?;
    Ok(())
}

/// Deletes unused images (`all`: not only dangling ones); returns the bytes reclaimed.
#[tauri::command]
pub async fn images_prune(state: State<'_, AppState>, all: bool) -> AppResult<i64> {
    let docker = state.docker().await?;
    let filters = HashMap::from([(
        "dangling".to_owned(),
        vec![if all { "false" } else { "true" }.to_owned()],
    )]);
    let report = docker
        .prune_images(Some(PruneImagesOptions {
            filters: Some(filters),
        }))
        .await?;
    Ok(report.space_reclaimed.unwrap_or(0))
}

/// Adds a tag (`repo[:tag]`) to an image.
#[tauri::command]
pub async fn image_tag(state: State<'_, AppState>, id: String, target: String) -> AppResult<()> {
    let parsed = parse_reference("target", &target)?;
    let (repo, tag) = (parsed.name(), parsed.tag_or_digest().to_owned());
    let docker = state.docker().await?;
    docker
        .tag_image(
            &id,
            Some(TagImageOptions {
                repo: Some(repo),
                tag: Some(tag),
            }),
        )
        .await?;
    Ok(())
}

/// One layer of an image's history.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Layer {
    /// Layer size in bytes.
    pub size: i64,
    /// Unix seconds.
    pub created: i64,
    /// The instruction that made it.
    pub created_by: String,
}

/// An image's layers, newest first.
#[tauri::command]
pub async fn image_history(state: State<'_, AppState>, id: String) -> AppResult<Vec<Layer>> {
    let docker = state.docker().await?;
    Ok(docker
        .image_history(&id)
        .await?
        .into_iter()
        .map(|h| Layer {
            size: h.size,
            created: h.created,
            created_by: h.created_by,
        })
        .collect())
}

/// What the run dialog asks.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct RunRequest {
    /// The image.
    pub image: String,
    /// Container name; empty lets the engine pick one.
    #[serde(default)]
    pub name: String,
    /// `host:container[/proto]` or `container[/proto]` per entry.
    #[serde(default)]
    pub ports: Vec<String>,
    /// `KEY=value` per entry.
    #[serde(default)]
    pub env: Vec<String>,
    /// `host-path-or-volume:container-path[:ro]` per entry.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The command, split like a shell would (whitespace, quotes).
    #[serde(default)]
    pub command: String,
}

/// Checks the run request and builds the engine's container body.
pub fn container_body(req: &RunRequest) -> AppResult<ContainerCreateBody> {
    if req.image.trim().is_empty() {
        return Err(AppError::input("image", "choose an image"));
    }
    if !req.name.is_empty()
        && !req
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(AppError::input(
            "name",
            "use letters, digits, '_', '.' and '-' only",
        ));
    }
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for spec in req.ports.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
        if !matches!(proto, "tcp" | "udp") {
            return Err(AppError::input(
                "ports",
                format!("{spec}: the protocol must be tcp or udp"),
            ));
        }
        let (host, container) = match ports.rsplit_once(':') {
            Some((h, c)) => (Some(h), c),
            None => (None, ports),
        };
        let valid = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
        let Some(container) = valid(container) else {
            return Err(AppError::input(
                "ports",
                format!("{spec}: write host:container, e.g. 8080:80"),
            ));
        };
        let host_port = match host {
            Some(h) => Some(valid(h).ok_or_else(|| {
                AppError::input("ports", format!("{spec}: {h} is not a port number"))
            })?),
            None => None,
        };
        let key = format!("{container}/{proto}");
        exposed.push(key.clone());
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: host_port.map(|p| p.to_string()),
            });
    }
    let mut env = Vec::new();
    for entry in req.env.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match entry.split_once('=') {
            Some((k, _)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                env.push(entry.to_owned())
            }
            _ => return Err(AppError::input("env", format!("{entry}: write KEY=value"))),
        }
    }
    let mut binds = Vec::new();
    for entry in req
        .volumes
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        let parts: Vec<&str> = entry.split(':').collect();
        let ok = matches!(parts.as_slice(), [_, c] | [_, c, "ro" | "rw"] if c.starts_with('/'))
            && !parts[0].is_empty();
        if !ok {
            return Err(AppError::input(
                "volumes",
                format!("{entry}: write source:/container/path[:ro], the source a host folder or a volume name"),
            ));
        }
        binds.push(entry.to_owned());
    }
    let cmd = split_command(&req.command)?;
    Ok(ContainerCreateBody {
        image: Some(req.image.trim().to_owned()),
        cmd: (!cmd.is_empty()).then_some(cmd),
        env: (!env.is_empty()).then_some(env),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            binds: (!binds.is_empty()).then_some(binds),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Splits a command line on whitespace, honouring single and double quotes.
pub fn split_command(line: &str) -> AppResult<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(AppError::input("command", "a quote is not closed"));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A container [`image_run`] started.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RunStarted {
    /// Its id.
    pub id: String,
    /// The engine's warnings about the create, which the app shows: among them a bind of a
    /// host path outside every shared folder (`berth_core::engine_api::unshared`).
    pub warnings: Vec<String>,
}

/// Creates and starts a container; returns its id and the engine's warnings.
#[tauri::command]
pub async fn image_run(state: State<'_, AppState>, request: RunRequest) -> AppResult<RunStarted> {
    let body = container_body(&request)?;
    let docker = state.docker().await?;
    let name = request.name.trim();
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: (!name.is_empty()).then(|| name.to_owned()),
                ..Default::default()
            }),
            body,
        )
        .await?;
    docker
        .start_container(&created.id, None::<StartContainerOptions>)
        .await?;
    Ok(RunStarted {
        id: created.id,
        warnings: created.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repository_and_tag() {
        let s = |r| split_reference(r).expect(r);
        assert_eq!(s("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(s("busybox:1.36"), ("busybox".into(), "1.36".into()));
        assert_eq!(
            s("10.0.2.2:5000/team/app"),
            ("10.0.2.2:5000/team/app".into(), "latest".into())
        );
        assert_eq!(
            s("10.0.2.2:5000/app:e2e"),
            ("10.0.2.2:5000/app".into(), "e2e".into())
        );
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(s(&format!("app@{digest}")), ("app".into(), digest.clone()));
        for bad in [" ", "Busybox", "busybox:", "app@sha256:ab", "a b"] {
            let err = split_reference(bad).expect_err(bad);
            assert_eq!(
                (
                    err.code().as_str(),
                    err.to_string().starts_with("reference:")
                ),
                ("invalid_input", true),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_run_dialog_is_validated_field_by_field() {
        let ok = RunRequest {
            image: "busybox".into(),
            name: "web".into(),
            ports: vec!["8080:80".into(), "53/udp".into()],
            env: vec!["A=1".into()],
            volumes: vec!["data:/data:ro".into()],
            command: r#"sh -c "echo hi; sleep 9""#.into(),
        };
        let body = container_body(&ok).expect("valid");
        assert_eq!(body.cmd.expect("cmd"), ["sh", "-c", "echo hi; sleep 9"]);
        let bindings = body.host_config.expect("hc").port_bindings.expect("ports");
        let web = bindings["80/tcp"].as_ref().expect("80");
        assert_eq!(web[0].host_port.as_deref(), Some("8080"));
        assert_eq!(
            web[0].host_ip.as_deref(),
            Some("127.0.0.1"),
            "loopback by default"
        );
        for (bad, field) in [
            (
                RunRequest {
                    image: " ".into(),
                    ..ok.clone()
                },
                "image",
            ),
            (
                RunRequest {
                    name: "a b".into(),
                    ..ok.clone()
                },
                "name",
            ),
            (
                RunRequest {
                    ports: vec!["x:80".into()],
                    ..ok.clone()
                },
                "ports",
            ),
            (
                RunRequest {
                    ports: vec!["80/sctp".into()],
                    ..ok.clone()
                },
                "ports",
            ),
            (
                RunRequest {
                    env: vec!["NOVALUE".into()],
                    ..ok.clone()
                },
                "env",
            ),
            (
                RunRequest {
                    volumes: vec!["data".into()],
                    ..ok.clone()
                },
                "volumes",
            ),
            (
                RunRequest {
                    command: "sh -c 'x".into(),
                    ..ok.clone()
                },
                "command",
            ),
        ] {
            let err = container_body(&bad).expect_err(field);
            assert!(
                matches!(&err, AppError::InvalidInput { field: f, .. } if f == field),
                "{err}"
            );
        }
    }
}

//! A nearly full data disk, said before it hurts: from the agent's status report (the data
//! filesystem's used and total bytes, [`DiskPressure`] from [`DISK_WARN_PERCENT`] on) and
//! the engine's `GET /system/df` (what uses the space: images, build cache, volumes,
//! containers; the report adds the containers' logs), a [`DiskWarning`] that `berth status`
//! prints and the app shows, with the commands that reclaim each kind of space.
//!
//! `/system/df` is asked at API 1.45 (Debian trixie's engine 26), whose answer lists every
//! image, container, volume and build cache record; the sums are made here as the docker CLI
//! makes them for `docker system df`.

use std::time::Duration;

use berth_protocol::message::{DiskPressure, StatusReport, DISK_WARN_PERCENT};
use serde::{Deserialize, Serialize};

use crate::engine_api::get::{get, GetError};
use crate::engine_api::Upstream;

/// The `/system/df` request, at the API version whose answer [`parse_df`] reads.
pub const DF_PATH: &str = "/v1.45/system/df";
/// The `/system/df` request for volumes only (each volume's size, as the app lists them).
pub const VOLUMES_DF_PATH: &str = "/v1.45/system/df?type=volume";
/// How long the engine may take to sum up its disk use (it walks the volumes).
pub const DF_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest `/system/df` answer read (each object is a few hundred bytes).
const MAX_DF_BODY: usize = 64 << 20;

/// What reclaims each kind of space, as `docker` commands. The `-a` forms: the reclaimable
/// figures count every unused image, build cache record and volume, not only dangling ones.
pub const RECLAIM_COMMANDS: [(&str, &str); 4] = [
    ("images", "docker image prune -a"),
    ("build cache", "docker builder prune -a"),
    ("volumes", "docker volume prune -a"),
    ("containers", "docker container prune"),
];

/// The space one kind of object uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpaceUse {
    /// Bytes in use.
    pub bytes: u64,
    /// Of those, bytes the prune command frees (objects no container uses or that are stopped).
    pub reclaimable_bytes: u64,
}

/// What uses the data disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpaceBreakdown {
    /// Image layers.
    pub images: SpaceUse,
    /// BuildKit's build cache.
    pub build_cache: SpaceUse,
    /// Volumes (their contents).
    pub volumes: SpaceUse,
    /// Containers' writable layers; reclaimable: the stopped ones'.
    pub containers: SpaceUse,
    /// The containers' logs, from the agent (absent from older agents).
    pub container_logs_bytes: Option<u64>,
}

/// The data disk is nearly full (or full): how much, and what uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DiskWarning {
    /// Nearly full or full.
    pub pressure: DiskPressure,
    /// Percent used, rounded down (100 only when nothing is left).
    pub percent: u64,
    /// The data filesystem's size.
    pub total_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes left.
    pub free_bytes: u64,
    /// What uses the space, when the engine answered.
    pub breakdown: Option<SpaceBreakdown>,
    /// Why there is no breakdown.
    pub breakdown_error: Option<String>,
}

impl DiskWarning {
    /// The warning for a report whose disk is nearly full, without a breakdown yet; `None`
    /// below [`DISK_WARN_PERCENT`].
    pub fn of(report: &StatusReport) -> Option<DiskWarning> {
        let pressure = report.disk_pressure()?;
        let (total, used) = (report.disk_total_bytes, report.disk_used_bytes);
        let percent = u64::try_from(u128::from(used.min(total)) * 100 / u128::from(total))
            .unwrap_or(100)
            .max(DISK_WARN_PERCENT);
        Some(DiskWarning {
            pressure,
            percent,
            total_bytes: total,
            used_bytes: used,
            free_bytes: total.saturating_sub(used),
            breakdown: None,
            breakdown_error: None,
        })
    }

    /// Adds what uses the space (from [`system_df`]; the logs' size from `report`), or why
    /// that is unknown.
    pub fn attach(&mut self, breakdown: Result<SpaceBreakdown, DfError>, report: &StatusReport) {
        match breakdown {
            Ok(mut breakdown) => {
                breakdown.container_logs_bytes = report.container_logs_bytes;
                self.breakdown = Some(breakdown);
            }
            Err(e) => self.breakdown_error = Some(e.to_string()),
        }
    }

    /// One sentence: how full the disk is and what that means.
    pub fn headline(&self) -> String {
        let figures = format!(
            "{} used, {} free of {}",
            format_bytes(self.used_bytes),
            format_bytes(self.free_bytes),
            format_bytes(self.total_bytes)
        );
        match self.pressure {
            DiskPressure::Full => format!(
                "the data disk is full ({figures}): writes in containers, pulls and builds fail until space is reclaimed"
            ),
            DiskPressure::NearlyFull => {
                format!("the data disk is {}% full ({figures})", self.percent)
            }
        }
    }
}

impl SpaceBreakdown {
    /// "images 1.2 GiB (800 MiB reclaimable), build cache …, container logs 3 MiB".
    pub fn summary(&self) -> String {
        let kinds = [
            ("images", self.images),
            ("build cache", self.build_cache),
            ("volumes", self.volumes),
            ("containers", self.containers),
        ];
        let mut parts: Vec<String> = kinds
            .iter()
            .map(|(name, space)| {
                format!(
                    "{name} {} ({} reclaimable)",
                    format_bytes(space.bytes),
                    format_bytes(space.reclaimable_bytes)
                )
            })
            .collect();
        if let Some(logs) = self.container_logs_bytes {
            parts.push(format!("container logs {}", format_bytes(logs)));
        }
        parts.join(", ")
    }
}

/// The warning for `report` with its breakdown from the engine behind `engine`; `None` while
/// the disk is below [`DISK_WARN_PERCENT`] (the engine is not asked then).
pub async fn warning<U: Upstream>(report: &StatusReport, engine: &U) -> Option<DiskWarning> {
    let mut warning = DiskWarning::of(report)?;
    warning.attach(system_df(engine).await, report);
    Some(warning)
}

/// Asking the engine what uses the disk failed.
#[derive(Debug, thiserror::Error)]
pub enum DfError {
    /// The engine could not be asked, or answered with an error.
    #[error(transparent)]
    Get(#[from] GetError),
    /// The engine did not answer in time.
    #[error("the engine did not sum up its disk use within {} s", DF_TIMEOUT.as_secs())]
    Timeout,
    /// The answer is not a `/system/df` document.
    #[error("the engine's /system/df answer is not understood: {0}")]
    Decode(#[from] serde_json::Error),
}

/// `GET /system/df` on a new connection to the engine.
pub async fn system_df<U: Upstream>(engine: &U) -> Result<SpaceBreakdown, DfError> {
    let body = tokio::time::timeout(DF_TIMEOUT, get(engine, DF_PATH, MAX_DF_BODY))
        .await
        .map_err(|_| DfError::Timeout)??;
    Ok(parse_df(&body)?)
}

/// `GET /system/df?type=volume` on a new connection to the engine: each volume's size.
pub async fn volume_sizes<U: Upstream>(engine: &U) -> Result<Vec<(String, u64)>, DfError> {
    let body = tokio::time::timeout(DF_TIMEOUT, get(engine, VOLUMES_DF_PATH, MAX_DF_BODY))
        .await
        .map_err(|_| DfError::Timeout)??;
    Ok(parse_volume_sizes(&body)?)
}

/// Each volume's size from a `/system/df` answer; volumes whose size the engine does not know
/// (-1: not measured yet) are left out.
pub fn parse_volume_sizes(body: &[u8]) -> Result<Vec<(String, u64)>, serde_json::Error> {
    let df: Df = serde_json::from_slice(body)?;
    Ok(df
        .volumes
        .into_iter()
        .filter_map(|v| {
            let size = u64::try_from(v.usage_data?.size).ok()?;
            Some((v.name, size))
        })
        .collect())
}

/// The parts of a `/system/df` answer (API 1.45) that are summed. Sizes of -1 are unknown.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Df {
    #[serde(default)]
    layers_size: i64,
    #[serde(default, deserialize_with = "list")]
    images: Vec<DfImage>,
    #[serde(default, deserialize_with = "list")]
    containers: Vec<DfContainer>,
    #[serde(default, deserialize_with = "list")]
    volumes: Vec<DfVolume>,
    #[serde(default, deserialize_with = "list")]
    build_cache: Vec<DfBuildCache>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DfImage {
    #[serde(default)]
    containers: i64,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    shared_size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DfContainer {
    #[serde(default)]
    size_rw: i64,
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DfVolume {
    #[serde(default)]
    name: String,
    usage_data: Option<DfVolumeUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DfVolumeUsage {
    #[serde(default)]
    size: i64,
    #[serde(default)]
    ref_count: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DfBuildCache {
    #[serde(default)]
    size: i64,
    #[serde(default)]
    in_use: bool,
    #[serde(default)]
    shared: bool,
}

/// A list the engine may send as `null`.
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A size the engine reports, with its "unknown" (-1) as 0.
fn size(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Sums a `/system/df` answer as `docker system df` does: images take the layers' size, and
/// are reclaimable but for what images in use hold alone; build cache records shared with
/// another are counted once; a container's writable layer is reclaimable once it stopped; a
/// volume once no container refers to it.
pub fn parse_df(body: &[u8]) -> Result<SpaceBreakdown, serde_json::Error> {
    let df: Df = serde_json::from_slice(body)?;
    let images_bytes = size(df.layers_size);
    let in_use: u64 = df
        .images
        .iter()
        .filter(|i| i.containers > 0 && i.size >= 0 && i.shared_size >= 0)
        .map(|i| size(i.size - i.shared_size))
        .sum();
    let mut breakdown = SpaceBreakdown {
        images: SpaceUse {
            bytes: images_bytes,
            reclaimable_bytes: images_bytes.saturating_sub(in_use),
        },
        ..SpaceBreakdown::default()
    };
    for c in &df.containers {
        breakdown.containers.bytes += size(c.size_rw);
        if c.state != "running" && c.state != "paused" && c.state != "restarting" {
            breakdown.containers.reclaimable_bytes += size(c.size_rw);
        }
    }
    for usage in df.volumes.iter().filter_map(|v| v.usage_data.as_ref()) {
        breakdown.volumes.bytes += size(usage.size);
        if usage.ref_count == 0 {
            breakdown.volumes.reclaimable_bytes += size(usage.size);
        }
    }
    for record in df.build_cache.iter().filter(|r| !r.shared) {
        breakdown.build_cache.bytes += size(record.size);
        if !record.in_use {
            breakdown.build_cache.reclaimable_bytes += size(record.size);
        }
    }
    Ok(breakdown)
}

/// Bytes as people read them: "512 B", "3.4 MiB", "12 GiB" (binary units, at most three
/// significant digits).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests;

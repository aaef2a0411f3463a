//! Streaming container data to the UI over Tauri channels: logs (tail, follow, timestamps;
//! saved to a file on request) and live stats (CPU, memory, network and block I/O).

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::query_parameters::{LogsOptions, StatsOptions};
use futures_util::StreamExt;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use tokio::io::AsyncWriteExt;
use ts_rs::TS;

use crate::engine::Streams;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A batch of log output.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LogBatch {
    /// Lines (possibly a partial last one) in arrival order, each with its stream.
    pub lines: Vec<LogLine>,
    /// The stream has ended (the container stopped, or no follow).
    pub end: bool,
}

/// One piece of log output.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LogLine {
    /// stdout or stderr.
    pub stream: &'static str,
    /// The text, without its line ending.
    pub text: String,
}

fn log_line(output: LogOutput) -> LogLine {
    let (stream, bytes) = match output {
        LogOutput::StdErr { message } => ("stderr", message),
        LogOutput::StdOut { message }
        | LogOutput::StdIn { message }
        | LogOutput::Console { message } => ("stdout", message),
    };
    let text = String::from_utf8_lossy(&bytes);
    LogLine {
        stream,
        text: text.trim_end_matches(['\n', '\r']).to_owned(),
    }
}

/// Fails now, rather than inside the stream, when container `id` is gone.
async fn exists(docker: &bollard::Docker, id: &str) -> AppResult<()> {
    docker
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await?;
    Ok(())
}

/// Streams a container's logs to `on_batch`; returns the stream id for [`crate::engine::stream_cancel`].
#[tauri::command]
pub async fn container_logs(
    state: State<'_, AppState>,
    streams: State<'_, Streams>,
    id: String,
    follow: bool,
    timestamps: bool,
    tail: Option<u32>,
    on_batch: Channel<LogBatch>,
) -> AppResult<u32> {
    let docker = state.docker().await?;
    exists(&docker, &id).await?;
    let options = LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        timestamps,
        tail: tail.map_or_else(|| "all".into(), |n| n.to_string()),
        ..Default::default()
    };
    let stream_id = state.next_id();
    let task = tauri::async_runtime::spawn(async move {
        // Whatever is ready is sent together: one IPC message per batch, not per line.
        let mut logs = docker.logs(&id, Some(options)).ready_chunks(512);
        while let Some(chunk) = logs.next().await {
            let lines = chunk
                .into_iter()
                .filter_map(Result::ok)
                .map(log_line)
                .collect();
            if on_batch.send(LogBatch { lines, end: false }).is_err() {
                return;
            }
        }
        let _ = on_batch.send(LogBatch {
            lines: Vec::new(),
            end: true,
        });
    });
    streams.insert(stream_id, task);
    Ok(stream_id)
}

/// Writes a container's whole log to `path` (chosen by the user in a save dialog).
#[tauri::command]
pub async fn container_logs_save(
    state: State<'_, AppState>,
    id: String,
    timestamps: bool,
    path: String,
) -> AppResult<u64> {
    let docker = state.docker().await?;
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| AppError::io(&path, e))?;
    let mut logs = docker.logs(
        &id,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            timestamps,
            ..Default::default()
        }),
    );
    let mut written = 0u64;
    while let Some(output) = logs.next().await {
        let bytes = output?.into_bytes();
        file.write_all(&bytes)
            .await
            .map_err(|e| AppError::io(&path, e))?;
        written += bytes.len() as u64;
    }
    file.flush().await.map_err(|e| AppError::io(&path, e))?;
    Ok(written)
}

/// One stats sample, as rates and totals the graphs draw.
#[derive(Debug, Clone, Default, Serialize, PartialEq, TS)]
pub struct StatsSample {
    /// CPU use in percent of one CPU (100 = one full CPU).
    pub cpu_percent: f64,
    /// Memory in use, bytes (without page cache).
    pub memory_bytes: u64,
    /// Memory limit, bytes.
    pub memory_limit: u64,
    /// Network bytes received since the container started.
    pub net_rx: u64,
    /// Network bytes sent since the container started.
    pub net_tx: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
}

/// CPU counters of the previous sample: (container total, system total).
type CpuCounters = (u64, u64);

/// Computes a sample from the engine's report and the previous CPU counters.
pub fn sample(
    stats: &bollard::models::ContainerStatsResponse,
    previous: Option<CpuCounters>,
) -> (StatsSample, Option<CpuCounters>) {
    let cpu = stats.cpu_stats.as_ref();
    let total = cpu
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage);
    let system = cpu.and_then(|c| c.system_cpu_usage);
    let cpus = cpu.and_then(|c| c.online_cpus).unwrap_or(1).max(1);
    let counters = total.zip(system);
    let cpu_percent = match (counters, previous) {
        (Some((t, s)), Some((pt, ps))) if s > ps && t >= pt => {
            (t - pt) as f64 / (s - ps) as f64 * f64::from(cpus) * 100.0
        }
        _ => 0.0,
    };
    let memory = stats.memory_stats.as_ref();
    let cache = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|s: &HashMap<String, u64>| s.get("inactive_file").or_else(|| s.get("cache")))
        .copied()
        .unwrap_or(0);
    let usage = memory.and_then(|m| m.usage).unwrap_or(0);
    let (net_rx, net_tx) = stats
        .networks
        .iter()
        .flat_map(|n| n.values())
        .fold((0, 0), |(rx, tx), n| {
            (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
        });
    let (block_read, block_write) = stats
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
        .into_iter()
        .flatten()
        .fold((0, 0), |(r, w), e| {
            let v = e.value.unwrap_or(0);
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => (r + v, w),
                Some("write") => (r, w + v),
                _ => (r, w),
            }
        });
    (
        StatsSample {
            cpu_percent,
            memory_bytes: usage.saturating_sub(cache),
            memory_limit: memory.and_then(|m| m.limit).unwrap_or(0),
            net_rx,
            net_tx,
            block_read,
            block_write,
        },
        counters.or(previous),
    )
}

/// Streams a running container's stats (one sample a second) to `on_sample`; returns the
/// stream id.
#[tauri::command]
pub async fn container_stats(
    state: State<'_, AppState>,
    streams: State<'_, Streams>,
    id: String,
    on_sample: Channel<StatsSample>,
) -> AppResult<u32> {
    let docker = state.docker().await?;
    exists(&docker, &id).await?;
    let stream_id = state.next_id();
    let task = tauri::async_runtime::spawn(async move {
        let mut stats = docker.stats(
            &id,
            Some(StatsOptions {
                stream: true,
                one_shot: false,
            }),
        );
        let mut previous = None;
        while let Some(Ok(report)) = stats.next().await {
            let (s, counters) = sample(&report, previous);
            previous = counters;
            if on_sample.send(s).is_err() {
                return;
            }
        }
    });
    streams.insert(stream_id, task);
    Ok(stream_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_derives_cpu_from_the_previous_counters_and_sums_io() {
        let report: bollard::models::ContainerStatsResponse =
            serde_json::from_value(serde_json::json!({
                "cpu_stats": {"cpu_usage": {"total_usage": 2_000}, "system_cpu_usage": 20_000, "online_cpus": 2},
                "memory_stats": {"usage": 10_000, "limit": 100_000, "stats": {"inactive_file": 1_000}},
                "networks": {"eth0": {"rx_bytes": 5, "tx_bytes": 7}, "eth1": {"rx_bytes": 1, "tx_bytes": 1}},
                "blkio_stats": {"io_service_bytes_recursive": [
                    {"op": "read", "value": 4096}, {"op": "Write", "value": 512}
                ]}
            }))
            .expect("stats");
        let (first, counters) = sample(&report, None);
        assert_eq!(first.cpu_percent, 0.0, "no rate without a previous sample");
        assert_eq!(counters, Some((2_000, 20_000)));
        let (s, _) = sample(&report, Some((1_000, 10_000)));
        assert!((s.cpu_percent - 20.0).abs() < 1e-9, "{}", s.cpu_percent);
        assert_eq!(s.memory_bytes, 9_000);
        assert_eq!((s.net_rx, s.net_tx), (6, 8));
        assert_eq!((s.block_read, s.block_write), (4096, 512));
    }
}

//! The guest's resource usage for status reports, read from `/proc` and `statvfs`; and, while
//! the data disk is nearly full, the size of the containers' logs.

use std::path::Path;
use std::sync::Mutex;

/// Where the engine keeps each container's directory, with its log files.
pub const CONTAINERS_DIR: &str = "/var/lib/docker/containers";

/// Total and available memory from `/proc/meminfo`, in bytes.
pub fn memory(meminfo: &str) -> (u64, u64) {
    let field = |name: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_ascii_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb.saturating_mul(1024))
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// The one-minute load average from `/proc/loadavg`.
pub fn load1(loadavg: &str) -> f32 {
    loadavg
        .split_ascii_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// (busy, total) jiffies from the `cpu` line of `/proc/stat`.
pub fn cpu_times(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    // idle + iowait are not busy.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// CPU use between two samples, 0–100.
pub fn cpu_percent(before: (u64, u64), after: (u64, u64)) -> f32 {
    let busy = after.0.saturating_sub(before.0) as f64;
    let total = after.1.saturating_sub(before.1) as f64;
    if total == 0.0 {
        0.0
    } else {
        (busy / total * 100.0).clamp(0.0, 100.0) as f32
    }
}

/// Remembers the previous CPU sample so each report covers the time since the last.
#[derive(Default)]
pub struct CpuSampler {
    last: Mutex<Option<(u64, u64)>>,
}

impl CpuSampler {
    /// CPU use since the previous call (since boot on the first).
    pub fn sample(&self) -> f32 {
        let now = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| cpu_times(&s));
        let Some(now) = now else { return 0.0 };
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let before = last.replace(now).unwrap_or((0, 0));
        cpu_percent(before, now)
    }
}

/// (total, used) bytes of the filesystem holding `path`.
// statvfs field types differ between targets (u32 on some 32-bit libcs).
#[allow(clippy::unnecessary_cast)]
pub fn disk(path: &str) -> (u64, u64) {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => {
            let block = s.fragment_size() as u64;
            let total = (s.blocks() as u64).saturating_mul(block);
            let free = (s.blocks_free() as u64).saturating_mul(block);
            (total, total.saturating_sub(free))
        }
        Err(_) => (0, 0),
    }
}

/// Bytes of the containers' logs under `containers` (one directory per container): the
/// `json-file` driver's `<id>-json.log` and its rotations, the `local` driver's `local-logs/`.
pub fn container_logs(containers: &Path) -> u64 {
    let files = |dir: &Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.file_name(), e.metadata().ok()?)))
            .collect::<Vec<_>>()
    };
    let mut total = 0u64;
    for (container, _) in files(containers).into_iter().filter(|(_, m)| m.is_dir()) {
        let dir = containers.join(container);
        for (name, meta) in files(&dir) {
            let name = name.to_string_lossy();
            if meta.is_file() && name.contains("-json.log") {
                total = total.saturating_add(meta.len());
            } else if meta.is_dir() && name == "local-logs" {
                let local = files(&dir.join("local-logs"));
                let bytes = local
                    .iter()
                    .filter(|(_, m)| m.is_file())
                    .map(|(_, m)| m.len());
                total = total.saturating_add(bytes.sum());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_both_drivers_logs_only() {
        let dir = std::env::temp_dir().join(format!("berth-logs-{}", std::process::id()));
        let json = dir.join("c1");
        let local = dir.join("c2/local-logs");
        std::fs::create_dir_all(&json).expect("dirs");
        std::fs::create_dir_all(&local).expect("dirs");
        std::fs::write(json.join("c1-json.log"), [0u8; 100]).expect("log");
        std::fs::write(json.join("c1-json.log.1"), [0u8; 20]).expect("rotated");
        std::fs::write(json.join("config.v2.json"), [0u8; 1000]).expect("config");
        std::fs::write(local.join("container.log"), [0u8; 3]).expect("local");
        std::fs::write(dir.join("c2/hostname"), [0u8; 7]).expect("hostname");
        assert_eq!(container_logs(&dir), 123);
        assert_eq!(container_logs(&dir.join("missing")), 0);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn parses_proc_files() {
        let meminfo = "MemTotal:        1000 kB\nMemFree:  10 kB\nMemAvailable:     400 kB\n";
        assert_eq!(memory(meminfo), (1_024_000, 409_600));
        assert_eq!(memory("garbage"), (0, 0));
        assert_eq!(load1("0.42 0.30 0.10 1/80 123"), 0.42);
        assert_eq!(load1(""), 0.0);
        let stat = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n";
        assert_eq!(cpu_times(stat), Some((200, 1000)));
        assert_eq!(cpu_times("intr 1"), None);
    }

    #[test]
    fn cpu_percent_is_bounded() {
        assert_eq!(cpu_percent((0, 0), (50, 100)), 50.0);
        assert_eq!(cpu_percent((50, 100), (50, 100)), 0.0);
        assert_eq!(cpu_percent((90, 100), (10, 200)), 0.0);
    }
}

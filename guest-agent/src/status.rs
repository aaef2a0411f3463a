//! The guest's resource usage for status reports, read from `/proc` and `statvfs`.

use std::sync::Mutex;

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

#[cfg(test)]
mod tests {
    use super::*;

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

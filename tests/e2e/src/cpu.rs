//! Host CPU time of processes, for the benchmarks that measure what an idle VM costs.

/// CPU time (user + system) of `pids`, in seconds; processes that are gone count nothing.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // Fields after the command name (which may hold spaces), from field 3 on.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .sum()
}

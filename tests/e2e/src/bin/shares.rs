//! Benchmark: a virtiofs shared folder against the guest's own data disk (the baseline,
//! measured in the same boot), for each virtiofsd cache mode; and how soon host edits become
//! visible in the guest, with and without file events.
//!
//!     cargo run --release -p berth-e2e --bin shares -- [metadata auto never] [--mib N] [--files N] [--cpus N]
//!
//! The VM has the vCPUs and memory Berth gives it by default on this host (`--cpus` to
//! change): small-file times depend on them, since each FUSE request wakes the guest.
//!
//! Per mode: sequential write (`dd` with fsync) and read (caches dropped first) of N MiB, and
//! creating then `stat`ing N empty files, on the share and on the data disk
//! (`/var/lib/berth`), alternating, [`REPS`] times. Goals: sequential ≥ 75 % of the disk, small
//! files ≤ 3× its time.
//! Then, after the guest has cached a few files, the host rewrites one in place, replaces one
//! atomically, creates one and removes one, and the guest polls until it sees each. Each
//! mode's throughput figures are also printed as `berth_e2e::report` rows for `bench`.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_core::agent::{open_data_plain, AgentAddress};
use berth_core::settings::{Host, Settings};
use berth_core::shares::{self, CacheMode, FileEvents};
use berth_e2e::report::{Better, Goal, Row};
use berth_e2e::{config_with_data_disk, image_dir, open_image};
use berth_protocol::data::DataHeader;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Repetitions of each measurement (the share and the disk alternate).
const REPS: usize = 3;

/// Runs `script` in a guest shell and returns its output lines as they come, each with the
/// time it arrived.
async fn guest(uds: &AgentAddress, script: &str) -> Vec<(Instant, String)> {
    let header = DataHeader::Shell {
        tty: false,
        cols: 80,
        rows: 24,
    };
    let stream = open_data_plain(uds, header).await.expect("shell");
    let (read, mut write) = tokio::io::split(stream);
    write.write_all(script.as_bytes()).await.expect("script");
    write.shutdown().await.expect("end of script");
    let mut lines = BufReader::new(read).lines();
    let mut out = Vec::new();
    while let Some(line) = lines.next_line().await.expect("output") {
        out.push((Instant::now(), line));
    }
    out
}

/// The throughput script: prints `write_ns read_ns create_ns stat_ns` for directory `$1`.
const MEASURE: &str = r#"
measure() {
  d=$1; rm -rf "$d/bench"; mkdir -p "$d/bench"; sync
  echo 3 > /proc/sys/vm/drop_caches
  t0=$(date +%s%N)
  dd if=/dev/zero of="$d/bench/big" bs=1M count=$MIB conv=fsync 2>/dev/null
  t1=$(date +%s%N)
  echo 3 > /proc/sys/vm/drop_caches
  t2=$(date +%s%N)
  dd if="$d/bench/big" of=/dev/null bs=1M 2>/dev/null
  t3=$(date +%s%N)
  mkdir "$d/bench/small"; cd "$d/bench/small"
  t4=$(date +%s%N)
  i=0; while [ $i -lt $FILES ]; do : > f$i; i=$((i+1)); done
  t5=$(date +%s%N)
  cd /; echo 3 > /proc/sys/vm/drop_caches
  t6=$(date +%s%N)
  stat -c %s "$d"/bench/small/* > /dev/null
  t7=$(date +%s%N)
  rm -rf "$d/bench"
  echo "$((t1-t0)) $((t3-t2)) $((t5-t4)) $((t7-t6))"
}
"#;

struct Figures {
    write: f64,
    read: f64,
    create: f64,
    stat: f64,
}

fn parse(line: &str) -> Figures {
    let ns: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN) / 1e9)
        .collect();
    assert_eq!(ns.len(), 4, "unexpected output: {line}");
    Figures {
        write: ns[0],
        read: ns[1],
        create: ns[2],
        stat: ns[3],
    }
}

/// The consistency probe: caches `$1`'s files, signals, then reports when each change shows.
const PROBE: &str = r#"
d=$1
cat "$d/inplace" "$d/replaced" > /dev/null; stat "$d/inplace" "$d/replaced" "$d/removed" > /dev/null; ls "$d" > /dev/null
echo cached
while [ ! -e /tmp/go ]; do sleep 0.01; done
s=$(date +%s%N); seen=""
while [ $(( ($(date +%s%N) - s) / 1000000 )) -lt $LIMIT ]; do
  case "$seen" in *C*) ;; *) [ "$(cat "$d/inplace")" = "two, longer" ] && { echo content; seen="${seen}C"; } ;; esac
  case "$seen" in *S*) ;; *) [ "$(stat -c %s "$d/inplace")" = 11 ] && { echo size; seen="${seen}S"; } ;; esac
  case "$seen" in *R*) ;; *) [ "$(cat "$d/replaced")" = "three" ] && { echo replaced; seen="${seen}R"; } ;; esac
  case "$seen" in *N*) ;; *) ls "$d" | grep -qx created && { echo listed; seen="${seen}N"; } ;; esac
  case "$seen" in *D*) ;; *) [ -e "$d/removed" ] || { echo removed; seen="${seen}D"; } ;; esac
  [ ${#seen} -eq 5 ] && break
  sleep 0.02
done
echo done
"#;

async fn consistency(uds: &AgentAddress, dir: &Path, label: &str) {
    let limit_ms = 5000;
    std::fs::write(dir.join("inplace"), "one").expect("inplace");
    std::fs::write(dir.join("replaced"), "one").expect("replaced");
    std::fs::write(dir.join("removed"), "one").expect("removed");
    let _ = std::fs::remove_file(dir.join("created"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let script = format!(
        "rm -f /tmp/go; LIMIT={limit_ms}; set -- {}\n{PROBE}",
        dir.display()
    );
    let uds_owned = uds.clone();
    let probe = tokio::spawn(async move { guest(&uds_owned, &script).await });
    // Wait until the guest has cached the files, then change them all at once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::fs::write(dir.join("inplace"), "two, longer").expect("rewrite");
    std::fs::write(dir.join(".tmp"), "three").expect("tmp");
    std::fs::rename(dir.join(".tmp"), dir.join("replaced")).expect("rename");
    std::fs::write(dir.join("created"), "new").expect("create");
    std::fs::remove_file(dir.join("removed")).expect("remove");
    let edited = Instant::now();
    guest(uds, "touch /tmp/go\n").await;
    let lines = probe.await.expect("probe");
    assert!(
        lines.iter().any(|(_, l)| l == "cached"),
        "probe did not start: {lines:?}"
    );
    let mut row = format!("  {label:<26}");
    for what in ["content", "size", "replaced", "listed", "removed"] {
        let seen = lines
            .iter()
            .find(|(_, l)| l == what)
            .map(|(at, _)| at.saturating_duration_since(edited));
        match seen {
            Some(after) => row.push_str(&format!(" {:>9.2}", after.as_secs_f64())),
            None => row.push_str(&format!(" {:>9}", format!(">{}s", limit_ms / 1000))),
        }
    }
    println!("{row}");
}

#[tokio::main]
async fn main() {
    let mut modes = Vec::new();
    let (mut mib, mut files) = (256u32, 5000u32);
    let defaults = Settings::defaults_for(Host::detect(), Vec::new());
    let mut cpus = defaults.cpus;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "metadata" => modes.push(CacheMode::Metadata),
            "auto" => modes.push(CacheMode::Auto),
            "never" => modes.push(CacheMode::Never),
            "--mib" => mib = args.next().and_then(|v| v.parse().ok()).expect("--mib N"),
            "--files" => files = args.next().and_then(|v| v.parse().ok()).expect("--files N"),
            "--cpus" => cpus = args.next().and_then(|v| v.parse().ok()).expect("--cpus N"),
            other => panic!("unknown argument {other}"),
        }
    }
    if modes.is_empty() {
        modes = vec![CacheMode::Metadata, CacheMode::Auto, CacheMode::Never];
    }
    let image = open_image(&image_dir());
    println!(
        "virtiofs against the data disk: {mib} MiB sequential, {files} small files; VM of {cpus} vCPU(s), {} MiB",
        defaults.memory_mib
    );
    for mode in modes {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = tempfile::tempdir().expect("shared");
        let mut config = config_with_data_disk(&image, dir.path()).await;
        (config.cpus, config.memory_mib) = (cpus, defaults.memory_mib);
        let mut devices = shares::plan(
            &[shares::SharedFolder::read_write(shared.path())],
            dir.path(),
        )
        .expect("plan");
        devices[0].cache = mode;
        config.shares = devices.clone();
        let vm = berth_core::vm::boot_with_retry(&config, Duration::from_secs(240))
            .await
            .expect("boot");
        let uds = vm.agent().expect("vsock");
        let script = format!(
            "MIB={mib}; FILES={files}\n{MEASURE}\nfor r in $(seq {REPS}); do measure {}; measure /var/lib/berth; done\n",
            shared.path().display()
        );
        let out: Vec<Figures> = guest(&uds, &script)
            .await
            .into_iter()
            .filter(|(_, l)| l.split_whitespace().count() == 4)
            .map(|(_, l)| parse(&l))
            .collect();
        assert_eq!(out.len(), 2 * REPS, "measurement failed");
        let (share, disk): (Vec<(usize, &Figures)>, Vec<_>) =
            out.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let pick = |side: &[(usize, &Figures)], f: fn(&Figures) -> f64| -> Vec<f64> {
            side.iter().map(|(_, figures)| f(figures)).collect()
        };
        let rate = |s: f64| f64::from(mib) / s;
        let rates = |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(rate).collect() };
        let (share_write, disk_write) = (
            rates(pick(&share, |f| f.write)),
            rates(pick(&disk, |f| f.write)),
        );
        let (share_read, disk_read) = (
            rates(pick(&share, |f| f.read)),
            rates(pick(&disk, |f| f.read)),
        );
        let (share_create, disk_create) = (pick(&share, |f| f.create), pick(&disk, |f| f.create));
        let (share_stat, disk_stat) = (pick(&share, |f| f.stat), pick(&disk, |f| f.stat));
        println!("cache={} (medians of {REPS})", mode.as_str());
        let name = |what: &str| format!("virtiofs (cache={}) {what}", mode.as_str());
        let row =
            |what: &str, unit: &str, better: Better, share: &[f64], disk: &[f64], goal: Goal| {
                Row::measured(&name(what), unit, better, share, "data disk", disk, goal)
            };
        let (seq, small) = (Goal::Ratio { bound: 0.75 }, Goal::Ratio { bound: 3.0 });
        let rows = [
            row(
                &format!("write {mib} MiB"),
                "MB/s",
                Better::Higher,
                &share_write,
                &disk_write,
                seq.clone(),
            ),
            row(
                &format!("read {mib} MiB"),
                "MB/s",
                Better::Higher,
                &share_read,
                &disk_read,
                seq,
            ),
            row(
                &format!("create {files} files"),
                "s",
                Better::Lower,
                &share_create,
                &disk_create,
                small.clone(),
            ),
            row(
                &format!("stat {files} files"),
                "s",
                Better::Lower,
                &share_stat,
                &disk_stat,
                small,
            ),
        ];
        for row in &rows {
            println!(
                "  {:<44} share {:>7.2}   disk {:>7.2} {:<5} ratio {:>5.2} (goal {})",
                row.name,
                row.median,
                row.baseline,
                row.unit,
                row.ratio(),
                row.goal_text()
            );
        }
        rows.iter().for_each(Row::emit);
        println!(
            "  visibility of host changes (s after the edit): {:>9} {:>9} {:>9} {:>9} {:>9}",
            "content", "size", "replaced", "listed", "removed"
        );
        consistency(&uds, shared.path(), "without file events").await;
        if mode == CacheMode::Metadata {
            let events = FileEvents::start(
                uds.clone(),
                &devices,
                Vec::new(),
                berth_core::saver::Saver::new(),
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
            consistency(&uds, shared.path(), "with file events").await;
            drop(events);
        }
        vm.power_off(Duration::from_secs(60))
            .await
            .expect("power off");
    }
}

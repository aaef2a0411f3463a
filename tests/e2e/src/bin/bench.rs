//! Every benchmark in one run: builds nothing itself (installer/berth-bench builds first), runs
//! each benchmark binary beside it in turn, shows their reports as they go, and ends with one
//! table — each figure's median and spread, its baseline measured in the same run, the ratio
//! and the goal — also written as JSON.
//!
//!     bench [--json PATH] [--only NAME]...
//!
//! Needs `BERTH_IMAGE` (the guest image under test), like every end-to-end binary; the desktop
//! app's benchmarks (node scripts under `ui/e2e`) also need `BERTH_APP`, the app binary under
//! test, and run from the repository (`BERTH_REPO`, else the directory this was built from).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use berth_e2e::report::Row;

/// How a benchmark runs.
enum Kind {
    /// A benchmark binary beside this one, with its arguments.
    Binary(&'static [&'static str]),
    /// A node script of the desktop app, relative to `ui/`.
    Node(&'static str),
}

/// The benchmarks, in the order they run.
const BENCHMARKS: &[(&str, Kind)] = &[
    ("boot-phases", Kind::Binary(&["4"])),
    ("engine-api", Kind::Binary(&["500"])),
    ("vm-resources", Kind::Binary(&[])),
    ("resource-saver", Kind::Binary(&[])),
    ("shares", Kind::Binary(&["metadata"])),
    ("port-forward", Kind::Binary(&["16"])),
    ("swarm-leave", Kind::Binary(&[])),
    ("multiarch", Kind::Binary(&[])),
    ("app-render", Kind::Node("e2e/bench.mjs")),
    ("app-memory", Kind::Node("e2e/bench-memory.mjs")),
];

struct Options {
    json: PathBuf,
    only: Vec<String>,
}

fn options() -> Options {
    let mut json = None;
    let mut only = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = args.next().map(PathBuf::from),
            "--only" => only.extend(args.next()),
            other => {
                eprintln!("bench: unknown argument {other:?}; usage: bench [--json PATH] [--only NAME]...");
                std::process::exit(2);
            }
        }
    }
    let json = json.unwrap_or_else(|| {
        let cache = std::env::var_os("BERTH_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/berth")))
            .unwrap_or_else(|| PathBuf::from("."));
        cache.join("bench/latest.json")
    });
    Options { json, only }
}

/// The repository the desktop app's scripts run from.
fn repo() -> PathBuf {
    std::env::var_os("BERTH_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")))
}

/// Runs one benchmark, echoing its report; returns its rows, or why it failed.
fn run(dir: &std::path::Path, name: &str, kind: &Kind) -> Result<Vec<Row>, String> {
    let mut command = match kind {
        Kind::Binary(args) => {
            let mut command = Command::new(dir.join(name));
            command.args(*args);
            command
        }
        Kind::Node(script) => {
            let mut command = Command::new("node");
            command.arg(script).current_dir(repo().join("ui"));
            command
        }
    };
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let mut rows = Vec::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        match Row::parse(&line) {
            Some(row) => rows.push(row),
            None => println!("  | {line}"),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(rows)
    } else {
        Err(format!("{name} failed ({status})"))
    }
}

fn table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(10);
    let header = ["figure", "median", "spread", "baseline", "ratio", "goal"];
    println!(
        "\n{:<width$}  {:>10} {:>21}  {:>10}  {:>6}  {:<22} met",
        header[0], header[1], header[2], header[3], header[4], header[5]
    );
    for row in rows {
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "{:<width$}  {:>10.2} {:>21}  {:>10.2}  {:>6.2}  {:<22} {met}   [{}; baseline: {}]",
            row.name,
            row.median,
            format!("{:.2}–{:.2}", row.min, row.max),
            row.baseline,
            row.ratio(),
            row.goal_text(),
            row.unit,
            row.baseline_name
        );
    }
}

fn main() {
    let options = options();
    let dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
        .expect("the benchmarks' directory");
    let started = Instant::now();
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for (name, kind) in BENCHMARKS {
        if !options.only.is_empty() && !options.only.iter().any(|o| o == name) {
            continue;
        }
        match kind {
            Kind::Binary(args) => println!("==> {name} {}", args.join(" ")),
            Kind::Node(script) => println!("==> {name} (ui/{script})"),
        }
        let bench_start = Instant::now();
        match run(&dir, name, kind) {
            Ok(found) => rows.extend(found),
            Err(err) => failures.push(err),
        }
        println!("    ({:.0} s)", bench_start.elapsed().as_secs_f64());
    }
    table(&rows);
    println!(
        "\nwhole run: {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    let report = serde_json::json!({
        "rows": rows.iter().map(|r| {
            let mut value = serde_json::to_value(r).unwrap_or_default();
            value["ratio"] = serde_json::json!(r.ratio());
            value["met"] = serde_json::json!(r.met());
            value
        }).collect::<Vec<_>>(),
        "failures": failures,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if let Some(parent) = options.json.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match serde_json::to_vec_pretty(&report).map(|j| std::fs::write(&options.json, j)) {
        Ok(Ok(())) => println!("JSON: {}", options.json.display()),
        _ => eprintln!("cannot write {}", options.json.display()),
    }
    if !failures.is_empty() {
        eprintln!("failed: {}", failures.join("; "));
        std::process::exit(1);
    }
}

//! Interactive use of Berth on a real VM: `berth events` follows the lifecycle and the engine
//! from start to stop; `berth shell` on a terminal gets a guest terminal that follows resizes;
//! `docker run -it` through the engine socket gets a TTY that follows resizes too.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use berth_e2e::berth::{berth_binary, busybox_rootfs, Env, APPLETS};
use berth_e2e::pty::PtySession;

const ANSWER: Duration = Duration::from_secs(60);

/// A child process that a failing test must not leave behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long a resize may take to reach the program: the docker CLI's resize request crosses
/// the engine socket, the VM and the engine under TCG, which took up to 0.4 s on an idle
/// machine and more under CI's load.
const RESIZE: Duration = Duration::from_secs(15);

/// Resizes `term` to `size` (columns, rows) and checks that the program on it sees the new
/// size within [`RESIZE`], asking it again and again; up to `attempts` times, one column
/// wider each time.
fn follows_resize(term: &mut PtySession, (cols, rows): (u16, u16), attempts: u16) {
    let mut seen = Vec::new();
    for attempt in 0..attempts {
        let cols = cols + attempt;
        term.resize(cols, rows);
        let asked = std::time::Instant::now();
        let mut size = String::new();
        while asked.elapsed() < RESIZE {
            // The marker is computed by the shell, so the echo of the typed line never matches.
            term.send("echo R$((6*7))R $(stty size)\n");
            term.expect("R42R ", ANSWER);
            size = term.expect("\r\n", ANSWER).trim_end().to_owned();
            if size == format!("{rows} {cols}") {
                eprintln!("resized to {cols}x{rows}: seen after {:?}", asked.elapsed());
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("resized to {cols}x{rows}, the program still saw {size:?}: trying again");
        seen.push(format!("{cols}x{rows} → {size:?}"));
    }
    panic!("the terminal size did not follow: {seen:?}");
}

#[test]
fn events_and_terminals_that_follow_resizes() {
    let env = Env::new();
    std::fs::create_dir_all(env.home.join("run")).expect("runtime dir");
    let mut events = KillOnDrop(
        env.cmd(berth_binary())
            .args(["events", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("berth events"),
    );
    let (lines_tx, lines) = mpsc::channel::<serde_json::Value>();
    let stdout = events.0.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value = serde_json::from_str(&line).expect("each event is one JSON object");
            if lines_tx.send(value).is_err() {
                return;
            }
        }
    });
    env.start();

    // `berth shell` on a terminal: a guest pty of this terminal's size, resized with it.
    let mut shell_cmd = env.cmd(berth_binary());
    shell_cmd.arg("shell");
    let mut shell = PtySession::spawn(shell_cmd, 80, 24);
    shell.send("tty; stty size\n");
    shell.expect("/dev/pts/", ANSWER);
    shell.expect("24 80", ANSWER);
    // Resize records travel in order on the shell's own stream: one attempt must do.
    follows_resize(&mut shell, (132, 50), 1);
    shell.send("exit\n");
    assert!(shell.wait(ANSWER).success(), "berth shell failed");

    // `docker run -it`: a TTY in the container, resized through the engine API.
    env.docker(
        &["import", "-", "berth-test/busybox:1"],
        Some(&busybox_rootfs(APPLETS, &[])),
    );
    let mut run_cmd = env.cmd("docker");
    run_cmd.args([
        "--context",
        "berth",
        "run",
        "--rm",
        "-it",
        "berth-test/busybox:1",
        "sh",
    ]);
    let mut run = PtySession::spawn(run_cmd, 100, 30);
    run.send("tty; stty size\n");
    run.expect("/dev/pts/", ANSWER);
    run.expect("30 100", ANSWER);
    // The docker CLI sends its own first resize (the size it started with) only once the
    // engine has answered the start, which under TCG can be seconds after the shell already
    // answers. The engine handles resizes concurrently, so that request can land after ours
    // and put the old size back (a SIGWINCH each way). A size the shell does not see is tried
    // again with a new size.
    follows_resize(&mut run, (120, 40), 3);
    run.send("exit 3\n");
    assert_eq!(
        run.wait(ANSWER).code(),
        Some(3),
        "the exit status comes back"
    );

    env.stop();
    // Give the stream a moment to print the last state, then end it as Ctrl-C would.
    std::thread::sleep(Duration::from_secs(1));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(events.0.id()).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("interrupt berth events");
    assert!(events.0.wait().expect("wait").success());
    reader.join().expect("reader");
    let seen: Vec<serde_json::Value> = lines.try_iter().collect();

    let states: Vec<&str> = seen
        .iter()
        .filter(|e| e["kind"] == "vm")
        .filter_map(|e| e["state"].as_str())
        .collect();
    let first = |state: &str| {
        states
            .iter()
            .position(|s| *s == state)
            .unwrap_or_else(|| panic!("no {state} event in {states:?}"))
    };
    assert!(
        first("starting") < first("running")
            && first("running") < first("stopping")
            && first("stopping") < first("stopped"),
        "out of order: {states:?}"
    );
    assert!(
        seen.iter().any(|e| e["kind"] == "agent"
            && e["event"]["type"] == "engine_state_changed"
            && e["event"]["state"]["type"] == "ready"),
        "no engine-ready event: {seen:?}"
    );
}

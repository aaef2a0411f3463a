//! Helpers for the published-ports tests and benchmark: a test image whose containers can run
//! host programs, and a few [`Env`] conveniences.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::berth::Env;

/// The size of `/www/big.bin` in [`test_rootfs`].
pub const BIG_FILE_LEN: usize = 1 << 20;

impl Env {
    /// `berth pause`, until it is taken: connections just closed hold the VM for a moment,
    /// and it refuses (saying the VM is in use) meanwhile; panics after 30 s.
    pub fn pause_now(&self) {
        let started = Instant::now();
        loop {
            let (ok, _, stderr) = self.berth(&["pause"]);
            if ok {
                return;
            }
            assert!(stderr.contains("in use"), "{stderr}");
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "berth pause kept refusing: {stderr}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The supervisor's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("state/berth/berth.log")).unwrap_or_default()
    }

    /// `docker --context berth ARGS`, without stdin; returns (success, stdout, stderr).
    pub fn try_docker(&self, args: &[&str]) -> (bool, String, String) {
        let out = self
            .cmd("docker")
            .arg("--context")
            .arg("berth")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker CLI");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// A port free for both TCP and UDP on all the host's addresses right now.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("0.0.0.0:0").expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// `GET /` on `addr`; the response on success.
pub fn http_get(addr: SocketAddr) -> std::io::Result<String> {
    let answer = http_get_bytes(addr, "/")?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// `GET path` on `addr`; the raw response.
pub fn http_get_bytes(addr: SocketAddr, path: &str) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n")?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)?;
    Ok(answer)
}

/// Polls `http_get` until the page answers; returns how long it took, or panics after `limit`.
pub fn wait_for_page(addr: SocketAddr, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        match http_get(addr) {
            Ok(body) if body.contains("hello from berth") => return started.elapsed(),
            other => assert!(
                started.elapsed() < limit,
                "{addr} did not answer within {limit:?}: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A root filesystem tarball for test images: Debian's static busybox with its applets, a page
/// and a [`BIG_FILE_LEN`]-byte file for `httpd` in `/www`, and each of `programs` at
/// `/PROGRAM-NAME` with the shared libraries `ldd` lists for it.
pub fn test_rootfs(programs: &[&Path]) -> Vec<u8> {
    let dir = crate::berth::busybox_tree(&[
        "sh", "echo", "cat", "httpd", "nc", "nslookup", "wget", "sleep", "dd",
    ]);
    let root = dir.path();
    std::fs::create_dir_all(root.join("www")).expect("www");
    std::fs::write(root.join("www/index.html"), "hello from berth\n").expect("page");
    // Larger than one vsock packet, to catch transfers that stall.
    let big: Vec<u8> = (0..BIG_FILE_LEN).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("www/big.bin"), big).expect("big file");
    for program in programs {
        let name = program.file_name().expect("file name");
        std::fs::copy(program, root.join(name)).expect("copy program");
        let out = Command::new("ldd").arg(program).output().expect("ldd");
        for lib in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            let dest = root.join(lib.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().expect("dir")).expect("lib dir");
            std::fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copy {lib}: {e}"));
        }
    }
    crate::berth::tar_of(root)
}

//! Network services for the end-to-end tests and benchmarks, run inside test containers (the
//! busybox in the test images has no UDP tools). Standard library only.
//!
//!     net-echo udp-echo PORT     answer every datagram with itself
//!     net-echo tcp-echo PORT     echo every connection's bytes back
//!     net-echo tcp-sink PORT     read a connection to its end, then answer the byte count
//!     net-echo tcp-source PORT   read a decimal count and a newline, then send that many bytes

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(port)) = (args.get(1), args.get(2).and_then(|p| p.parse::<u16>().ok()))
    else {
        eprintln!("usage: net-echo udp-echo|tcp-echo|tcp-sink|tcp-source PORT");
        std::process::exit(2);
    };
    let served = match mode.as_str() {
        "udp-echo" => udp_echo(port),
        "tcp-echo" => tcp(port, echo),
        "tcp-sink" => tcp(port, sink),
        "tcp-source" => tcp(port, source),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    };
    if let Err(err) = served {
        eprintln!("net-echo {mode} {port}: {err}");
        std::process::exit(1);
    }
}

fn udp_echo(port: u16) -> std::io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", port))?;
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = socket.recv_from(&mut buf)?;
        socket.send_to(&buf[..n], from)?;
    }
}

fn tcp(port: u16, handle: fn(TcpStream) -> std::io::Result<()>) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    for conn in listener.incoming() {
        let conn = conn?;
        let _ = conn.set_nodelay(true);
        std::thread::spawn(move || handle(conn));
    }
    Ok(())
}

fn echo(mut conn: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}

fn sink(mut conn: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    conn.write_all(format!("{total}\n").as_bytes())
}

fn source(conn: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut left: u64 = line.trim().parse().unwrap_or(0);
    let mut conn = reader.into_inner();
    let buf = vec![0x5a; 256 * 1024];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        conn.write_all(&buf[..n])?;
        left -= n as u64;
    }
    conn.shutdown(std::net::Shutdown::Write)
}

//! Guest networking on QEMU user networking: loopback, eth0 at 10.0.2.15/24 via 10.0.2.2, and
//! DNS (QEMU's resolver at 10.0.2.3 unless settings name others). Uses iproute2's `ip`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::reaper::Reaper;

/// The guest's address on QEMU's user network.
pub const GUEST_ADDR: &str = "10.0.2.15/24";
/// The guest's address without its prefix.
pub const GUEST_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 2, 15);
/// The host's address on QEMU's user network (QEMU maps it to the host's loopback).
pub const HOST_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 2, 2);
/// QEMU's gateway, which is also the host.
pub const GATEWAY: &str = "10.0.2.2";
/// QEMU's built-in DNS forwarder.
pub const QEMU_DNS: &str = "10.0.2.3";

/// The contents of `/etc/resolv.conf` for `dns` (QEMU's resolver when empty).
pub fn resolv_conf(dns: &[String]) -> String {
    let mut text = String::new();
    if dns.is_empty() {
        text.push_str(&format!("nameserver {QEMU_DNS}\n"));
    }
    for server in dns {
        text.push_str(&format!("nameserver {server}\n"));
    }
    text
}

/// The contents of `/etc/hosts`.
pub fn hosts() -> String {
    format!(
        "127.0.0.1\tlocalhost berth\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         {GATEWAY}\thost.docker.internal gateway.docker.internal\n"
    )
}

/// The resolvers `dns` names (QEMU's when empty) as socket addresses; invalid entries are
/// returned apart, for a warning.
pub fn upstreams(dns: &[String]) -> (Vec<std::net::SocketAddr>, Vec<String>) {
    if dns.is_empty() {
        return (
            vec![(std::net::Ipv4Addr::new(10, 0, 2, 3), 53).into()],
            Vec::new(),
        );
    }
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for server in dns {
        match server.parse::<std::net::IpAddr>() {
            Ok(ip) => good.push((ip, 53).into()),
            Err(_) => bad.push(server.clone()),
        }
    }
    (good, bad)
}

/// Brings up lo and eth0 and writes the resolver files.
pub async fn configure(reaper: &Reaper, dns: &[String]) -> std::io::Result<()> {
    std::fs::write("/etc/resolv.conf", resolv_conf(dns))?;
    std::fs::write("/etc/hosts", hosts())?;
    let ip = |args: &[&str]| {
        let mut cmd = Command::new("/usr/sbin/ip");
        cmd.args(args);
        cmd
    };
    reaper.check(&mut ip(&["link", "set", "lo", "up"])).await?;
    for _ in 0..200 {
        if Path::new("/sys/class/net/eth0").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reaper
        .check(&mut ip(&["addr", "replace", GUEST_ADDR, "dev", "eth0"]))
        .await?;
    reaper
        .check(&mut ip(&["link", "set", "eth0", "up"]))
        .await?;
    reaper
        .check(&mut ip(&["route", "replace", "default", "via", GATEWAY]))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_defaults_to_qemu() {
        assert_eq!(resolv_conf(&[]), "nameserver 10.0.2.3\n");
        assert_eq!(resolv_conf(&["1.1.1.1".into()]), "nameserver 1.1.1.1\n");
    }

    #[test]
    fn upstreams_default_to_qemu_and_skip_invalid_entries() {
        assert_eq!(upstreams(&[]).0, vec!["10.0.2.3:53".parse().expect("addr")]);
        let (good, bad) = upstreams(&["1.1.1.1".into(), "x".into(), "::1".into()]);
        assert_eq!(
            good,
            vec![
                "1.1.1.1:53".parse().expect("addr"),
                "[::1]:53".parse().expect("addr")
            ]
        );
        assert_eq!(bad, vec!["x".to_owned()]);
    }

    #[test]
    fn hosts_names_the_host() {
        assert!(hosts().contains("10.0.2.2\thost.docker.internal"));
    }
}

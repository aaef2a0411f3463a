//! Guest networking: loopback and eth0, DNS and `host.docker.internal`. On QEMU user networking
//! (the default) eth0 is 10.0.2.15/24 via 10.0.2.2 with QEMU's resolver at 10.0.2.3; with
//! `berth.net=dhcp` (Virtualization.framework's NAT) busybox's `udhcpc` leases the address,
//! and the gateway it names is the host. DNS servers from the settings win over either. Uses
//! iproute2's `ip`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_protocol::settings::NetworkMode;

use crate::reaper::Reaper;

/// The guest's address on QEMU's user network.
pub const GUEST_ADDR: &str = "10.0.2.15/24";
/// QEMU's gateway, which is also the host.
pub const GATEWAY: &str = "10.0.2.2";
/// QEMU's built-in DNS forwarder.
pub const QEMU_DNS: &str = "10.0.2.3";

/// `/etc/resolv.conf` for a DHCP network: `servers`, else the gateway (NAT gateways resolve).
pub fn resolv_conf_for(servers: &[String], gateway: &str) -> String {
    if servers.is_empty() {
        format!("nameserver {gateway}\n")
    } else {
        servers
            .iter()
            .map(|s| format!("nameserver {s}\n"))
            .collect()
    }
}

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

/// The contents of `/etc/hosts`, naming `gateway` (the host) `host.docker.internal`.
pub fn hosts(gateway: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost berth\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         {gateway}\thost.docker.internal gateway.docker.internal\n"
    )
}

/// The `udhcpc` script: applies the lease with `ip` and records the gateway and DNS servers in
/// [`LEASE_FILE`] for the agent.
const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
deconfig)
	/usr/sbin/ip -4 addr flush dev "$interface"
	/usr/sbin/ip link set "$interface" up
	;;
bound | renew)
	/usr/sbin/ip addr replace "$ip/${mask:-24}" dev "$interface"
	set -- $router
	[ -n "$1" ] && /usr/sbin/ip route replace default via "$1" dev "$interface"
	printf 'router=%s
dns=%s
' "$1" "$dns" >/run/berth-lease.tmp
	mv /run/berth-lease.tmp /run/berth-lease
	;;
esac
"#;
/// Where the `udhcpc` script records the lease.
const LEASE_FILE: &str = "/run/berth-lease";
const SCRIPT_FILE: &str = "/run/berth-udhcpc";

/// The gateway and DNS servers of a lease recorded by the script (`router=…`, `dns=… …`).
pub fn parse_lease(text: &str) -> (Option<String>, Vec<String>) {
    let mut router = None;
    let mut dns = Vec::new();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("router", value)) if !value.trim().is_empty() => {
                router = Some(value.trim().to_owned())
            }
            Some(("dns", value)) => dns.extend(value.split_whitespace().map(str::to_owned)),
            _ => {}
        }
    }
    (router, dns)
}

/// Leases eth0's address with busybox's `udhcpc`, which stays in the background to renew it;
/// returns the gateway and the DNS servers offered.
async fn lease(reaper: &Reaper) -> std::io::Result<(String, Vec<String>)> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(SCRIPT_FILE, UDHCPC_SCRIPT)?;
    std::fs::set_permissions(SCRIPT_FILE, std::fs::Permissions::from_mode(0o755))?;
    let mut udhcpc = Command::new("/usr/bin/busybox");
    // Goes to the background once leased (renewals go on); -n: fail after 10 tries a second
    // apart instead.
    udhcpc.args([
        "udhcpc",
        "-i",
        "eth0",
        "-s",
        SCRIPT_FILE,
        "-n",
        "-t",
        "10",
        "-T",
        "1",
    ]);
    reaper.check(&mut udhcpc).await?;
    let (router, dns) = parse_lease(&std::fs::read_to_string(LEASE_FILE)?);
    let router = router.ok_or_else(|| std::io::Error::other("the DHCP lease names no gateway"))?;
    Ok((router, dns))
}

/// Brings up lo and eth0 (fixed addresses, or DHCP) and writes the resolver files.
pub async fn configure(reaper: &Reaper, dns: &[String], mode: NetworkMode) -> std::io::Result<()> {
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
    if mode == NetworkMode::Dhcp {
        let (gateway, offered) = lease(reaper).await?;
        let servers = if dns.is_empty() { &offered } else { dns };
        std::fs::write("/etc/resolv.conf", resolv_conf_for(servers, &gateway))?;
        std::fs::write("/etc/hosts", hosts(&gateway))?;
        return Ok(());
    }
    std::fs::write("/etc/resolv.conf", resolv_conf(dns))?;
    std::fs::write("/etc/hosts", hosts(GATEWAY))?;
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
    fn hosts_names_the_host() {
        assert!(hosts(GATEWAY).contains("10.0.2.2\thost.docker.internal"));
        assert!(hosts("192.168.64.1").contains("192.168.64.1\thost.docker.internal"));
    }

    #[test]
    fn leases_give_gateway_and_dns_and_garbage_gives_nothing() {
        let (router, dns) = parse_lease("router=192.168.64.1\ndns=192.168.64.1 1.1.1.1\n");
        assert_eq!(router.as_deref(), Some("192.168.64.1"));
        assert_eq!(dns, ["192.168.64.1", "1.1.1.1"]);
        assert_eq!(parse_lease("router=\ndns=\n"), (None, vec![]));
        assert_eq!(parse_lease("\u{0}garbage"), (None, vec![]));
        assert_eq!(
            resolv_conf_for(&[], "192.168.64.1"),
            "nameserver 192.168.64.1\n"
        );
        assert_eq!(
            resolv_conf_for(&["9.9.9.9".into()], "x"),
            "nameserver 9.9.9.9\n"
        );
    }
}

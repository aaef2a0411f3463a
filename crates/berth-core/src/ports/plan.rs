//! What to listen on for a set of published ports: the bind-address policy and the difference
//! between what is open and what should be. Pure functions, so the rules are tested without
//! sockets.
//!
//! Policy: by default every published port listens on `127.0.0.1` whatever address the
//! container asked for (`-p 8080:80` means `0.0.0.0:8080` to the engine), so nothing is reachable
//! from the network unless the user opts in with `Settings::publish_on_all_interfaces`; then
//! the container's own address is used (`0.0.0.0`, `::`, or a specific one). The engine lists
//! a plain `-p` twice (`0.0.0.0` and `::`); a dual-stack `::` socket would collide with the
//! `0.0.0.0` one on Linux, so the IPv4 wildcard wins.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use berth_protocol::message::{PortProtocol, PublishedPort};

/// One host socket: the transport and the address it listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listen {
    /// TCP or UDP.
    pub protocol: PortProtocol,
    /// The host address and port.
    pub addr: SocketAddr,
}

/// Where a host socket relays to, and for whom (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The guest port the engine's proxy listens on.
    pub guest_port: u16,
    /// The container's name (or short id when it has none).
    pub container: String,
    /// The port inside the container (0 when unknown).
    pub container_port: u16,
}

/// A published port this host will not listen for, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The port as the agent published it.
    pub port: PublishedPort,
    /// Why it is not forwarded.
    pub reason: String,
}

/// The host address a port published on `host_ip` listens on.
pub fn bind_ip(host_ip: &str, all_interfaces: bool) -> Result<IpAddr, String> {
    if !all_interfaces {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if host_ip.is_empty() {
        return Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    host_ip
        .parse()
        .map_err(|_| format!("the engine gave an invalid host address {host_ip:?}"))
}

/// The name a message uses for `port`'s container.
pub fn container_label(port: &PublishedPort) -> String {
    if port.container_name.is_empty() {
        port.container_id.chars().take(12).collect()
    } else {
        port.container_name.clone()
    }
}

/// The most host sockets Berth forwards at once; ports beyond it are left out, each named in
/// the log with this limit (`-p 10000-20000:10000-20000` asks for twenty thousand).
pub const MAX_FORWARDS: usize = 4096;

/// The sockets `published` needs, and the ports left out (with the reason): port 0 (no port
/// a container can be reached on), a socket another container has, anything past
/// [`MAX_FORWARDS`]. Containers publishing fewer ports are served first, so one with a huge
/// range takes only what is left and every other container keeps its ports.
pub fn desired(
    published: &[PublishedPort],
    all_interfaces: bool,
) -> (BTreeMap<Listen, Target>, Vec<Skipped>) {
    let mut wanted: BTreeMap<Listen, Target> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut per_container: std::collections::HashMap<&str, usize> = Default::default();
    for port in published {
        *per_container.entry(port.container_id.as_str()).or_default() += 1;
    }
    // Smaller containers first, then IPv4 first, so `0.0.0.0` is seen before the `::` twin
    // it supersedes; otherwise in the agent's order (the sort is stable).
    let mut ordered: Vec<&PublishedPort> = published.iter().collect();
    ordered.sort_by_key(|p| {
        (
            per_container[p.container_id.as_str()],
            p.host_ip.contains(':'),
        )
    });
    for port in ordered {
        if port.port == 0 {
            skipped.push(Skipped {
                port: port.clone(),
                reason: "host port 0 is no port to forward".into(),
            });
            continue;
        }
        let ip = match bind_ip(&port.host_ip, all_interfaces) {
            Ok(ip) => ip,
            Err(reason) => {
                skipped.push(Skipped {
                    port: port.clone(),
                    reason,
                });
                continue;
            }
        };
        let listen = Listen {
            protocol: port.protocol,
            addr: SocketAddr::new(ip, port.port),
        };
        if ip.is_unspecified() && ip.is_ipv6() {
            let v4 = Listen {
                protocol: port.protocol,
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port.port),
            };
            if wanted.contains_key(&v4) {
                continue;
            }
        }
        let target = Target {
            guest_port: port.port,
            container: container_label(port),
            container_port: port.container_port,
        };
        match wanted.get(&listen) {
            None if wanted.len() >= MAX_FORWARDS => skipped.push(Skipped {
                port: port.clone(),
                reason: format!("Berth forwards at most {MAX_FORWARDS} ports at once"),
            }),
            None => {
                wanted.insert(listen, target);
            }
            // The same container listed twice for one socket (`0.0.0.0` and `::` folded onto
            // 127.0.0.1) is one forward.
            Some(first) if first.container == target.container => {}
            Some(first) => skipped.push(Skipped {
                port: port.clone(),
                reason: format!(
                    "{} is already forwarded to container {}",
                    listen.addr, first.container
                ),
            }),
        }
    }
    (wanted, skipped)
}

/// What changes turn `current` into `wanted`: (sockets to close, sockets to open).
pub fn diff<T, U>(
    current: &BTreeMap<Listen, T>,
    wanted: &BTreeMap<Listen, U>,
) -> (Vec<Listen>, Vec<Listen>) {
    let close = current
        .keys()
        .filter(|k| !wanted.contains_key(k))
        .copied()
        .collect();
    let open = wanted
        .keys()
        .filter(|k| !current.contains_key(k))
        .copied()
        .collect();
    (close, open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str, protocol: PortProtocol, host_ip: &str, port: u16) -> PublishedPort {
        PublishedPort {
            container_id: format!("{name}0123456789abcdef"),
            protocol,
            host_ip: host_ip.into(),
            port,
            container_name: name.into(),
            container_port: 80,
        }
    }

    fn addrs(wanted: &BTreeMap<Listen, Target>) -> Vec<String> {
        wanted
            .keys()
            .map(|l| format!("{:?} {}", l.protocol, l.addr))
            .collect()
    }

    #[test]
    fn by_default_everything_listens_on_loopback_only() {
        for host_ip in ["", "0.0.0.0", "::", "192.168.1.20", "not an ip"] {
            assert_eq!(
                bind_ip(host_ip, false),
                Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                "{host_ip}"
            );
        }
        let published = [
            port("web", PortProtocol::Tcp, "0.0.0.0", 8080),
            port("web", PortProtocol::Tcp, "::", 8080),
            port("dns", PortProtocol::Udp, "0.0.0.0", 5353),
        ];
        let (wanted, skipped) = desired(&published, false);
        assert_eq!(addrs(&wanted), ["Tcp 127.0.0.1:8080", "Udp 127.0.0.1:5353"]);
        assert!(skipped.is_empty(), "{skipped:?}");
        let target = &wanted.values().next().expect("one");
        assert_eq!(
            (target.guest_port, target.container.as_str()),
            (8080, "web")
        );
    }

    #[test]
    fn opting_in_uses_the_containers_address_with_ipv4_winning_the_wildcard() {
        assert_eq!(bind_ip("", true), Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert!(bind_ip("nonsense", true).is_err());
        let published = [
            port("web", PortProtocol::Tcp, "::", 8080),
            port("web", PortProtocol::Tcp, "0.0.0.0", 8080),
            port("v6", PortProtocol::Tcp, "::", 9090),
            port("local", PortProtocol::Udp, "127.0.0.1", 53),
            port("bad", PortProtocol::Tcp, "nonsense", 1),
        ];
        let (wanted, skipped) = desired(&published, true);
        assert_eq!(
            addrs(&wanted),
            ["Tcp 0.0.0.0:8080", "Tcp [::]:9090", "Udp 127.0.0.1:53"]
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].reason.contains("nonsense"), "{skipped:?}");
    }

    #[test]
    fn two_containers_on_one_host_socket_keep_the_first_and_name_it() {
        let published = [
            port("a", PortProtocol::Tcp, "127.0.0.1", 8080),
            port("b", PortProtocol::Tcp, "10.0.0.5", 8080),
            port("b", PortProtocol::Udp, "10.0.0.5", 8080),
        ];
        let (wanted, skipped) = desired(&published, false);
        assert_eq!(addrs(&wanted), ["Tcp 127.0.0.1:8080", "Udp 127.0.0.1:8080"]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].port.container_name, "b");
        assert!(skipped[0].reason.contains("container a"), "{skipped:?}");
    }

    #[test]
    fn diff_closes_what_went_away_and_opens_what_is_new() {
        let before = desired(
            &[
                port("web", PortProtocol::Tcp, "0.0.0.0", 8080),
                port("old", PortProtocol::Udp, "0.0.0.0", 9000),
            ],
            false,
        )
        .0;
        let after = desired(
            &[
                port("web2", PortProtocol::Tcp, "0.0.0.0", 8080),
                port("new", PortProtocol::Tcp, "0.0.0.0", 9000),
            ],
            false,
        )
        .0;
        let (close, open) = diff(&before, &after);
        let show = |v: Vec<Listen>| -> Vec<String> {
            v.iter()
                .map(|l| format!("{:?} {}", l.protocol, l.addr))
                .collect()
        };
        // The same socket for another container stays open (the guest port is the same).
        assert_eq!(show(close), ["Udp 127.0.0.1:9000"]);
        assert_eq!(show(open), ["Tcp 127.0.0.1:9000"]);
        let (close, open) = diff(&after, &after);
        assert!(close.is_empty() && open.is_empty());
    }

    #[test]
    fn unnamed_containers_are_labelled_by_short_id() {
        let mut p = port("", PortProtocol::Tcp, "", 1);
        p.container_id = "0123456789abcdef0123".into();
        assert_eq!(container_label(&p), "0123456789ab");
    }

    #[test]
    fn port_zero_and_ports_past_the_limit_are_left_out_with_the_reason() {
        let mut published = vec![port("zero", PortProtocol::Tcp, "0.0.0.0", 0)];
        published.extend(
            (0..MAX_FORWARDS + 10)
                .map(|i| port("range", PortProtocol::Tcp, "0.0.0.0", 10000 + i as u16)),
        );
        // Another container, listed after the range: it keeps its port.
        published.push(port("web", PortProtocol::Tcp, "0.0.0.0", 8080));
        let (wanted, skipped) = desired(&published, false);
        assert_eq!(wanted.len(), MAX_FORWARDS);
        assert!(
            wanted.values().any(|t| t.container == "web"),
            "the small container lost its port to the range"
        );
        assert_eq!(skipped.len(), 12);
        assert!(skipped[0].reason.contains("port 0"), "{:?}", skipped[0]);
        assert!(
            skipped[1..]
                .iter()
                .all(|s| s.reason.contains(&MAX_FORWARDS.to_string())),
            "{skipped:?}"
        );
    }
}

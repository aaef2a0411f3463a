//! What containers may reach of the host's loopback (`host.docker.internal`, QEMU's 10.0.2.2),
//! enforced in the guest's firewall: rules in the engine's `DOCKER-USER` chain, which dockerd
//! evaluates first for every forwarded packet and never rewrites. Set up before dockerd starts
//! (it keeps an existing chain and jumps to it from `FORWARD`). Containers with
//! `--network host` share the guest's own network and are not covered (nor are the engine and
//! the agent, which reach the host for registry mirrors).

use std::process::Command;

use berth_protocol::settings::HostLoopback;

use crate::network::HOST_IP;
use crate::reaper::Reaper;

const CHAIN: &str = "DOCKER-USER";

/// The `iptables` argument lists that put `access` in place (after the chain exists).
pub fn rules(access: &HostLoopback) -> Vec<Vec<String>> {
    let host = HOST_IP.to_string();
    let rule = |extra: &[&str], target: &str| {
        let mut args: Vec<String> = ["-A", CHAIN, "-d", &host].map(String::from).to_vec();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.extend(["-j", target].map(String::from));
        args
    };
    let mut rules = vec![vec!["-F".to_owned(), CHAIN.to_owned()]];
    match access {
        HostLoopback::All => {}
        HostLoopback::None => rules.push(rule(&[], "REJECT")),
        HostLoopback::Ports(ports) => {
            for port in ports {
                let port = port.to_string();
                for proto in ["tcp", "udp"] {
                    rules.push(rule(&["-p", proto, "--dport", &port], "RETURN"));
                }
            }
            rules.push(rule(&[], "REJECT"));
        }
    }
    rules.push(["-A", CHAIN, "-j", "RETURN"].map(String::from).to_vec());
    rules
}

/// Puts `access` in place; a failure is reported (and with anything but `all`, loudly: the user
/// asked for a restriction that does not hold).
pub async fn apply(reaper: &Reaper, access: &HostLoopback) {
    let mut create = Command::new("/usr/sbin/iptables");
    create.args(["-N", CHAIN]);
    // Already there after an engine restart: fine.
    let _ = reaper.run(&mut create).await;
    for args in rules(access) {
        let mut cmd = Command::new("/usr/sbin/iptables");
        cmd.args(&args);
        if let Err(err) = reaper.check(&mut cmd).await {
            tracing::warn!("host loopback {}: cannot set up the firewall (iptables {}): {err}; containers may reach more of the host than the settings say",
                String::from(access.clone()),
                args.join(" "));
            return;
        }
    }
    if *access != HostLoopback::All {
        tracing::info!(
            "host loopback: containers reach only {} of the host",
            match access {
                HostLoopback::None => "no port".to_owned(),
                other => format!("ports {}", String::from(other.clone())),
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_leaves_the_chain_open_and_ports_are_let_through_before_the_reject() {
        assert_eq!(
            rules(&HostLoopback::All),
            [
                vec!["-F", "DOCKER-USER"],
                vec!["-A", "DOCKER-USER", "-j", "RETURN"]
            ]
        );
        let none = rules(&HostLoopback::None);
        assert_eq!(
            none[1],
            ["-A", "DOCKER-USER", "-d", "10.0.2.2", "-j", "REJECT"]
        );
        let some = rules(&HostLoopback::Ports(vec![5432]));
        assert_eq!(
            some[1],
            [
                "-A",
                "DOCKER-USER",
                "-d",
                "10.0.2.2",
                "-p",
                "tcp",
                "--dport",
                "5432",
                "-j",
                "RETURN"
            ]
        );
        assert_eq!(some[2][5], "udp");
        assert_eq!(
            some[3], none[1],
            "then everything else to the host is refused"
        );
        assert_eq!(some.last(), none.last());
    }
}

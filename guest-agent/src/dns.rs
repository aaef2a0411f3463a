//! The containers' DNS server: answers `host.docker.internal` (and `gateway.docker.internal`)
//! with the host's address on QEMU's user network, and forwards every other query unchanged
//! to the real resolvers.
//!
//! The engine points every container at it (`"dns"` in `daemon.json`): containers on the
//! default bridge get it in their `resolv.conf`, and the engine's embedded resolver on
//! user-defined networks (compose) forwards to it. It listens on the guest's own address
//! (`10.0.2.15:53`, UDP and TCP), which containers reach through their gateway, but QEMU's user
//! network does not expose it to anything outside the guest. The guest itself keeps using the
//! upstream resolvers directly, and its `/etc/hosts` names the host for `--network host`
//! containers.
//!
//! Only the question is parsed (to spot the two names); everything else is relayed as bytes,
//! so EDNS, DNSSEC records and truncation reach the client as the upstream sent them. Upstream
//! queries go over UDP whatever the client used ([`resolver`]).
//!
//! Containers send these queries, so each kind has its own budget ([`Limits`]), which a flood
//! of the other cannot take: UDP queries in flight, and TCP connections ([`tcp`], each held to
//! an idle and a per-message timeout). A query over the UDP budget is dropped, as BIND and
//! Unbound drop queries over their quotas: stub resolvers retry it on their own timeout, when
//! the flood may be over, while a SERVFAIL would fail the lookup at once (and some resolvers
//! cache it). A TCP connection over its budget is accepted and closed at once, so its client
//! tries its next server instead of waiting in the listen queue. Both are logged once per
//! burst, with counts.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use berth_listener::{Backoff, Burst, Server, WhenFull, REPORT_PERIOD};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Semaphore;

mod resolver;
mod tcp;

use resolver::Resolver;

/// The names that resolve to the host.
pub const HOST_NAMES: &[&str] = &["host.docker.internal", "gateway.docker.internal"];
/// The largest DNS message over UDP or TCP.
const MAX_MESSAGE: usize = 65535;

/// The DNS server's budgets and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// UDP queries being answered at once; more are dropped.
    pub udp_in_flight: usize,
    /// TCP connections at once; more are refused.
    pub tcp_connections: usize,
    /// TCP clients' timeouts.
    pub tcp: tcp::Timeouts,
    /// How long one upstream may take to answer before the next is tried.
    pub upstream: Duration,
    /// How long one query may take in all (so a query holds its place no longer).
    pub query: Duration,
}

impl Default for Limits {
    /// 256 UDP queries in flight (a busy compose project's lookups at once, each holding one
    /// upstream socket), 64 TCP connections (TCP is the fallback for truncated answers; few
    /// clients hold one). Clients' own timeouts bound the rest: glibc and musl wait 5 s for an
    /// answer, so a query is given up after 5 s in all, 2 s per upstream; a TCP client may be
    /// idle 10 s between queries but must send each one whole within 5 s.
    fn default() -> Self {
        Limits {
            udp_in_flight: 256,
            tcp_connections: 64,
            tcp: tcp::Timeouts {
                idle: Duration::from_secs(10),
                message: Duration::from_secs(5),
            },
            upstream: Duration::from_secs(2),
            query: Duration::from_secs(5),
        }
    }
}

/// Serves DNS on `listen` (UDP and TCP), answering [`HOST_NAMES`] with `host` and forwarding
/// the rest to `upstreams`.
pub async fn serve(
    listen: SocketAddr,
    host: Ipv4Addr,
    upstreams: Vec<SocketAddr>,
) -> std::io::Result<()> {
    let udp = UdpSocket::bind(listen).await?;
    let tcp = TcpListener::bind(listen).await?;
    serve_sockets(udp, tcp, host, upstreams, Limits::default());
    Ok(())
}

/// Serves DNS on `udp` and `tcp` within `limits`, in background tasks.
fn serve_sockets(
    udp: UdpSocket,
    tcp: TcpListener,
    host: Ipv4Addr,
    upstreams: Vec<SocketAddr>,
    limits: Limits,
) {
    let resolver = Arc::new(Resolver {
        host,
        upstreams,
        upstream_timeout: limits.upstream,
        query_timeout: limits.query,
    });
    let server = Server {
        what: "dns over TCP".into(),
        limit: limits.tcp_connections,
        when_full: WhenFull::Refuse,
        log: |line| tracing::warn!("{line}"),
    };
    let tcp_resolver = resolver.clone();
    berth_listener::serve(tcp, server, move |stream| {
        let resolver = tcp_resolver.clone();
        async move { tcp::serve(stream, &resolver, limits.tcp).await }
    });
    tokio::spawn(serve_udp(Arc::new(udp), resolver, limits.udp_in_flight));
}

/// Answers each datagram on its own task, at most `budget` at once; the rest are dropped.
async fn serve_udp(udp: Arc<UdpSocket>, resolver: Arc<Resolver>, budget: usize) {
    let in_flight = Arc::new(Semaphore::new(budget));
    let mut dropped = Burst::new(REPORT_PERIOD);
    let mut backoff = Backoff::default();
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, client) = match udp.recv_from(&mut buf).await {
            Ok(received) => {
                backoff.reset();
                received
            }
            Err(_) => {
                tokio::time::sleep(backoff.failed()).await;
                continue;
            }
        };
        let Ok(place) = in_flight.clone().try_acquire_owned() else {
            if let Some(line) = dropped.line(
                || format!("dns: {budget} UDP queries in flight, the limit; dropping more"),
                |count, secs| {
                    format!("dns: dropped {count} more UDP queries over the limit of {budget} in {secs} s")
                },
            ) {
                tracing::warn!("{}", line);
            }
            continue;
        };
        let query = buf[..n].to_vec();
        let (udp, resolver) = (udp.clone(), resolver.clone());
        tokio::spawn(async move {
            if let Some(answer) = resolver.answer(&query).await {
                let _ = udp.send_to(&answer, client).await;
            }
            drop(place);
        });
    }
}

/// Starts [`serve`] in the background, retrying until the guest address exists.
pub fn start(listen: SocketAddr, host: Ipv4Addr, upstreams: Vec<SocketAddr>) {
    tokio::spawn(async move {
        for attempt in 0.. {
            match serve(listen, host, upstreams.clone()).await {
                Ok(()) => return,
                Err(err) if attempt == 50 => {
                    return tracing::error!("dns: cannot listen on {listen}: {err}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
}

#[cfg(test)]
mod tests;

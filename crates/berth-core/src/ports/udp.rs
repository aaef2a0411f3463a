//! A forwarded UDP port: one host socket, and one flow per client address, each flow a vsock
//! data connection ([`DataHeader::Udp`]) carrying [`berth_protocol::datagram`] frames to the
//! engine's proxy on the same port in the guest. The guest answers each flow from its own
//! socket, so replies reach the client that asked.
//!
//! A flow ends after [`IDLE_TIMEOUT`] without a datagram either way (as a NAT entry would);
//! at most [`MAX_FLOWS`] run at once per port and datagrams for further clients are dropped,
//! as are datagrams a slow flow cannot take (UDP promises no delivery).

use std::collections::HashMap;
use std::net::SocketAddr;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_protocol::data::DataHeader;
use berth_protocol::datagram::{read_datagram, write_datagram, MAX_DATAGRAM};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::Guest;
use crate::agent;

/// A flow with no datagram either way for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most client flows per port at once: well below the agent's published-port budget (2048 for
/// all ports, TCP included), so UDP from many sources leaves room for the other ports.
pub const MAX_FLOWS: usize = 256;
/// Datagrams queued for a flow whose connection is still opening or slow.
const QUEUE: usize = 64;

/// A listening forward; dropping it closes the socket and every flow.
pub struct UdpForward {
    task: JoinHandle<()>,
}

impl UdpForward {
    /// Binds `addr` and relays each client's datagrams to `guest_port` through `guest`'s agent; flows end after `idle` of silence.
    pub async fn bind(
        addr: SocketAddr,
        guest_port: u16,
        guest: Arc<Guest>,
        idle: Duration,
    ) -> std::io::Result<UdpForward> {
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let task = tokio::spawn(serve(socket, guest_port, guest, idle));
        Ok(UdpForward { task })
    }
}

impl Drop for UdpForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client's flow as the dispatcher sees it.
struct Flow {
    queue: mpsc::Sender<Vec<u8>>,
    generation: u64,
}

async fn serve(socket: Arc<UdpSocket>, guest_port: u16, guest: Arc<Guest>, idle: Duration) {
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    // Owning the flow tasks here means aborting this task ends them all.
    let mut tasks = JoinSet::new();
    let mut generation = 0u64;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, client) = match received {
                    Ok(got) => got,
                    // An ICMP error from an earlier reply to a client that went away.
                    Err(err) => {
                        tracing::debug!("UDP port {guest_port}: {err}");
                        continue;
                    }
                };
                let datagram = buf[..n].to_vec();
                if let Some(flow) = flows.get(&client) {
                    // Full: dropped, as a congested network would. Closed: the flow is
                    // ending and its end is about to be reaped; the client retries.
                    let _ = flow.queue.try_send(datagram);
                    continue;
                }
                if flows.len() >= MAX_FLOWS {
                    tracing::debug!("UDP port {guest_port}: {MAX_FLOWS} flows open, dropping");
                    continue;
                }
                generation += 1;
                let (queue, datagrams) = mpsc::channel(QUEUE);
                let _ = queue.try_send(datagram);
                flows.insert(client, Flow { queue, generation });
                let flow = run_flow(client, datagrams, socket.clone(), guest_port, guest.clone(), idle);
                let id = generation;
                tasks.spawn(async move {
                    flow.await;
                    (client, id)
                });
            }
            Some(Ok((client, id))) = tasks.join_next() => {
                if flows.get(&client).is_some_and(|f| f.generation == id) {
                    flows.remove(&client);
                }
            }
        }
    }
}

/// Relays one client's flow until it is idle for `idle` or the guest side closes.
async fn run_flow(
    client: SocketAddr,
    mut datagrams: mpsc::Receiver<Vec<u8>>,
    socket: Arc<UdpSocket>,
    guest_port: u16,
    guest: Arc<Guest>,
    idle: Duration,
) {
    // A flow holds the VM awake while it lasts (its first datagram resumes a paused one).
    let _lease = guest.saver.lease().await;
    let stream = match agent::open_data(&guest.endpoint, DataHeader::Udp { port: guest_port }).await
    {
        Ok(stream) => stream,
        Err(err) => return tracing::info!("UDP port {guest_port}: {err}"),
    };
    let (mut reader, mut writer) = tokio::io::split(stream);
    let activity = AtomicU64::new(0);
    let to_guest = async {
        let mut frame = Vec::new();
        while let Some(datagram) = datagrams.recv().await {
            activity.fetch_add(1, Ordering::Relaxed);
            write_datagram(&mut writer, &datagram, &mut frame).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    // One long-lived future per direction: a frame read is never cancelled half-way.
    let to_client = async {
        let mut datagram = Vec::new();
        while read_datagram(&mut reader, &mut datagram).await? {
            activity.fetch_add(1, Ordering::Relaxed);
            // A client that went away loses the answer, as UDP would.
            let _ = socket.send_to(&datagram, client).await;
        }
        Ok(())
    };
    let ended = tokio::select! {
        ended = to_guest => ended,
        ended = to_client => ended,
        () = berth_protocol::datagram::idle_for(idle, &activity) => Ok(()),
    };
    if let Err(err) = ended {
        tracing::debug!("UDP port {guest_port}, client {client}: {err}");
    }
}

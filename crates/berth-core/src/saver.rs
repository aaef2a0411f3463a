//! The resource saver's bookkeeping: whether the VM is awake, and who needs it.
//!
//! Everything that needs the guest for a user takes a [`Lease`] first ([`Saver::lease`]): a
//! connection to the engine socket or pipe, a published port's connection or UDP flow, a
//! `berth shell` or `logs` held on the daemon's channel. A lease counts while it lives, and
//! taking one while the VM is paused asks for it to be resumed and waits until it runs, so the
//! connection is held, never refused. Berth's own background work (the clock, file events)
//! takes [`Saver::passive_lease`], which waits while the VM is paused without waking it.
//!
//! The daemon's saver task (`berth_daemon::saver`) pauses the VM after a quiet time with no
//! lease ([`Saver::begin_pause`]) and resumes it when one is wanted ([`Saver::wake_wanted`]).
//! A pause begins under the same lock that counts leases, so a connection that arrives while
//! it is decided either stops it or waits for the resume that follows it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Whether the VM's vCPUs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    /// Running: leases are served at once.
    Awake,
    /// A pause was decided and is being made (or abandoned).
    Pausing,
    /// The vCPUs are stopped.
    Paused,
    /// Being resumed; the guest clock is set before leases are served.
    Resuming,
}

#[derive(Debug)]
struct State {
    leases: usize,
    last_active: Instant,
    wake_wanted: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    power: watch::Sender<Power>,
    wake: Notify,
    /// `berth pause`: a pause asked for now, whatever runs.
    pause_now: Notify,
}

/// The saver's shared state; clones share it.
#[derive(Debug, Clone)]
pub struct Saver(Arc<Shared>);

impl Default for Saver {
    fn default() -> Self {
        Saver::new()
    }
}

impl Saver {
    /// A saver for an awake VM with no leases.
    pub fn new() -> Saver {
        let (power, _) = watch::channel(Power::Awake);
        Saver(Arc::new(Shared {
            state: Mutex::new(State {
                leases: 0,
                last_active: Instant::now(),
                wake_wanted: false,
            }),
            power,
            wake: Notify::new(),
            pause_now: Notify::new(),
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few counters: a panic elsewhere cannot leave it torn.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The VM's power now, and each change.
    pub fn power(&self) -> watch::Receiver<Power> {
        self.0.power.subscribe()
    }

    /// Leases open now.
    pub fn leases(&self) -> usize {
        self.state().leases
    }

    /// Counts a user of the VM until the lease is dropped; when the VM is paused (or being
    /// paused), asks for it to be resumed and returns once it runs.
    pub async fn lease(&self) -> Lease {
        let lease = {
            let mut state = self.state();
            state.leases += 1;
            state.last_active = Instant::now();
            Lease {
                saver: self.clone(),
                active: true,
            }
        };
        let mut power = self.power();
        loop {
            match *power.borrow_and_update() {
                Power::Awake => return lease,
                Power::Paused | Power::Pausing => self.want_wake(),
                Power::Resuming => {}
            }
            if power.changed().await.is_err() {
                return lease;
            }
        }
    }

    /// A lease for Berth's own work: taken only while the VM is awake, waiting (without
    /// waking it) while it is paused; it delays a pause while held, but does not start the
    /// quiet time again (the clock's checks every few seconds would never let it pass).
    pub async fn passive_lease(&self) -> Lease {
        let mut power = self.power();
        loop {
            {
                let mut state = self.state();
                if *power.borrow_and_update() == Power::Awake {
                    state.leases += 1;
                    return self.passive();
                }
            }
            if power.changed().await.is_err() {
                self.state().leases += 1;
                return self.passive();
            }
        }
    }

    /// A passive lease if the VM is awake now, else `None` at once (`berth status`, the app's
    /// dashboard: a paused VM's figures are not worth waking it for).
    pub fn passive_lease_if_awake(&self) -> Option<Lease> {
        let mut state = self.state();
        if *self.0.power.borrow() != Power::Awake {
            return None;
        }
        state.leases += 1;
        Some(self.passive())
    }

    fn passive(&self) -> Lease {
        Lease {
            saver: self.clone(),
            active: false,
        }
    }

    fn want_wake(&self) {
        self.state().wake_wanted = true;
        self.0.wake.notify_one();
    }

    /// Starts a pause when the VM is awake, no lease is open and nothing used it for `quiet`;
    /// the caller then pauses the VM and says how it went ([`Saver::paused`] or
    /// [`Saver::pause_abandoned`]).
    pub fn begin_pause(&self, quiet: Duration) -> bool {
        let mut state = self.state();
        if *self.0.power.borrow() != Power::Awake
            || state.leases > 0
            || state.last_active.elapsed() < quiet
        {
            return false;
        }
        state.wake_wanted = false;
        self.0.power.send_replace(Power::Pausing);
        true
    }

    /// Asks for a pause now (`berth pause`), whether containers run or not; refused (false)
    /// while a lease is open or the VM is not awake.
    pub fn ask_pause_now(&self) -> bool {
        let state = self.state();
        if *self.0.power.borrow() != Power::Awake || state.leases > 0 {
            return false;
        }
        self.0.pause_now.notify_one();
        true
    }

    /// Resolves when [`Saver::ask_pause_now`] was called.
    pub async fn pause_asked(&self) {
        self.0.pause_now.notified().await;
    }

    /// The pause was made.
    pub fn paused(&self) {
        self.0.power.send_replace(Power::Paused);
    }

    /// The pause was not made (something runs, or the hypervisor refused): awake again, and
    /// the quiet time starts over.
    pub fn pause_abandoned(&self) {
        self.awake();
    }

    /// Resolves once a lease wants the paused VM resumed.
    pub async fn wake_wanted(&self) {
        loop {
            let notified = self.0.wake.notified();
            if self.state().wake_wanted {
                return;
            }
            notified.await;
        }
    }

    /// The resume began.
    pub fn resuming(&self) {
        self.0.power.send_replace(Power::Resuming);
    }

    /// The VM runs again: leases waiting are served, and the quiet time starts over.
    pub fn awake(&self) {
        let mut state = self.state();
        state.last_active = Instant::now();
        state.wake_wanted = false;
        self.0.power.send_replace(Power::Awake);
    }
}

/// One user of the VM, counted until dropped.
#[derive(Debug)]
pub struct Lease {
    saver: Saver,
    /// A user's: its end starts the quiet time again.
    active: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.saver.state();
        state.leases = state.leases.saturating_sub(1);
        if self.active {
            state.last_active = Instant::now();
        }
    }
}

/// A connection's lease, which can be let go while the connection only watches (the engine
/// relay does for an event stream: events happen only when something else uses the VM, which
/// wakes it) and taken again for its next request.
#[derive(Debug, Clone)]
pub struct LeaseSlot {
    saver: Saver,
    held: Arc<Mutex<Option<Lease>>>,
}

impl LeaseSlot {
    /// A slot holding `lease` of `saver`.
    pub fn new(saver: Saver, lease: Lease) -> LeaseSlot {
        LeaseSlot {
            saver,
            held: Arc::new(Mutex::new(Some(lease))),
        }
    }

    fn held(&self) -> MutexGuard<'_, Option<Lease>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets the lease go (the connection no longer keeps the VM awake).
    pub fn release(&self) {
        let lease = self.held().take();
        drop(lease);
    }

    /// Holds a lease again, resuming a paused VM first.
    pub async fn ensure(&self) {
        if self.held().is_some() {
            return;
        }
        let lease = self.saver.lease().await;
        *self.held() = Some(lease);
    }
}

/// A connection that holds a lease (in a [`LeaseSlot`]) while it is open.
#[derive(Debug)]
pub struct Leased<T> {
    inner: T,
    slot: LeaseSlot,
}

impl<T> Leased<T> {
    /// `inner`, holding `lease` of `saver`.
    pub fn new(inner: T, saver: Saver, lease: Lease) -> Leased<T> {
        Leased {
            inner,
            slot: LeaseSlot::new(saver, lease),
        }
    }

    /// The connection's lease.
    pub fn slot(&self) -> &LeaseSlot {
        &self.slot
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Leased<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Leased<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_secs(5);

    /// A saver whose VM was paused after the quiet time.
    async fn paused() -> Saver {
        let saver = Saver::new();
        tokio::time::advance(QUIET).await;
        assert!(saver.begin_pause(QUIET));
        saver.paused();
        saver
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_needs_the_quiet_time_and_no_lease() {
        let saver = Saver::new();
        assert!(!saver.begin_pause(QUIET), "not quiet long enough");
        tokio::time::advance(QUIET).await;
        let lease = saver.lease().await;
        assert!(!saver.begin_pause(QUIET), "a lease is open");
        drop(lease);
        assert!(
            !saver.begin_pause(QUIET),
            "the quiet time starts at the last lease"
        );
        tokio::time::advance(QUIET).await;
        assert!(saver.begin_pause(QUIET));
        assert_eq!(*saver.power().borrow(), Power::Pausing);
        saver.paused();
        assert!(!saver.begin_pause(QUIET), "already paused");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_on_a_paused_vm_wakes_it_and_waits_for_the_resume() {
        let saver = paused().await;
        let waiting = tokio::spawn({
            let saver = saver.clone();
            async move { saver.lease().await }
        });
        tokio::time::timeout(Duration::from_secs(1), saver.wake_wanted())
            .await
            .expect("the lease asked for a resume");
        assert!(!waiting.is_finished(), "held until the VM runs");
        saver.resuming();
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "held while resuming");
        saver.awake();
        let lease = waiting.await.expect("served");
        assert_eq!(saver.leases(), 1);
        drop(lease);
        assert_eq!(saver.leases(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_during_the_pause_is_served_after_a_resume() {
        let saver = Saver::new();
        tokio::time::advance(QUIET).await;
        assert!(saver.begin_pause(QUIET));
        let waiting = tokio::spawn({
            let saver = saver.clone();
            async move { saver.lease().await }
        });
        tokio::task::yield_now().await;
        saver.paused();
        tokio::time::timeout(Duration::from_secs(1), saver.wake_wanted())
            .await
            .expect("a wake is wanted as soon as the pause is made");
        saver.awake();
        drop(waiting.await.expect("served"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_passive_lease_waits_without_waking_and_an_abandoned_pause_restarts_the_quiet() {
        let saver = paused().await;
        let waiting = tokio::spawn({
            let saver = saver.clone();
            async move { saver.passive_lease().await }
        });
        let woken = tokio::time::timeout(Duration::from_secs(60), saver.wake_wanted()).await;
        assert!(woken.is_err(), "a passive lease does not wake the VM");
        assert!(!waiting.is_finished());
        saver.awake();
        let passive = waiting.await.expect("served once awake");
        tokio::time::advance(QUIET).await;
        assert!(!saver.begin_pause(QUIET), "held off while it is open");
        drop(passive);
        assert!(saver.begin_pause(QUIET), "and its end is not activity");
        saver.pause_abandoned();

        tokio::time::advance(QUIET).await;
        assert!(saver.begin_pause(QUIET));
        saver.pause_abandoned();
        assert_eq!(*saver.power().borrow(), Power::Awake);
        assert!(!saver.begin_pause(QUIET), "the quiet time starts again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_slot_lets_the_vm_pause_and_takes_a_lease_again_when_used() {
        let saver = Saver::new();
        let slot = LeaseSlot::new(saver.clone(), saver.lease().await);
        tokio::time::advance(QUIET).await;
        assert!(!saver.begin_pause(QUIET), "held");
        slot.release();
        tokio::time::advance(QUIET).await;
        assert!(saver.begin_pause(QUIET), "let go");
        saver.paused();
        let again = tokio::spawn({
            let slot = slot.clone();
            async move { slot.ensure().await }
        });
        tokio::time::timeout(Duration::from_secs(1), saver.wake_wanted())
            .await
            .expect("its next request wakes the VM");
        saver.awake();
        again.await.expect("held again");
        assert_eq!(saver.leases(), 1);
    }
}

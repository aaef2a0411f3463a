//! The resource saver's task: pauses the VM once it has been quiet for the settings'
//! `resource_saver_seconds` — no container running or restarting, no lease open
//! ([`berth_core::saver`]: engine connections, published ports, shells and logs held on the
//! channel, file events in flight) — and resumes it when a lease wants it, setting the guest
//! clock before anything is served (the vCPUs stood still, so its clock is behind by the
//! pause).
//!
//! The check for containers comes after the pause is begun, so a connection that starts one
//! either holds its lease before (no pause) or waits for the resume that follows. A pause the
//! hypervisor refuses leaves the VM running; a resume it refuses is tried again, and after
//! [`RESUME_TRIES`] the saver gives up pausing for this run (connections then reach whatever
//! state the VM is in rather than wait forever).

use std::time::Duration;

use berth_core::agent::AgentAddress;
use berth_core::backend::PowerControl;
use berth_core::engine_api::{get, GuestEngine, Upstream};
use berth_core::saver::Saver;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often an awake VM's quiet time is looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long the engine may take to list its running containers before a pause.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long setting the clock after a resume may take before the resume goes on without it.
const CLOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts at resuming before the saver stops for this run.
pub const RESUME_TRIES: u32 = 10;

/// The saver's task; dropping it stops it (the VM is left as it is: [`SaverTask::finish`]
/// resumes a paused one).
pub struct SaverTask<P: PowerControl> {
    task: JoinHandle<()>,
    power: P,
    saver: Saver,
}

impl<P: PowerControl> SaverTask<P> {
    /// Starts pausing the VM behind `power` after `quiet` time (`None`: only when asked,
    /// [`Saver::ask_pause_now`]); `endpoint` is its agent.
    pub fn start(
        power: P,
        saver: Saver,
        quiet: Option<Duration>,
        endpoint: AgentAddress,
    ) -> SaverTask<P> {
        let engine = GuestEngine(endpoint.clone());
        SaverTask::start_with(power, saver, quiet, endpoint, engine)
    }

    /// [`SaverTask::start`], asking `engine` for its running containers.
    fn start_with(
        power: P,
        saver: Saver,
        quiet: Option<Duration>,
        endpoint: AgentAddress,
        engine: impl Upstream,
    ) -> SaverTask<P> {
        let task = tokio::spawn(run(power.clone(), saver.clone(), quiet, endpoint, engine));
        SaverTask { task, power, saver }
    }

    /// Stops the task and resumes the VM if it is paused, so a power-off reaches a running
    /// guest.
    pub async fn finish(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
        if *self.saver.power().borrow() != berth_core::saver::Power::Awake {
            tracing::info!("resuming the paused VM to power it off");
            if let Err(err) = self.power.resume().await {
                tracing::warn!("cannot resume the paused VM: {err}");
            }
            self.saver.awake();
        }
    }
}

impl<P: PowerControl> Drop for SaverTask<P> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    power: impl PowerControl,
    saver: Saver,
    quiet: Option<Duration>,
    endpoint: AgentAddress,
    engine: impl Upstream,
) {
    loop {
        // `berth pause` pauses at once, containers and all (the user asked for it).
        let asked = tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => false,
            () = saver.pause_asked() => true,
        };
        let wait = match (asked, quiet) {
            (true, _) => Duration::ZERO,
            (false, Some(quiet)) => quiet,
            (false, None) => continue,
        };
        if !saver.begin_pause(wait) {
            continue;
        }
        let listed = if asked {
            Ok(Ok(0))
        } else {
            tokio::time::timeout(LIST_TIMEOUT, get::running_containers(&engine)).await
        };
        match listed {
            Ok(Ok(0)) => {}
            Ok(Ok(running)) => {
                tracing::debug!("resource saver: {running} containers run; not pausing");
                saver.pause_abandoned();
                continue;
            }
            Ok(Err(err)) => {
                tracing::debug!("resource saver: {err}; not pausing");
                saver.pause_abandoned();
                continue;
            }
            Err(_) => {
                tracing::debug!("resource saver: the engine did not list its containers");
                saver.pause_abandoned();
                continue;
            }
        }
        if let Err(err) = power.pause().await {
            tracing::warn!("resource saver: cannot pause the VM: {err}");
            saver.pause_abandoned();
            continue;
        }
        let paused_at = Instant::now();
        saver.paused();
        if asked {
            tracing::info!("resource saver: paused the VM as asked (`berth pause`)");
        } else {
            tracing::info!(
                "resource saver: paused the VM after {} s with no container running and \
                 nothing using it",
                wait.as_secs()
            );
        }
        saver.wake_wanted().await;
        saver.resuming();
        let woken = Instant::now();
        if !resume(&power).await {
            tracing::error!(
                "resource saver: the VM did not resume after {RESUME_TRIES} tries; it stays \
                 off for this run"
            );
            saver.awake();
            return;
        }
        let resumed = woken.elapsed();
        match tokio::time::timeout(CLOCK_TIMEOUT, berth_core::clock::check_now(&endpoint)).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!("resource saver: cannot set the guest clock: {err}"),
            Err(_) => tracing::warn!("resource saver: setting the guest clock timed out"),
        }
        saver.awake();
        tracing::info!(
            "resource saver: resumed after {:.0} s paused (vCPUs in {} ms, served in {} ms)",
            paused_at.elapsed().as_secs_f64(),
            resumed.as_millis(),
            woken.elapsed().as_millis()
        );
    }
}

/// Resumes the VM, trying again for a while; whether it runs.
async fn resume(power: &impl PowerControl) -> bool {
    for attempt in 1..=RESUME_TRIES {
        match power.resume().await {
            Ok(()) => return true,
            Err(err) => {
                tracing::warn!("resource saver: resume attempt {attempt} failed: {err}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use berth_core::backend::BackendError;
    use berth_core::saver::Power;

    use super::*;

    /// Records pauses (`true`) and resumes (`false`).
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<bool>>>);

    impl Recorder {
        fn calls(&self) -> Vec<bool> {
            self.0.lock().expect("calls").clone()
        }
    }

    impl PowerControl for Recorder {
        async fn pause(&self) -> Result<(), BackendError> {
            self.0.lock().expect("calls").push(true);
            Ok(())
        }
        async fn resume(&self) -> Result<(), BackendError> {
            self.0.lock().expect("calls").push(false);
            Ok(())
        }
    }

    /// An engine whose `/containers/json` lists `running` containers.
    #[derive(Clone)]
    struct Engine {
        running: Arc<Mutex<usize>>,
    }

    impl Upstream for Engine {
        type Io = tokio::io::DuplexStream;

        async fn connect(&self) -> std::io::Result<Self::Io> {
            let (ours, theirs) = tokio::io::duplex(4096);
            let body = format!(
                "[{}]",
                vec!["{}"; *self.running.lock().expect("n")].join(",")
            );
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    let body = body.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(body)),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(theirs), service)
                    .await;
            });
            Ok(ours)
        }
    }

    fn nowhere() -> AgentAddress {
        AgentAddress::new(
            std::path::Path::new("/nonexistent/berth-vsock.sock"),
            berth_protocol::auth::BootSecret::from_bytes([0; 32]),
        )
    }

    async fn until(saver: &Saver, want: Power) {
        let mut power = saver.power();
        tokio::time::timeout(Duration::from_secs(120), power.wait_for(|p| *p == want))
            .await
            .expect("in time")
            .expect("alive");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_vm_pauses_a_lease_resumes_it_and_a_running_container_keeps_it_up() {
        let saver = Saver::new();
        let power = Recorder::default();
        let running = Arc::new(Mutex::new(1));
        let engine = Engine {
            running: running.clone(),
        };
        let task = SaverTask::start_with(
            power.clone(),
            saver.clone(),
            Some(Duration::from_secs(5)),
            nowhere(),
            engine,
        );
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(power.calls().is_empty(), "a container runs");
        assert_eq!(*saver.power().borrow(), Power::Awake);

        *running.lock().expect("n") = 0;
        until(&saver, Power::Paused).await;
        assert_eq!(power.calls(), [true]);
        let lease = saver.lease().await;
        assert_eq!(power.calls(), [true, false], "resumed for the lease");
        assert_eq!(*saver.power().borrow(), Power::Awake);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(power.calls(), [true, false], "held awake by the lease");
        drop(lease);
        until(&saver, Power::Paused).await;

        task.finish().await;
        assert_eq!(power.calls(), [true, false, true, false], "resumed to stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_asked_for_comes_at_once_even_with_containers_and_no_quiet_time() {
        let saver = Saver::new();
        let power = Recorder::default();
        let engine = Engine {
            running: Arc::new(Mutex::new(3)),
        };
        let _task = SaverTask::start_with(power.clone(), saver.clone(), None, nowhere(), engine);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(power.calls().is_empty(), "no automatic pause");
        let lease = saver.lease().await;
        assert!(!saver.ask_pause_now(), "refused while in use");
        drop(lease);
        assert!(saver.ask_pause_now());
        until(&saver, Power::Paused).await;
        assert_eq!(power.calls(), [true]);
    }
}

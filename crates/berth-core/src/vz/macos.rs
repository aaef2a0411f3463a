//! [`VmBackend`] on Virtualization.framework: the [`VzConfig`] turned into Objective-C objects,
//! and the VM driven on its own serial dispatch queue. Every call on the VM, and every completion
//! handler, runs on that queue; async callers wait on a oneshot channel, never by blocking a
//! tokio worker.

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_protocol::auth::{BootChannel, BootSecret};
use berth_protocol::call::Shutdown;
use block2::RcBlock;
use dispatch2::{DispatchQueue, DispatchRetained};
use objc2::rc::Retained;
use objc2::AllocAnyThread;
use objc2_foundation::{NSArray, NSError, NSFileHandle, NSString, NSURL};
use objc2_virtualization::{
    VZBootLoader, VZDirectorySharingDeviceConfiguration, VZDiskImageStorageDeviceAttachment,
    VZEntropyDeviceConfiguration, VZFileHandleSerialPortAttachment, VZGenericPlatformConfiguration,
    VZLinuxBootLoader, VZLinuxRosettaAvailability, VZLinuxRosettaDirectoryShare,
    VZMemoryBalloonDeviceConfiguration, VZNATNetworkDeviceAttachment, VZNetworkDeviceConfiguration,
    VZSerialPortConfiguration, VZSharedDirectory, VZSingleDirectoryShare,
    VZSocketDeviceConfiguration, VZStorageDeviceConfiguration, VZVirtioBlockDeviceConfiguration,
    VZVirtioConsoleDeviceSerialPortConfiguration, VZVirtioEntropyDeviceConfiguration,
    VZVirtioFileSystemDeviceConfiguration, VZVirtioNetworkDeviceConfiguration,
    VZVirtioSocketConnection, VZVirtioSocketDevice, VZVirtioSocketDeviceConfiguration,
    VZVirtioTraditionalMemoryBalloonDevice, VZVirtioTraditionalMemoryBalloonDeviceConfiguration,
    VZVirtualMachine, VZVirtualMachineConfiguration, VZVirtualMachineState,
};
use tokio::sync::oneshot;

use super::config::{self, VzConfig, ROSETTA_TAG};
use crate::agent::AgentAddress;
use crate::backend::{BackendError, BackendStatus, Capabilities, PowerControl, Started, VmBackend};
use crate::logfile::SharedLog;
use crate::vm::console::{self, Signal, Tail};
use crate::vm::BootError;
use crate::vsock::bridge::Bridge;
use crate::vsock::{GuestStream, VsockError};

/// How often the console and the VM's state are read while booting and running.
const POLL: Duration = Duration::from_millis(50);
/// How long a virtio socket connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An Objective-C object confined to the VM's serial queue.
struct OnQueue<T>(Retained<T>);

// SAFETY: the wrapped object is only ever touched inside closures submitted to the VM's serial
// dispatch queue (`Vm::run`), which the framework requires and which serializes every access;
// other threads only move the reference count, which is atomic.
unsafe impl<T> Send for OnQueue<T> {}
// SAFETY: as above: shared references are only dereferenced on the serial queue.
unsafe impl<T> Sync for OnQueue<T> {}

/// The VM and its queue.
#[derive(Clone)]
struct Vm {
    queue: DispatchRetained<DispatchQueue>,
    machine: Arc<OnQueue<VZVirtualMachine>>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vm")
    }
}

fn describe(err: &NSError) -> String {
    err.localizedDescription().to_string()
}

/// Takes the error out of a completion handler's argument.
fn completion_result(err: *mut NSError) -> Result<(), String> {
    if err.is_null() {
        Ok(())
    } else {
        // SAFETY: a non-null error passed to a completion handler is a valid NSError for the
        // duration of the call.
        Err(describe(unsafe { &*err }))
    }
}

/// A oneshot sender a `Fn` block can fire once.
struct Once<T>(Mutex<Option<oneshot::Sender<T>>>);

impl<T> Once<T> {
    fn new(tx: oneshot::Sender<T>) -> Self {
        Once(Mutex::new(Some(tx)))
    }
    fn send(&self, value: T) {
        if let Some(tx) = self.0.lock().ok().and_then(|mut tx| tx.take()) {
            let _ = tx.send(value);
        }
    }
}

impl Vm {
    /// Runs `work` on the VM's queue and returns its result.
    async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce(&VZVirtualMachine) -> R + Send + 'static,
    ) -> Result<R, BackendError> {
        let (tx, rx) = oneshot::channel();
        let machine = self.machine.clone();
        self.queue.exec_async(move || {
            let _ = tx.send(work(&machine.0));
        });
        rx.await
            .map_err(|_| BackendError::Hypervisor("the VM's dispatch queue went away".into()))
    }

    /// Runs an operation whose result arrives in a completion handler.
    async fn complete(
        &self,
        start: impl FnOnce(&VZVirtualMachine, &block2::DynBlock<dyn Fn(*mut NSError)>) + Send + 'static,
    ) -> Result<(), BackendError> {
        let (tx, rx) = oneshot::channel();
        let done = Once::new(tx);
        self.run(move |machine| {
            let block: RcBlock<dyn Fn(*mut NSError)> =
                RcBlock::new(move |err: *mut NSError| done.send(completion_result(err)));
            start(machine, &block);
        })
        .await?;
        rx.await
            .map_err(|_| BackendError::Hypervisor("the VM never completed the operation".into()))?
            .map_err(BackendError::Hypervisor)
    }

    async fn state(&self) -> Result<VZVirtualMachineState, BackendError> {
        // SAFETY: runs on the VM's queue.
        self.run(|machine| unsafe { machine.state() }).await
    }

    /// Opens guest `port` through the virtio socket device; the connection's descriptor is
    /// duplicated, so it outlives the framework's connection object.
    async fn connect(&self, port: u32) -> Result<GuestStream, VsockError> {
        let fail = |reason: String| VsockError::VirtioSocket { port, reason };
        let (tx, rx) = oneshot::channel::<Result<OwnedFd, String>>();
        let done = Once::new(tx);
        self.run(move |machine| {
            // SAFETY: runs on the VM's queue; the block outlives the call (the framework
            // copies it).
            unsafe {
                let Some(device) = machine.socketDevices().firstObject() else {
                    return done.send(Err("the VM has no socket device".into()));
                };
                let Ok(device) = device.downcast::<VZVirtioSocketDevice>() else {
                    return done.send(Err("the socket device is not virtio".into()));
                };
                let block: RcBlock<dyn Fn(*mut VZVirtioSocketConnection, *mut NSError)> =
                    RcBlock::new(
                        move |connection: *mut VZVirtioSocketConnection, err: *mut NSError| {
                            if connection.is_null() {
                                return done.send(Err(completion_result(err)
                                    .err()
                                    .unwrap_or_else(|| "no connection".into())));
                            }
                            // SAFETY: non-null, valid for the duration of the handler; the
                            // descriptor it owns is duplicated before the handler returns.
                            let fd = (*connection).fileDescriptor();
                            let copy = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0);
                            if copy < 0 {
                                done.send(Err(std::io::Error::last_os_error().to_string()));
                            } else {
                                // SAFETY: `copy` is a fresh descriptor nothing else owns.
                                done.send(Ok(OwnedFd::from_raw_fd(copy)));
                            }
                        },
                    );
                device.connectToPort_completionHandler(port, &block);
            }
        })
        .await
        .map_err(|e| fail(e.to_string()))?;
        let fd = tokio::time::timeout(CONNECT_TIMEOUT, rx)
            .await
            .map_err(|_| fail(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|_| fail("the VM went away".into()))?
            .map_err(fail)?;
        let stream = std::os::unix::net::UnixStream::from(fd);
        stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(stream))
            .map(GuestStream::Unix)
            .map_err(|e| fail(e.to_string()))
    }
}

fn url(path: &Path) -> Retained<NSURL> {
    NSURL::fileURLWithPath(&NSString::from_str(&path.to_string_lossy()))
}

/// Whether Rosetta for Linux is installed (Apple silicon).
fn rosetta_installed() -> bool {
    // SAFETY: a class method without arguments, callable from any thread.
    unsafe { VZLinuxRosettaDirectoryShare::availability() == VZLinuxRosettaAvailability::Installed }
}

/// The framework's configuration for `config`, validated; the console written to `console`
/// (the write end of a pipe the backend reads, whose descriptor the framework's file handle
/// then owns).
fn build(
    config: &VzConfig,
    rosetta: bool,
    console: OwnedFd,
) -> Result<Retained<VZVirtualMachineConfiguration>, String> {
    let err = |what: &str, e: Retained<NSError>| format!("{what}: {}", describe(&e));
    // SAFETY: plain object construction and property setters on objects this function owns,
    // with arguments of the documented types.
    unsafe {
        let boot =
            VZLinuxBootLoader::initWithKernelURL(VZLinuxBootLoader::alloc(), &url(&config.kernel));
        boot.setInitialRamdiskURL(Some(&url(&config.initrd)));
        boot.setCommandLine(&NSString::from_str(&config.kernel_cmdline(rosetta)));
        let vm = VZVirtualMachineConfiguration::new();
        let boot: &VZBootLoader = &boot;
        vm.setBootLoader(Some(boot));
        vm.setPlatform(&VZGenericPlatformConfiguration::new());
        vm.setCPUCount(config.cpus as usize);
        vm.setMemorySize(u64::from(config.memory_mib) << 20);

        let mut storage: Vec<Retained<VZStorageDeviceConfiguration>> = Vec::new();
        let disks = [
            config.root_disk.as_ref().map(|(path, _)| (path, true)),
            config.data_disk.as_ref().map(|path| (path, false)),
        ];
        for (path, read_only) in disks.into_iter().flatten() {
            let attachment = VZDiskImageStorageDeviceAttachment::initWithURL_readOnly_error(
                VZDiskImageStorageDeviceAttachment::alloc(),
                &url(path),
                read_only,
            )
            .map_err(|e| err(&path.display().to_string(), e))?;
            let device = VZVirtioBlockDeviceConfiguration::initWithAttachment(
                VZVirtioBlockDeviceConfiguration::alloc(),
                &attachment,
            );
            storage.push(Retained::into_super(device));
        }
        vm.setStorageDevices(&NSArray::from_retained_slice(&storage));

        let network = VZVirtioNetworkDeviceConfiguration::new();
        network.setAttachment(Some(&VZNATNetworkDeviceAttachment::new()));
        let network: Retained<VZNetworkDeviceConfiguration> = Retained::into_super(network);
        vm.setNetworkDevices(&NSArray::from_retained_slice(&[network]));

        let socket: Retained<VZSocketDeviceConfiguration> =
            Retained::into_super(VZVirtioSocketDeviceConfiguration::new());
        vm.setSocketDevices(&NSArray::from_retained_slice(&[socket]));

        let mut shares: Vec<Retained<VZDirectorySharingDeviceConfiguration>> = Vec::new();
        for share in config.shares(rosetta) {
            let device = VZVirtioFileSystemDeviceConfiguration::initWithTag(
                VZVirtioFileSystemDeviceConfiguration::alloc(),
                &NSString::from_str(&share.tag),
            );
            if share.tag == ROSETTA_TAG {
                let rosetta = VZLinuxRosettaDirectoryShare::initWithError(
                    VZLinuxRosettaDirectoryShare::alloc(),
                )
                .map_err(|e| err("Rosetta", e))?;
                device.setShare(Some(&rosetta));
            } else {
                let directory = VZSharedDirectory::initWithURL_readOnly(
                    VZSharedDirectory::alloc(),
                    &url(&share.host_path),
                    share.read_only,
                );
                let single = VZSingleDirectoryShare::initWithDirectory(
                    VZSingleDirectoryShare::alloc(),
                    &directory,
                );
                device.setShare(Some(&single));
            }
            shares.push(Retained::into_super(device));
        }
        vm.setDirectorySharingDevices(&NSArray::from_retained_slice(&shares));

        let balloon: Retained<VZMemoryBalloonDeviceConfiguration> =
            Retained::into_super(VZVirtioTraditionalMemoryBalloonDeviceConfiguration::new());
        vm.setMemoryBalloonDevices(&NSArray::from_retained_slice(&[balloon]));
        let entropy: Retained<VZEntropyDeviceConfiguration> =
            Retained::into_super(VZVirtioEntropyDeviceConfiguration::new());
        vm.setEntropyDevices(&NSArray::from_retained_slice(&[entropy]));

        // A pipe, not a file the framework would grow without bound: the backend copies it to
        // the bounded console log.
        let output = NSFileHandle::initWithFileDescriptor_closeOnDealloc(
            NSFileHandle::alloc(),
            console.into_raw_fd(),
            true,
        );
        let console =
            VZFileHandleSerialPortAttachment::initWithFileHandleForReading_fileHandleForWriting(
                VZFileHandleSerialPortAttachment::alloc(),
                None,
                Some(&output),
            );
        let port = VZVirtioConsoleDeviceSerialPortConfiguration::new();
        port.setAttachment(Some(&console));
        let port: Retained<VZSerialPortConfiguration> = Retained::into_super(port);
        // The boot channel: `hvc1` reads the 0600 file (the secret, the engine's settings).
        let channel = NSFileHandle::fileHandleForReadingAtPath(&NSString::from_str(
            &config.boot_channel.to_string_lossy(),
        ))
        .ok_or_else(|| {
            format!(
                "cannot open the boot channel {}",
                config.boot_channel.display()
            )
        })?;
        let feed =
            VZFileHandleSerialPortAttachment::initWithFileHandleForReading_fileHandleForWriting(
                VZFileHandleSerialPortAttachment::alloc(),
                Some(&channel),
                None,
            );
        let channel_port = VZVirtioConsoleDeviceSerialPortConfiguration::new();
        channel_port.setAttachment(Some(&feed));
        let channel_port: Retained<VZSerialPortConfiguration> = Retained::into_super(channel_port);
        vm.setSerialPorts(&NSArray::from_retained_slice(&[port, channel_port]));

        vm.validateWithError()
            .map_err(|e| err("the VM configuration", e))?;
        Ok(vm)
    }
}

/// Pauses and resumes the VM through the framework (`pause`, `resume` with completion
/// handlers, on the VM's queue).
#[derive(Debug, Clone)]
pub struct VzPower(Vm);

impl PowerControl for VzPower {
    async fn pause(&self) -> Result<(), BackendError> {
        let vm = &self.0;
        // SAFETY: runs on the VM's queue.
        vm.complete(|machine, done| unsafe { machine.pauseWithCompletionHandler(done) })
            .await
    }

    async fn resume(&self) -> Result<(), BackendError> {
        let vm = &self.0;
        // SAFETY: runs on the VM's queue.
        vm.complete(|machine, done| unsafe { machine.resumeWithCompletionHandler(done) })
            .await
    }
}

/// A running VM: the machine and the bridge other processes connect through.
#[derive(Debug)]
struct Running {
    vm: Vm,
    secret: BootSecret,
    _bridge: Bridge,
}

/// The Virtualization.framework backend for one configuration.
#[derive(Debug)]
pub struct VzBackend {
    config: VzConfig,
    running: Option<Running>,
}

impl VzBackend {
    /// A backend that will boot `config`.
    pub fn new(config: VzConfig) -> VzBackend {
        VzBackend {
            config,
            running: None,
        }
    }

    /// Asks the balloon to leave the guest `mib` MiB of memory.
    pub async fn set_guest_memory(&self, mib: u64) -> Result<(), BackendError> {
        let running = self.running.as_ref().ok_or(BackendError::NotRunning)?;
        running
            .vm
            .run(move |machine| {
                // SAFETY: runs on the VM's queue.
                unsafe {
                    if let Some(balloon) = machine.memoryBalloonDevices().firstObject() {
                        if let Ok(balloon) =
                            balloon.downcast::<VZVirtioTraditionalMemoryBalloonDevice>()
                        {
                            balloon.setTargetVirtualMachineMemorySize(mib << 20);
                        }
                    }
                }
            })
            .await
    }

    async fn balloon_mib(vm: &Vm) -> Option<u64> {
        vm.run(|machine| {
            // SAFETY: runs on the VM's queue.
            unsafe {
                let balloon = machine.memoryBalloonDevices().firstObject()?;
                let balloon = balloon
                    .downcast::<VZVirtioTraditionalMemoryBalloonDevice>()
                    .ok()?;
                Some(balloon.targetVirtualMachineMemorySize() >> 20)
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// Creates the VM on a new queue and starts it.
    async fn create_and_start(&self, rosetta: bool, console: OwnedFd) -> Result<Vm, BackendError> {
        let queue = DispatchQueue::new("berth.vz", None);
        let (tx, rx) = oneshot::channel();
        let config = self.config.clone();
        let on_queue = queue.clone();
        queue.exec_async(move || {
            let made = build(&config, rosetta, console).map(|configuration| {
                // SAFETY: a validated configuration and the serial queue the VM will live on;
                // this runs on that queue.
                let machine = unsafe {
                    VZVirtualMachine::initWithConfiguration_queue(
                        VZVirtualMachine::alloc(),
                        &configuration,
                        &on_queue,
                    )
                };
                Arc::new(OnQueue(machine))
            });
            let _ = tx.send(made);
        });
        let machine = rx
            .await
            .map_err(|_| BackendError::Hypervisor("the VM's dispatch queue went away".into()))?
            .map_err(BackendError::Hypervisor)?;
        let vm = Vm { queue, machine };
        // SAFETY: runs on the VM's queue; the framework copies the block.
        vm.complete(|machine, done| unsafe { machine.startWithCompletionHandler(done) })
            .await?;
        Ok(vm)
    }
}

/// Follows the console's `lines` (copied to the console log meanwhile) to the agent's ready
/// line, watching the VM's state meanwhile.
async fn wait_ready(
    vm: &Vm,
    lines: &mut tokio::sync::mpsc::Receiver<String>,
    timeout: Duration,
) -> Result<berth_protocol::boot::ReadyLine, BackendError> {
    let started = Instant::now();
    let mut tail = Tail::default();
    loop {
        while let Ok(line) = lines.try_recv() {
            tail.push(&line);
            match console::classify(&line).map_err(BootError::from)? {
                Signal::Ready(ready) => return Ok(ready),
                Signal::Fatal(reason) => {
                    return Err(BootError::GuestCrashed {
                        reason,
                        console: tail.text(),
                    }
                    .into())
                }
                Signal::Other => {}
            }
        }
        let state = vm.state().await?;
        if state == VZVirtualMachineState::Stopped || state == VZVirtualMachineState::Error {
            console::drain(lines, &mut tail, POLL).await;
            return Err(BootError::Exited {
                status: state_name(state).into(),
                stderr: String::new(),
                console: tail.text(),
            }
            .into());
        }
        if started.elapsed() > timeout {
            return Err(BootError::Timeout {
                after: timeout,
                console: tail.text(),
            }
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

fn state_name(state: VZVirtualMachineState) -> &'static str {
    match state {
        VZVirtualMachineState::Stopped => "stopped",
        VZVirtualMachineState::Running => "running",
        VZVirtualMachineState::Paused => "paused",
        VZVirtualMachineState::Error => "error",
        VZVirtualMachineState::Starting => "starting",
        VZVirtualMachineState::Pausing => "pausing",
        VZVirtualMachineState::Resuming => "resuming",
        VZVirtualMachineState::Stopping => "stopping",
        _ => "unknown",
    }
}

impl VmBackend for VzBackend {
    type Power = VzPower;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hypervisor: "vz",
            acceleration: "hvf".into(),
            vsock: "virtio-socket",
            shared_folders: true,
            balloon: true,
            pause: true,
        }
    }

    fn power_control(&self) -> Option<VzPower> {
        self.running
            .as_ref()
            .map(|running| VzPower(running.vm.clone()))
    }

    async fn start(&mut self, timeout: Duration) -> Result<Started, BackendError> {
        if self.running.is_some() {
            return Err(BackendError::AlreadyRunning);
        }
        let host_cpus = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let invalid = |e: config::ConfigError| BackendError::Hypervisor(e.to_string());
        self.config.validate(host_cpus).map_err(invalid)?;
        if cfg!(target_arch = "aarch64") {
            let mut header = [0u8; 64];
            let read = std::fs::File::open(&self.config.kernel)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut header));
            let n = read.map_err(|source| BootError::Prepare {
                path: self.config.kernel.display().to_string(),
                source,
            })?;
            config::check_arm64_kernel(&self.config.kernel, &header[..n]).map_err(invalid)?;
        }
        let prepare = |path: &Path, source| BootError::Prepare {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = self.config.console_log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| prepare(dir, e))?;
        }
        // A fresh log per boot, so old ready lines never count; bounded whatever the guest
        // prints.
        let log = SharedLog::create(&self.config.console_log, crate::logfile::MAX_LOG)
            .await
            .map_err(|e| prepare(&self.config.console_log, e))?;
        let (input, output) = tokio::net::unix::pipe::pipe()
            .and_then(|(input, output)| Ok((input.into_blocking_fd()?, output)))
            .map_err(|e| prepare(&self.config.console_log, e))?;
        // Copied until the framework closes its end, when the VM is gone.
        let mut lines = console::follow(output, log).lines;

        let secret =
            crate::agent::new_secret().map_err(|e| prepare(&self.config.boot_channel, e))?;
        let channel = BootChannel::new(secret.clone(), &self.config.agent);
        crate::paths::write_private(&self.config.boot_channel, channel.to_text().as_bytes())
            .map_err(|e| prepare(&self.config.boot_channel, e))?;

        let started = Instant::now();
        let rosetta = self.config.rosetta && rosetta_installed();
        let vm = self.create_and_start(rosetta, input).await;
        let ready = match &vm {
            Ok(vm) => wait_ready(vm, &mut lines, timeout).await,
            Err(_) => Err(BackendError::NotRunning),
        };
        // Read by the guest before its ready line (or never, after a failure).
        let _ = std::fs::remove_file(&self.config.boot_channel);
        let vm = vm?;
        let ready = match ready {
            Ok(ready) => ready,
            Err(err) => {
                // SAFETY: runs on the VM's queue.
                let _ = vm
                    .complete(|machine, done| unsafe { machine.stopWithCompletionHandler(done) })
                    .await;
                return Err(err);
            }
        };
        let bridged = vm.clone();
        let bridge = Bridge::serve(&self.config.vsock_bridge, move |port| {
            let vm = bridged.clone();
            async move { vm.connect(port).await }
        })
        .map_err(|source| prepare(&self.config.vsock_bridge, source))?;
        self.running = Some(Running {
            vm,
            secret,
            _bridge: bridge,
        });
        Ok(Started {
            boot_time: started.elapsed(),
            agent_version: ready.version,
            guest_uptime_ms: ready.uptime_ms,
        })
    }

    async fn stop(&mut self, timeout: Duration) -> Result<(), BackendError> {
        let running = self.running.take().ok_or(BackendError::NotRunning)?;
        let vm = running.vm.clone();
        // The agent stops the engine cleanly and powers off (reached through the bridge, which
        // lives until this returns); the power button is the fallback.
        let bridge = AgentAddress::new(self.config.vsock_bridge.clone(), running.secret.clone());
        let asked = match crate::agent::AgentClient::connect(bridge).await {
            Ok(mut agent) => agent.call(Shutdown).await.is_ok(),
            Err(_) => false,
        };
        if !asked {
            // SAFETY: runs on the VM's queue.
            vm.run(|machine| unsafe { machine.requestStopWithError() }.map_err(|e| describe(&e)))
                .await?
                .map_err(BackendError::Hypervisor)?;
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if vm.state().await? == VZVirtualMachineState::Stopped {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        // SAFETY: runs on the VM's queue.
        vm.complete(|machine, done| unsafe { machine.stopWithCompletionHandler(done) })
            .await?;
        Err(BackendError::Hypervisor(format!(
            "the guest did not power off within {timeout:?}; the VM was stopped"
        )))
    }

    async fn status(&mut self) -> Result<BackendStatus, BackendError> {
        let Some(running) = &self.running else {
            return Ok(BackendStatus::Stopped);
        };
        let state = running.vm.state().await?;
        Ok(match state {
            VZVirtualMachineState::Stopped => BackendStatus::Stopped,
            VZVirtualMachineState::Error => BackendStatus::Dead {
                guest: state_name(state).into(),
            },
            _ => BackendStatus::Running {
                guest: state_name(state).into(),
                balloon_mib: Self::balloon_mib(&running.vm).await,
            },
        })
    }

    async fn exited(&mut self) -> Result<String, BackendError> {
        let Some(running) = &self.running else {
            return std::future::pending().await;
        };
        let how = loop {
            match running.vm.state().await? {
                VZVirtualMachineState::Stopped => break "the guest powered off".to_owned(),
                VZVirtualMachineState::Error => {
                    break "the VM stopped with an internal error".to_owned()
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        self.running = None;
        Ok(how)
    }

    fn agent(&self) -> Option<AgentAddress> {
        self.running.as_ref().map(|running| {
            AgentAddress::new(self.config.vsock_bridge.clone(), running.secret.clone())
        })
    }

    /// In process, without the bridge; the preamble is sent as on every connection.
    fn connect(
        &self,
        port: u32,
    ) -> impl std::future::Future<Output = Result<GuestStream, BackendError>> + Send {
        let running = self
            .running
            .as_ref()
            .map(|r| (r.vm.clone(), r.secret.clone()));
        async move {
            let (vm, secret) = running.ok_or(BackendError::NotRunning)?;
            let mut stream = vm.connect(port).await?;
            berth_protocol::auth::write_preamble(&mut stream, &secret)
                .await
                .map_err(|e| VsockError::VirtioSocket {
                    port,
                    reason: e.to_string(),
                })?;
            Ok(stream)
        }
    }
}

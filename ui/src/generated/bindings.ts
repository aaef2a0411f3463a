// Generated from the Rust types by src-tauri/src/bindings.rs: do not edit.
// Rewrite it with `BERTH_WRITE_BINDINGS=1 cargo test -p berth-desktop --lib bindings`.

/**
 * Every code an [`AppError`] reaches the UI with: its own, and those of the daemon, the Hub
 * and the keychain it passes on.
 */
export type ErrorCode = "vm_not_running" | "already_running" | "image" | "hypervisor" | "boot" | "vm_ended" | "engine_socket" | "root" | "daemon_died" | "daemon_unresponsive" | "daemon_version" | "daemon_launch" | "daemon_exited" | "start_timeout" | "stop_timeout" | "stopped" | "failed" | "engine" | "engine_unreachable" | "not_found" | "conflict" | "invalid_input" | "invalid_setting" | "settings_file" | "agent" | "io" | "cancelled" | "no_session" | "hub_offline" | "hub_timeout" | "hub_rate_limited" | "hub_not_found" | "hub_error" | "keychain_unavailable" | "keychain_corrupt" | "unauthorized" | "image_not_found" | "registry" | "login_item" | "internal";

/**
 * An [`AppError`] as the UI receives it.
 */
export type AppError = { 
/**
 * What failed, to act on.
 */
code: ErrorCode, 
/**
 * What went wrong and what to do, for people.
 */
message: string, 
/**
 * The form field or setting at fault, for input and settings errors.
 */
field: string | null, };

/**
 * The VM's lifecycle.
 */
export type VmState = "starting" | "running" | "paused" | "stopping" | "stopped" | "error";

/**
 * Why the VM failed, as every client shows it: a stable `code` to act on, a message for
 * people, and the setting at fault when there is one (`memory_mib`, …).
 */
export type Failure = { 
/**
 * A stable, machine-readable name (`invalid_setting`, `boot`, `vm_ended`, …); to the UI
 * one of the app's error codes.
 */
code: ErrorCode, 
/**
 * What went wrong and what to do, for people.
 */
message: string, 
/**
 * The setting at fault, for settings errors.
 */
field: string | null, };

/**
 * The VM as every client shows it: the CLI, the app's window and its tray.
 */
export type VmView = { 
/**
 * starting, running, stopping, stopped or error.
 */
state: VmState, 
/**
 * What it is doing now (a start-up phase).
 */
phase: string | null, 
/**
 * Why it failed, for [`VmState::Error`].
 */
error: Failure | null, 
/**
 * The engine socket, while running.
 */
engine_socket: string | null, };

/**
 * The container engine's lifecycle as the agent sees it.
 */
export type EngineState = { "type": "starting" } | { "type": "ready" } | { "type": "crashed", 
/**
 * Exit status or signal, and the last log line if any.
 */
reason: string, } | { "type": "restarting", 
/**
 * 1 for the first restart.
 */
attempt: number, 
/**
 * How long the agent waits before this attempt.
 */
backoff_ms: number, } | { "type": "stopped" };

/**
 * The guest's health and resource usage.
 */
export type StatusReport = { 
/**
 * Guest uptime.
 */
uptime_ms: number, 
/**
 * The container engine's state.
 */
engine: EngineState, 
/**
 * The engine's version, once it has answered.
 */
engine_version: string | null, 
/**
 * CPU use across all vCPUs since the last report, 0–100. Non-finite values travel as
 * `null` and decode as 0.
 */
cpu_percent: number, 
/**
 * Total guest memory.
 */
memory_total_bytes: number, 
/**
 * Memory in use (total minus available).
 */
memory_used_bytes: number, 
/**
 * Size of the data disk.
 */
disk_total_bytes: number, 
/**
 * Space used on the data disk.
 */
disk_used_bytes: number, 
/**
 * One-minute load average. Non-finite values decode as 0, like `cpu_percent`.
 */
load1: number, 
/**
 * The guest's wall clock (milliseconds since the Unix epoch), for drift checks. Absent
 * (0) from older agents.
 */
guest_time_unix_ms: number, 
/**
 * Bytes of the containers' logs on the data disk (which the engine's `/system/df` does
 * not count); measured only while the disk is [nearly full](StatusReport::disk_pressure),
 * absent otherwise and from older agents.
 */
container_logs_bytes?: number | null, };

/**
 * How full the data disk is, once it is at least [`DISK_WARN_PERCENT`] used.
 */
export type DiskPressure = "nearly_full" | "full";

/**
 * The space one kind of object uses.
 */
export type SpaceUse = { 
/**
 * Bytes in use.
 */
bytes: number, 
/**
 * Of those, bytes the prune command frees (objects no container uses or that are stopped).
 */
reclaimable_bytes: number, };

/**
 * What uses the data disk.
 */
export type SpaceBreakdown = { 
/**
 * Image layers.
 */
images: SpaceUse, 
/**
 * BuildKit's build cache.
 */
build_cache: SpaceUse, 
/**
 * Volumes (their contents).
 */
volumes: SpaceUse, 
/**
 * Containers' writable layers; reclaimable: the stopped ones'.
 */
containers: SpaceUse, 
/**
 * The containers' logs, from the agent (absent from older agents).
 */
container_logs_bytes: number | null, };

/**
 * The data disk is nearly full (or full): how much, and what uses it.
 */
export type DiskWarning = { 
/**
 * Nearly full or full.
 */
pressure: DiskPressure, 
/**
 * Percent used, rounded down (100 only when nothing is left).
 */
percent: number, 
/**
 * The data filesystem's size.
 */
total_bytes: number, 
/**
 * Bytes in use.
 */
used_bytes: number, 
/**
 * Bytes left.
 */
free_bytes: number, 
/**
 * What uses the space, when the engine answered.
 */
breakdown: SpaceBreakdown | null, 
/**
 * Why there is no breakdown.
 */
breakdown_error: string | null, };

/**
 * What a reclaim button frees.
 */
export type ReclaimKind = "images" | "build_cache" | "volumes" | "containers";

/**
 * The host's resources.
 */
export type HostFigures = { 
/**
 * Logical CPUs.
 */
cpus: number, 
/**
 * CPU use across all CPUs since the last sample, 0–100.
 */
cpu_percent: number, 
/**
 * Total memory, bytes.
 */
memory_total: number, 
/**
 * Memory in use, bytes.
 */
memory_used: number, 
/**
 * Size of the disk holding Berth's data, bytes.
 */
disk_total: number, 
/**
 * Free space on it, bytes.
 */
disk_free: number, };

/**
 * Everything the dashboard shows besides the VM state.
 */
export type Dashboard = { 
/**
 * The host.
 */
host: HostFigures, 
/**
 * The guest, while running.
 */
guest: StatusReport | null, 
/**
 * The guest's data disk is nearly full: how much and what uses it.
 */
disk_warning: DiskWarning | null, };

/**
 * The engine's version and resources, for the dashboard.
 */
export type EngineInfo = { 
/**
 * The engine's version.
 */
version: string, 
/**
 * The API version spoken.
 */
api_version: string, 
/**
 * Containers in all states.
 */
containers: number, 
/**
 * Running containers.
 */
running: number, 
/**
 * Images.
 */
images: number, };

/**
 * One engine event, trimmed to what the UI uses.
 */
export type EngineEvent = { 
/**
 * container, image, volume, network…
 */
kind: string, 
/**
 * start, die, pull, destroy…
 */
action: string, 
/**
 * The object's id or name.
 */
id: string, };

/**
 * A published port.
 */
export type PortView = { 
/**
 * Host address.
 */
ip: string, 
/**
 * Port in the container.
 */
private: number, 
/**
 * Port on the host, when published.
 */
public: number | null, 
/**
 * tcp or udp.
 */
protocol: string, };

/**
 * One row of the container list.
 */
export type ContainerRow = { 
/**
 * Full id.
 */
id: string, 
/**
 * Name without the leading slash.
 */
name: string, 
/**
 * Image reference.
 */
image: string, 
/**
 * created, running, paused, restarting, exited, dead.
 */
state: string, 
/**
 * Human status ("Up 3 minutes").
 */
status: string, 
/**
 * Creation time, Unix seconds.
 */
created: number, 
/**
 * The compose project, if any.
 */
project: string | null, 
/**
 * The compose service, if any.
 */
service: string | null, 
/**
 * The compose project's folder, if any.
 */
project_dir: string | null, 
/**
 * The Swarm stack, if the container is one of a stack's tasks.
 */
stack: string | null, 
/**
 * Ports, published first.
 */
ports: Array<PortView>, };

/**
 * One Swarm service.
 */
export type ServiceRow = { 
/**
 * Full id.
 */
id: string, 
/**
 * The service's name (`st_web` for service `web` of stack `st`).
 */
name: string, 
/**
 * The stack, if the service belongs to one.
 */
stack: string | null, 
/**
 * `replicated`, `global`, `replicated-job` or `global-job`.
 */
mode: string, 
/**
 * Tasks running now.
 */
running: number, 
/**
 * Tasks wanted.
 */
desired: number, 
/**
 * Published ports (`public` is the published port; `ip` is `ingress` or `host`).
 */
ports: Array<PortView>, };

/**
 * What can be done to a container.
 */
export type ContainerAction = "start" | "stop" | "restart" | "pause" | "unpause" | "kill" | "remove";

/**
 * What a compose action does to a whole project.
 */
export type ProjectAction = "start" | "stop" | "restart" | "down";

/**
 * One piece of log output.
 */
export type LogLine = { 
/**
 * stdout or stderr.
 */
stream: string, 
/**
 * The text, without its line ending.
 */
text: string, };

/**
 * A batch of log output.
 */
export type LogBatch = { 
/**
 * Lines (possibly a partial last one) in arrival order, each with its stream.
 */
lines: Array<LogLine>, 
/**
 * The stream has ended (the container stopped, or no follow).
 */
end: boolean, };

/**
 * One stats sample, as rates and totals the graphs draw.
 */
export type StatsSample = { 
/**
 * CPU use in percent of one CPU (100 = one full CPU).
 */
cpu_percent: number, 
/**
 * Memory in use, bytes (without page cache).
 */
memory_bytes: number, 
/**
 * Memory limit, bytes.
 */
memory_limit: number, 
/**
 * Network bytes received since the container started.
 */
net_rx: number, 
/**
 * Network bytes sent since the container started.
 */
net_tx: number, 
/**
 * Bytes read from block devices.
 */
block_read: number, 
/**
 * Bytes written to block devices.
 */
block_write: number, };

/**
 * What the terminal's channel carries.
 */
export type TerminalOutput = { "type": "data", 
/**
 * UTF-8 text (multi-byte characters split across reads are kept whole).
 */
data: string, } | { "type": "exit" };

/**
 * One row of the image list.
 */
export type ImageRow = { 
/**
 * The image id (sha256:…).
 */
id: string, 
/**
 * Its tags (`<none>:<none>` removed).
 */
tags: Array<string>, 
/**
 * Size in bytes.
 */
size: number, 
/**
 * Creation time, Unix seconds.
 */
created: number, 
/**
 * Containers (in any state) using it.
 */
containers: number, };

/**
 * Progress of one layer (or a status line when `layer` is empty).
 */
export type Progress = { 
/**
 * The layer id, empty for overall status.
 */
layer: string, 
/**
 * Downloading, Extracting, Pull complete, …
 */
status: string, 
/**
 * Bytes done in the current phase.
 */
current: number, 
/**
 * Bytes in the current phase, 0 when unknown.
 */
total: number, };

/**
 * One layer of an image's history.
 */
export type Layer = { 
/**
 * Layer size in bytes.
 */
size: number, 
/**
 * Unix seconds.
 */
created: number, 
/**
 * The instruction that made it.
 */
created_by: string, };

/**
 * What the run dialog asks.
 */
export type RunRequest = { 
/**
 * The image.
 */
image: string, 
/**
 * Container name; empty lets the engine pick one.
 */
name: string, 
/**
 * `host:container[/proto]` or `container[/proto]` per entry.
 */
ports: Array<string>, 
/**
 * `KEY=value` per entry.
 */
env: Array<string>, 
/**
 * `host-path-or-volume:container-path[:ro]` per entry.
 */
volumes: Array<string>, 
/**
 * The command, split like a shell would (whitespace, quotes).
 */
command: string, };

/**
 * A container [`image_run`] started.
 */
export type RunStarted = { 
/**
 * Its id.
 */
id: string, 
/**
 * The engine's warnings about the create, which the app shows: among them a bind of a
 * host path outside every shared folder (`berth_core::engine_api::unshared`).
 */
warnings: Array<string>, };

/**
 * One row of the volume list.
 */
export type VolumeRow = { 
/**
 * The volume's name.
 */
name: string, 
/**
 * Its driver.
 */
driver: string, 
/**
 * Where it lives in the VM.
 */
mountpoint: string, 
/**
 * Creation time (RFC 3339), if known.
 */
created: string | null, 
/**
 * Names of the containers mounting it.
 */
users: Array<string>, 
/**
 * Bytes used, when the engine could tell.
 */
size: number | null, };

/**
 * One entry of a volume folder.
 */
export type VolumeEntry = { 
/**
 * The file name (bytes that are not UTF-8 as U+FFFD).
 */
name: string, 
/**
 * d (folder), f (file), l (symlink, not followed) or o (device, FIFO, socket).
 */
kind: string, 
/**
 * Size in bytes (a symlink's: its target's length).
 */
size: number, 
/**
 * A symlink's target text, as stored.
 */
target: string | null, 
/**
 * Whether `name` is the file system's name exactly (it is UTF-8).
 */
exact: boolean, };

/**
 * A page of results for the UI.
 */
export type Page<T> = { 
/**
 * The page number (from 1).
 */
page: number, 
/**
 * Results per page.
 */
page_size: number, 
/**
 * Results in all pages.
 */
count: number, 
/**
 * Whether a next page exists.
 */
has_next: boolean, 
/**
 * This page.
 */
results: Array<T>, };

/**
 * A search result.
 */
export type RepoSummary = { 
/**
 * What to pull: `busybox`, `owner/name`.
 */
name: string, 
/**
 * One-line description.
 */
description: string, 
/**
 * Stars.
 */
stars: number, 
/**
 * Pulls.
 */
pulls: number, 
/**
 * A Docker Official Image.
 */
official: boolean, 
/**
 * From a verified publisher.
 */
verified: boolean, };

/**
 * A repository's page.
 */
export type HubRepository = { 
/**
 * What to pull: `busybox`, `owner/name`.
 */
name: string, 
/**
 * `library` for official images.
 */
namespace: string, 
/**
 * One-line description.
 */
description: string, 
/**
 * The long description (Markdown, shown as text).
 */
full_description: string, 
/**
 * Stars.
 */
stars: number, 
/**
 * Pulls.
 */
pulls: number, 
/**
 * A Docker Official Image.
 */
official: boolean, 
/**
 * Last update, RFC 3339.
 */
last_updated: string | null, };

/**
 * A tag of a repository.
 */
export type HubTag = { 
/**
 * The tag.
 */
name: string, 
/**
 * Compressed size in bytes (the largest platform), when known.
 */
size: number | null, 
/**
 * Platforms: `amd64`, `arm64/v8`, `windows/amd64`…
 */
architectures: Array<string>, 
/**
 * Last push, RFC 3339.
 */
last_pushed: string | null, 
/**
 * The manifest (list) digest.
 */
digest: string | null, };

/**
 * A registry account as listed (no secret).
 */
export type Account = { 
/**
 * The registry key (`docker.io`, `host:port`).
 */
registry: string, 
/**
 * The user name.
 */
username: string, };

/**
 * A shared folder as the settings name it.
 */
export type SharedFolder = string | { path: string, read_only?: boolean };

/**
 * Which host loopback ports containers on the engine's networks may reach (QEMU's 10.0.2.2,
 * `host.docker.internal`): enforced in the guest's firewall, not by convention. Written as
 * `all` (the default, as Docker Desktop), `none`, or a comma-separated list of ports.
 */
export type HostLoopback = string;

/**
 * What the engine is told: registries, proxy and DNS. The host's settings file holds these
 * fields flat (`berth_core::settings::Settings` flattens this struct); the agent receives them
 * on the kernel command line.
 */
export type EngineSettings = { 
/**
 * Registry mirrors for the engine (`berth.mirror`; `http(s)://host[:port]`).
 */
registry_mirrors: Array<string>, 
/**
 * Registries reached over plain HTTP (`berth.insecure`; `host[:port]`).
 */
insecure_registries: Array<string>, 
/**
 * HTTP proxy for the engine (`berth.http_proxy`).
 */
http_proxy: string | null, 
/**
 * HTTPS proxy for the engine (`berth.https_proxy`).
 */
https_proxy: string | null, 
/**
 * Hosts that bypass the proxy (`berth.no_proxy`).
 */
no_proxy: string | null, 
/**
 * DNS servers for the guest and containers (`berth.dns`); empty means QEMU's 10.0.2.3.
 */
dns: Array<string>, 
/**
 * The containers' log driver (`berth.log_driver`); none means [`DEFAULT_LOG_DRIVER`].
 */
log_driver: string | null, 
/**
 * Which of the host's loopback ports containers reach through `host.docker.internal`
 * (`berth.host_loopback`).
 */
host_loopback: HostLoopback, };

/**
 * Berth's settings. The file is flat: the engine's fields ([`EngineSettings`]) sit beside the
 * others. Unknown fields are refused by [`Settings::load`] (serde cannot combine
 * `deny_unknown_fields` with `flatten`).
 */
export type Settings = { 
/**
 * Virtual CPUs.
 */
cpus: number, 
/**
 * Guest memory in MiB.
 */
memory_mib: number, 
/**
 * Maximum size of the sparse data disk in GiB.
 */
disk_gib: number, 
/**
 * Host folders shared into the VM at the same path (see [`crate::shares`]); none inside
 * another, none hiding the VM's system (`/`, `/usr`, `/var`…). Default: the home and the
 * system's temporary folders ([`crate::shares::temp`]). Each is a path (read-write) or
 * `{"path": …, "read_only": true}` ([`SharedFolder`]).
 */
shared_folders: Array<SharedFolder>, 
/**
 * Publish container ports on every host interface instead of 127.0.0.1 only.
 */
publish_on_all_interfaces: boolean, 
/**
 * Also serve the engine where tools that ignore docker contexts look, when no other
 * engine serves it: on Windows the pipe `\\.\pipe\docker_engine`; on Linux and macOS
 * `/var/run/docker.sock`, a link to the engine socket that `berth default-socket enable`
 * makes once with the administrator's rights (and turns this on); the daemon checks it.
 */
serve_default_endpoint: boolean, 
/**
 * The Docker Hub API the app's Hub view searches (`http(s)://host[:port][/path]`).
 */
hub_api_url: string, 
/**
 * The resource saver: seconds with no running container and nothing using the VM
 * (engine connections, published ports, shells) after which it is paused; 0 never pauses.
 */
resource_saver_seconds: number, 
/**
 * Registry mirrors for the engine (`berth.mirror`; `http(s)://host[:port]`).
 */
registry_mirrors: Array<string>, 
/**
 * Registries reached over plain HTTP (`berth.insecure`; `host[:port]`).
 */
insecure_registries: Array<string>, 
/**
 * HTTP proxy for the engine (`berth.http_proxy`).
 */
http_proxy: string | null, 
/**
 * HTTPS proxy for the engine (`berth.https_proxy`).
 */
https_proxy: string | null, 
/**
 * Hosts that bypass the proxy (`berth.no_proxy`).
 */
no_proxy: string | null, 
/**
 * DNS servers for the guest and containers (`berth.dns`); empty means QEMU's 10.0.2.3.
 */
dns: Array<string>, 
/**
 * The containers' log driver (`berth.log_driver`); none means [`DEFAULT_LOG_DRIVER`].
 */
log_driver: string | null, 
/**
 * Which of the host's loopback ports containers reach through `host.docker.internal`
 * (`berth.host_loopback`).
 */
host_loopback: HostLoopback, };

/**
 * What the settings form needs.
 */
export type SettingsView = { 
/**
 * The settings in force (the file over the defaults).
 */
settings: Settings, 
/**
 * This host's defaults.
 */
defaults: Settings, 
/**
 * This host's CPUs (the upper limit).
 */
host_cpus: number, 
/**
 * This host's memory in MiB (the upper limit).
 */
host_memory_mib: number, 
/**
 * This host's OS (`linux`, `macos`, `windows`), for the settings that only apply there.
 */
host_os: string, 
/**
 * The settings file.
 */
path: string, };

/**
 * Which log to show.
 */
export type LogKind = "console" | "supervisor" | "agent" | "engine" | "containerd";

/**
 * How a check came out.
 */
export type CheckStatus = "ok" | "warn" | "fail";

/**
 * One check's result.
 */
export type Check = { 
/**
 * What was checked (`QEMU`, `settings`…).
 */
name: string, 
/**
 * How it came out.
 */
status: CheckStatus, 
/**
 * What was found.
 */
detail: string, 
/**
 * What to do about a warning or failure.
 */
fix: string | null, };

/** The event `vm-state` (src-tauri `VM_EVENT`); its payload: VmView. */
export const VM_EVENT = "vm-state";

/** The event `engine-event` (src-tauri `ENGINE_EVENT`); its payload: EngineEvent. */
export const ENGINE_EVENT = "engine-event";

/** Each event's payload, by the event's name. */
export type EventPayloads = {
  [VM_EVENT]: VmView;
  [ENGINE_EVENT]: EngineEvent;
};

// Generated from the commands' Rust signatures by src-tauri/src/bindings/commands.rs: do not edit.
// Rewrite it with `BERTH_WRITE_BINDINGS=1 cargo test -p berth-desktop --lib bindings`.
import type { Channel } from "@tauri-apps/api/core";
import type {
  Account,
  Check,
  ContainerAction,
  ContainerRow,
  Dashboard,
  EngineInfo,
  HubRepository,
  HubTag,
  ImageRow,
  Layer,
  LogBatch,
  LogKind,
  Page,
  Progress,
  ProjectAction,
  ReclaimKind,
  RepoSummary,
  RunRequest,
  RunStarted,
  ServiceRow,
  Settings,
  SettingsView,
  StatsSample,
  TerminalOutput,
  VmView,
  VolumeEntry,
  VolumeRow,
} from "./bindings";

/** A command that takes no arguments. */
export type None = Record<string, never>;

/** Each command, named as the command, taking its arguments as Tauri receives them. */
export interface Backend {
  // src-tauri/src/vm.rs
  /** The VM's state now. */
  vm_state(args: None): Promise<VmView>;
  /** Starts the VM; returns once the engine answers. Phases arrive meanwhile as [`VM_EVENT`]s. */
  vm_start(args: None): Promise<VmView>;
  /** Stops the engine and powers the VM off. */
  vm_stop(args: None): Promise<VmView>;
  /** Resumes a VM the resource saver paused. */
  vm_resume(args: None): Promise<VmView>;
  /** Stops, then starts the VM. */
  vm_restart(args: None): Promise<VmView>;

  // src-tauri/src/dashboard.rs
  /** Host and guest figures; the guest's are absent while the VM is not running; the disk warning while its data disk is nearly full. */
  dashboard(args: None): Promise<Dashboard>;

  // src-tauri/src/disk.rs
  /** Prunes one kind of object; returns the bytes the engine freed. */
  disk_reclaim(args: { kind: ReclaimKind }): Promise<number>;

  // src-tauri/src/engine.rs
  /** The engine's version and counts. The container counts come from the container list, as the Containers view shows it: `/info`'s `ContainersRunning` is a counter the engine keeps apart, and it was seen counting containers that had exited. */
  engine_info(args: None): Promise<EngineInfo>;
  /** Stops a log, stats or progress stream. */
  stream_cancel(args: { id: number }): Promise<boolean>;

  // src-tauri/src/containers.rs
  /** Every container, running or not. */
  containers_list(args: None): Promise<ContainerRow[]>;
  /** Starts, stops, restarts, pauses, resumes, kills or deletes a container. */
  container_action(args: { id: string; action: ContainerAction }): Promise<null>;
  /** The engine's full description of a container (config, env, mounts, network), as the engine sends it. */
  container_inspect(args: { id: string }): Promise<Record<string, unknown>>;
  /** Applies `action` to every container of a compose project. */
  project_action(args: { project: string; action: ProjectAction }): Promise<null>;

  // src-tauri/src/services.rs
  /** Every Swarm service, with its task counts; none when the engine is in no swarm (or is no manager, which answers 503). */
  swarm_services(args: None): Promise<ServiceRow[]>;

  // src-tauri/src/streams.rs
  /** Streams a container's logs to `on_batch`; returns the stream id for [`crate::engine::stream_cancel`]. */
  container_logs(args: { id: string; follow: boolean; timestamps: boolean; tail?: number | null; onBatch: Channel<LogBatch> }): Promise<number>;
  /** Writes a container's whole log to `path` (chosen by the user in a save dialog). */
  container_logs_save(args: { id: string; timestamps: boolean; path: string }): Promise<number>;
  /** Streams a running container's stats (one sample a second) to `on_sample`; returns the stream id. */
  container_stats(args: { id: string; onSample: Channel<StatsSample> }): Promise<number>;

  // src-tauri/src/terminal.rs
  /** Opens a shell in a running container; returns the session id. */
  terminal_open(args: { id: string; cols: number; rows: number; onOutput: Channel<TerminalOutput> }): Promise<number>;
  /** Sends keystrokes to a terminal. */
  terminal_input(args: { session: number; data: string }): Promise<null>;
  /** Tells a terminal its new size. */
  terminal_resize(args: { session: number; cols: number; rows: number }): Promise<null>;
  /** Closes a terminal (the shell gets a hangup when its input closes). */
  terminal_close(args: { session: number }): Promise<null>;

  // src-tauri/src/images.rs
  /** Every image, with how many containers use each. */
  images_list(args: None): Promise<ImageRow[]>;
  /** Pulls an image (the reference checked first) with the stored account's credentials for its registry, streaming per-layer progress; returns when the pull finished. */
  image_pull(args: { reference: string; onProgress: Channel<Progress> }): Promise<null>;
  /** Pushes an image to its registry with the stored account's credentials, streaming status and byte progress (bollard's push messages carry no layer id); returns when done. */
  image_push(args: { reference: string; onProgress: Channel<Progress> }): Promise<null>;
  /** Deletes an image (`force` also untags it from stopped containers' use). */
  image_remove(args: { id: string; force: boolean }): Promise<null>;
  /** Deletes unused images (`all`: not only dangling ones); returns the bytes reclaimed. */
  images_prune(args: { all: boolean }): Promise<number>;
  /** Adds a tag (`repo[:tag]`) to an image. */
  image_tag(args: { id: string; target: string }): Promise<null>;
  /** An image's layers, newest first. */
  image_history(args: { id: string }): Promise<Layer[]>;
  /** Creates and starts a container; returns its id and the engine's warnings. */
  image_run(args: { request: RunRequest }): Promise<RunStarted>;

  // src-tauri/src/hub.rs
  /** Searches the Hub's repositories; `page` counts from 1. */
  hub_search(args: { query: string; page: number; pageSize?: number | null }): Promise<Page<RepoSummary>>;
  /** A repository's details (`busybox`, `owner/name`). */
  hub_repository(args: { name: string }): Promise<HubRepository>;
  /** A page of a repository's tags, most recently pushed first. */
  hub_tags(args: { name: string; page: number; pageSize?: number | null }): Promise<Page<HubTag>>;

  // src-tauri/src/accounts.rs
  /** The accounts stored in the keychain. */
  registry_accounts(args: None): Promise<Account[]>;
  /** Checks the credentials with the registry through the engine, then stores them. An empty `registry` is Docker Hub. */
  registry_login(args: { registry: string; username: string; password: string }): Promise<Account>;
  /** Forgets the account for `registry`; true if there was one. */
  registry_logout(args: { registry: string }): Promise<boolean>;

  // src-tauri/src/volumes.rs
  /** Every volume with its users. */
  volumes_list(args: None): Promise<VolumeRow[]>;
  /** Creates a named volume. */
  volume_create(args: { name: string }): Promise<null>;
  /** Deletes a volume (refused by the engine while a container uses it). */
  volume_remove(args: { name: string }): Promise<null>;
  /** Deletes every volume no container uses; returns the bytes reclaimed. */
  volumes_prune(args: None): Promise<number>;

  // src-tauri/src/volume_files.rs
  /** The entries of `path` inside volume `name`: folders first, then by name. */
  volume_browse(args: { name: string; path: string }): Promise<VolumeEntry[]>;
  /** Writes volume `name` as a tar file at `path` on the host; returns its size. */
  volume_export(args: { name: string; path: string }): Promise<number>;

  // src-tauri/src/compose.rs
  /** Runs `docker compose up -d` for a compose file inside the VM, streaming its output. */
  compose_up(args: { file: string; onOutput: Channel<string> }): Promise<null>;

  // src-tauri/src/builder.rs
  /** Builds `folder` (its `dockerfile`, default `Dockerfile`) as `tag`, streaming the output lines to `on_output`; returns the new image id. */
  image_build(args: { folder: string; dockerfile?: string | null; tag: string; onOutput: Channel<string> }): Promise<string>;

  // src-tauri/src/settings.rs
  /** The settings and their limits. */
  settings_get(args: None): Promise<SettingsView>;
  /** Checks settings against this host; the error names the field. */
  settings_validate(args: { settings: Settings }): Promise<null>;
  /** Validates and writes the settings (atomically, private to the user); they take effect at the next start. */
  settings_save(args: { settings: Settings }): Promise<null>;

  // src-tauri/src/login.rs
  /** Whether the app starts at login. */
  login_item_get(args: None): Promise<boolean>;
  /** Adds or removes the login entry; returns whether it is there now. */
  login_item_set(args: { enabled: boolean }): Promise<boolean>;

  // src-tauri/src/troubleshoot.rs
  /** The last `lines` lines of a log, as text to read: terminal escape sequences (a logger's colours, the console's screen set-up) and control characters taken out (`berth_core::text`). */
  log_tail(args: { kind: LogKind; lines: number }): Promise<string[]>;
  /** The doctor's checks (failures are part of the report, not an error). */
  doctor(args: None): Promise<Check[]>;
  /** Writes the diagnostics bundle at `path`: a zip (`berth_core::diagnostics`) of `summary.txt` (version, host, the VM's state in words, the guest's versions), `settings.json`, `doctor.txt` and one file a log under `logs/`, as plain text with credentials replaced by `***`; atomically (a temporary file beside it, renamed) and readable by the user only. */
  diagnostics_export(args: { path: string }): Promise<null>;
  /** Stops Berth and deletes its data disks and settings (`berth_core::reset`); the UI confirms first. The answer lists what was deleted. */
  reset(args: None): Promise<string>;

  // src-tauri/src/desktop.rs
  /** Asks for a file to save to; `None` when the user cancelled. */
  pick_save_path(args: { defaultName: string }): Promise<string | null>;
  /** Asks for a folder (or, with `file`, a file); `None` when the user cancelled. */
  pick_path(args: { file: boolean }): Promise<string | null>;
  /** Opens an http(s) URL (a published port) in the default browser. */
  open_url(args: { url: string }): Promise<null>;
}

/** A command's name. */
export type Command = keyof Backend;

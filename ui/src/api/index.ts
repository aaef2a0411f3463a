// Typed wrappers of the Rust commands (src-tauri). Every failure is an AppError with a stable
// `code`; the UI decides what to show from the code, never from the message text.
import { Channel, invoke } from "@tauri-apps/api/core";

export type VmStateName = "starting" | "running" | "paused" | "stopping" | "stopped" | "error";

export interface VmView {
  state: VmStateName;
  phase: string | null;
  /** Why the VM failed: the daemon's own code, message and, for settings, the field. */
  error: AppError | null;
  engine_socket: string | null;
}

export type ErrorCode =
  | "vm_not_running"
  // The daemon's failures (berth-daemon: DaemonError and ClientError codes).
  | "already_running"
  | "image"
  | "hypervisor"
  | "boot"
  | "vm_ended"
  | "engine_socket"
  | "root"
  | "daemon_died"
  | "daemon_unresponsive"
  | "daemon_version"
  | "daemon_launch"
  | "daemon_exited"
  | "start_timeout"
  | "stop_timeout"
  | "stopped"
  | "failed"
  | "engine"
  | "engine_unreachable"
  | "not_found"
  | "conflict"
  | "invalid_input"
  | "invalid_setting"
  | "settings_file"
  | "agent"
  | "io"
  | "cancelled"
  | "no_session"
  | "hub_offline"
  | "hub_timeout"
  | "hub_rate_limited"
  | "hub_not_found"
  | "hub_error"
  | "keychain_unavailable"
  | "keychain_corrupt"
  | "unauthorized"
  | "image_not_found"
  | "registry"
  | "login_item"
  | "internal";

export interface AppError {
  code: ErrorCode;
  message: string;
  field: string | null;
}

export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Any thrown value as an AppError (a JS exception becomes `internal`). */
export function asAppError(e: unknown): AppError {
  if (isAppError(e)) return e;
  return { code: "internal", message: e instanceof Error ? e.message : String(e), field: null };
}

export interface StatusReport {
  uptime_ms: number;
  engine: { type: string; reason?: string };
  engine_version: string | null;
  cpu_percent: number;
  memory_total_bytes: number;
  memory_used_bytes: number;
  disk_total_bytes: number;
  disk_used_bytes: number;
  load1: number;
  container_logs_bytes?: number | null;
}

/** Space one kind of object uses on the data disk, and what its prune would free. */
export interface SpaceUse {
  bytes: number;
  reclaimable_bytes: number;
}

/** What uses the data disk (the engine's /system/df; the logs from the agent). */
export interface SpaceBreakdown {
  images: SpaceUse;
  build_cache: SpaceUse;
  volumes: SpaceUse;
  containers: SpaceUse;
  container_logs_bytes: number | null;
}

/** The data disk is at least 90 % used (`full`: writes fail). */
export interface DiskWarning {
  pressure: "nearly_full" | "full";
  percent: number;
  total_bytes: number;
  used_bytes: number;
  free_bytes: number;
  breakdown: SpaceBreakdown | null;
  breakdown_error: string | null;
}

export type ReclaimKind = "images" | "build_cache" | "volumes" | "containers";

export interface Dashboard {
  host: {
    cpus: number;
    cpu_percent: number;
    memory_total: number;
    memory_used: number;
    disk_total: number;
    disk_free: number;
  };
  guest: StatusReport | null;
  disk_warning: DiskWarning | null;
}

export interface EngineInfo {
  version: string;
  api_version: string;
  containers: number;
  running: number;
  images: number;
}

export interface PortView {
  ip: string;
  private: number;
  public: number | null;
  protocol: string;
}

export interface ContainerRow {
  id: string;
  name: string;
  image: string;
  state: string;
  status: string;
  created: number;
  project: string | null;
  service: string | null;
  project_dir: string | null;
  /** The Swarm stack, when the container is one of its tasks. */
  stack: string | null;
  ports: PortView[];
}

/** A Swarm service (`ports[].ip` is `ingress` or `host`). */
export interface ServiceRow {
  id: string;
  name: string;
  stack: string | null;
  mode: string;
  running: number;
  desired: number;
  ports: PortView[];
}

export type ContainerAction = "start" | "stop" | "restart" | "pause" | "unpause" | "kill" | "remove";
export type ProjectAction = "start" | "stop" | "restart" | "down";

export interface LogLine {
  stream: "stdout" | "stderr";
  text: string;
}
export interface LogBatch {
  lines: LogLine[];
  end: boolean;
}

export interface StatsSample {
  cpu_percent: number;
  memory_bytes: number;
  memory_limit: number;
  net_rx: number;
  net_tx: number;
  block_read: number;
  block_write: number;
}

export type TerminalOutput = { type: "data"; data: string } | { type: "exit" };

export interface ImageRow {
  id: string;
  tags: string[];
  size: number;
  created: number;
  containers: number;
}

export interface Progress {
  layer: string;
  status: string;
  current: number;
  total: number;
}

export interface Layer {
  size: number;
  created: number;
  created_by: string;
}

export interface RunRequest {
  image: string;
  name: string;
  ports: string[];
  env: string[];
  volumes: string[];
  command: string;
}

/** A container `imageRun` started, with the engine's warnings about its create. */
export interface RunStarted {
  id: string;
  warnings: string[];
}

export interface VolumeRow {
  name: string;
  driver: string;
  mountpoint: string;
  created: string | null;
  users: string[];
  size: number | null;
}

export interface VolumeEntry {
  name: string;
  kind: string;
  size: number;
}

/** One of the settings' shared folders: a path (read-write) or an object (berth_core::shares::SharedFolder). */
export type SharedFolder = string | { path: string; read_only?: boolean };

export interface Settings {
  cpus: number;
  memory_mib: number;
  disk_gib: number;
  shared_folders: SharedFolder[];
  registry_mirrors: string[];
  insecure_registries: string[];
  http_proxy: string | null;
  https_proxy: string | null;
  no_proxy: string | null;
  dns: string[];
  /** The containers' log driver; null is json-file. */
  log_driver: string | null;
  /** Host loopback ports containers reach through host.docker.internal: "all", "none" or "5432,6379". */
  host_loopback: string;
  publish_on_all_interfaces: boolean;
  serve_default_endpoint: boolean;
  hub_api_url: string;
}

export interface Page<T> {
  page: number;
  page_size: number;
  count: number;
  has_next: boolean;
  results: T[];
}

export interface RepoSummary {
  name: string;
  description: string;
  stars: number;
  pulls: number;
  official: boolean;
  verified: boolean;
}

export interface HubRepository {
  name: string;
  namespace: string;
  description: string;
  full_description: string;
  stars: number;
  pulls: number;
  official: boolean;
  last_updated: string | null;
}

export interface HubTag {
  name: string;
  size: number | null;
  architectures: string[];
  last_pushed: string | null;
  digest: string | null;
}

export interface Account {
  registry: string;
  username: string;
}

export interface SettingsView {
  settings: Settings;
  defaults: Settings;
  host_cpus: number;
  host_memory_mib: number;
  /** `linux`, `macos` or `windows`. */
  host_os: string;
  path: string;
}

export type LogKind = "console" | "supervisor" | "agent" | "engine" | "containerd";

/** How one doctor check came out (`berth_core::doctor::CheckStatus`). */
export type CheckStatus = "ok" | "warn" | "fail";

/** One doctor check (`berth_core::doctor::Check`). */
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix: string | null;
}

function channel<T>(on: (m: T) => void): Channel<T> {
  const c = new Channel<T>();
  c.onmessage = on;
  return c;
}

export const api = {
  vmState: () => invoke<VmView>("vm_state"),
  vmStart: () => invoke<VmView>("vm_start"),
  vmStop: () => invoke<VmView>("vm_stop"),
  vmResume: () => invoke<VmView>("vm_resume"),
  vmRestart: () => invoke<VmView>("vm_restart"),
  dashboard: () => invoke<Dashboard>("dashboard"),
  diskReclaim: (kind: ReclaimKind) => invoke<number>("disk_reclaim", { kind }),
  engineInfo: () => invoke<EngineInfo>("engine_info"),
  cancelStream: (id: number) => invoke<boolean>("stream_cancel", { id }),

  containers: () => invoke<ContainerRow[]>("containers_list"),
  services: () => invoke<ServiceRow[]>("swarm_services"),
  containerAction: (id: string, action: ContainerAction) => invoke<void>("container_action", { id, action }),
  containerInspect: (id: string) => invoke<Record<string, unknown>>("container_inspect", { id }),
  projectAction: (project: string, action: ProjectAction) => invoke<void>("project_action", { project, action }),
  containerLogs: (id: string, opts: { follow: boolean; timestamps: boolean; tail: number | null }, on: (b: LogBatch) => void) =>
    invoke<number>("container_logs", { id, ...opts, onBatch: channel(on) }),
  saveLogs: (id: string, timestamps: boolean, path: string) => invoke<number>("container_logs_save", { id, timestamps, path }),
  containerStats: (id: string, on: (s: StatsSample) => void) => invoke<number>("container_stats", { id, onSample: channel(on) }),
  terminalOpen: (id: string, cols: number, rows: number, on: (o: TerminalOutput) => void) =>
    invoke<number>("terminal_open", { id, cols, rows, onOutput: channel(on) }),
  terminalInput: (session: number, data: string) => invoke<void>("terminal_input", { session, data }),
  terminalResize: (session: number, cols: number, rows: number) => invoke<void>("terminal_resize", { session, cols, rows }),
  terminalClose: (session: number) => invoke<void>("terminal_close", { session }),

  images: () => invoke<ImageRow[]>("images_list"),
  imagePull: (reference: string, on: (p: Progress) => void) => invoke<void>("image_pull", { reference, onProgress: channel(on) }),
  imagePush: (reference: string, on: (p: Progress) => void) => invoke<void>("image_push", { reference, onProgress: channel(on) }),
  imageRemove: (id: string, force: boolean) => invoke<void>("image_remove", { id, force }),
  imagesPrune: (all: boolean) => invoke<number>("images_prune", { all }),
  imageTag: (id: string, target: string) => invoke<void>("image_tag", { id, target }),
  imageHistory: (id: string) => invoke<Layer[]>("image_history", { id }),
  imageRun: (request: RunRequest) => invoke<RunStarted>("image_run", { request }),

  hubSearch: (query: string, page: number, pageSize?: number) => invoke<Page<RepoSummary>>("hub_search", { query, page, pageSize }),
  hubRepository: (name: string) => invoke<HubRepository>("hub_repository", { name }),
  hubTags: (name: string, page: number, pageSize?: number) => invoke<Page<HubTag>>("hub_tags", { name, page, pageSize }),
  accounts: () => invoke<Account[]>("registry_accounts"),
  login: (registry: string, username: string, password: string) => invoke<Account>("registry_login", { registry, username, password }),
  logout: (registry: string) => invoke<boolean>("registry_logout", { registry }),

  volumes: () => invoke<VolumeRow[]>("volumes_list"),
  volumeCreate: (name: string) => invoke<void>("volume_create", { name }),
  volumeRemove: (name: string) => invoke<void>("volume_remove", { name }),
  volumesPrune: () => invoke<number>("volumes_prune"),
  volumeBrowse: (name: string, path: string) => invoke<VolumeEntry[]>("volume_browse", { name, path }),
  volumeExport: (name: string, path: string) => invoke<number>("volume_export", { name, path }),
  composeUp: (file: string, on: (text: string) => void) => invoke<void>("compose_up", { file, onOutput: channel(on) }),
  imageBuild: (folder: string, dockerfile: string | null, tag: string, on: (line: string) => void) =>
    invoke<string>("image_build", { folder, dockerfile, tag, onOutput: channel(on) }),

  settingsGet: () => invoke<SettingsView>("settings_get"),
  settingsValidate: (settings: Settings) => invoke<void>("settings_validate", { settings }),
  settingsSave: (settings: Settings) => invoke<void>("settings_save", { settings }),
  /** Whether the OS starts Berth at login (its own entry, not settings.json). */
  loginItemGet: () => invoke<boolean>("login_item_get"),
  /** Adds or removes that entry; resolves to whether it is there now. */
  loginItemSet: (enabled: boolean) => invoke<boolean>("login_item_set", { enabled }),

  logTail: (kind: LogKind, lines: number) => invoke<string[]>("log_tail", { kind, lines }),
  doctor: () => invoke<Check[]>("doctor"),
  diagnosticsExport: (path: string) => invoke<void>("diagnostics_export", { path }),
  reset: () => invoke<string>("reset"),

  pickSavePath: (defaultName: string) => invoke<string | null>("pick_save_path", { defaultName }),
  pickPath: (file: boolean) => invoke<string | null>("pick_path", { file }),
  openUrl: (url: string) => invoke<void>("open_url", { url }),
};

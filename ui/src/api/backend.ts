// The command surface of src-tauri: one method a command, named as the command, taking its
// arguments as Tauri receives them (camelCase keys for the Rust parameters, channels for the
// streams) and resolving to its result. The types are the generated Rust ones
// (../generated/bindings.ts). Two things implement it: the Tauri backend (tauri.ts) invokes
// the commands; the mock (mock.ts) answers them in memory for the browser tests. Both are
// type-checked against this one interface, so a result type changed in Rust fails `tsc` in
// the mock and in the views that read it.
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
} from "../generated/bindings";

/** A command that takes no arguments. */
type None = Record<string, never>;

export interface Backend {
  // The VM (vm.rs) and the dashboard (dashboard.rs, disk.rs, engine.rs).
  vm_state(args: None): Promise<VmView>;
  vm_start(args: None): Promise<VmView>;
  vm_stop(args: None): Promise<VmView>;
  vm_resume(args: None): Promise<VmView>;
  vm_restart(args: None): Promise<VmView>;
  dashboard(args: None): Promise<Dashboard>;
  disk_reclaim(args: { kind: ReclaimKind }): Promise<number>;
  engine_info(args: None): Promise<EngineInfo>;
  stream_cancel(args: { id: number }): Promise<boolean>;

  // Containers (containers.rs, services.rs, streams.rs, terminal.rs).
  containers_list(args: None): Promise<ContainerRow[]>;
  swarm_services(args: None): Promise<ServiceRow[]>;
  container_action(args: { id: string; action: ContainerAction }): Promise<null>;
  /** The engine's inspect document, as the engine sends it. */
  container_inspect(args: { id: string }): Promise<Record<string, unknown>>;
  project_action(args: { project: string; action: ProjectAction }): Promise<null>;
  container_logs(args: { id: string; follow: boolean; timestamps: boolean; tail: number | null; onBatch: Channel<LogBatch> }): Promise<number>;
  container_logs_save(args: { id: string; timestamps: boolean; path: string }): Promise<number>;
  container_stats(args: { id: string; onSample: Channel<StatsSample> }): Promise<number>;
  terminal_open(args: { id: string; cols: number; rows: number; onOutput: Channel<TerminalOutput> }): Promise<number>;
  terminal_input(args: { session: number; data: string }): Promise<null>;
  terminal_resize(args: { session: number; cols: number; rows: number }): Promise<null>;
  terminal_close(args: { session: number }): Promise<null>;

  // Images (images.rs, builder.rs).
  images_list(args: None): Promise<ImageRow[]>;
  image_pull(args: { reference: string; onProgress: Channel<Progress> }): Promise<null>;
  image_push(args: { reference: string; onProgress: Channel<Progress> }): Promise<null>;
  image_remove(args: { id: string; force: boolean }): Promise<null>;
  images_prune(args: { all: boolean }): Promise<number>;
  image_tag(args: { id: string; target: string }): Promise<null>;
  image_history(args: { id: string }): Promise<Layer[]>;
  image_run(args: { request: RunRequest }): Promise<RunStarted>;
  image_build(args: { folder: string; dockerfile: string | null; tag: string; onOutput: Channel<string> }): Promise<string>;

  // The Hub and accounts (hub.rs, accounts.rs).
  hub_search(args: { query: string; page: number; pageSize?: number }): Promise<Page<RepoSummary>>;
  hub_repository(args: { name: string }): Promise<HubRepository>;
  hub_tags(args: { name: string; page: number; pageSize?: number }): Promise<Page<HubTag>>;
  registry_accounts(args: None): Promise<Account[]>;
  registry_login(args: { registry: string; username: string; password: string }): Promise<Account>;
  registry_logout(args: { registry: string }): Promise<boolean>;

  // Volumes and compose (volumes.rs, guest.rs).
  volumes_list(args: None): Promise<VolumeRow[]>;
  volume_create(args: { name: string }): Promise<null>;
  volume_remove(args: { name: string }): Promise<null>;
  volumes_prune(args: None): Promise<number>;
  volume_browse(args: { name: string; path: string }): Promise<VolumeEntry[]>;
  volume_export(args: { name: string; path: string }): Promise<number>;
  compose_up(args: { file: string; onOutput: Channel<string> }): Promise<null>;

  // Settings and start at login (settings.rs, login.rs).
  settings_get(args: None): Promise<SettingsView>;
  settings_validate(args: { settings: Settings }): Promise<null>;
  settings_save(args: { settings: Settings }): Promise<null>;
  login_item_get(args: None): Promise<boolean>;
  login_item_set(args: { enabled: boolean }): Promise<boolean>;

  // Troubleshooting (troubleshoot.rs) and the desktop (desktop.rs).
  log_tail(args: { kind: LogKind; lines: number }): Promise<string[]>;
  doctor(args: None): Promise<Check[]>;
  diagnostics_export(args: { path: string }): Promise<null>;
  reset(args: None): Promise<string>;
  pick_save_path(args: { defaultName: string }): Promise<string | null>;
  pick_path(args: { file: boolean }): Promise<string | null>;
  open_url(args: { url: string }): Promise<null>;
}

/** A command's name. */
export type Command = keyof Backend;

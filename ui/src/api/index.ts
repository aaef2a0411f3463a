// The typed facade the views call: one function a command, over the Backend (backend.ts) that
// invokes src-tauri. Every failure is an AppError with a stable `code`; the UI decides what to
// show from the code, never from the message text. The types are generated from the Rust ones
// (../generated/bindings.ts, re-exported here).
import { Channel } from "@tauri-apps/api/core";
import type { AppError, VmView } from "../generated/bindings";
import type {
  ContainerAction,
  LogBatch,
  LogKind,
  Progress,
  ProjectAction,
  ReclaimKind,
  RunRequest,
  Settings,
  StatsSample,
  TerminalOutput,
} from "../generated/bindings";
import type { Backend } from "./backend";
import { tauriBackend } from "./tauri";

export * from "../generated/bindings";
export type { Backend, Command } from "./backend";

/** The state names of a VmView. */
export type VmStateName = VmView["state"];

export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Any thrown value as an AppError (a JS exception becomes `internal`). */
export function asAppError(e: unknown): AppError {
  if (isAppError(e)) return e;
  return { code: "internal", message: e instanceof Error ? e.message : String(e), field: null };
}

function channel<T>(on: (m: T) => void): Channel<T> {
  const c = new Channel<T>();
  c.onmessage = on;
  return c;
}

const backend: Backend = tauriBackend;

export const api = {
  vmState: () => backend.vm_state({}),
  vmStart: () => backend.vm_start({}),
  vmStop: () => backend.vm_stop({}),
  vmResume: () => backend.vm_resume({}),
  vmRestart: () => backend.vm_restart({}),
  dashboard: () => backend.dashboard({}),
  diskReclaim: (kind: ReclaimKind) => backend.disk_reclaim({ kind }),
  engineInfo: () => backend.engine_info({}),
  cancelStream: (id: number) => backend.stream_cancel({ id }),

  containers: () => backend.containers_list({}),
  services: () => backend.swarm_services({}),
  containerAction: (id: string, action: ContainerAction) => backend.container_action({ id, action }),
  containerInspect: (id: string) => backend.container_inspect({ id }),
  projectAction: (project: string, action: ProjectAction) => backend.project_action({ project, action }),
  containerLogs: (id: string, opts: { follow: boolean; timestamps: boolean; tail: number | null }, on: (b: LogBatch) => void) =>
    backend.container_logs({ id, ...opts, onBatch: channel(on) }),
  saveLogs: (id: string, timestamps: boolean, path: string) => backend.container_logs_save({ id, timestamps, path }),
  containerStats: (id: string, on: (s: StatsSample) => void) => backend.container_stats({ id, onSample: channel(on) }),
  terminalOpen: (id: string, cols: number, rows: number, on: (o: TerminalOutput) => void) =>
    backend.terminal_open({ id, cols, rows, onOutput: channel(on) }),
  terminalInput: (session: number, data: string) => backend.terminal_input({ session, data }),
  terminalResize: (session: number, cols: number, rows: number) => backend.terminal_resize({ session, cols, rows }),
  terminalClose: (session: number) => backend.terminal_close({ session }),

  images: () => backend.images_list({}),
  imagePull: (reference: string, on: (p: Progress) => void) => backend.image_pull({ reference, onProgress: channel(on) }),
  imagePush: (reference: string, on: (p: Progress) => void) => backend.image_push({ reference, onProgress: channel(on) }),
  imageRemove: (id: string, force: boolean) => backend.image_remove({ id, force }),
  imagesPrune: (all: boolean) => backend.images_prune({ all }),
  imageTag: (id: string, target: string) => backend.image_tag({ id, target }),
  imageHistory: (id: string) => backend.image_history({ id }),
  imageRun: (request: RunRequest) => backend.image_run({ request }),

  hubSearch: (query: string, page: number, pageSize?: number) => backend.hub_search({ query, page, pageSize }),
  hubRepository: (name: string) => backend.hub_repository({ name }),
  hubTags: (name: string, page: number, pageSize?: number) => backend.hub_tags({ name, page, pageSize }),
  accounts: () => backend.registry_accounts({}),
  login: (registry: string, username: string, password: string) => backend.registry_login({ registry, username, password }),
  logout: (registry: string) => backend.registry_logout({ registry }),

  volumes: () => backend.volumes_list({}),
  volumeCreate: (name: string) => backend.volume_create({ name }),
  volumeRemove: (name: string) => backend.volume_remove({ name }),
  volumesPrune: () => backend.volumes_prune({}),
  volumeBrowse: (name: string, path: string) => backend.volume_browse({ name, path }),
  volumeExport: (name: string, path: string) => backend.volume_export({ name, path }),
  composeUp: (file: string, on: (text: string) => void) => backend.compose_up({ file, onOutput: channel(on) }),
  imageBuild: (folder: string, dockerfile: string | null, tag: string, on: (line: string) => void) =>
    backend.image_build({ folder, dockerfile, tag, onOutput: channel(on) }),

  settingsGet: () => backend.settings_get({}),
  settingsValidate: (settings: Settings) => backend.settings_validate({ settings }),
  settingsSave: (settings: Settings) => backend.settings_save({ settings }),
  /** Whether the OS starts Berth at login (its own entry, not settings.json). */
  loginItemGet: () => backend.login_item_get({}),
  /** Adds or removes that entry; resolves to whether it is there now. */
  loginItemSet: (enabled: boolean) => backend.login_item_set({ enabled }),

  logTail: (kind: LogKind, lines: number) => backend.log_tail({ kind, lines }),
  doctor: () => backend.doctor({}),
  diagnosticsExport: (path: string) => backend.diagnostics_export({ path }),
  reset: () => backend.reset({}),

  pickSavePath: (defaultName: string) => backend.pick_save_path({ defaultName }),
  pickPath: (file: boolean) => backend.pick_path({ file }),
  openUrl: (url: string) => backend.open_url({ url }),
};

// An in-memory Backend behind mockIPC, for the unit and browser tests and the render benchmark:
// the same commands (the Backend interface, type-checked against the generated Rust types)
// and events as src-tauri, with fake containers and images. Never part of the app.
import type { Channel } from "@tauri-apps/api/core";
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type { Backend, Command } from "./backend";
import {
  ENGINE_EVENT,
  VM_EVENT,
  type Account,
  type AppError,
  type ContainerRow,
  type DiskWarning,
  type ErrorCode,
  type EventPayloads,
  type ImageRow,
  type ServiceRow,
  type Settings,
  type SpaceBreakdown,
  type TerminalOutput,
  type VmView,
} from "../generated/bindings";

export interface MockOptions {
  containers?: number;
  images?: number;
  vm?: VmView["state"];
  /** Adds the Swarm stack of [`makeStack`]. */
  stack?: boolean;
  /** The guest's data disk: nearly full (95 %) or full; otherwise 2 of 64 GB used. */
  disk?: "nearly_full" | "full";
  /** No browser opens: `open_url` fails as the opener does on a desktop without one. */
  opener?: "fails";
}

/** The mock guest's data disk: its size, what uses it (summed as used) and the rest. */
export interface MockDisk {
  total: number;
  other: number;
  breakdown: SpaceBreakdown;
}

const GB = 1e9;

export function makeDisk(fill?: MockOptions["disk"]): MockDisk {
  const volumes = fill === "full" ? 42 * GB : 37 * GB;
  return {
    total: 64 * GB,
    other: 1 * GB,
    breakdown: {
      images: { bytes: 18 * GB, reclaimable_bytes: 12 * GB },
      build_cache: { bytes: 3 * GB, reclaimable_bytes: 3 * GB },
      volumes: fill ? { bytes: volumes, reclaimable_bytes: volumes - 1 * GB } : { bytes: 0, reclaimable_bytes: 0 },
      containers: { bytes: 0.5 * GB, reclaimable_bytes: 0.25 * GB },
      container_logs_bytes: 0.5 * GB,
    },
  };
}

/** Bytes used on the mock disk. */
function diskUsed(d: MockDisk): number {
  const b = d.breakdown;
  const kinds = [b.images, b.build_cache, b.volumes, b.containers];
  return Math.min(d.total, d.other + (b.container_logs_bytes ?? 0) + kinds.reduce((n, k) => n + k.bytes, 0));
}

/** The dashboard's disk warning for the mock disk, as src-tauri's disk.rs makes it. */
function diskWarning(d: MockDisk): DiskWarning | null {
  const used = diskUsed(d);
  const free = d.total - used;
  if (used * 100 < d.total * 90) return null;
  const full = free < 32 * 2 ** 20;
  return { pressure: full ? "full" : "nearly_full", percent: Math.floor((used * 100) / d.total), total_bytes: d.total, used_bytes: used, free_bytes: free, breakdown: d.breakdown, breakdown_error: null };
}

export interface MockBackend {
  calls: { cmd: string; args: Record<string, unknown> }[];
  /** Registry accounts, as the keychain would hold them. */
  accounts: Account[];
  containers: ContainerRow[];
  services: ServiceRow[];
  images: ImageRow[];
  vm: VmView;
  /** Whether the OS's start-at-login entry exists. */
  loginItem: boolean;
  /** The guest's data disk. */
  disk: MockDisk;
  /** Whether `open_url` fails (no browser to open). */
  openerFails: boolean;
  /** Adds a container and emits the engine event the real engine would. */
  addContainer(name: string, project?: string): Promise<void>;
  setVm(state: VmView["state"], phase?: string): Promise<void>;
}

const err = (code: ErrorCode, message: string, field: string | null = null): AppError => ({ code, message, field });

/** A command the mock does not answer: it fails as an unknown one. */
const unknownCommand = (cmd: Command) => async (): Promise<never> => {
  throw err("internal", `mock: no command ${cmd}`);
};

/** Emits an event as src-tauri does, typed by its name. */
const send = <E extends keyof EventPayloads>(event: E, payload: EventPayloads[E]) => emit(event, payload);

export function makeContainers(n: number): ContainerRow[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) => {
    const project = i % 5 === 0 ? null : `stack-${Math.floor(i / 25)}`;
    return {
      id: (i.toString(16).padStart(8, "0") + "c0ffee").padEnd(64, "0"),
      name: project ? `${project}-svc${i % 25}-1` : `loose-${i}`,
      image: i % 3 ? "nginx:1.27" : "busybox:latest",
      state: i % 4 === 3 ? "exited" : "running",
      status: i % 4 === 3 ? "Exited (0) 2 hours ago" : "Up 5 minutes",
      created: now - i * 60,
      project,
      service: project ? `svc${i % 25}` : null,
      project_dir: project ? `/home/user/${project}` : null,
      stack: null,
      ports: i % 7 === 0 ? [{ ip: "127.0.0.1", private: 80, public: 8000 + i, protocol: "tcp" }] : [],
    };
  });
}

/** A Swarm stack `shop`: a two-replica `shop_web` on ingress port 8080 and a global `shop_agent`, with their task containers. */
export function makeStack(): { services: ServiceRow[]; tasks: ContainerRow[] } {
  const port = { ip: "ingress", private: 80, public: 8080, protocol: "tcp" };
  const services: ServiceRow[] = [
    { id: "5e7c1".padEnd(25, "0"), name: "shop_web", stack: "shop", mode: "replicated", running: 2, desired: 2, ports: [port] },
    { id: "5e7c2".padEnd(25, "0"), name: "shop_agent", stack: "shop", mode: "global", running: 1, desired: 1, ports: [] },
  ];
  const task = (name: string, i: number): ContainerRow => ({
    ...makeContainers(1)[0],
    id: `7a5c${i}`.padEnd(64, "0"),
    name,
    image: "nginx:1.27",
    project: null,
    service: null,
    project_dir: null,
    stack: "shop",
    ports: [],
  });
  return { services, tasks: [task("shop_web.1.x1", 1), task("shop_web.2.x2", 2), task("shop_agent.n1.x3", 3)] };
}

export function makeImages(n: number): ImageRow[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) => ({
    id: `sha256:${i.toString(16).padStart(12, "0")}${"ab".repeat(26)}`,
    tags: [i === 0 ? "busybox:latest" : `registry.local/app${i}:1.${i}`],
    size: 1_000_000 * (i + 1),
    created: now - i * 3600,
    containers: i === 0 ? 2 : 0,
  }));
}

/** The mock's VM while it runs (what `installMock` starts with unless told otherwise). */
export const RUNNING: VmView = { state: "running", phase: "engine ready", error: null, engine_socket: "/run/user/1000/berth/docker.sock" };

export function installMock(options: MockOptions = {}): MockBackend {
  const state: MockBackend = {
    calls: [],
    accounts: [],
    containers: [...makeContainers(options.containers ?? 6), ...(options.stack ? makeStack().tasks : [])],
    services: options.stack ? makeStack().services : [],
    images: makeImages(options.images ?? 4),
    vm: { ...RUNNING, state: options.vm ?? "running" },
    loginItem: false,
    disk: makeDisk(options.disk),
    openerFails: options.opener === "fails",
    async addContainer(name, project) {
      const row = makeContainers(1)[0];
      state.containers = [...state.containers, { ...row, id: name.padEnd(64, "0"), name, project: project ?? null, service: project ? name : null }];
      await send(ENGINE_EVENT, { kind: "container", action: "create", id: name });
    },
    async setVm(s, phase) {
      state.vm = { ...state.vm, state: s, phase: phase ?? s };
      await send(VM_EVENT, state.vm);
    },
  };
  const needRunning = () => {
    if (state.vm.state !== "running") throw err("vm_not_running", "Berth is not running: start it from the dashboard (or `berth start`)");
  };
  const checkSettings = async (settings: Settings) => {
    if (settings.cpus > 2) throw err("invalid_setting", "setting `cpus`: 3 is not between 1 and this machine's 2 CPUs", "cpus");
    return null;
  };
  const page = <T>(all: T[], p: number, pageSize?: number) => {
    const size = pageSize ?? 25;
    return { page: p, page_size: size, count: all.length, has_next: p * size < all.length, results: all.slice((p - 1) * size, p * size) };
  };
  /** Moves the VM to `s` (emitting its view) and answers with the view. */
  const becomes = async (s: VmView["state"], phase: string) => {
    await state.setVm(s, phase);
    return state.vm;
  };
  let terminal: Channel<TerminalOutput> | null = null;
  const backend: Backend = {
    vm_state: async () => state.vm,
    vm_start: async () => {
      for (const p of ["reading the settings", "booting the VM (tcg)", "guest ready in 4.1 s; waiting for the engine"]) await state.setVm("starting", p);
      return becomes("running", "engine ready");
    },
    vm_stop: () => becomes("stopped", "stopped"),
    vm_resume: () => becomes("running", "engine ready (resumed)"),
    vm_restart: () => becomes("running", "engine ready"),
    dashboard: async () => {
      const running = state.vm.state === "running";
      return {
        host: { cpus: 2, cpu_percent: 12.5, memory_total: 24e9, memory_used: 6e9, disk_total: 250e9, disk_free: 60e9 },
        guest: running
          ? { uptime_ms: 95000, engine: { type: "ready" }, engine_version: "26.1.5", cpu_percent: 3.2, memory_total_bytes: 4e9, memory_used_bytes: 6e8, disk_total_bytes: state.disk.total, disk_used_bytes: diskUsed(state.disk), load1: 0.2, guest_time_unix_ms: Date.now(), container_logs_bytes: null }
          : null,
        disk_warning: running ? diskWarning(state.disk) : null,
      };
    },
    disk_reclaim: async (a) => {
      needRunning();
      const kind = state.disk.breakdown[a.kind];
      if (!kind) throw err("internal", `mock: no kind ${a.kind}`);
      const freed = kind.reclaimable_bytes;
      state.disk.breakdown = { ...state.disk.breakdown, [a.kind]: { bytes: kind.bytes - freed, reclaimable_bytes: 0 } };
      return freed;
    },
    engine_info: async () => {
      needRunning();
      return { version: "26.1.5", api_version: "1.45", containers: state.containers.length, running: state.containers.filter((c) => c.state === "running").length, images: state.images.length };
    },
    containers_list: async () => {
      needRunning();
      return state.containers;
    },
    container_action: async (a) => {
      needRunning();
      const c = state.containers.find((x) => x.id === a.id);
      if (!c) throw err("not_found", `No such container: ${a.id} no longer exists; the list was refreshed`);
      if (a.action === "remove") state.containers = state.containers.filter((x) => x !== c);
      else c.state = a.action === "stop" ? "exited" : a.action === "pause" ? "paused" : "running";
      state.containers = [...state.containers];
      await send(ENGINE_EVENT, { kind: "container", action: a.action, id: a.id });
      return null;
    },
    project_action: async () => null,
    swarm_services: async () => {
      needRunning();
      return state.services;
    },
    container_inspect: async (a) => ({ Id: a.id, Config: { Env: ["PATH=/usr/bin", "MODE=test"] }, Mounts: [{ Type: "volume", Name: "data", Destination: "/data", RW: true }] }),
    container_logs: async (a) => {
      const ch = a.onBatch;
      setTimeout(() => ch.onmessage({ lines: Array.from({ length: 30 }, (_, i) => ({ stream: i % 10 === 9 ? "stderr" : "stdout", text: `line ${i} of the log` })), end: false }), 10);
      return 7;
    },
    container_logs_save: unknownCommand("container_logs_save"),
    container_stats: async (a) => {
      const ch = a.onSample;
      let n = 0;
      const t = setInterval(() => {
        n++;
        ch.onmessage({ cpu_percent: 10 + (n % 5), memory_bytes: 5e7 + n * 1e5, memory_limit: 4e9, net_rx: n * 1000, net_tx: n * 500, block_read: n * 4096, block_write: n * 2048 });
        if (n > 50) clearInterval(t);
      }, 50);
      return 8;
    },
    terminal_open: async (a) => {
      terminal = a.onOutput;
      setTimeout(() => a.onOutput.onmessage({ type: "data", data: "/ # " }), 10);
      return 1;
    },
    terminal_input: async (a) => {
      terminal?.onmessage({ type: "data", data: a.data === "\r" ? "\r\n" : a.data });
      return null;
    },
    terminal_resize: async () => null,
    terminal_close: async () => null,
    stream_cancel: async () => true,
    images_list: async () => {
      needRunning();
      return state.images;
    },
    image_pull: async (a) => {
      needRunning();
      const ch = a.onProgress;
      ch.onmessage({ layer: "", status: `Pulling from ${a.reference}`, current: 0, total: 0 });
      // An image already held: the engine sends no layer at all, only its status.
      if (state.images.some((i) => i.tags.includes(a.reference))) {
        ch.onmessage({ layer: "", status: `Status: Image is up to date for ${a.reference}`, current: 0, total: 0 });
        return null;
      }
      for (const layer of ["a1b2c3d4e5f6", "0f9e8d7c6b5a"]) {
        ch.onmessage({ layer, status: "Pulling fs layer", current: 0, total: 0 });
        for (let i = 1; i <= 4; i++) {
          await new Promise((r) => setTimeout(r, 15));
          ch.onmessage({ layer, status: "Downloading", current: i * 250_000, total: 1_000_000 });
        }
        ch.onmessage({ layer, status: "Pull complete", current: 0, total: 0 });
      }
      state.images = [{ id: "sha256:" + "9".repeat(64), tags: [a.reference], size: 2_000_000, created: Math.floor(Date.now() / 1000), containers: 0 }, ...state.images];
      await send(ENGINE_EVENT, { kind: "image", action: "pull", id: a.reference });
      return null;
    },
    image_push: unknownCommand("image_push"),
    hub_search: async (a) => {
      if (!a.query.trim()) throw err("invalid_input", "query: enter up to 200 characters to search for, such as busybox", "query");
      if (a.query === "offline") throw err("hub_offline", "cannot reach Docker Hub at https://hub.docker.com: connection refused; check the network connection (or the Hub API URL in settings)");
      if (a.query === "limited") throw err("hub_rate_limited", "Docker Hub is limiting requests; try again in 90 s");
      const all = [
        { name: "busybox", description: "Busybox base image.", stars: 3400, pulls: 7_000_000_000, official: true, verified: false },
        { name: "acme/busybox-tools", description: "Tools on busybox.", stars: 12, pulls: 3400, official: false, verified: true },
        ...Array.from({ length: 28 }, (_, i) => ({ name: `user${i}/${a.query}-${i}`, description: "", stars: i, pulls: i * 10, official: false, verified: false })),
      ];
      return page(all, a.page, a.pageSize ?? undefined);
    },
    hub_repository: async (a) => {
      if (a.name !== "busybox") throw err("hub_not_found", `${a.name} was not found on Docker Hub`);
      return { name: "busybox", namespace: "library", description: "Busybox base image.", full_description: "# Busybox", stars: 3400, pulls: 7_000_000_000, official: true, last_updated: "2026-10-01T12:00:00Z" };
    },
    hub_tags: async (a) => {
      if (a.name !== "busybox") throw err("hub_not_found", `${a.name} was not found on Docker Hub`);
      const all = ["latest", "1.37", "1.36", "musl", "glibc", "uclibc", "stable", "1.35", "1.34", "1.33", "1.32", "1.31"].map((name, i) => ({
        name,
        size: 2_155_000 - i * 1000,
        architectures: ["amd64", "arm64/v8"],
        last_pushed: `2026-10-${String(20 - i).padStart(2, "0")}T12:00:00Z`,
        digest: `sha256:${String(i).padStart(64, "0")}`,
      }));
      return page(all, a.page, a.pageSize ?? undefined);
    },
    registry_accounts: async () => state.accounts,
    registry_login: async (a) => {
      if (!a.username) throw err("invalid_input", "username: enter the user name", "username");
      if (!a.password) throw err("invalid_input", "password: enter the password or access token", "password");
      needRunning();
      if (a.password !== "right") throw err("unauthorized", "logging in: the registry refused the credentials");
      const registry = a.registry || "docker.io";
      state.accounts = [...state.accounts.filter((x) => x.registry !== registry), { registry, username: a.username }];
      return { registry, username: a.username };
    },
    registry_logout: async (a) => {
      const registry = a.registry || "docker.io";
      const before = state.accounts.length;
      state.accounts = state.accounts.filter((x) => x.registry !== registry);
      return state.accounts.length !== before;
    },
    image_run: async (a) => {
      const r = a.request;
      if (r.ports.some((p) => !/^\d+(:\d+)?(\/(tcp|udp))?$/.test(p))) throw err("invalid_input", "ports: write host:container, e.g. 8080:80", "ports");
      await state.addContainer(r.name || "new-container");
      // As Berth's relay warns of a host folder outside the shared folders.
      const shared = ["/home/user", "/tmp"];
      const warnings = r.volumes
        .map((v) => v.split(":")[0])
        .filter((src) => src.startsWith("/") && !shared.some((f) => src === f || src.startsWith(`${f}/`)))
        .map((src) => `${src} is not in a folder shared with the Berth VM, so the container sees the VM's ${src} (an empty folder if the VM has none), not this computer's: add it or a folder above it to \`shared_folders\` in Berth's settings and restart Berth`);
      return { id: "new", warnings };
    },
    image_history: async () => [{ size: 1_200_000, created: 1700000000, created_by: "/bin/sh -c #(nop) ADD file:abc in /" }],
    open_url: async (a) => {
      if (state.openerFails) throw err("internal", `cannot open ${a.url}: Launcher "xdg-open" "${a.url}" failed with ExitStatus(unix_wait_status(768))`);
      return null;
    },
    image_remove: async () => null,
    image_tag: async () => null,
    images_prune: async () => 0,
    volumes_list: async () => {
      needRunning();
      return [{ name: "data", driver: "local", mountpoint: "/var/lib/docker/volumes/data/_data", created: null, users: ["web-1"], size: null }];
    },
    volume_create: unknownCommand("volume_create"),
    volume_remove: unknownCommand("volume_remove"),
    volumes_prune: unknownCommand("volumes_prune"),
    settings_get: async () => {
      const s: Settings = { cpus: 1, memory_mib: 2048, disk_gib: 64, shared_folders: ["/home/user"], registry_mirrors: [], insecure_registries: [], http_proxy: null, https_proxy: null, no_proxy: null, dns: [], log_driver: null, host_loopback: "all", publish_on_all_interfaces: false, serve_default_endpoint: false, hub_api_url: "https://hub.docker.com", resource_saver_seconds: 300 };
      return { settings: s, defaults: s, host_cpus: 2, host_memory_mib: 24000, host_os: "linux", path: "/home/user/.config/berth/settings.json" };
    },
    login_item_get: async () => state.loginItem,
    login_item_set: async (a) => {
      state.loginItem = a.enabled;
      return state.loginItem;
    },
    settings_save: async (a) => checkSettings(a.settings),
    settings_validate: async (a) => checkSettings(a.settings),
    image_build: async (a) => {
      for (const line of ["Step 1/2 : FROM busybox\n", " ---> 0123456789ab\n", "Step 2/2 : RUN echo built\n", "Successfully built 9f8e7d6c5b4a\n"]) a.onOutput.onmessage(line);
      await send(ENGINE_EVENT, { kind: "image", action: "tag", id: a.tag });
      return "sha256:9f8e7d6c5b4a";
    },
    compose_up: async (a) => {
      a.onOutput.onmessage(" Container app-web-1  Started\n");
      return null;
    },
    volume_browse: async (a) =>
      a.path
        ? [{ name: "file.txt", kind: "f", size: 12, target: null, exact: true }]
        : [
            { name: "sub", kind: "d", size: 4096, target: null, exact: true },
            { name: "a.txt", kind: "f", size: 3, target: null, exact: true },
            { name: "escape", kind: "l", size: 4, target: "/etc", exact: true },
          ],
    volume_export: async () => 10240,
    log_tail: async () => ["berth-agent: ready version=0.1.0 protocol=1"],
    doctor: async () => [
      { name: "QEMU", status: "ok", detail: "/usr/bin/qemu-system-x86_64 7.2", fix: null },
      { name: "virtiofsd", status: "warn", detail: "missing (needed for shared folders)", fix: "cargo install --locked virtiofsd@1.14.0" },
      { name: "qemu-img", status: "fail", detail: "missing", fix: "sudo apt-get install qemu-utils" },
    ],
    diagnostics_export: async () => null,
    reset: unknownCommand("reset"),
    // The OS's save dialog, answered with its default name in the home folder.
    pick_save_path: async (a) => `/home/user/${a.defaultName}`,
    pick_path: unknownCommand("pick_path"),
  };
  mockIPC(
    async (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      state.calls.push({ cmd, args: a });
      if (!Object.hasOwn(backend, cmd)) throw err("internal", `mock: no command ${cmd}`);
      return (backend[cmd as Command] as (a: unknown) => Promise<unknown>)(a);
    },
    { shouldMockEvents: true },
  );
  return state;
}

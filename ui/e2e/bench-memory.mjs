// Memory benchmark (prints figures): the real app (WebKitGTK window under Xvfb, driven by
// tauri-driver) idle, then showing 200 containers, then 500; then launched as at login, in the
// tray with no window. Creating hundreds of containers in a TCG guest takes many minutes, so
// the engine here is a stand-in: a Unix socket answering the few Engine API calls the list
// makes, published in a private state.json whose lock this script holds (with flock(1)),
// exactly as a running supervisor would. Goal: ≤ 150 MB. Baseline, on the same display in the
// same run: WebKitGTK's own MiniBrowser on a blank page, with the compositing mode the app sets
// for itself (see src-tauri/src/main.rs) — the least any WebKitGTK window costs here.
//
//   BERTH_APP=.../debug/berth-desktop node e2e/bench-memory.mjs
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { WebDriver } from "./webdriver.mjs";
import { appMemory, appPids } from "./memory.mjs";
import { startTray } from "./tray.mjs";
import { freePort, startXvfb } from "./xvfb.mjs";
import { emitRow } from "./report.mjs";

const MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/berth/target");
const APP = process.env.BERTH_APP ?? join(target, "debug/berth-desktop");

let containers = [];
const summary = (i) => ({
  Id: i.toString(16).padStart(64, "0"),
  Names: [`/bench-${i}`],
  Image: "busybox:latest",
  ImageID: "sha256:" + "1".repeat(64),
  Command: "true",
  Created: 1_700_000_000 + i,
  Ports: i % 7 ? [] : [{ IP: "127.0.0.1", PrivatePort: 80, PublicPort: 8000 + i, Type: "tcp" }],
  Labels: i % 5 ? { "com.docker.compose.project": `stack-${i % 8}`, "com.docker.compose.service": `svc-${i}` } : {},
  State: i % 3 ? "running" : "exited",
  Status: i % 3 ? "Up 2 minutes" : "Exited (0) 1 minute ago",
  Mounts: [],
});

function engine(socket) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname.replace(/^\/v[\d.]+/, "");
    const json = (v) => res.writeHead(200, { "content-type": "application/json", "api-version": "1.45" }).end(JSON.stringify(v));
    if (path === "/_ping") return res.writeHead(200, { "api-version": "1.45" }).end("OK");
    if (path === "/version") return json({ Version: "26.1.5", ApiVersion: "1.45", MinAPIVersion: "1.24", Os: "linux", Arch: "amd64" });
    if (path === "/info") return json({ Containers: containers.length, ContainersRunning: 0, Images: 1 });
    if (path === "/containers/json") return json(containers);
    if (path === "/images/json") return json([]);
    if (path === "/events") return res.writeHead(200, { "content-type": "application/json" }); // held open
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: `stand-in engine: no ${path}` }));
  });
  return new Promise((resolve) => server.listen(socket, () => resolve(server)));
}

const dir = mkdtempSync(join(tmpdir(), "berth-bench-mem-"));
const runtime = join(dir, "run");
const berthDir = join(runtime, "berth");
mkdirSync(berthDir, { recursive: true, mode: 0o700 });
mkdirSync(join(dir, "home"), { recursive: true });
const socket = join(berthDir, "docker.sock");
const server = await engine(socket);
const lock = spawn("flock", ["--exclusive", join(berthDir, "berth.lock"), "sleep", "3600"], { stdio: "ignore" });
await new Promise((r) => setTimeout(r, 300));
writeFileSync(join(berthDir, "state.json"), JSON.stringify({ state: "running", pid: lock.pid, phase: "engine ready", error: null, engine_socket: socket, vsock: null }));

const env = { ...process.env, HOME: join(dir, "home"), XDG_RUNTIME_DIR: runtime, NO_AT_BRIDGE: "1" };
for (const v of ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"]) delete env[v];
const { display, child: xvfb } = await startXvfb(env);
env.DISPLAY = display;
const [port, nativePort] = [await freePort(), await freePort()];
const driver = spawn("tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], { env, stdio: "ignore" });
const wd = new WebDriver(`http://127.0.0.1:${port}`);
const settle = () => new Promise((r) => setTimeout(r, 3000));
try {
  await wd.waitFor("a session", async () => (await wd.start(APP), true), 30000, 1000);
  await wd.waitJs("the running badge", `document.querySelector('[data-testid="vm-state"]')?.textContent === "Running"`);
  await settle();
  const idle = appMemory(APP);
  const figures = [];
  for (const n of [200, 500]) {
    containers = Array.from({ length: n }, (_, i) => summary(i));
    await wd.click('[data-testid="nav-dashboard"]');
    await wd.click('[data-testid="nav-containers"]');
    await wd.waitJs(`${n} containers`, `document.querySelector('[data-testid="container-count"]')?.textContent === "${n} containers"`);
    await settle();
    figures.push([n, appMemory(APP)]);
  }
  await wd.quit();
  const tray = await inTray(env);
  const blank = await miniBrowser(env);
  console.log(`WebKitGTK MiniBrowser on about:blank: RSS ${blank.rssMiB} MiB, PSS ${blank.pssMiB} MiB over ${blank.processes} processes`);
  console.log(`app memory idle (engine running, dashboard): RSS ${idle.rssMiB} MiB, PSS ${idle.pssMiB} MiB over ${idle.processes} processes`);
  console.log(`app memory in the tray, launched at login (no window): RSS ${tray.rssMiB} MiB, PSS ${tray.pssMiB} MiB over ${tray.processes} process(es)`);
  for (const [n, m] of figures) {
    console.log(`app memory with ${n} containers listed: RSS ${m.rssMiB} MiB, PSS ${m.pssMiB} MiB (goal ≤ 150 MB; +${m.pssMiB - idle.pssMiB} MiB PSS over idle)`);
  }
  const goal = { kind: "absolute", bound: 150 };
  const blankName = "WebKitGTK MiniBrowser, blank page";
  for (const kind of ["pss", "rss"]) {
    const key = `${kind}MiB`;
    const label = kind === "pss" ? "PSS" : "RSS summed";
    emitRow({ name: `app memory idle (${label})`, unit: "MiB", values: [idle[key]], baselineName: blankName, baseline: [blank[key]], goal });
    const [, with200] = figures.find(([n]) => n === 200);
    emitRow({ name: `app memory, 200 containers (${label})`, unit: "MiB", values: [with200[key]], baselineName: "the app idle", baseline: [idle[key]], goal });
    emitRow({ name: `app memory in the tray, at login (${label})`, unit: "MiB", values: [tray[key]], baselineName: "the app idle with its window", baseline: [idle[key]], goal });
  }
} finally {
  await wd.quit();
  driver.kill();
  xvfb.kill();
  lock.kill();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Memory of the app launched as the login entry does (`--autostart`), settled: in the tray,
 * with no window. The stand-in engine already runs (its state.json and lock), so the VM start
 * it asks for finds it running and starts nothing.
 */
async function inTray(env) {
  // One app per Berth instance: the driven one (its driver ends it with the session) must be
  // gone, or this launch hands over to it.
  for (const pid of appPids(APP)) process.kill(Number(pid), "SIGTERM");
  await wd.waitFor("the driven app to exit", async () => appPids(APP).length === 0, 30000, 250);
  // A tray for it to stay in (on a session bus of its own when this run has none).
  const trayEnv = { ...env };
  const tray = await startTray(trayEnv);
  const child = spawn(APP, ["--autostart"], { env: trayEnv, stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 6000));
    const m = appMemory(APP);
    if (child.exitCode !== null || m.processes === 0) throw new Error(`the app launched at login exited (${child.exitCode})`);
    if (m.processes !== 1) throw new Error(`the app launched at login runs ${m.processes} processes: it opened a window`);
    return m;
  } finally {
    child.kill();
    tray.stop();
  }
}

/** Memory of MiniBrowser showing a blank page, settled like the app. */
async function miniBrowser(env) {
  const child = spawn(MINIBROWSER, ["about:blank"], { env: { ...env, WEBKIT_DISABLE_COMPOSITING_MODE: "1" }, stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 6000));
    return appMemory(MINIBROWSER);
  } finally {
    child.kill();
  }
}

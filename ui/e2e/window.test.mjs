// The real-window suite: the built app (tauri build --debug --no-bundle) in a real WebKitGTK
// window under Xvfb, driven through tauri-driver + WebKitWebDriver, against a real VM.
//
// It starts the VM from the GUI, fills the data disk to 95 % (fallocate in a volume) and sees
// the dashboard's banner, whose Reclaim button for volumes clears it; browses a volume with
// planted symlinks (listed, never followed), a FIFO and a name with a newline, sees paths
// through them refused, and exports it (symlinks stored as such; an unwritable target an `io`
// error with no partial file left); pulls an image from a
// local registry (Debian's docker-registry
// on 127.0.0.1, which the guest reaches as 10.0.2.2, configured as an insecure registry in this
// test's own Berth settings) with per-layer progress visible, runs it with a port, finds it
// listed, opens that port through the system's URL opener, reads its logs, runs `echo` in its
// terminal, stops and deletes it; has a broken compose file refused with compose's own message,
// then brings a stack up from a file in the shared home folder (the VM's `docker compose` at
// the same path), sees it grouped and serving, and takes it down. Then Docker Hub
// and accounts: it searches a stand-in of the Hub's API (the settings' hub_api_url), pulls a
// tag of busybox with per-layer progress through a second docker-registry configured as the
// engine's mirror (so `busybox` resolves through it), runs it from the run dialog, sees an
// unknown tag fail without leaving an image; pushes to a third docker-registry with htpasswd
// (bcrypt) auth: refused without an account, a wrong password refused and nothing stored, the
// right one kept in the keychain (run under installer/with-keyring), the push then succeeding;
// a registry that is down named as such. Troubleshoot shows the supervisor's and the console's
// logs with no escape code, and the diagnostics bundle it exports (through the command the
// Export button calls) is a private zip of plain text files (unzip): no escape code, no Rust
// Debug dump, not the registry password. Then it ticks "start at login" in Settings (the XDG
// autostart entry appears), stops the VM, ends the app and runs the entry's Exec line as a
// session would at login: the VM starts with no window and no WebKit process; launching the app
// again then opens the window in that app instead of starting a second one, and closing that
// window leaves the app running in the tray (a StatusNotifier watcher on the session bus, where
// the app's icon is registered); once the tray is gone, closing the window quits the app.
// Screenshots land in $BERTH_SCREENSHOTS (default: $CARGO_TARGET_DIR/berth-app-screenshots), with
// the window's text beside a failing step's and tauri-driver's output in driver.log.
//
// Before that, a settings file with an impossible memory size makes the GUI's start fail, and
// the failure is marked on that field in Settings (the daemon's typed error, end to end).
// The app runs with no `berth` program beside it or on PATH: it launches its own daemon.
// Needs: BERTH_IMAGE (the guest image), BERTH_APP (the app binary) and BERTH_BIN (the berth
// CLI, only to clean up), or CARGO_TARGET_DIR to find both in debug/; tauri-driver, WebKitWebDriver, Xvfb,
// docker-registry, htpasswd (apache2-utils), busybox-static, the docker CLI, unzip,
// status-notifier-watcher, and a Secret Service on the session bus (installer/with-keyring).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, mkdirSync, writeFileSync, symlinkSync, copyFileSync, chmodSync, readFileSync, readdirSync, rmSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { WebDriver, ENTER } from "./webdriver.mjs";
import { appMemory, appPids } from "./memory.mjs";
import { startTray, trayItems, trayPresent } from "./tray.mjs";
import { freePort, startXvfb } from "./xvfb.mjs";
import { startHubStandIn } from "./hub-stand-in.mjs";

const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/berth/target");
// The app as built; the suite runs a copy of it alone in a folder of its own (below), so no
// `berth` program sits beside it: the app's lifecycle is its own (it runs the daemon itself).
let APP = process.env.BERTH_APP ?? join(target, "debug/berth-desktop");
const BERTH = process.env.BERTH_BIN ?? join(target, "debug/berth");
const SHOTS = process.env.BERTH_SCREENSHOTS ?? join(target, "berth-app-screenshots");
const BOOT_TIMEOUT = 300_000;
const PUSH_PASSWORD = "e2e-Pa55-word";

const children = [];
let env;
let wd;

/** Starts a helper process; with `log`, its whole output also goes to that file. */
function launch(cmd, args, options = {}, log = null) {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], ...options });
  let output = "";
  const keep = (d) => {
    output = (output + d).slice(-8000);
    if (log) appendFileSync(log, d);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.output = () => output;
  children.push(child);
  return child;
}

async function waitPort(port, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.body?.cancel();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * A one-layer image: Debian's static busybox and the applets the test uses, in `dir`/`name`;
 * `marker` (a file /berth-image naming it) makes each image's layer its own.
 */
function busyboxRootfs(dir, name = "rootfs", marker = "") {
  const root = join(dir, name);
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "www"), { recursive: true });
  copyFileSync("/bin/busybox", join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  for (const applet of ["sh", "echo", "httpd", "ls", "cat", "sleep"]) symlinkSync("busybox", join(root, "bin", applet));
  writeFileSync(join(root, "www/index.html"), "hello from berth\n");
  if (marker) writeFileSync(join(root, "berth-image"), `${marker}\n`);
  const tar = join(dir, `${name}.tar`);
  execFileSync("tar", ["-C", root, "-cf", tar, "."]);
  return tar;
}

function docker(socket, args, input) {
  return execFileSync("docker", ["--host", `unix://${socket}`, ...args], { env, input, encoding: "utf8", stdio: [input ? "pipe" : "ignore", "pipe", "pipe"] });
}

/** A command through the app's IPC, as the UI calls it: `{ ok }` (its answer) or `{ e }` (the AppError). */
async function ipc(cmd, args, timeoutMs = 120000) {
  await wd.exec(`window.__e2e = null; window.__TAURI_INTERNALS__.invoke(${JSON.stringify(cmd)}, ${JSON.stringify(args)}).then((ok) => (window.__e2e = { ok }), (e) => (window.__e2e = { e }));`);
  await wd.waitJs(`${cmd} to answer`, "window.__e2e !== null", timeoutMs);
  return wd.exec("return window.__e2e;");
}

/** The app window's X map state (IsViewable, IsUnMapped), or "none" without a window. */
function mapState() {
  try {
    return execFileSync("xwininfo", ["-name", "Berth"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).match(/Map State: (\w+)/)?.[1];
  } catch {
    return "none";
  }
}

let shot = 0;
async function screenshot(name) {
  if (!wd?.session) return;
  const png = await wd.screenshot().catch(() => null);
  if (png) writeFileSync(join(SHOTS, `${String(++shot).padStart(2, "0")}-${name}.png`), png);
}

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`  ✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    const tag = `failed-${name.replace(/\W+/g, "-")}`;
    await screenshot(tag);
    // What the window said (an error the assertion did not look for shows up here).
    const text = wd?.session ? await wd.exec("return document.body.innerText;").catch(() => null) : null;
    if (text) writeFileSync(join(SHOTS, `${String(shot).padStart(2, "0")}-${tag}.txt`), text);
    throw new Error(`${name}: ${e.message}`);
  }
}

after(async () => {
  await wd?.quit();
  if (env) {
    try {
      execFileSync(BERTH, ["stop"], { env, stdio: "ignore", timeout: 120000 });
    } catch {
      /* already stopped */
    }
  }
  for (const c of children.reverse()) if (c.exitCode === null) c.kill("SIGTERM");
  if (env?.BERTH_E2E_DIR && !process.env.BERTH_KEEP) rmSync(env.BERTH_E2E_DIR, { recursive: true, force: true });
});

test("the desktop app drives a real VM: start, pull with progress, run, logs, terminal, stop, delete", { timeout: 900_000 }, async () => {
  for (const [what, path] of [
    ["the app (tauri build --debug --no-bundle)", APP],
    ["the berth CLI (cargo build -p berth-cli)", BERTH],
    ["the guest image (BERTH_IMAGE)", process.env.BERTH_IMAGE ?? ""],
  ]) {
    assert.ok(path && existsSync(path), `${what} not found at ${path || "(unset)"}`);
  }
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  console.log(`  screenshots: ${SHOTS}`);

  // A private Berth: its own HOME and runtime directory, so it never meets another instance.
  const dir = mkdtempSync(join(tmpdir(), "berth-app-e2e-"));
  const home = join(dir, "home");
  const runtime = join(dir, "run");
  mkdirSync(home, { recursive: true });
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const registryPort = await freePort();
  const registryHost = `10.0.2.2:${registryPort}`;
  const mirrorPort = await freePort();
  const mirrorHost = `10.0.2.2:${mirrorPort}`;
  const authPort = await freePort();
  const authHost = `10.0.2.2:${authPort}`;
  const hub = await startHubStandIn({ tags: ["1.37", "nope"] });
  children.push({ exitCode: null, kill: () => hub.close() });
  mkdirSync(join(home, ".config/berth"), { recursive: true });
  writeFileSync(
    join(home, ".config/berth/settings.json"),
    JSON.stringify({ insecure_registries: [registryHost, mirrorHost, authHost], registry_mirrors: [`http://${mirrorHost}`], hub_api_url: `http://127.0.0.1:${hub.port}` }, null, 2),
  );
  // The system's URL opener, as the app reaches it (xdg-open): records each address and fetches
  // it, standing in for the browser a desktop would start.
  const opened = join(dir, "opened");
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin/xdg-open"), `#!/bin/sh\necho "$1" >> '${opened}'\ncurl -fsS --max-time 10 "$1" >> '${opened}' 2>&1\n`, { mode: 0o755 });
  // No `berth` program for the app to run: none beside its copy, none on PATH.
  mkdirSync(join(dir, "app"));
  copyFileSync(APP, join(dir, "app/berth-desktop"));
  chmodSync(join(dir, "app/berth-desktop"), 0o755);
  APP = join(dir, "app/berth-desktop");
  const path = [join(dir, "bin"), ...(process.env.PATH ?? "").split(":").filter((d) => d && !existsSync(join(d, "berth")))].join(":");
  env = { ...process.env, PATH: path, HOME: home, XDG_RUNTIME_DIR: runtime, BERTH_E2E_DIR: dir, NO_AT_BRIDGE: "1" };
  for (const v of ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "DOCKER_HOST", "DOCKER_CONTEXT", "WAYLAND_DISPLAY", "BERTH_BIN"]) delete env[v];

  let panel;
  await step("services: Xvfb, a tray, registry, tauri-driver", async () => {
    const xvfb = await startXvfb(env);
    children.push(xvfb.child);
    env.DISPLAY = xvfb.display;
    panel = await startTray(env);
    children.push(panel.watcher);
    const config = join(dir, "registry.yml");
    writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "registry")}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${registryPort}\n`);
    launch("docker-registry", ["serve", config]);
    await waitPort(registryPort, "docker-registry");
    const mirrorConfig = join(dir, "mirror.yml");
    writeFileSync(mirrorConfig, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "mirror")}\nhttp:\n  addr: 127.0.0.1:${mirrorPort}\n`);
    launch("docker-registry", ["serve", mirrorConfig]);
    await waitPort(mirrorPort, "the mirror registry");
    // bcrypt, the only hash docker-registry's htpasswd accepts.
    writeFileSync(join(dir, "htpasswd"), execFileSync("htpasswd", ["-Bbn", "berth", PUSH_PASSWORD], { encoding: "utf8" }));
    const authConfig = join(dir, "auth.yml");
    writeFileSync(authConfig, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "auth-registry")}\nhttp:\n  addr: 127.0.0.1:${authPort}\nauth:\n  htpasswd:\n    realm: berth-e2e\n    path: ${join(dir, "htpasswd")}\n`);
    launch("docker-registry", ["serve", authConfig]);
    await waitPort(authPort, "the registry with a password");
    const driverPort = await freePort();
    const nativePort = await freePort();
    launch("tauri-driver", ["--port", String(driverPort), "--native-port", String(nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"], {}, join(SHOTS, "driver.log"));
    await waitPort(driverPort, "tauri-driver").catch(() => {});
    wd = new WebDriver(`http://127.0.0.1:${driverPort}`);
    await wd.waitFor("a WebDriver session", async () => {
      await wd.start(APP);
      return true;
    }, 30000, 1000);
  });

  await step("the dashboard shows the VM stopped", async () => {
    await wd.waitJs("the stopped badge", `document.querySelector('[data-testid="vm-state"]')?.textContent === "Stopped"`);
    await screenshot("dashboard-stopped");
  });

  const idle = appMemory(APP);
  console.log(`  app memory idle (VM stopped): RSS ${idle.rssMiB} MiB, PSS ${idle.pssMiB} MiB over ${idle.processes} processes`);

  await step("a settings error raised while starting is shown on its field", async () => {
    const settingsFile = join(home, ".config/berth/settings.json");
    const valid = readFileSync(settingsFile, "utf8");
    writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(valid), memory_mib: 99999999 }, null, 2));
    await wd.click('[data-testid="vm-start"]');
    await wd.waitJs("the start to fail on the setting", `document.querySelector('[data-testid="vm-error"]')?.dataset.code === "invalid_setting"`, 60000);
    assert.equal(await wd.text('[data-testid="vm-state"]'), "Failed");
    assert.match(await wd.text('[data-testid="vm-error"]'), /memory_mib/);
    await screenshot("start-failed-on-a-setting");
    await wd.click('[data-testid="vm-error-fix"]');
    await wd.waitJs("the memory field marked", `document.querySelector('[data-testid="set-memory"]')?.classList.contains("invalid")`);
    assert.equal(await wd.exec(`return document.querySelector('[data-testid="settings-error"]').dataset.field;`), "memory_mib");
    await screenshot("settings-field-marked");
    writeFileSync(settingsFile, valid);
    await wd.click('[data-testid="nav-dashboard"]');
    await wd.waitJs("Start to be enabled", `!document.querySelector('[data-testid="vm-start"]').disabled`);
  });

  const phases = new Set();
  await step("start the VM from the GUI and see its phases", async () => {
    // A start that fails (a loaded machine can make the guest miss a deadline) is shown as
    // Failed with the reason; a user clicks Start again, and so does this test, once.
    for (let attempt = 1; ; attempt++) {
      await wd.click('[data-testid="vm-start"]');
      // The failure shown before this click (the settings step's) is not this attempt's: it
      // counts once this start has been seen starting.
      let starting = false;
      const outcome = await wd.waitFor("the VM to run", async () => {
        const { state, list } = await wd.exec(`return { state: document.querySelector('[data-testid="vm-state"]')?.textContent, list: [...document.querySelectorAll('[data-testid="phases"] li')].map((l) => l.textContent) };`);
        if (state !== "Failed") starting = true;
        for (const p of list ?? []) {
          if (!phases.has(p)) {
            phases.add(p);
            if (phases.size === 3) await screenshot("dashboard-starting");
          }
        }
        if (state === "Failed" && starting) return { failed: await wd.text('[data-testid="vm-error"]').catch(() => "failed") };
        return state === "Running" && { ok: true };
      }, BOOT_TIMEOUT, 500);
      if (outcome.ok) break;
      await screenshot(`start-failed-${attempt}`);
      console.log(`  start attempt ${attempt} failed: ${outcome.failed}`);
      if (attempt === 2) throw new Error(`the VM did not start: ${outcome.failed}`);
      await wd.waitJs("Start to be enabled again", `!document.querySelector('[data-testid="vm-start"]').disabled`);
    }
    assert.ok([...phases].some((p) => p.includes("booting the VM")), `phases seen: ${[...phases].join(" | ")}`);
    await wd.waitJs("the engine version", `document.querySelector('[data-testid="engine-version"]')?.textContent`);
    await screenshot("dashboard-running");
  });
  console.log(`  phases: ${[...phases].join(" → ")}`);

  const running = appMemory(APP);
  console.log(`  app memory with the VM running (dashboard): RSS ${running.rssMiB} MiB, PSS ${running.pssMiB} MiB`);

  const socket = join(runtime, "berth/docker.sock");
  const reference = `${registryHost}/berth-e2e/busybox:1`;
  await step("populate the registry through Berth's engine", async () => {
    const tar = busyboxRootfs(dir);
    docker(socket, ["import", "-", reference], readFileSync(tar));
    docker(socket, ["push", reference]);
    docker(socket, ["rmi", reference]);
  });

  await step("a nearly full data disk shows the dashboard's banner, and Reclaim clears it", async () => {
    // fallocate reserves the blocks without writing them: 95 % of the 64 GiB disk in moments,
    // and the host's sparse qcow2 does not grow.
    const filler = "berth-e2e/fill:1";
    docker(socket, ["import", "-", filler], readFileSync(busyboxRootfs(dir, "fill-rootfs", "the disk filler")));
    docker(socket, ["run", "--rm", "-v", "berth-e2e-fill:/fill", filler, "sh", "-c",
      "set -- $(busybox df -k -P /fill | busybox tail -n 1); busybox fallocate -l $(( ($2 * 95 / 100 - $3) * 1024 )) /fill/a"]);
    await wd.click('[data-testid="nav-dashboard"]');
    await wd.waitJs("the disk banner", `document.querySelector('[data-testid="disk-warning"]')?.dataset.pressure === "nearly_full"`, 60000);
    assert.match(await wd.text('[data-testid="disk-warning"] h3'), /^The data disk is 9\d% full$/);
    const volumes = '[data-testid="disk-kind"][data-kind="volumes"]';
    // The filler's removal makes its volume reclaimable (an engine event: the breakdown is asked again).
    await wd.waitJs("the volume reclaimable", `/GB$/.test(document.querySelector('${volumes} [data-testid="disk-reclaimable"]')?.textContent)`, 60000);
    await screenshot("disk-nearly-full");
    await wd.click(`${volumes} [data-testid="disk-reclaim"]`);
    await wd.waitJs("what it freed", `[...document.querySelectorAll('[data-testid="toast-ok"]')].some((t) => /volumes no container uses: .* freed/.test(t.textContent))`, 120000);
    await wd.waitJs("the banner to go", `!document.querySelector('[data-testid="disk-warning"]')`, 120000);
    assert.equal(docker(socket, ["volume", "ls", "-q", "--filter", "name=berth-e2e-fill"]).trim(), "");
    docker(socket, ["rmi", filler]);
    await screenshot("disk-reclaimed");
  });

  await step("browse a volume with planted symlinks and odd names, and export it", async () => {
    // Planted from a container: symlinks out of the volume (to /etc, to ..), a dangling one, a
    // FIFO, a name with a newline; the agent lists and exports them without following any.
    const planter = "berth-e2e/planter:1";
    const volume = "berth-e2e-files";
    docker(socket, ["import", "-", planter], readFileSync(busyboxRootfs(dir, "planter-rootfs", "the volume planter")));
    docker(socket, ["run", "--rm", "-v", `${volume}:/v`, planter, "sh", "-c",
      'busybox mkdir /v/sub && echo twelve bytes > /v/sub/file.txt && busybox ln -s /etc /v/escape && busybox ln -s .. /v/up && busybox ln -s nowhere /v/dangling && busybox mkfifo /v/fifo && echo newline > "/v/a\nb"']);
    await wd.click('[data-testid="nav-volumes"]');
    const row = `[...document.querySelectorAll('[data-testid="volume-list"] tr')].find((r) => r.querySelector("th")?.textContent === "${volume}")`;
    await wd.waitJs("the volume listed", `!!${row}`, 60000);
    await wd.exec(`${row}.querySelector("button").click();`);
    const entries = `[...document.querySelectorAll('[data-testid="volume-entry"]')].map((r) => r.dataset.kind + ":" + r.querySelector("td").textContent)`;
    await wd.waitJs("the volume's entries", `${entries}.length === 6`, 60000);
    const listed = await wd.exec(`return ${entries};`);
    assert.deepEqual(listed, ["d:sub/", "f:a\nb", "l:dangling → nowhere", "l:escape → /etc", "o:fifo", "l:up → .."].sort((a, b) => (a[0] !== "d") - (b[0] !== "d") || a.slice(2).localeCompare(b.slice(2))));
    await screenshot("volume-browse");
    await wd.exec(`[...document.querySelectorAll('[data-testid="volume-entry"] button')].find((b) => b.textContent === "sub/").click();`);
    await wd.waitJs("the subfolder", `${entries}.join() === "f:file.txt"`, 30000);
    // The typed refusals, through the command the browser calls.
    for (const [path, code] of [["escape", "invalid_input"], ["up", "invalid_input"], ["..", "invalid_input"], ["/etc", "invalid_input"], ["missing", "not_found"]]) {
      const answer = await ipc("volume_browse", { name: volume, path });
      assert.equal(answer.e?.code, code, `${path}: ${JSON.stringify(answer)}`);
    }
    assert.equal((await ipc("volume_browse", { name: "berth-e2e-nope", path: "" })).e?.code, "not_found");
    // The export (the save dialog is the OS's; the command is what it calls).
    const exports = join(dir, "exports");
    mkdirSync(exports);
    const tarFile = join(exports, `${volume}.tar`);
    const exported = await ipc("volume_export", { name: volume, path: tarFile });
    assert.ok(exported.ok > 0, JSON.stringify(exported));
    const members = execFileSync("tar", ["-tvf", tarFile], { encoding: "utf8" });
    assert.match(members, / escape -> \/etc$/m);
    assert.match(members, / up -> \.\.$/m);
    assert.match(members, /sub\/file\.txt$/m);
    assert.doesNotMatch(members, /fifo|escape\//);
    assert.equal(execFileSync("tar", ["-xOf", tarFile, "a\nb"], { encoding: "utf8" }), "newline\n");
    const unwritable = await ipc("volume_export", { name: volume, path: join(exports, "missing/folder/x.tar") });
    assert.equal(unwritable.e?.code, "io", JSON.stringify(unwritable));
    assert.deepEqual(readdirSync(exports), [`${volume}.tar`], "no partial file left");
    await wd.click('[role="dialog"][aria-label="Volume berth-e2e-files"] [aria-label="Close"]');
    await wd.waitJs("the browser to close", `!document.querySelector('[role="dialog"]')`);
    docker(socket, ["volume", "rm", volume]);
    docker(socket, ["rmi", planter]);
  });

  await step("pull the image with per-layer progress", async () => {
    await wd.click('[data-testid="nav-images"]');
    await wd.type('[data-testid="pull-input"]', reference);
    await wd.click('[data-testid="pull-button"]');
    await wd.waitJs("a layer progress bar", `document.querySelectorAll('[data-testid="layer-progress"]').length > 0`, 120000);
    await screenshot("pull-progress");
    await wd.waitJs("the pull to finish", `document.querySelector('[data-testid="pull-status"]')?.textContent.startsWith("Pulled")`, 180000);
    await wd.waitJs("the image in the list", `!!document.querySelector('[data-testid="image-row"][data-name="${reference}"]')`);
    await screenshot("pulled");
  });

  await step("run it with a published port", async () => {
    await wd.click(`[data-testid="image-row"][data-name="${reference}"] [data-testid="run"]`);
    await wd.type('[data-testid="run-name"]', "e2e-web");
    await wd.type('[data-testid="run-ports"]', "18080:8080");
    await wd.type('[data-testid="run-command"]', `/bin/sh -c "echo hello-from-berth; exec httpd -f -p 8080 -h /www"`);
    await screenshot("run-dialog");
    await wd.click('[data-testid="run-submit"]');
    await wd.waitJs("the run dialog to close", `!document.querySelector('[data-testid="run-submit"]')`, 120000);
  });

  await step("see it listed as running with its port", async () => {
    await wd.click('[data-testid="nav-containers"]');
    await wd.waitJs("the running container", `document.querySelector('[data-testid="container-row"][data-name="e2e-web"]')?.dataset.state === "running"`, 60000);
    const ports = await wd.exec(`return [...document.querySelectorAll('[data-testid="container-row"][data-name="e2e-web"] [data-testid="open-port"]')].map((b) => b.textContent);`);
    assert.deepEqual(ports, ["18080:8080"]);
    await screenshot("containers");
  });

  await step("open its logs", async () => {
    await wd.click('[data-testid="container-row"][data-name="e2e-web"] .cell.name');
    await wd.waitJs("the log line", `[...document.querySelectorAll('[data-testid="log-line"]')].some((l) => l.textContent.includes("hello-from-berth"))`, 60000);
    await screenshot("logs");
  });

  await step("run echo in its terminal", async () => {
    await wd.click('[data-testid="tab-terminal"]');
    await wd.waitJs("the prompt", `document.querySelector('.xterm-rows')?.textContent.includes("#")`, 60000);
    await wd.type(".xterm-helper-textarea", `echo term-$((6*7))${ENTER}`);
    await wd.waitJs("the echo output", `document.querySelector('.xterm-rows')?.textContent.includes("term-42")`, 30000);
    await screenshot("terminal");
  });

  await step("open its published port in the browser", async () => {
    await wd.click('[aria-label="Close details"]');
    await wd.click('[data-testid="container-row"][data-name="e2e-web"] [data-testid="open-port"]');
    await wd.waitFor("the opener to fetch the page", async () => existsSync(opened) && readFileSync(opened, "utf8").includes("hello from berth"), 30000, 250);
    assert.equal(readFileSync(opened, "utf8").split("\n")[0], "http://localhost:18080");
  });

  await step("stop and delete it", async () => {
    await wd.click('[data-testid="container-row"][data-name="e2e-web"] [data-testid="stop"]');
    await wd.waitJs("the stopped container", `document.querySelector('[data-testid="container-row"][data-name="e2e-web"]')?.dataset.state === "exited"`, 60000);
    await wd.click('[data-testid="container-row"][data-name="e2e-web"] [data-testid="delete"]');
    // The confirmation takes the focus, so Enter would confirm it.
    await wd.waitJs("the confirmation's focus", `document.activeElement?.dataset.testid === "confirm"`, 10000);
    await wd.click('[data-testid="confirm"]');
    await wd.waitJs("the row to go", `!document.querySelector('[data-testid="container-row"][data-name="e2e-web"]')`, 60000);
    await screenshot("deleted");
  });

  await step("compose up a stack from a file in a shared folder", async () => {
    // The home folder is shared by default, so the VM's `docker compose` reads the file at the
    // same path; the project is named after its folder.
    const stackDir = join(home, "shop");
    mkdirSync(stackDir);
    const file = join(stackDir, "compose.yaml");
    await wd.click('[data-testid="compose-up-open"]');
    // A broken file first: compose's own complaint reaches the dialog, and nothing starts.
    writeFileSync(file, "services:\n  web: [unclosed\n");
    await wd.type('[data-testid="compose-file"]', file);
    await wd.click('[data-testid="compose-up"]');
    await wd.waitJs("the broken file's error", `!!document.querySelector('[data-testid="compose-error"]')`, 180000);
    const complaint = await wd.text('[data-testid="compose-error"]');
    assert.match(complaint, /^docker compose exited with \d+: .*yaml/i, complaint);
    await screenshot("compose-broken");
    writeFileSync(file, `services:\n  web:\n    image: ${reference}\n    command: ["/bin/sh", "-c", "exec httpd -f -p 8080 -h /www"]\n    ports: ["18081:8080"]\n`);
    await wd.click('[data-testid="compose-up"]');
    await wd.waitJs("compose to finish", `!!document.querySelector('[data-testid="compose-done"], [data-testid="compose-error"]')`, 180000);
    const outcome = await wd.exec(`return document.querySelector('[data-testid="compose-error"]')?.textContent ?? "";`);
    assert.equal(outcome, "", "compose up failed");
    assert.match(await wd.text('[data-testid="compose-output"]'), /shop-web-1\s+Started/);
    await screenshot("compose-up");
    await wd.click('[aria-label="Close"]');
    await wd.waitJs("the stack's group", `!!document.querySelector('[data-testid="project-row"][data-project="shop"]')`, 60000);
    await wd.waitJs("its service running", `document.querySelector('[data-testid="container-row"][data-name="shop-web-1"]')?.dataset.state === "running"`, 60000);
    const page = await (await fetch("http://127.0.0.1:18081/")).text();
    assert.equal(page, "hello from berth\n");
    await screenshot("stack");
  });

  await step("take the stack down", async () => {
    await wd.click('[data-testid="project-row"][data-project="shop"] [data-testid="stack-down"]');
    await wd.click('[data-testid="confirm"]');
    await wd.waitJs("the stack to go", `!document.querySelector('[data-testid="project-row"][data-project="shop"]') && !document.querySelector('[data-testid="container-row"][data-name="shop-web-1"]')`, 120000);
    await assert.rejects(fetch("http://127.0.0.1:18081/"), "the stack's port is closed");
  });

  await step("populate the mirror with library/busybox", async () => {
    // An image of its own (not a new tag of the one pulled above): the engine skips every
    // layer of an image it already holds, and this pull must download one.
    const mirrored = `${mirrorHost}/library/busybox:1.37`;
    docker(socket, ["import", "-", mirrored], readFileSync(busyboxRootfs(dir, "hub-rootfs", "busybox:1.37 from the mirror")));
    docker(socket, ["push", mirrored]);
    docker(socket, ["rmi", mirrored]);
    assert.equal(docker(socket, ["images", "-q", "busybox:1.37"]).trim(), "");
  });

  await step("search Docker Hub (stand-in): badges and counts", async () => {
    await wd.click('[data-testid="nav-hub"]');
    await wd.type('[data-testid="hub-query"]', "limited");
    await wd.click('[data-testid="hub-search"]');
    await wd.waitJs("the rate-limit notice", `document.querySelector('[data-testid="hub-error"]')?.dataset.code === "hub_rate_limited"`);
    await wd.exec(`const i = document.querySelector('[data-testid="hub-query"]'); Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(i, ""); i.dispatchEvent(new Event("input", { bubbles: true }));`);
    await wd.type('[data-testid="hub-query"]', "busybox");
    await wd.click('[data-testid="hub-search"]');
    await wd.waitJs("the busybox result", `!!document.querySelector('[data-testid="hub-result"][data-name="busybox"] [data-testid="badge-official"]')`);
    assert.ok(await wd.exec(`return !!document.querySelector('[data-testid="hub-result"][data-name="acme/busybox-tools"] [data-testid="badge-verified"]');`));
    await screenshot("hub-search");
  });

  await step("pick a tag and pull it through the mirror with per-layer progress", async () => {
    await wd.click('[data-testid="hub-result"][data-name="busybox"] [data-testid="hub-open"]');
    await wd.waitJs("the tags", `!!document.querySelector('[data-testid="hub-tag"][data-name="1.37"]')`);
    await screenshot("hub-repository");
    await wd.click('[data-testid="hub-tag"][data-name="1.37"] [data-testid="hub-pull"]');
    await wd.waitJs("a layer progress bar", `document.querySelectorAll('[data-testid="layer-progress"]').length > 0`, 120000);
    await screenshot("hub-pull-progress");
    await wd.waitJs("the pull to finish", `document.querySelector('[data-testid="pull-status"]')?.textContent === "Pulled busybox:1.37"`, 180000);
    // The layer was downloaded, not found present.
    const layers = await wd.exec(`return [...document.querySelectorAll('[data-testid="layer-progress"]')].map((l) => l.textContent);`);
    assert.ok(layers.some((l) => l.includes("Pull complete")), `layers: ${layers.join(" | ")}`);
    await screenshot("hub-pulled");
  });

  await step("run it from the run dialog the pull opened", async () => {
    await wd.waitJs("the run dialog", `!!document.querySelector('[data-testid="run-submit"]')`);
    await wd.type('[data-testid="run-name"]', "e2e-hub");
    await wd.type('[data-testid="run-command"]', "echo hub-ok");
    await wd.click('[data-testid="run-submit"]');
    await wd.waitJs("the run dialog to close", `!document.querySelector('[data-testid="run-submit"]')`, 120000);
    await wd.waitFor("the container's output", async () => docker(socket, ["logs", "e2e-hub"]).includes("hub-ok"), 60000, 1000);
    await wd.click('[data-testid="nav-images"]');
    await wd.waitJs("busybox:1.37 listed", `!!document.querySelector('[data-testid="image-row"][data-name="busybox:1.37"]')`, 60000);
    docker(socket, ["rm", "-f", "e2e-hub"]);
  });

  await step("an unknown tag fails clearly and leaves no image", async () => {
    await wd.click('[data-testid="nav-hub"]');
    await wd.type('[data-testid="hub-query"]', "busybox");
    await wd.click('[data-testid="hub-search"]');
    await wd.waitJs("the busybox result", `!!document.querySelector('[data-testid="hub-result"][data-name="busybox"]')`);
    await wd.click('[data-testid="hub-result"][data-name="busybox"] [data-testid="hub-open"]');
    await wd.waitJs("the tags", `!!document.querySelector('[data-testid="hub-tag"][data-name="nope"]')`);
    await wd.click('[data-testid="hub-tag"][data-name="nope"] [data-testid="hub-pull"]');
    await wd.waitJs("the pull error", `!!document.querySelector('[data-testid="hub-pull-error"]')`, 240000);
    const code = await wd.exec(`return document.querySelector('[data-testid="hub-pull-error"]').dataset.code;`);
    console.log(`    unknown tag: ${code}: ${await wd.text('[data-testid="hub-pull-error"]')}`);
    assert.ok(["image_not_found", "registry"].includes(code), code);
    assert.equal(docker(socket, ["images", "-q", "busybox:nope"]).trim(), "");
    assert.equal(docker(socket, ["images", "-q", "--filter", "dangling=true"]).trim(), "");
    await screenshot("hub-unknown-tag");
  });

  const pushRef = `${authHost}/e2e/busybox:1`;
  const pushRow = `[data-testid="image-row"][data-name="${pushRef}"]`;
  const push = async () => {
    await wd.click('[data-testid="nav-images"]');
    await wd.waitJs("the image to push", `!!document.querySelector('${pushRow}')`, 60000);
    await wd.click(`${pushRow} [data-testid="push"]`);
    await wd.click('[data-testid="push-submit"]');
    await wd.waitJs("the push to end", `!!(document.querySelector('[data-testid="push-status"]') || document.querySelector('[data-testid="push-error"]'))`, 180000);
    const outcome = await wd.exec(`return { error: document.querySelector('[data-testid="push-error"]')?.dataset.code ?? null, log: document.querySelector('[data-testid="push-log"]')?.textContent ?? "" };`);
    await screenshot(outcome.error ? "push-refused" : "pushed");
    await wd.click('[aria-label="Close"]').catch(() => wd.exec(`[...document.querySelectorAll(".modal-actions .btn")].find((b) => b.textContent === "Close")?.click();`));
    return outcome;
  };

  await step("a push without an account is refused", async () => {
    docker(socket, ["tag", "busybox:1.37", pushRef]);
    docker(socket, ["rmi", "busybox:1.37"]);
    const outcome = await push();
    assert.equal(outcome.error, "unauthorized");
  });

  const keyringFiles = () => execFileSync("grep", ["-rl", PUSH_PASSWORD, home], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  await step("a wrong password is refused and nothing is stored", async () => {
    await wd.click('[data-testid="nav-accounts"]');
    await wd.type('[data-testid="account-registry"]', authHost);
    await wd.type('[data-testid="account-username"]', "berth");
    await wd.type('[data-testid="account-password"]', "wrong-password");
    await wd.click('[data-testid="account-login"]');
    await wd.waitJs("the refusal", `document.querySelector('[data-testid="account-error"]')?.dataset.code === "unauthorized"`, 60000);
    assert.equal(await wd.exec(`return document.querySelectorAll('[data-testid="account-row"]').length;`), 0);
    await screenshot("login-refused");
  });

  await step("the right password is kept in the keychain, and the push succeeds", async () => {
    await wd.exec(`const i = document.querySelector('[data-testid="account-password"]'); Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(i, ""); i.dispatchEvent(new Event("input", { bubbles: true }));`);
    await wd.type('[data-testid="account-password"]', PUSH_PASSWORD);
    await wd.click('[data-testid="account-login"]');
    await wd.waitJs("the account", `!!document.querySelector('[data-testid="account-row"][data-registry="${authHost}"]')`, 60000);
    await screenshot("logged-in");
    let inFiles = "";
    try {
      inFiles = keyringFiles();
    } catch {
      /* grep found nothing */
    }
    assert.equal(inFiles, "", "the password is in a file");
    const outcome = await push();
    assert.equal(outcome.error, null, outcome.log);
    const auth = Buffer.from(`berth:${PUSH_PASSWORD}`).toString("base64");
    const list = await (await fetch(`http://127.0.0.1:${authPort}/v2/e2e/busybox/tags/list`, { headers: { authorization: `Basic ${auth}` } })).json();
    assert.deepEqual(list.tags, ["1"]);
  });

  await step("a registry that is down is named as such", async () => {
    const down = await freePort();
    await wd.click('[data-testid="nav-accounts"]');
    await wd.exec(`const i = document.querySelector('[data-testid="account-registry"]'); Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(i, ""); i.dispatchEvent(new Event("input", { bubbles: true }));`);
    await wd.type('[data-testid="account-registry"]', `10.0.2.2:${down}`);
    await wd.type('[data-testid="account-username"]', "berth");
    await wd.type('[data-testid="account-password"]', "x");
    await wd.click('[data-testid="account-login"]');
    await wd.waitJs("the failure", `!!document.querySelector('[data-testid="account-error"]')?.dataset.code`, 120000);
    const code = await wd.exec(`return document.querySelector('[data-testid="account-error"]').dataset.code;`);
    console.log(`    registry down: ${code}: ${await wd.text('[data-testid="account-error"]')}`);
    assert.equal(code, "registry");
    assert.equal(await wd.exec(`return document.querySelectorAll('[data-testid="account-row"]').length;`), 1);
    await wd.click(`[data-testid="account-row"][data-registry="${authHost}"] [data-testid="account-logout"]`);
    await wd.waitJs("the account to go", `document.querySelectorAll('[data-testid="account-row"]').length === 0`);
  });
  console.log(`  Hub stand-in requests: ${hub.requests.length}`);

  await step("Troubleshoot shows the logs as plain text, and the diagnostics bundle is a zip of plain, redacted files", async () => {
    const ESC = "\u001b";
    const around = (text) => JSON.stringify(text.slice(Math.max(0, text.indexOf(ESC) - 60), text.indexOf(ESC) + 60));
    // The daemon writes its log file without colours; the console (firmware, kernel) has
    // escape codes of its own, which the view takes out.
    const supervisorFile = readFileSync(join(home, ".local/state/berth/berth.log"), "utf8");
    assert.ok(supervisorFile.includes(" INFO "), "berth.log has the daemon's lines");
    assert.ok(!supervisorFile.includes(ESC), `an escape code in berth.log: ${around(supervisorFile)}`);
    const consoleFile = readFileSync(join(runtime, "berth/console.log"), "utf8");
    console.log(`    console.log on disk: ${consoleFile.split(ESC).length - 1} escape code(s)`);
    await wd.click('[data-testid="nav-troubleshoot"]');
    for (const kind of ["supervisor", "console"]) {
      await wd.click(`[data-testid="log-tab"][data-kind="${kind}"]`);
      await wd.waitJs(`the ${kind} log`, `document.querySelector('[data-testid="log-tail"]')?.dataset.kind === "${kind}"`, 30000);
      const text = await wd.exec(`return document.querySelector('[data-testid="log-tail"]').textContent;`);
      assert.ok(text.trim() && text !== "(empty)", `the ${kind} log is empty`);
      assert.ok(!text.includes(ESC), `an escape code in the ${kind} log shown: ${around(text)}`);
      await screenshot(`troubleshoot-${kind}`);
    }
    // The export (the save dialog is the OS's; the command is what it calls).
    const out = join(dir, "diagnostics");
    mkdirSync(out);
    const zip = join(out, "berth-diagnostics.zip");
    const answer = await ipc("diagnostics_export", { path: zip }, 180000);
    assert.ok(!answer.e, JSON.stringify(answer));
    assert.deepEqual(readdirSync(out), ["berth-diagnostics.zip"], "no temporary file left");
    assert.equal(statSync(zip).mode & 0o777, 0o600);
    const names = execFileSync("unzip", ["-Z1", zip], { encoding: "utf8" }).trim().split("\n");
    assert.deepEqual(names, ["summary.txt", "settings.json", "doctor.txt", "logs/supervisor.log", "logs/console.log", "logs/agent.log", "logs/engine.log", "logs/containerd.log"]);
    const file = (name) => execFileSync("unzip", ["-p", zip, name], { maxBuffer: 64 << 20 });
    for (const name of names) {
      const bytes = file(name);
      assert.ok(bytes.length > 0, `${name} is empty`);
      const text = bytes.toString("utf8");
      assert.ok(!bytes.includes(0x1b), `an ESC byte in ${name}: ${around(text)}`);
      assert.ok(!text.includes("VmView {"), `Rust Debug output in ${name}`);
      assert.ok(!text.includes(PUSH_PASSWORD), `the registry password in ${name}`);
    }
    const summary = file("summary.txt").toString("utf8");
    console.log(summary.replace(/^/gm, "    "));
    assert.match(summary, /^VM state: +(running|paused)/m);
    assert.match(summary, /^Redacted: \d+ credential/m);
    assert.match(file("settings.json").toString("utf8"), /^  "insecure_registries": \[$/m);
    assert.match(file("doctor.txt").toString("utf8"), /QEMU/);
    // A VM the resource saver paused meanwhile is not woken for the bundle: no guest answers.
    if (/^VM state: +running$/m.test(summary)) {
      assert.match(summary, /^Engine version: +\d/m);
      assert.match(summary, /^Agent version: +\d/m);
      assert.ok(file("logs/engine.log").toString("utf8").split("\n").length > 1, "the engine's log lines");
    }
  });

  const loginEntry = join(home, ".config/autostart/Berth.desktop");
  await step("tick start at login in Settings", async () => {
    await wd.click('[data-testid="nav-settings"]');
    await wd.waitJs("the login box, read from the OS", `document.querySelector('[data-testid="set-login"]')?.disabled === false`);
    assert.equal(await wd.exec(`return document.querySelector('[data-testid="set-login"]').checked;`), false);
    assert.ok(!existsSync(loginEntry));
    await wd.click('[data-testid="set-login"]');
    // Ticked once the command answers with the entry's state.
    await wd.waitJs("the box ticked", `document.querySelector('[data-testid="set-login"]').checked`, 10000);
    assert.ok(existsSync(loginEntry), "the XDG autostart entry");
    await screenshot("settings-start-at-login");
  });

  await step("stop the VM from the GUI", async () => {
    await wd.click('[data-testid="nav-dashboard"]');
    await wd.click('[data-testid="vm-stop"]');
    await wd.waitJs("the stopped badge", `document.querySelector('[data-testid="vm-state"]')?.textContent === "Stopped"`, 120000);
    await screenshot("stopped");
  });

  await step("a launch from the login entry starts the VM in the tray; a second launch opens the window; closing it keeps the app, unless the tray is gone", async () => {
    // The driver ends the app it drives with its session.
    await wd.quit();
    await wd.waitFor("the driven app to exit", async () => appPids(APP).length === 0, 30000, 250);
    // What the session does at login: run the entry's Exec line.
    const exec = readFileSync(loginEntry, "utf8").match(/^Exec=(.*)$/m)?.[1];
    assert.equal(exec, `${APP} --autostart`);
    const [program, ...args] = exec.split(" ");
    const app = launch(program, args, {}, join(SHOTS, "login-launch.log"));
    const answered = await wd.waitFor("the engine to answer", () => {
      if (app.exitCode !== null) return { exited: app.output() };
      try {
        return docker(socket, ["version", "--format", "{{.Server.Version}}"]).trim() !== "" && { ok: true };
      } catch {
        return false;
      }
    }, BOOT_TIMEOUT, 1000);
    assert.ok(answered.ok, `the app exited: ${answered.exited}`);
    // In the tray without a window: no WebKit process runs until the user opens one.
    assert.equal(mapState(), "none", "no window at login (the tray opens it)");
    assert.equal(trayItems(env).length, 1, "the app's icon registered with the tray");
    const tray = appMemory(APP);
    console.log(`  app memory at login, in the tray: RSS ${tray.rssMiB} MiB, PSS ${tray.pssMiB} MiB over ${tray.processes} process(es)`);
    assert.equal(tray.processes, 1, "only the app's own process");
    // The menu entry clicked while it runs: the second launch hands over and exits, and the
    // running app shows its window.
    const second = launch(APP, [], {}, join(SHOTS, "second-launch.log"));
    await wd.waitFor("the second launch to exit", async () => second.exitCode !== null, 30000, 200);
    assert.equal(second.exitCode, 0, second.output());
    await wd.waitFor("the window to show", async () => mapState() === "IsViewable", 10000, 200);
    assert.equal(app.exitCode, null, "the first app still runs");
    const open = appMemory(APP);
    // The window's close button (there is no window manager: the same WM_DELETE_WINDOW request).
    execFileSync("/usr/bin/python3", [join(import.meta.dirname, "close-window.py"), "Berth"], { env });
    await wd.waitFor("the window to close", async () => mapState() === "none", 10000, 200);
    await wd.waitFor("its web process to end", async () => appMemory(APP).processes < open.processes, 10000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(app.exitCode, null, "the app stays in the tray");
    const closed = appMemory(APP);
    console.log(`  app memory with the window open: PSS ${open.pssMiB} MiB over ${open.processes} processes; closed again: PSS ${closed.pssMiB} MiB over ${closed.processes}`);
    // The panel goes away: an icon nobody can see is no place to stay, so closing quits.
    panel.stop();
    await wd.waitFor("the tray to go", async () => !trayPresent(env), 10000, 200);
    const third = launch(APP, [], {}, join(SHOTS, "third-launch.log"));
    await wd.waitFor("the third launch to exit", async () => third.exitCode !== null, 30000, 200);
    await wd.waitFor("the window to show again", async () => mapState() === "IsViewable", 10000, 200);
    execFileSync("/usr/bin/python3", [join(import.meta.dirname, "close-window.py"), "Berth"], { env });
    await wd.waitFor("the app to quit", async () => app.exitCode !== null, 15000, 200);
    assert.equal(app.exitCode, 0, app.output());
    // The VM is its daemon's, which the app launched detached: it outlives the app.
    assert.notEqual(docker(socket, ["version", "--format", "{{.Server.Version}}"]).trim(), "", "the engine still answers after the app quit");
  });
});

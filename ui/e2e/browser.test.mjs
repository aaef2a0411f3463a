// Browser tests of the UI's flows against the mock backend (mockIPC) in headless Chromium.
// Run `npx vite build -c vite.mock.config.ts` first (installer/berth-test does).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { serve, browser } from "./harness.mjs";

const SHOTS = process.env.BERTH_SCREENSHOTS ?? "/tmp/berth-ui-screenshots";
let server, url, chrome;

before(async () => {
  ({ server, url } = await serve());
  chrome = await browser();
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await chrome?.close();
  server?.close();
});

/** A page of the mock app; `width` and `colorScheme` as a user's window and theme, `before`
 * runs before it loads (to install a fake clock, say). */
async function open(query = "", { width = 1280, colorScheme = "light", before } = {}) {
  const page = await chrome.newPage({ viewport: { width, height: 800 }, colorScheme });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await before?.(page);
  await page.goto(`${url}${query}`);
  return { page, errors };
}

/** The focused element's test id and, if it is in a row, the row's name. */
const focused = (page) => page.evaluate(() => ({ testid: document.activeElement?.dataset.testid, row: document.activeElement?.closest("[data-name]")?.dataset.name, inDialog: !!document.activeElement?.closest('[role="dialog"]') }));

test("the dashboard starts the VM and shows each start-up phase and the engine version", async () => {
  const { page, errors } = await open("?vm=stopped");
  await page.getByTestId("vm-state").filter({ hasText: "Stopped" }).first().waitFor();
  await page.getByTestId("vm-start").click();
  await page.getByTestId("vm-state").filter({ hasText: "Running" }).first().waitFor();
  const phases = await page.getByTestId("phases").innerText();
  assert.match(phases, /booting the VM/);
  assert.match(phases, /engine ready/);
  await page.getByTestId("engine-version").filter({ hasText: "26.1.5" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/dashboard.png` });
  const calls = await page.evaluate(() => window.__mock.calls.map((c) => c.cmd));
  assert.ok(calls.includes("vm_start"));
  assert.deepEqual(errors, []);
});

test("a VM the resource saver paused says so on the dashboard, and Resume brings it back", async () => {
  const { page, errors } = await open();
  await page.getByTestId("vm-state").filter({ hasText: "Running" }).first().waitFor();
  await page.evaluate(() => window.__mock.setVm("paused", "paused to save power (the next docker command or connection resumes it)"));
  await page.getByTestId("vm-state").filter({ hasText: "Paused to save power" }).first().waitFor();
  await page.getByTestId("vm-paused").waitFor();
  await page.screenshot({ path: `${SHOTS}/dashboard-paused.png` });
  await page.getByTestId("vm-resume").click();
  await page.getByTestId("vm-state").filter({ hasText: "Running" }).first().waitFor();
  await page.getByTestId("vm-resume").waitFor({ state: "detached" });
  const calls = await page.evaluate(() => window.__mock.calls.map((c) => c.cmd));
  assert.ok(calls.includes("vm_resume"));
  assert.deepEqual(errors, []);
});

test("a nearly full data disk shows what uses it on the dashboard, and a reclaim click clears the banner", async () => {
  const { page, errors } = await open("?disk=nearly_full");
  const banner = page.getByTestId("disk-warning");
  await banner.waitFor();
  assert.equal(await banner.getAttribute("data-pressure"), "nearly_full");
  assert.match(await banner.locator("h3").innerText(), /The data disk is 9\d% full/);
  const kinds = await page.getByTestId("disk-kind").evaluateAll((rows) => rows.map((r) => r.dataset.kind));
  assert.deepEqual(kinds, ["images", "build_cache", "volumes", "containers", "logs"]);
  const volumes = page.locator('[data-testid="disk-kind"][data-kind="volumes"]');
  assert.equal(await volumes.getByTestId("disk-reclaimable").innerText(), "36.0 GB");
  await page.screenshot({ path: `${SHOTS}/disk-warning.png` });
  await volumes.getByTestId("disk-reclaim").click();
  await page.getByTestId("toast-ok").filter({ hasText: "volumes no container uses: 36.0 GB freed" }).waitFor();
  await banner.waitFor({ state: "detached" });
  const reclaims = await page.evaluate(() => window.__mock.calls.filter((c) => c.cmd === "disk_reclaim").map((c) => c.args.kind));
  assert.deepEqual(reclaims, ["volumes"]);
  assert.deepEqual(errors, []);
});

test("a full data disk says so plainly", async () => {
  const { page } = await open("?disk=full");
  const banner = page.getByTestId("disk-warning");
  await banner.waitFor();
  assert.equal(await banner.getAttribute("data-pressure"), "full");
  assert.equal(await banner.locator("h3").innerText(), "The data disk is full");
  assert.match(await banner.innerText(), /fail until space is reclaimed/);
});

test("containers are grouped by compose project, searchable, and refresh on engine events", async () => {
  const { page } = await open("?view=containers&containers=12");
  await page.getByTestId("project-row").first().waitFor();
  const projects = await page.getByTestId("project-row").evaluateAll((rows) => rows.map((r) => r.dataset.project));
  assert.deepEqual(projects, ["stack-0"]);
  await page.getByTestId("container-search").fill("loose");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="container-row"]').length === 3);
  // Nothing matching: a sentence, not an empty list box.
  await page.getByTestId("container-search").fill("no-such-name");
  await page.getByText("No containers match.").waitFor();
  assert.equal(await page.getByTestId("container-list").isVisible(), false);
  await page.getByTestId("container-search").fill("");
  await page.evaluate(() => window.__mock.addContainer("fresh-one"));
  await page.locator('[data-testid="container-row"][data-name="fresh-one"]').waitFor();
  await page.screenshot({ path: `${SHOTS}/containers.png` });
});

test("a Swarm stack shows its services (mode, tasks running/desired, ports) above its tasks", async () => {
  const { page, errors } = await open("?view=containers&containers=2&stack=1");
  await page.locator('[data-testid="project-row"][data-project="shop"]').waitFor();
  assert.match(await page.locator('[data-testid="project-row"][data-project="shop"]').innerText(), /stack · 3\/3 running/);
  const web = page.locator('[data-testid="service-row"][data-name="shop_web"]');
  assert.match(await web.innerText(), /replicated · 2\/2 running/);
  assert.match(await web.innerText(), /8080:80/);
  await page.locator('[data-testid="container-row"][data-name="shop_web.1.x1"]').waitFor();
  assert.deepEqual(errors, []);
});

test("deleting a container asks first, then calls the engine and the row goes away", async () => {
  const { page } = await open("?view=containers&containers=6");
  const row = page.locator('[data-testid="container-row"][data-name="loose-0"]');
  await row.getByTestId("delete").click();
  await page.getByTestId("confirm").click();
  await row.waitFor({ state: "detached" });
  const call = await page.evaluate(() => window.__mock.calls.find((c) => c.cmd === "container_action"));
  assert.equal(call.args.action, "remove");
});

test("a confirmation takes the focus: Tab stays in it, Escape cancels back to the button, Enter confirms", async () => {
  const { page, errors } = await open("?view=containers&containers=6");
  const row = page.locator('[data-testid="container-row"][data-name="loose-0"]');
  await row.getByTestId("delete").click();
  await page.getByRole("dialog", { name: "Delete container" }).waitFor();
  assert.deepEqual(await focused(page), { testid: "confirm", row: undefined, inDialog: true });
  assert.equal(await page.getByTestId("confirm").innerText(), "Delete");
  for (const key of ["Tab", "Tab", "Tab", "Shift+Tab"]) {
    await page.keyboard.press(key);
    assert.equal((await focused(page)).inDialog, true, `focus left the dialog on ${key}`);
  }
  await page.screenshot({ path: `${SHOTS}/confirm.png` });
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached" });
  assert.deepEqual(await focused(page), { testid: "delete", row: "loose-0", inDialog: false });
  assert.equal(await page.evaluate(() => window.__mock.calls.filter((c) => c.cmd === "container_action").length), 0);
  // Opened from the keyboard this time: Enter on Delete, then Enter confirms.
  await page.keyboard.press("Enter");
  await page.getByRole("dialog", { name: "Delete container" }).waitFor();
  assert.equal((await focused(page)).testid, "confirm");
  await page.keyboard.press("Enter");
  await row.waitFor({ state: "detached" });
  const calls = await page.evaluate(() => window.__mock.calls.filter((c) => c.cmd === "container_action").map((c) => c.args.action));
  assert.deepEqual(calls, ["remove"]);
  assert.deepEqual(errors, []);
});

test("container times move on: “Up …” and “… ago” a few minutes later", async () => {
  const { page, errors } = await open("?view=containers&containers=6", { before: (p) => p.clock.install() });
  const row = page.locator('[data-testid="container-row"][data-name="loose-0"]');
  await row.waitFor();
  assert.match(await row.getByTestId("container-status").innerText(), /^Up 5 minutes$/);
  assert.equal(await row.locator(".cell.created").innerText(), "just now");
  await page.clock.fastForward("03:00");
  await page.waitForFunction(() => document.querySelector('[data-name="loose-0"] [data-testid="container-status"]')?.textContent === "Up 8 minutes");
  assert.equal(await row.locator(".cell.created").innerText(), "3 minutes ago");
  assert.deepEqual(errors, []);
});

test("a port no browser opens says so, with the address to copy and the error under Details", async () => {
  for (const colorScheme of ["light", "dark"]) {
    const { page, errors } = await open("?view=containers&containers=6&opener=fails", { colorScheme, width: 900 });
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.locator('[data-testid="container-row"][data-name="loose-0"] [data-testid="open-port"]').click();
    const toast = page.getByTestId("toast-error");
    await toast.waitFor();
    assert.match(await toast.innerText(), /^Could not open a browser for http:\/\/localhost:8000 — copy the address instead/);
    assert.equal(await toast.getByTestId("toast-copy-text").innerText(), "http://localhost:8000");
    assert.equal(await toast.getByTestId("toast-details").isVisible(), false);
    await toast.getByText("Details").click();
    assert.match(await toast.getByTestId("toast-details").innerText(), /xdg-open/);
    await toast.getByTestId("toast-copy").click();
    await toast.getByTestId("toast-copy").filter({ hasText: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "http://localhost:8000");
    await page.screenshot({ path: `${SHOTS}/open-failed-${colorScheme}.png` });
    assert.deepEqual(errors, []);
    await page.close();
  }
});

test("every view follows the theme: fields not white in dark mode, cards inside the page margin, sidebar glyphs that exist", async () => {
  for (const [width, colorScheme] of [
    [900, "dark"],
    [1440, "dark"],
    [1440, "light"],
  ]) {
    const { page, errors } = await open("?view=accounts", { width, colorScheme });
    await page.getByTestId("account-username").waitFor();
    const views = await page.locator(".sidebar nav button").evaluateAll((bs) => bs.map((b) => b.dataset.testid));
    for (const nav of views) {
      await page.getByTestId(nav).click();
      await page.waitForTimeout(100);
      const { fields, cards } = await page.evaluate(() => {
        const main = document.querySelector(".main").getBoundingClientRect();
        const shown = (e) => e.getClientRects().length > 0;
        return {
          fields: [...document.querySelectorAll('.main input:not([type="checkbox"]):not([type="radio"]), .main textarea, .main select')].filter(shown).map((e) => ({ name: e.dataset.testid ?? e.placeholder ?? e.tagName, bg: getComputedStyle(e).backgroundColor, fg: getComputedStyle(e).color })),
          cards: [...document.querySelectorAll(".main .card")].filter(shown).map((c) => { const r = c.getBoundingClientRect(); return { left: r.left - main.left, right: main.right - r.right }; }),
        };
      });
      for (const f of fields) {
        if (colorScheme === "dark") assert.notEqual(f.bg, "rgb(255, 255, 255)", `${nav}: ${f.name} is white in dark mode`);
        assert.notEqual(f.bg, f.fg, `${nav}: ${f.name}'s text is its background`);
      }
      for (const c of cards) assert.ok(c.left >= 16 && c.right >= 16, `${nav}: a card ${JSON.stringify(c)} px from the page's edges at ${width} px`);
      if (nav === "nav-accounts" || nav === "nav-hub") await page.screenshot({ path: `${SHOTS}/${nav.slice(4)}-${colorScheme}-${width}.png` });
    }
    // A glyph no font has draws the missing-character box, as U+0378 (unassigned) does.
    const glyphs = await page.evaluate(() => {
      const draw = (text, font) => {
        const c = document.createElement("canvas");
        c.width = c.height = 48;
        const g = c.getContext("2d");
        g.font = font;
        g.textBaseline = "top";
        g.fillText(text, 8, 8);
        return c.toDataURL();
      };
      return [...document.querySelectorAll(".sidebar .glyph")].map((e) => {
        const s = getComputedStyle(e);
        const font = `${s.fontSize} ${s.fontFamily}`;
        return { text: e.textContent, missing: draw(e.textContent, font) === draw("\u0378", font) };
      });
    });
    assert.equal(glyphs.length, 9);
    for (const g of glyphs) assert.equal(g.missing, false, `the sidebar glyph ${g.text} has no font`);
    assert.deepEqual(errors, []);
    await page.close();
  }
});

test("details show streamed logs, live stats and a terminal that echoes", async () => {
  const { page } = await open("?view=containers&containers=6");
  await page.locator('[data-testid="container-row"][data-name="loose-0"] .cell.name').click();
  await page.getByTestId("log-line").first().waitFor();
  await page.getByTestId("log-search").fill("line 2");
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="log-line"]')].every((l) => l.textContent.includes("line 2")));
  await page.getByTestId("tab-stats").click();
  await page.getByTestId("stats").waitFor();
  await page.getByTestId("tab-terminal").click();
  await page.locator(".xterm").waitFor();
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("echo hi");
  await page.waitForFunction(() => document.querySelector(".xterm-rows")?.textContent.includes("echo hi"));
  await page.screenshot({ path: `${SHOTS}/terminal.png` });
});

test("a pull shows one progress bar per layer and the image appears", async () => {
  const { page } = await open("?view=images");
  await page.getByTestId("pull-input").fill("busybox:1.36");
  await page.getByTestId("pull-button").click();
  await page.getByTestId("layer-progress").nth(1).waitFor();
  await page.getByTestId("pull-status").filter({ hasText: "Pulled busybox:1.36" }).waitFor();
  await page.locator('[data-testid="image-row"][data-name="busybox:1.36"]').waitFor();
  await page.screenshot({ path: `${SHOTS}/images.png` });
});

test("the run dialog marks the field the backend rejected", async () => {
  const { page } = await open("?view=images");
  await page.getByTestId("run").first().click();
  await page.getByTestId("run-ports").fill("eighty:80");
  await page.getByTestId("run-submit").click();
  const error = page.getByTestId("run-error");
  await error.waitFor();
  assert.equal(await error.getAttribute("data-code"), "invalid_input");
  assert.match(await page.getByTestId("run-ports").getAttribute("class"), /invalid/);
});

test("a volume outside the shared folders leaves the engine's warning as a notice", async () => {
  const { page } = await open("?view=images");
  await page.getByTestId("run").first().click();
  await page.getByTestId("run-name").fill("web");
  await page.getByTestId("run-volumes").fill("/srv/data:/data");
  await page.getByTestId("run-submit").click();
  const warning = page.getByTestId("toast-warn");
  await warning.waitFor();
  assert.match(await warning.innerText(), /\/srv\/data is not in a folder shared with the Berth VM/);
  await page.screenshot({ path: `${SHOTS}/run-warning.png` });
  // It stays after the success notice has faded.
  await page.waitForTimeout(4000);
  assert.equal(await page.getByTestId("toast-ok").count(), 0);
  assert.equal(await warning.count(), 1);
});

test("an action while the VM is stopped explains why and offers to start it", async () => {
  const { page } = await open("?view=volumes&vm=running");
  await page.evaluate(() => window.__mock.setVm("stopped"));
  await page.getByTestId("nav-dashboard").click();
  await page.getByTestId("nav-settings").click();
  await page.getByTestId("set-cpus").fill("3");
  await page.getByTestId("settings-save").click();
  const err = page.getByTestId("settings-error");
  await err.waitFor();
  assert.equal(await err.getAttribute("data-code"), "invalid_setting");
  await page.evaluate(() => window.__TAURI_INTERNALS__.invoke("containers_list").catch((e) => (window.__lastError = e)));
  const code = await page.evaluate(() => window.__lastError?.code);
  assert.equal(code, "vm_not_running");
});

test("start at login is read from the OS and changed as soon as it is ticked", async () => {
  const { page, errors } = await open("?view=settings");
  const box = page.getByTestId("set-login");
  await page.waitForFunction(() => document.querySelector('[data-testid="set-login"]')?.disabled === false);
  assert.equal(await box.isChecked(), false);
  await box.click();
  await page.getByTestId("toast-ok").filter({ hasText: "starts at login" }).waitFor();
  assert.equal(await box.isChecked(), true);
  assert.equal(await page.evaluate(() => window.__mock.loginItem), true);
  const calls = await page.evaluate(() => window.__mock.calls.map((c) => c.cmd));
  assert.ok(!calls.includes("settings_save"), "no restart, no settings file");
  await page.screenshot({ path: `${SHOTS}/settings-login.png` });
  assert.deepEqual(errors, []);
});

test("a build streams the engine's output; a volume can be browsed; a stack's logs merge", async () => {
  const { page } = await open("?view=build");
  await page.getByTestId("build-folder").fill("/home/user/app");
  await page.getByTestId("build-tag").fill("app:dev");
  await page.getByTestId("build-submit").click();
  await page.getByTestId("build-output").filter({ hasText: "Successfully built" }).waitFor();
  await page.getByTestId("nav-volumes").click();
  await page.getByRole("button", { name: "Browse" }).click();
  await page.getByRole("button", { name: "sub/" }).click();
  await page.getByText("file.txt").waitFor();
  await page.keyboard.press("Escape");
  await page.getByTestId("nav-containers").click();
  await page.getByTestId("stack-logs-open").first().click();
  await page.getByTestId("stack-logs").filter({ hasText: "svc1 |" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/stack-logs.png` });
});

test("Docker Hub: search, open a repository, pull a tag with progress, then the run dialog; accounts", async () => {
  const { page, errors } = await open("?view=hub");
  await page.getByTestId("hub-query").fill("busybox");
  await page.getByTestId("hub-search").click();
  await page.locator('[data-testid="hub-result"][data-name="busybox"] [data-testid="badge-official"]').waitFor();
  assert.equal(await page.getByTestId("hub-result").count(), 25);
  await page.screenshot({ path: `${SHOTS}/hub-search.png` });
  await page.locator('[data-testid="hub-result"][data-name="busybox"] [data-testid="hub-open"]').click();
  await page.locator('[data-testid="hub-tag"][data-name="1.37"]').waitFor();
  await page.locator('[data-testid="hub-tag"][data-name="1.37"] [data-testid="hub-pull"]').click();
  await page.getByTestId("pull-status").filter({ hasText: "Pulled busybox:1.37" }).waitFor();
  assert.equal(await page.getByTestId("layer-progress").count(), 2);
  await page.getByTestId("run-submit").waitFor();
  await page.screenshot({ path: `${SHOTS}/hub-pulled.png` });
  await page.getByLabel("Close").click();
  await page.getByTestId("nav-accounts").click();
  await page.getByTestId("account-username").fill("alice");
  await page.getByTestId("account-password").fill("wrong");
  await page.getByTestId("account-login").click();
  await page.locator('[data-testid="account-error"][data-code="unauthorized"]').waitFor();
  await page.getByTestId("account-password").fill("right");
  await page.getByTestId("account-login").click();
  await page.locator('[data-testid="account-row"][data-registry="docker.io"]').waitFor();
  await page.screenshot({ path: `${SHOTS}/accounts.png` });
  assert.deepEqual(errors, []);
});

// A desktop tray's D-Bus side for the real-window tests and the memory benchmark: the
// StatusNotifier watcher (`status-notifier-watcher`, Debian's haskell-status-notifier-item-utils),
// which KDE, XFCE, GNOME's AppIndicator extension and other panels run. The app stays in the tray
// only when one is there, and registers its icon with it.
import { spawn, execFileSync } from "node:child_process";

const WATCHER = "org.kde.StatusNotifierWatcher";

/** `gdbus call` on the session bus of `env`; its output. */
function call(env, dest, path, method, ...args) {
  return execFileSync("gdbus", ["call", "--session", "--dest", dest, "--object-path", path, "--method", method, ...args], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Whether a watcher owns its name on the session bus of `env`. */
export function trayPresent(env) {
  return call(env, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", WATCHER).includes("true");
}

/** The items registered with the watcher (each `bus-name/object-path`). */
export function trayItems(env) {
  const out = call(env, WATCHER, "/StatusNotifierWatcher", "org.freedesktop.DBus.Properties.Get", WATCHER, "RegisteredStatusNotifierItems");
  return [...out.matchAll(/'([^']+)'/g)].map((m) => m[1]);
}

/**
 * Starts a session bus of its own when `env` has none (setting `env.DBUS_SESSION_BUS_ADDRESS`),
 * then a watcher on it; returns `{ stop }`, which ends the watcher (and that bus).
 */
export async function startTray(env) {
  const owned = [];
  if (!env.DBUS_SESSION_BUS_ADDRESS) {
    const bus = spawn("dbus-daemon", ["--session", "--nofork", "--print-address=1"], { env, stdio: ["ignore", "pipe", "ignore"] });
    owned.push(bus);
    env.DBUS_SESSION_BUS_ADDRESS = await new Promise((resolve, reject) => {
      let out = "";
      bus.stdout.on("data", (d) => {
        out += d;
        if (out.includes("\n")) resolve(out.trim());
      });
      bus.on("exit", (code) => reject(new Error(`dbus-daemon exited (${code})`)));
    });
  }
  const watcher = spawn("status-notifier-watcher", [], { env, stdio: "ignore" });
  owned.unshift(watcher);
  const deadline = Date.now() + 10000;
  while (!trayPresent(env)) {
    if (watcher.exitCode !== null) throw new Error(`status-notifier-watcher exited (${watcher.exitCode})`);
    if (Date.now() > deadline) throw new Error("status-notifier-watcher did not take its bus name");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    watcher,
    stop: () => {
      for (const child of owned) if (child.exitCode === null) child.kill("SIGTERM");
    },
  };
}

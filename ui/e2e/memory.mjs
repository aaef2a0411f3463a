// Memory of the running app: the process whose executable is `app` and every descendant (the
// WebKit web and network processes), as summed RSS and PSS (PSS shares common pages fairly,
// so it does not count shared libraries once per process).
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";

function field(text, name) {
  const m = text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : 0;
}

/** Whether `pid` is the daemon the app launches (`--supervise`, the same executable): it owns
 * the VM and is not the app, nor are its children. */
function isDaemon(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--supervise");
  } catch {
    return false;
  }
}

/** Every process's parent (daemons left out), and the processes whose executable is `exe`
 * (pids as strings). */
function scan(exe) {
  const parents = new Map();
  const roots = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
      if (isDaemon(pid)) continue;
      parents.set(pid, ppid);
      if (readlinkSync(`/proc/${pid}/exe`) === exe) roots.push(pid);
    } catch {
      /* gone or not ours */
    }
  }
  return { parents, roots };
}

export function appMemory(app) {
  const exe = realpathSync(app);
  const { parents, roots } = scan(exe);
  const members = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!members.has(pid) && members.has(ppid)) {
        members.add(pid);
        grew = true;
      }
    }
  }
  let rss = 0;
  let pss = 0;
  // Only the app and its WebKit helpers: a VM started from the app belongs to its supervisor.
  const own = [...members].filter((pid) => {
    try {
      const path = readlinkSync(`/proc/${pid}/exe`);
      return path === exe || /webkit/i.test(path);
    } catch {
      return false;
    }
  });
  for (const pid of own) {
    try {
      rss += field(readFileSync(`/proc/${pid}/status`, "utf8"), "VmRSS");
      pss += field(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), "Pss");
    } catch {
      /* exited */
    }
  }
  return { processes: own.length, rssMiB: Math.round(rss / 1024), pssMiB: Math.round(pss / 1024) };
}

/** The pids of running `app` processes (the processes whose executable it is). */
export function appPids(app) {
  return scan(realpathSync(app)).roots;
}

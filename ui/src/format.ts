// Formatting of sizes, times and percentages for the views.

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** 1536 → "1.5 KB" (decimal units, as the docker CLI prints them). */
export function bytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n) || n < 0) return "—";
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${UNITS[i]}`;
}

/** Seconds since the epoch → "3 minutes ago" ("just now" under a minute: the views' clock
 * ticks once a minute, so a count of seconds would stand still). */
export function ago(unixSeconds: number, now = Date.now()): string {
  const s = Math.max(0, Math.round(now / 1000 - unixSeconds));
  const steps: [number, string][] = [
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
    [Infinity, "year"],
  ];
  if (s < 60) return "just now";
  let v = Math.floor(s / 60);
  for (const [size, unit] of steps) {
    if (v < size) return `${v} ${unit}${v === 1 ? "" : "s"} ago`;
    v = Math.floor(v / size);
  }
  return "long ago";
}

const H = 3600;

/** A duration in the engine's words (go-units' HumanDuration, which `docker ps` prints):
 * "Less than a second", "About a minute", "5 minutes", "3 hours", "2 days"… */
export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(seconds / H + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(Math.floor(seconds / H) / 24 / 365)} years`;
}

/** The durations [from, to) in seconds that `humanDuration` puts in these words, or null. */
export function humanDurationRange(text: string): [number, number] | null {
  const t = text.trim().toLowerCase();
  if (t === "less than a second") return [0, 1];
  if (t === "about a minute") return [60, 120];
  if (t === "about an hour") return [H, 1.5 * H];
  const m = /^(\d+) (second|minute|hour|day|week|month|year)s?$/.exec(t);
  if (!m) return null;
  const n = Number(m[1]);
  switch (m[2]) {
    case "second":
      return [n, n + 1];
    case "minute":
      return [60 * n, 60 * n + 60];
    case "hour":
      return [(n - 0.5) * H, (n + 0.5) * H];
    case "day":
      return [(24 * n - 0.5) * H, (24 * n + 23.5) * H];
    case "week":
      return [(168 * n - 0.5) * H, (168 * n + 167.5) * H];
    case "month":
      return [(720 * n - 0.5) * H, (720 * n + 719.5) * H];
    default:
      return [8760 * n * H, 8760 * (n + 1) * H];
  }
}

/** A container's status read as a time that moves: "Up 5 minutes (healthy)" is `Up ` since
 * `since` (Unix seconds) then ` (healthy)`. */
export interface LiveStatus {
  before: string;
  since: number;
  after: string;
}

/** Reads the engine's status text of a container (as of `readAt`, Unix seconds) into a
 * LiveStatus, or null for one with no time in it ("Created"). The engine's words are coarse
 * ("Up 3 hours" is 2½ to 3½ hours), so an "Up" whose range holds the container's creation
 * time started then (the usual case: run, not restarted since); otherwise the shortest
 * duration of the range is taken, which says what the engine said and never more. */
export function liveStatus(status: string, created: number, readAt: number): LiveStatus | null {
  const up = /^Up (.+?)((?: \([^)]*\))*)$/.exec(status);
  const past = up ? null : /^((?:Exited|Restarting) \(-?\d+\)) (.+) ago((?: \([^)]*\))*)$/.exec(status);
  const words = up ? up[1] : past?.[2];
  const range = words ? humanDurationRange(words) : null;
  if (!range) return null;
  const [lo, hi] = range;
  if (up) {
    const since = created > readAt - hi && created <= readAt - lo ? created : readAt - lo;
    return { before: "Up ", since, after: up[2] };
  }
  return { before: `${past![1]} `, since: readAt - lo, after: ` ago${past![3]}` };
}

/** A LiveStatus at `now` (ms since the epoch). Under a minute reads "Less than a minute": the
 * views' clock ticks once a minute. */
export function statusAt(s: LiveStatus, now: number): string {
  const elapsed = now / 1000 - s.since;
  return `${s.before}${elapsed < 60 ? "Less than a minute" : humanDuration(elapsed)}${s.after}`;
}

export function percent(v: number): string {
  return `${Number.isFinite(v) ? v.toFixed(v < 10 ? 1 : 0) : "0"}%`;
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

/** A short count: 7.0B, 3.4k. */
export function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

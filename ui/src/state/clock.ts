// The one clock relative times ("Up 5 minutes", "3 minutes ago") read, so they keep moving
// while a view stays open: a single timer for the whole app, ticking once a minute while
// anything shows such a time and stopped when nothing does (no timer per row).
import { useSyncExternalStore } from "react";

export const TICK_MS = 60_000;

let now = Date.now();
let timer: ReturnType<typeof setInterval> | null = null;
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, TICK_MS);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** The clock's time; while no timer runs (nothing subscribed yet) it is read afresh, at most
 * once a second so that consecutive reads agree. */
function snapshot(): number {
  if (!timer && Math.abs(Date.now() - now) >= 1000) now = Date.now();
  return now;
}

/** Milliseconds since the epoch, as of the last tick (at most a minute old). */
export function useNow(): number {
  return useSyncExternalStore(subscribe, snapshot);
}

// Relative times that move with the app's clock (state/clock.ts): "3 minutes ago" and a
// container's "Up 5 minutes".
import type { ContainerRow } from "../api";
import { ago, liveStatus, statusAt } from "../format";
import { useNow } from "../state/clock";

/** "3 minutes ago" for a time in Unix seconds, kept current. */
export function Ago({ unix }: { unix: number }) {
  const now = useNow();
  return <>{ago(unix, now)}</>;
}

/** When each row's status text was read (ms since the epoch); a row is a fresh object each
 * time the list is loaded, and a status changed in place is read anew. */
const seen = new WeakMap<ContainerRow, { status: string; at: number }>();

function readAt(row: ContainerRow, at = Date.now()): number {
  const s = seen.get(row);
  if (s && s.status === row.status) return s.at;
  seen.set(row, { status: row.status, at });
  return at;
}

/** Notes the time a list of rows was loaded, so rows shown later (scrolled to) count from it. */
export function markRead(rows: readonly ContainerRow[]): void {
  const at = Date.now();
  for (const r of rows) readAt(r, at);
}

/** A container's status ("Up 5 minutes (healthy)", "Exited (0) 2 hours ago"), kept current
 * from the engine's text and the container's creation time. */
export function ContainerStatus({ row }: { row: ContainerRow }) {
  const now = useNow();
  const at = readAt(row);
  const live = liveStatus(row.status, row.created, at / 1000);
  return <span data-testid="container-status">{live ? statusAt(live, Math.max(now, at)) : row.status}</span>;
}

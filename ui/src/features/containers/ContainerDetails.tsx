// One container's details: logs, a terminal, live stats, inspect, environment and mounts.
import { lazy, Suspense, useEffect, useState } from "react";
import { api, asAppError, type AppError, type ContainerAction, type ContainerRow } from "../../api";
import { Logs } from "./details/Logs";
// xterm.js is loaded only when a terminal is opened.
const Terminal = lazy(() => import("./details/Terminal").then((m) => ({ default: m.Terminal })));
import { Stats } from "./details/Stats";
import { ContainerStatus } from "../../components/Time";

type Tab = "logs" | "terminal" | "stats" | "inspect" | "env" | "mounts";
const TABS: [Tab, string][] = [
  ["logs", "Logs"],
  ["terminal", "Terminal"],
  ["stats", "Stats"],
  ["inspect", "Inspect"],
  ["env", "Env"],
  ["mounts", "Mounts"],
];

interface Inspect {
  Config?: { Env?: string[] };
  Mounts?: { Type?: string; Source?: string; Destination?: string; Name?: string; RW?: boolean }[];
}

export function ContainerDetails({ row, onAction, onClose }: { row: ContainerRow; onAction: (row: ContainerRow, a: ContainerAction) => void; onClose: () => void }) {
  const [tab, setTab] = useState<Tab>("logs");
  const [inspect, setInspect] = useState<Inspect | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const running = row.state === "running";
  useEffect(() => {
    api
      .containerInspect(row.id)
      .then((i) => setInspect(i as Inspect))
      .catch((e) => setError(asAppError(e)));
  }, [row.id, row.state]);

  return (
    <aside className="details" data-testid="container-details">
      <header className="details-head">
        <div>
          <h2>{row.name}</h2>
          <span className="muted small">
            {row.image} · <ContainerStatus row={row} />
          </span>
        </div>
        <div className="row-actions">
          {running || row.state === "paused" ? (
            <button className="btn small" onClick={() => onAction(row, "stop")}>
              Stop
            </button>
          ) : (
            <button className="btn small" onClick={() => onAction(row, "start")}>
              Start
            </button>
          )}
          <button className="btn small" disabled={!running} onClick={() => onAction(row, "restart")}>
            Restart
          </button>
          <button className="btn small danger-text" onClick={() => onAction(row, "remove")}>
            Delete
          </button>
          <button className="icon-btn" aria-label="Close details" data-testid="details-close" onClick={onClose}>
            ×
          </button>
        </div>
      </header>
      <nav className="tabs">
        {TABS.map(([t, label]) => (
          <button key={t} className={tab === t ? "on" : ""} data-testid={`tab-${t}`} onClick={() => setTab(t)}>
            {label}
          </button>
        ))}
      </nav>
      <div className="details-body">
        {tab === "logs" && <Logs id={row.id} name={row.name} running={running} />}
        {tab === "terminal" && (running ? (
          <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
            <Terminal id={row.id} />
          </Suspense>
        ) : <p className="empty">Start the container to open a terminal in it.</p>)}
        {tab === "stats" && (running ? <Stats id={row.id} /> : <p className="empty">Stats appear while the container runs.</p>)}
        {error && tab !== "logs" && <p className="error-text">{error.message}</p>}
        {tab === "inspect" && inspect && <pre className="code" data-testid="inspect">{JSON.stringify(inspect, null, 2)}</pre>}
        {tab === "env" && inspect && (
          <table className="kv">
            <tbody>
              {(inspect.Config?.Env ?? []).map((e) => {
                const at = e.indexOf("=");
                return (
                  <tr key={e}>
                    <th>{at < 0 ? e : e.slice(0, at)}</th>
                    <td>{at < 0 ? "" : e.slice(at + 1)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {tab === "mounts" && inspect && (
          (inspect.Mounts ?? []).length === 0 ? (
            <p className="empty">No mounts.</p>
          ) : (
            <table className="kv">
              <thead>
                <tr>
                  <th>Type</th>
                  <th>Source</th>
                  <th>Destination</th>
                  <th>Mode</th>
                </tr>
              </thead>
              <tbody>
                {(inspect.Mounts ?? []).map((m, i) => (
                  <tr key={i}>
                    <td>{m.Type}</td>
                    <td>{m.Name ?? m.Source}</td>
                    <td>{m.Destination}</td>
                    <td>{m.RW === false ? "ro" : "rw"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        )}
      </div>
    </aside>
  );
}

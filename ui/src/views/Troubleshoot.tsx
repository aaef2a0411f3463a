// Troubleshoot: the console, supervisor, agent, engine and containerd logs; doctor; a
// diagnostics bundle; restart; reset (confirmed).
import { useEffect, useState } from "react";
import { api, asAppError, type AppError, type LogKind } from "../api";
import { Confirm } from "../components/Modal";
import { useToasts } from "../components/Toasts";

const KINDS: [LogKind, string][] = [
  ["console", "Console"],
  ["supervisor", "Supervisor"],
  ["agent", "Agent"],
  ["engine", "Engine"],
  ["containerd", "containerd"],
];

export function Troubleshoot() {
  const toasts = useToasts();
  const [kind, setKind] = useState<LogKind>("console");
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<AppError | null>(null);
  const [doctor, setDoctor] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const load = (k: LogKind) =>
    api
      .logTail(k, 500)
      .then((l) => {
        setLines(l);
        setError(null);
      })
      .catch((e) => {
        setLines([]);
        setError(asAppError(e));
      });
  useEffect(() => {
    load(kind);
  }, [kind]);
  return (
    <div className="view troubleshoot">
      <div className="toolbar">
        <button className="btn" onClick={() => api.doctor().then(setDoctor).catch((e) => toasts.fail("Doctor failed", e))}>
          Run doctor
        </button>
        <button
          className="btn"
          onClick={async () => {
            try {
              const path = await api.pickSavePath("berth-diagnostics.txt");
              if (!path) return;
              await api.diagnosticsExport(path);
              toasts.ok(`Diagnostics written to ${path}`);
            } catch (e) {
              toasts.fail("Cannot write the diagnostics", e);
            }
          }}
        >
          Export diagnostics
        </button>
        <button className="btn" onClick={() => api.vmRestart().then(() => toasts.ok("Berth restarted")).catch((e) => toasts.fail("Restart failed", e))}>
          Restart Berth
        </button>
        <span className="spacer" />
        <button className="btn danger" onClick={() => setConfirm(true)}>
          Reset…
        </button>
      </div>
      {doctor && <pre className="code doctor">{doctor}</pre>}
      <nav className="tabs">
        {KINDS.map(([k, label]) => (
          <button key={k} className={kind === k ? "on" : ""} onClick={() => setKind(k)}>
            {label}
          </button>
        ))}
        <button className="btn small" onClick={() => load(kind)}>
          Refresh
        </button>
      </nav>
      {error ? <p className="error-text">{error.message}</p> : <pre className="code log-tail">{lines.join("\n") || "(empty)"}</pre>}
      {confirm && (
        <Confirm
          title="Reset Berth"
          text="This stops Berth and deletes every image, container and volume (the data disk) and the settings. It cannot be undone."
          confirm="Delete everything"
          danger
          onClose={() => setConfirm(false)}
          onConfirm={() =>
            api
              .reset()
              .then(() => toasts.ok("Berth is reset to its defaults"))
              .catch((e) => toasts.fail("Reset failed", e))
          }
        />
      )}
    </div>
  );
}

// Troubleshoot: the console, supervisor, agent, engine and containerd logs (plain text: the
// backend takes terminal escape codes out); doctor; the diagnostics bundle (a zip of text
// files); restart; reset (confirmed).
import { useEffect, useState } from "react";
import { api, asAppError, type AppError, type Check, type LogKind } from "../../api";
import { Confirm } from "../../components/Modal";
import { useToasts } from "../../components/Toasts";

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
  // The kind the lines shown are of (null before the first answer).
  const [shown, setShown] = useState<LogKind | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [doctor, setDoctor] = useState<Check[] | null>(null);
  const [confirm, setConfirm] = useState(false);
  const load = (k: LogKind) =>
    api
      .logTail(k, 500)
      .then((l) => {
        setLines(l);
        setShown(k);
        setError(null);
      })
      .catch((e) => {
        setLines([]);
        setShown(null);
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
          data-testid="diagnostics-export"
          onClick={async () => {
            try {
              const path = await api.pickSavePath("berth-diagnostics.zip");
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
      {doctor && <DoctorReport checks={doctor} />}
      <nav className="tabs">
        {KINDS.map(([k, label]) => (
          <button key={k} className={kind === k ? "on" : ""} data-testid="log-tab" data-kind={k} onClick={() => setKind(k)}>
            {label}
          </button>
        ))}
        <button className="btn small" onClick={() => load(kind)}>
          Refresh
        </button>
      </nav>
      {error ? (
        <p className="error-text" data-testid="log-error" data-kind={kind}>
          {error.message}
        </p>
      ) : (
        <pre className="code log-tail" data-testid="log-tail" data-kind={shown ?? ""}>
          {lines.join("\n") || "(empty)"}
        </pre>
      )}
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

const STATUS_LABEL: Record<Check["status"], string> = { ok: "ok", warn: "warning", fail: "failed" };

/** The doctor's checks, one row each: status, what was checked, what was found, the fix. */
export function DoctorReport({ checks }: { checks: Check[] }) {
  const failed = checks.filter((c) => c.status === "fail").length;
  return (
    <div className="doctor" data-testid="doctor-report">
      <p className="doctor-summary" data-testid="doctor-summary">
        {failed === 0 ? "Every check passed" : `${failed} check${failed === 1 ? "" : "s"} failed`}
      </p>
      <table className="table doctor-checks">
        <tbody>
          {checks.map((c) => (
            <tr key={c.name} className={`check ${c.status}`} data-testid="doctor-check" data-status={c.status} data-name={c.name}>
              <td>
                <span className={`badge check-${c.status}`} data-testid="doctor-status">
                  {STATUS_LABEL[c.status]}
                </span>
              </td>
              <td className="check-name">{c.name}</td>
              <td>
                <div className="check-detail">{c.detail}</div>
                {c.fix && (
                  <div className="check-fix" data-testid="doctor-fix">
                    Fix: <code>{c.fix}</code>
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// `docker compose up -d` of a compose file, run inside the VM (the file's folder is shared at the
// same path), with its output as it comes.
import { useState } from "react";
import { api, asAppError, type AppError } from "../../api";
import { Modal } from "../../components/Modal";
import { useToasts } from "../../components/Toasts";

export function ComposeUp({ onClose }: { onClose: () => void }) {
  const toasts = useToasts();
  const [file, setFile] = useState("");
  const [output, setOutput] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const up = () => {
    setBusy(true);
    setDone(false);
    setError(null);
    setOutput("");
    api
      .composeUp(file, (t) => setOutput((o) => (o + t).slice(-100_000)))
      .then(() => {
        setDone(true);
        toasts.ok(`Compose up: ${file}`);
      })
      .catch((e) => setError(asAppError(e)))
      .finally(() => setBusy(false));
  };
  return (
    <Modal title="Compose up" onClose={onClose} wide>
      <div className="modal-body form">
        <label>
          Compose file <span className="muted small">its folder must be shared with the VM (Settings)</span>
          <div className="pull-form">
            <input className={`grow ${error?.field === "file" ? "invalid" : ""}`} data-testid="compose-file" value={file} onChange={(e) => setFile(e.target.value)} placeholder="/home/me/app/compose.yaml" />
            <button type="button" className="btn" onClick={() => api.pickPath(true).then((p) => p && setFile(p)).catch((e) => toasts.fail("No file chosen", e))}>
              Choose…
            </button>
          </div>
        </label>
        {output && (
          <pre className="code small-log" data-testid="compose-output">
            {output}
          </pre>
        )}
        {done && (
          <p className="muted small" data-testid="compose-done">
            Every service is up.
          </p>
        )}
        {error && (
          <p className="error-text" data-testid="compose-error">
            {error.message}
          </p>
        )}
      </div>
      <footer className="modal-actions">
        <button className="btn" onClick={onClose}>
          Close
        </button>
        <button className="btn primary" disabled={busy || !file} onClick={up} data-testid="compose-up">
          {busy ? "Starting…" : "Up"}
        </button>
      </footer>
    </Modal>
  );
}

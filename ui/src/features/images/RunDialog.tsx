// Run a container from an image: name, ports, environment, volumes and command. Validation
// happens in Rust; a bad field is highlighted by the error's `field`. The engine's warnings
// (a volume whose host folder is not shared with the VM) stay as notices.
import { useState } from "react";
import { api, asAppError, type AppError } from "../../api";
import { Modal } from "../../components/Modal";
import { useToasts } from "../../components/Toasts";

const lines = (s: string) =>
  s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

export function RunDialog({ image, onClose }: { image: string; onClose: () => void }) {
  const toasts = useToasts();
  const [name, setName] = useState("");
  const [ports, setPorts] = useState("");
  const [env, setEnv] = useState("");
  const [volumes, setVolumes] = useState("");
  const [command, setCommand] = useState("");
  const [error, setError] = useState<AppError | null>(null);
  const [busy, setBusy] = useState(false);
  const bad = (f: string) => (error?.field === f ? "invalid" : "");
  const submit = () => {
    setBusy(true);
    api
      .imageRun({ image, name: name.trim(), ports: lines(ports), env: lines(env), volumes: lines(volumes), command })
      .then((started) => {
        toasts.ok(`Started ${name || image}`);
        for (const warning of started.warnings) toasts.warn(`${name || image}: the engine warns`, warning);
        onClose();
      })
      .catch((e) => setError(asAppError(e)))
      .finally(() => setBusy(false));
  };
  return (
    <Modal title={`Run ${image}`} onClose={onClose}>
      <form
        className="modal-body form"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <label>
          Name
          <input className={bad("name")} value={name} onChange={(e) => setName(e.target.value)} placeholder="optional" data-testid="run-name" />
        </label>
        <label>
          Ports <span className="muted small">host:container, one per line (bound to 127.0.0.1)</span>
          <textarea className={bad("ports")} rows={2} value={ports} onChange={(e) => setPorts(e.target.value)} placeholder="8080:80" data-testid="run-ports" />
        </label>
        <label>
          Environment <span className="muted small">KEY=value, one per line</span>
          <textarea className={bad("env")} rows={2} value={env} onChange={(e) => setEnv(e.target.value)} data-testid="run-env" />
        </label>
        <label>
          Volumes <span className="muted small">source:/path[:ro]</span>
          <textarea className={bad("volumes")} rows={2} value={volumes} onChange={(e) => setVolumes(e.target.value)} data-testid="run-volumes" />
        </label>
        <label>
          Command <span className="muted small">optional; quotes group words</span>
          <input className={bad("command")} value={command} onChange={(e) => setCommand(e.target.value)} data-testid="run-command" />
        </label>
        {error && (
          <p className="error-text" data-testid="run-error" data-code={error.code}>
            {error.message}
          </p>
        )}
        <footer className="modal-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy} data-testid="run-submit">
            {busy ? "Starting…" : "Run"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

// Tag an image with a new name; push a tag to its registry with streamed status.
import { useState } from "react";
import { api, asAppError, type AppError, type ImageRow } from "../../api";
import { Modal } from "../../components/Modal";
import { useToasts } from "../../components/Toasts";

export function TagDialog({ image, onClose }: { image: ImageRow; onClose: () => void }) {
  const toasts = useToasts();
  const [target, setTarget] = useState(image.tags[0] ?? "");
  const [error, setError] = useState<AppError | null>(null);
  return (
    <Modal title="Tag image" onClose={onClose}>
      <form
        className="modal-body form"
        onSubmit={(e) => {
          e.preventDefault();
          api
            .imageTag(image.id, target)
            .then(() => {
              toasts.ok(`Tagged ${target}`);
              onClose();
            })
            .catch((e) => setError(asAppError(e)));
        }}
      >
        <label>
          New name
          <input value={target} onChange={(e) => setTarget(e.target.value)} className={error?.field === "target" ? "invalid" : ""} />
        </label>
        {error && <p className="error-text">{error.message}</p>}
        <footer className="modal-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn primary" type="submit">
            Tag
          </button>
        </footer>
      </form>
    </Modal>
  );
}

export function PushDialog({ image, onClose }: { image: ImageRow; onClose: () => void }) {
  const toasts = useToasts();
  const [tag, setTag] = useState(image.tags[0] ?? "");
  const [lines, setLines] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  return (
    <Modal title="Push image" onClose={onClose}>
      <div className="modal-body form">
        <label>
          Tag
          <select value={tag} onChange={(e) => setTag(e.target.value)}>
            {image.tags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <pre className="code small-log" data-testid="push-log">
          {lines.slice(-12).join("\n")}
        </pre>
        {done && (
          <p className="muted small" data-testid="push-status">
            Pushed {done}
          </p>
        )}
        {error && (
          <p className="error-text" data-testid="push-error" data-code={error.code}>
            {error.message}
          </p>
        )}
      </div>
      <footer className="modal-actions">
        <button className="btn" onClick={onClose}>
          Close
        </button>
        <button
          className="btn primary"
          disabled={busy}
          data-testid="push-submit"
          onClick={() => {
            setBusy(true);
            setError(null);
            setDone(null);
            api
              .imagePush(tag, (p) => setLines((l) => [...l.slice(-50), p.status + (p.total ? ` ${p.current}/${p.total}` : "")]))
              .then(() => {
                setDone(tag);
                toasts.ok(`Pushed ${tag}`);
              })
              .catch((e) => setError(asAppError(e)))
              .finally(() => setBusy(false));
          }}
        >
          {busy ? "Pushing…" : "Push"}
        </button>
      </footer>
    </Modal>
  );
}

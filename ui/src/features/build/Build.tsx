// Build an image from a folder with a Dockerfile; the engine's output streams in as it builds.
import { useEffect, useRef, useState } from "react";
import { api, asAppError, type AppError } from "../../api";
import { useToasts } from "../../components/Toasts";
import { useRunning } from "../../state/vm";

export function Build() {
  const running = useRunning();
  const toasts = useToasts();
  const [folder, setFolder] = useState("");
  const [dockerfile, setDockerfile] = useState("Dockerfile");
  const [tag, setTag] = useState("");
  const [output, setOutput] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [output]);
  const bad = (f: string) => (error?.field === f ? "invalid" : "");
  const build = () => {
    setBusy(true);
    setError(null);
    setOutput("");
    api
      .imageBuild(folder, dockerfile, tag, (line) => setOutput((o) => (o + line).slice(-200_000)))
      .then((id) => toasts.ok(`Built ${tag}${id ? ` (${id.replace("sha256:", "").slice(0, 12)})` : ""}`))
      .catch((e) => setError(asAppError(e)))
      .finally(() => setBusy(false));
  };
  return (
    <div className="view">
      <form
        className="card form"
        onSubmit={(e) => {
          e.preventDefault();
          build();
        }}
      >
        <label>
          Folder <span className="muted small">the build context</span>
          <div className="pull-form">
            <input className={`grow ${bad("folder")}`} value={folder} onChange={(e) => setFolder(e.target.value)} placeholder="/home/me/project" data-testid="build-folder" />
            <button type="button" className="btn" onClick={() => api.pickPath(false).then((p) => p && setFolder(p)).catch((e) => toasts.fail("No folder chosen", e))}>
              Choose…
            </button>
          </div>
        </label>
        <div className="grid-2">
          <label>
            Dockerfile
            <input className={bad("dockerfile")} value={dockerfile} onChange={(e) => setDockerfile(e.target.value)} />
          </label>
          <label>
            Tag
            <input className={bad("tag")} value={tag} onChange={(e) => setTag(e.target.value)} placeholder="myapp:dev" data-testid="build-tag" />
          </label>
        </div>
        {error && <p className="error-text">{error.message}</p>}
        <footer className="modal-actions">
          <button className="btn primary" disabled={!running || busy || !folder || !tag} data-testid="build-submit">
            {busy ? "Building…" : "Build"}
          </button>
        </footer>
      </form>
      {output && (
        <pre className="code log-tail" ref={pre} data-testid="build-output">
          {output}
        </pre>
      )}
    </div>
  );
}

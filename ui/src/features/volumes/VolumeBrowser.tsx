// The files of a volume, folder by folder (listed in the VM through the agent; symlinks are shown
// with their targets, never followed).
import { useEffect, useState } from "react";
import { api, asAppError, type AppError, type VolumeEntry } from "../../api";
import { bytes } from "../../format";

export function VolumeBrowser({ name }: { name: string }) {
  const [path, setPath] = useState("");
  const [entries, setEntries] = useState<VolumeEntry[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useEffect(() => {
    setEntries(null);
    api
      .volumeBrowse(name, path)
      .then((e) => {
        setEntries(e);
        setError(null);
      })
      .catch((e) => setError(asAppError(e)));
  }, [name, path]);
  const up = path.split("/").slice(0, -1).join("/");
  return (
    <div className="modal-body">
      <p className="muted small">
        <code>/{path}</code>
      </p>
      {error && <p className="error-text">{error.message}</p>}
      <table className="kv">
        <tbody>
          {path && (
            <tr>
              <td colSpan={2}>
                <button className="link" onClick={() => setPath(up)}>
                  ..
                </button>
              </td>
            </tr>
          )}
          {entries?.map((e, i) => (
            <tr key={`${i}:${e.name}`} data-testid="volume-entry" data-kind={e.kind}>
              <td>
                {e.kind === "d" && e.exact ? (
                  <button className="link" onClick={() => setPath(path ? `${path}/${e.name}` : e.name)}>
                    {e.name}/
                  </button>
                ) : e.kind === "l" ? (
                  `${e.name} → ${e.target ?? ""}`
                ) : (
                  `${e.name}${e.kind === "d" ? "/" : ""}`
                )}
              </td>
              <td className="muted">{e.kind === "d" ? "" : bytes(e.size)}</td>
            </tr>
          ))}
          {entries?.length === 0 && (
            <tr>
              <td className="muted">Empty folder</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

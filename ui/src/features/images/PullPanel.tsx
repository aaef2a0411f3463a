// Pull an image by name, with one progress bar per layer while it downloads and extracts.
import { useState } from "react";
import { api, type Progress } from "../../api";
import { useToasts } from "../../components/Toasts";
import { bytes } from "../../format";

export interface LayerState {
  status: string;
  current: number;
  total: number;
}

/** Folds one progress message into the per-layer state. */
export function foldProgress(layers: Map<string, LayerState>, p: Progress): Map<string, LayerState> {
  if (!p.layer || p.status.startsWith("Pulling from") || p.layer === "latest") return layers;
  const next = new Map(layers);
  const done = /complete|Already exists/i.test(p.status);
  const prev = next.get(p.layer);
  next.set(p.layer, {
    status: p.status,
    current: done ? 1 : p.current,
    total: done ? 1 : p.total || prev?.total || 0,
  });
  return next;
}

export function PullPanel({ running, onPulled }: { running: boolean; onPulled: () => void }) {
  const toasts = useToasts();
  const [reference, setReference] = useState("");
  const [layers, setLayers] = useState<Map<string, LayerState>>(new Map());
  const [status, setStatus] = useState<string | null>(null);
  const [pulling, setPulling] = useState(false);
  const pull = () => {
    const ref = reference.trim();
    if (!ref) return;
    setPulling(true);
    setLayers(new Map());
    setStatus(`Pulling ${ref}…`);
    api
      .imagePull(ref, (p) => {
        if (!p.layer) setStatus(p.status);
        setLayers((l) => foldProgress(l, p));
      })
      .then(() => {
        setStatus(`Pulled ${ref}`);
        toasts.ok(`Pulled ${ref}`);
        onPulled();
      })
      .catch((e) => {
        setStatus(null);
        toasts.fail(`Pull of ${ref} failed`, e);
      })
      .finally(() => setPulling(false));
  };
  return (
    <section className="card pull">
      <form
        className="pull-form"
        onSubmit={(e) => {
          e.preventDefault();
          pull();
        }}
      >
        <input className="search grow" placeholder="Pull an image: busybox, registry:5000/team/app:1.0" value={reference} onChange={(e) => setReference(e.target.value)} data-testid="pull-input" disabled={!running} />
        <button className="btn primary" type="submit" disabled={!running || pulling || !reference.trim()} data-testid="pull-button">
          {pulling ? "Pulling…" : "Pull"}
        </button>
      </form>
      {status && (
        <p className="muted small" data-testid="pull-status">
          {status}
        </p>
      )}
      <LayerList layers={layers} />
    </section>
  );
}

/** One progress bar per layer. */
export function LayerList({ layers }: { layers: Map<string, LayerState> }) {
  const entries = [...layers.entries()];
  if (entries.length === 0) return null;
  return (
    <ul className="layers-progress" data-testid="pull-progress">
      {entries.map(([id, l]) => {
        const pct = l.total > 0 ? Math.min(100, (l.current / l.total) * 100) : 0;
        return (
          <li key={id} data-testid="layer-progress">
            <code>{id}</code>
            <div className="meter-bar">
              <div className="meter-fill" style={{ width: `${pct}%` }} />
            </div>
            <span className="muted small">
              {l.status}
              {l.total > 1 ? ` ${bytes(l.current)} / ${bytes(l.total)}` : ""}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

// Images: the list (size, created, in use), pull with per-layer progress bars, delete, prune,
// tag, push, the layers of an image, and a dialog to run a container from one.
import { memo, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, type ImageRow } from "../../api";
import { useEngineList } from "../../state/engine";
import { useToasts } from "../../components/Toasts";
import { Confirm } from "../../components/Modal";
import { bytes, shortId } from "../../format";
import { Ago } from "../../components/Time";
import { PullPanel } from "./PullPanel";
import { RunDialog } from "./RunDialog";
import { LayersDialog } from "./LayersDialog";
import { TagDialog, PushDialog } from "./TagPush";
import { useRunning } from "../../state/vm";

const ROW_HEIGHT = 48;

type Dialog =
  | { kind: "run"; image: string }
  | { kind: "layers"; image: ImageRow }
  | { kind: "tag"; image: ImageRow }
  | { kind: "push"; image: ImageRow }
  | { kind: "delete"; image: ImageRow }
  | { kind: "prune" };

const ImageLine = memo(function ImageLine({ image, onDialog }: { image: ImageRow; onDialog: (d: Dialog) => void }) {
  const name = image.tags[0] ?? "<untagged>";
  return (
    <div className="row" data-testid="image-row" data-name={name}>
      <div className="cell name">
        <strong>{name}</strong>
        <span className="muted small">
          {shortId(image.id)}
          {image.tags.length > 1 ? ` · +${image.tags.length - 1} tags` : ""}
        </span>
      </div>
      <div className="cell size">{bytes(image.size)}</div>
      <div className="cell created muted small"><Ago unix={image.created} /></div>
      <div className="cell">{image.containers > 0 ? <span className="pill in-use">in use ({image.containers})</span> : <span className="pill">unused</span>}</div>
      <div className="cell row-actions">
        <button className="btn small primary" data-testid="run" onClick={() => onDialog({ kind: "run", image: image.tags[0] ?? image.id })}>
          Run
        </button>
        <button className="btn small" onClick={() => onDialog({ kind: "layers", image })}>
          Layers
        </button>
        <button className="btn small" onClick={() => onDialog({ kind: "tag", image })}>
          Tag
        </button>
        <button className="btn small" data-testid="push" disabled={image.tags.length === 0} onClick={() => onDialog({ kind: "push", image })}>
          Push
        </button>
        <button className="btn small danger-text" data-testid="image-delete" onClick={() => onDialog({ kind: "delete", image })}>
          Delete
        </button>
      </div>
    </div>
  );
});

export function Images() {
  const running = useRunning();
  const toasts = useToasts();
  const { items, error, reload } = useEngineList(api.images, ["image", "container"]);
  const [query, setQuery] = useState("");
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [force, setForce] = useState(false);
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    const list = q ? items.filter((i) => i.tags.some((t) => t.toLowerCase().includes(q)) || i.id.includes(q)) : items;
    return [...list].sort((a, b) => b.created - a.created);
  }, [items, query]);
  const parent = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: shown.length, getScrollElement: () => parent.current, estimateSize: () => ROW_HEIGHT, overscan: 8 });
  const total = items.reduce((s, i) => s + i.size, 0);

  return (
    <div className="view">
      <PullPanel running={running} onPulled={reload} />
      <div className="toolbar">
        <input className="search" placeholder="Search images" value={query} onChange={(e) => setQuery(e.target.value)} />
        <span className="muted small">
          {items.length} images · {bytes(total)}
        </span>
        <span className="spacer" />
        <button className="btn" disabled={!running} onClick={() => setDialog({ kind: "prune" })}>
          Prune unused
        </button>
      </div>
      {error && <p className="error-text">{error.message}</p>}
      {!running && <p className="empty">Berth is not running. Start it from the dashboard to see images.</p>}
      {running && items.length === 0 && !error && <p className="empty">No images yet. Pull one by name above, or from Docker Hub.</p>}
      {running && items.length > 0 && shown.length === 0 && <p className="empty">No images match.</p>}
      <div className={shown.length ? "vlist" : "vlist is-empty"} ref={parent} data-testid="image-list">
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((v) => (
            <div key={v.key} className="vrow" style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}>
              <ImageLine image={shown[v.index]} onDialog={setDialog} />
            </div>
          ))}
        </div>
      </div>
      {dialog?.kind === "run" && <RunDialog image={dialog.image} onClose={() => setDialog(null)} />}
      {dialog?.kind === "layers" && <LayersDialog image={dialog.image} onClose={() => setDialog(null)} />}
      {dialog?.kind === "tag" && <TagDialog image={dialog.image} onClose={() => setDialog(null)} />}
      {dialog?.kind === "push" && <PushDialog image={dialog.image} onClose={() => setDialog(null)} />}
      {dialog?.kind === "delete" && (
        <Confirm
          title="Delete image"
          text={
            <>
              <p>
                Delete <strong>{dialog.image.tags[0] ?? shortId(dialog.image.id)}</strong>?
              </p>
              <label className="check">
                <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Force (also when stopped containers use it, or it has several tags)
              </label>
            </>
          }
          confirm="Delete"
          danger
          onClose={() => setDialog(null)}
          onConfirm={() => {
            const image = dialog.image;
            api
              .imageRemove(image.tags[0] ?? image.id, force)
              .then(() => toasts.ok(`Deleted ${image.tags[0] ?? shortId(image.id)}`))
              .catch((e) => toasts.fail("Delete failed", e));
          }}
        />
      )}
      {dialog?.kind === "prune" && (
        <Confirm
          title="Prune images"
          text="Delete every image no container uses?"
          confirm="Prune"
          danger
          onClose={() => setDialog(null)}
          onConfirm={() =>
            api
              .imagesPrune(true)
              .then((n) => toasts.ok(`Reclaimed ${bytes(n)}`))
              .catch((e) => toasts.fail("Prune failed", e))
          }
        />
      )}
    </div>
  );
}

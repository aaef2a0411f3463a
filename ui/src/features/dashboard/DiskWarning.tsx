// The dashboard's banner while the VM's data disk is at least 90 % used: how full it is, what
// uses the space (images, build cache, volumes, containers, container logs) and a button per
// kind that prunes it and says what it freed.
import { useState } from "react";
import { api, type DiskWarning, type ReclaimKind } from "../../api";
import { useToasts } from "../../components/Toasts";
import { bytes } from "../../format";

const KINDS: { kind: ReclaimKind; label: string; what: string }[] = [
  { kind: "images", label: "Images", what: "unused images" },
  { kind: "build_cache", label: "Build cache", what: "unused build cache" },
  { kind: "volumes", label: "Volumes", what: "volumes no container uses" },
  { kind: "containers", label: "Containers", what: "stopped containers" },
];

export function DiskBanner({ warning, onReclaimed }: { warning: DiskWarning; onReclaimed: () => void }) {
  const toasts = useToasts();
  const [busy, setBusy] = useState<ReclaimKind | null>(null);
  const full = warning.pressure === "full";
  const reclaim = (kind: ReclaimKind, what: string) => {
    setBusy(kind);
    api
      .diskReclaim(kind)
      .then((freed) => toasts.ok(`Deleted ${what}: ${bytes(freed)} freed`))
      .catch((e) => toasts.fail(`Cannot delete ${what}`, e))
      .finally(() => {
        setBusy(null);
        onReclaimed();
      });
  };
  const b = warning.breakdown;
  return (
    <section className={`card disk-warning ${full ? "full" : ""}`} data-testid="disk-warning" data-pressure={warning.pressure}>
      <h3>{full ? "The data disk is full" : `The data disk is ${warning.percent}% full`}</h3>
      <p>
        {bytes(warning.used_bytes)} used, {bytes(warning.free_bytes)} free of {bytes(warning.total_bytes)}.{" "}
        {full ? "Writes in containers, pulls and builds fail until space is reclaimed." : "Writes in containers, pulls and builds fail once it is full."}
      </p>
      {b ? (
        <table className="disk-usage">
          <thead>
            <tr>
              <th>Uses the space</th>
              <th>Size</th>
              <th>Reclaimable</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {KINDS.map(({ kind, label, what }) => (
              <tr key={kind} data-testid="disk-kind" data-kind={kind}>
                <td>{label}</td>
                <td>{bytes(b[kind].bytes)}</td>
                <td data-testid="disk-reclaimable">{bytes(b[kind].reclaimable_bytes)}</td>
                <td>
                  <button
                    className="btn small"
                    data-testid="disk-reclaim"
                    disabled={!!busy || b[kind].reclaimable_bytes === 0}
                    title={`Delete ${what}`}
                    onClick={() => reclaim(kind, what)}
                  >
                    {busy === kind ? "Reclaiming…" : "Reclaim"}
                  </button>
                </td>
              </tr>
            ))}
            {b.container_logs_bytes != null && (
              <tr data-testid="disk-kind" data-kind="logs">
                <td>Container logs</td>
                <td>{bytes(b.container_logs_bytes)}</td>
                <td className="muted small" colSpan={2}>
                  freed with their containers
                </td>
              </tr>
            )}
          </tbody>
        </table>
      ) : (
        <p className="muted">What uses the space is unknown: {warning.breakdown_error ?? "the engine did not say"}</p>
      )}
    </section>
  );
}

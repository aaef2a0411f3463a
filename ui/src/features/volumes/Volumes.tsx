// Volumes: the list with the containers using each; create, delete, prune.
import { useState } from "react";
import { api } from "../../api";
import { useEngineList } from "../../state/engine";
import { useToasts } from "../../components/Toasts";
import { Confirm, Modal } from "../../components/Modal";
import { bytes } from "../../format";
import { VolumeBrowser } from "./VolumeBrowser";
import { useRunning } from "../../state/vm";

export function Volumes() {
  const running = useRunning();
  const toasts = useToasts();
  const { items, error } = useEngineList(api.volumes, ["volume", "container"]);
  const [name, setName] = useState("");
  const [confirm, setConfirm] = useState<{ title: string; text: string; run: () => void } | null>(null);
  const [browse, setBrowse] = useState<string | null>(null);
  const exportVolume = async (name: string) => {
    try {
      const path = await api.pickSavePath(`${name}.tar`);
      if (!path) return;
      const n = await api.volumeExport(name, path);
      toasts.ok(`Exported ${name} (${bytes(n)}) to ${path}`);
    } catch (e) {
      toasts.fail(`Cannot export ${name}`, e);
    }
  };
  return (
    <div className="view">
      <div className="toolbar">
        <form
          className="pull-form"
          onSubmit={(e) => {
            e.preventDefault();
            api
              .volumeCreate(name)
              .then(() => {
                toasts.ok(`Created ${name}`);
                setName("");
              })
              .catch((err) => toasts.fail("Cannot create the volume", err));
          }}
        >
          <input className="search" placeholder="New volume name" value={name} onChange={(e) => setName(e.target.value)} disabled={!running} />
          <button className="btn primary" disabled={!running || !name.trim()}>
            Create
          </button>
        </form>
        <span className="spacer" />
        <button
          className="btn"
          disabled={!running}
          onClick={() =>
            setConfirm({
              title: "Prune volumes",
              text: "Delete every volume no container uses? Their data is lost.",
              run: () =>
                api
                  .volumesPrune()
                  .then(() => toasts.ok("Unused volumes deleted"))
                  .catch((e) => toasts.fail("Prune failed", e)),
            })
          }
        >
          Prune unused
        </button>
      </div>
      {error && <p className="error-text">{error.message}</p>}
      {!running && <p className="empty">Berth is not running.</p>}
      {running && items.length === 0 && <p className="empty">No volumes.</p>}
      <table className="kv table" data-testid="volume-list">
        <tbody>
          {items.map((v) => (
            <tr key={v.name}>
              <th>{v.name}</th>
              <td className="muted small">{v.size == null ? v.driver : bytes(v.size)}</td>
              <td>{v.users.length ? v.users.join(", ") : <span className="pill">unused</span>}</td>
              <td className="row-actions">
                <button className="btn small" onClick={() => setBrowse(v.name)}>
                  Browse
                </button>
                <button className="btn small" onClick={() => exportVolume(v.name)}>
                  Export
                </button>
                <button
                  className="btn small danger-text"
                  onClick={() =>
                    setConfirm({
                      title: "Delete volume",
                      text: `Delete ${v.name} and its data?`,
                      run: () =>
                        api
                          .volumeRemove(v.name)
                          .then(() => toasts.ok(`Deleted ${v.name}`))
                          .catch((e) => toasts.fail("Delete failed", e)),
                    })
                  }
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {browse && (
        <Modal title={`Volume ${browse}`} onClose={() => setBrowse(null)} wide>
          <VolumeBrowser name={browse} />
        </Modal>
      )}
      {confirm && <Confirm title={confirm.title} text={confirm.text} confirm="Delete" danger onConfirm={confirm.run} onClose={() => setConfirm(null)} />}
    </div>
  );
}

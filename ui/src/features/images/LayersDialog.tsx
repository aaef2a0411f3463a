// An image's layers (history): size and the instruction that created each.
import { useEffect, useState } from "react";
import { api, asAppError, type AppError, type ImageRow, type Layer } from "../../api";
import { Modal } from "../../components/Modal";
import { bytes, shortId } from "../../format";
import { Ago } from "../../components/Time";

export function LayersDialog({ image, onClose }: { image: ImageRow; onClose: () => void }) {
  const [layers, setLayers] = useState<Layer[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useEffect(() => {
    api.imageHistory(image.id).then(setLayers).catch((e) => setError(asAppError(e)));
  }, [image.id]);
  return (
    <Modal title={`Layers of ${image.tags[0] ?? shortId(image.id)}`} onClose={onClose} wide>
      <div className="modal-body">
        {error && <p className="error-text">{error.message}</p>}
        {layers && (
          <table className="kv layers" data-testid="layers">
            <thead>
              <tr>
                <th>Size</th>
                <th>Created</th>
                <th>Created by</th>
              </tr>
            </thead>
            <tbody>
              {layers.map((l, i) => (
                <tr key={i}>
                  <td>{bytes(l.size)}</td>
                  <td className="muted"><Ago unix={l.created} /></td>
                  <td>
                    <code>{l.created_by.replace(/^\/bin\/sh -c #\(nop\)\s*/, "")}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </Modal>
  );
}

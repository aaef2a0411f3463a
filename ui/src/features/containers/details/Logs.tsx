// A container's logs: streamed (follow), searchable, with or without timestamps, virtualized,
// and downloadable to a file.
import { useEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, type LogLine } from "../../../api";
import { useToasts } from "../../../components/Toasts";

const MAX_LINES = 20000;

export function Logs({ id, name, running }: { id: string; name: string; running: boolean }) {
  const toasts = useToasts();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [follow, setFollow] = useState(true);
  const [timestamps, setTimestamps] = useState(false);
  const [query, setQuery] = useState("");
  const [ended, setEnded] = useState(false);
  const parent = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    let streamId: number | null = null;
    let live = true;
    setLines([]);
    setEnded(false);
    api
      .containerLogs(id, { follow: follow && running, timestamps, tail: 5000 }, (batch) => {
        if (!live) return;
        if (batch.lines.length) setLines((l) => (l.length + batch.lines.length > MAX_LINES ? [...l, ...batch.lines].slice(-MAX_LINES) : [...l, ...batch.lines]));
        if (batch.end) setEnded(true);
      })
      .then((s) => {
        streamId = s;
        if (!live) api.cancelStream(s);
      })
      .catch((e) => toasts.fail("Cannot read the logs", e));
    return () => {
      live = false;
      if (streamId != null) api.cancelStream(streamId).catch(() => {});
    };
  }, [id, follow, timestamps, running, toasts]);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return q ? lines.filter((l) => l.text.toLowerCase().includes(q)) : lines;
  }, [lines, query]);
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 18,
    overscan: 20,
  });
  useEffect(() => {
    if (stick.current && shown.length) virtualizer.scrollToIndex(shown.length - 1, { align: "end" });
  }, [shown.length, virtualizer]);

  const download = async () => {
    try {
      const path = await api.pickSavePath(`${name}.log`);
      if (!path) return;
      const n = await api.saveLogs(id, timestamps, path);
      toasts.ok(`Saved ${n} bytes to ${path}`);
    } catch (e) {
      toasts.fail("Cannot save the logs", e);
    }
  };

  return (
    <div className="logs">
      <div className="toolbar">
        <input className="search" placeholder="Search the logs" value={query} onChange={(e) => setQuery(e.target.value)} data-testid="log-search" />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label className="check">
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} /> Timestamps
        </label>
        <button className="btn small" onClick={download}>
          Download
        </button>
      </div>
      <div
        className="log-view"
        ref={parent}
        data-testid="log-view"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
        }}
      >
        {shown.length === 0 && <p className="muted small">{ended ? "No output." : "Waiting for output…"}</p>}
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((v) => {
            const l = shown[v.index];
            return (
              <div key={v.key} className={`log-line ${l.stream}`} data-testid="log-line" style={{ transform: `translateY(${v.start}px)` }}>
                {l.text}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

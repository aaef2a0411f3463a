// The logs of every container of a compose project, interleaved as they arrive and prefixed
// with the service name (like `docker compose logs -f`).
import { useEffect, useRef, useState } from "react";
import { api, type ContainerRow } from "../../api";
import { useToasts } from "../../components/Toasts";

const MAX = 5000;

export function StackLogs({ members }: { members: ContainerRow[] }) {
  const toasts = useToasts();
  const [lines, setLines] = useState<{ who: string; text: string; err: boolean }[]>([]);
  const pre = useRef<HTMLDivElement>(null);
  const ids = members.map((m) => m.id).join(",");
  useEffect(() => {
    let live = true;
    const streams: number[] = [];
    for (const m of members) {
      const who = m.service ?? m.name;
      api
        .containerLogs(m.id, { follow: m.state === "running", timestamps: false, tail: 200 }, (b) => {
          if (!live || !b.lines.length) return;
          setLines((l) => [...l, ...b.lines.map((x) => ({ who, text: x.text, err: x.stream === "stderr" }))].slice(-MAX));
        })
        .then((s) => {
          if (live) streams.push(s);
          else api.cancelStream(s).catch(() => {});
        })
        .catch((e) => toasts.fail(`Cannot read the logs of ${who}`, e));
    }
    return () => {
      live = false;
      for (const s of streams) api.cancelStream(s).catch(() => {});
    };
  }, [ids, toasts]);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [lines]);
  return (
    <div className="modal-body">
      <div className="log-view stack-logs" ref={pre} data-testid="stack-logs">
        {lines.map((l, i) => (
          <div key={i} className={`stack-line ${l.err ? "stderr" : ""}`}>
            <span className="who">{l.who} |</span> {l.text}
          </div>
        ))}
      </div>
    </div>
  );
}

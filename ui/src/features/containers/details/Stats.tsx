// Live graphs of a running container's CPU, memory, network and block I/O (one sample a second,
// the last two minutes).
import { useEffect, useState } from "react";
import { api, type StatsSample } from "../../../api";
import { Graph } from "../../../components/Graph";
import { bytes, percent } from "../../../format";
import { useToasts } from "../../../components/Toasts";

const KEEP = 120;

export function Stats({ id }: { id: string }) {
  const toasts = useToasts();
  const [samples, setSamples] = useState<StatsSample[]>([]);
  useEffect(() => {
    let streamId: number | null = null;
    let live = true;
    api
      .containerStats(id, (s) => live && setSamples((x) => [...x.slice(-(KEEP - 1)), s]))
      .then((s) => {
        streamId = s;
        if (!live) api.cancelStream(s);
      })
      .catch((e) => toasts.fail("Cannot read the stats", e));
    return () => {
      live = false;
      if (streamId != null) api.cancelStream(streamId).catch(() => {});
    };
  }, [id, toasts]);
  const last = samples[samples.length - 1];
  // Network and block I/O arrive as totals; the graphs show the rate per sample.
  const rate = (f: (s: StatsSample) => number) => samples.slice(1).map((s, i) => Math.max(0, f(s) - f(samples[i])));
  if (!last) return <p className="muted">Waiting for the first sample…</p>;
  return (
    <div className="stats-grid" data-testid="stats">
      <Graph label="CPU" value={percent(last.cpu_percent)} series={[samples.map((s) => s.cpu_percent)]} />
      <Graph label="Memory" value={`${bytes(last.memory_bytes)} / ${bytes(last.memory_limit)}`} series={[samples.map((s) => s.memory_bytes)]} />
      <Graph label="Network rx / tx per s" value={`${bytes(last.net_rx)} / ${bytes(last.net_tx)} total`} series={[rate((s) => s.net_rx), rate((s) => s.net_tx)]} />
      <Graph label="Block read / write per s" value={`${bytes(last.block_read)} / ${bytes(last.block_write)} total`} series={[rate((s) => s.block_read), rate((s) => s.block_write)]} />
    </div>
  );
}

// A small live line graph (SVG): the last N samples of one or two series.
export function Graph({
  series,
  max,
  label,
  value,
  colors = ["var(--accent)", "var(--accent-2)"],
}: {
  series: number[][];
  max?: number;
  label: string;
  value: string;
  colors?: string[];
}) {
  const W = 240;
  const H = 64;
  const n = Math.max(2, ...series.map((s) => s.length));
  const top = max ?? Math.max(1, ...series.flat());
  const path = (s: number[]) =>
    s
      .map((v, i) => {
        const x = (i / (n - 1)) * W;
        const y = H - (Math.min(v, top) / top) * (H - 4) - 2;
        return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(" ");
  return (
    <figure className="graph">
      <figcaption>
        <span>{label}</span>
        <strong>{value}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label}>
        {series.map((s, i) => (
          <path key={i} d={path(s)} fill="none" stroke={colors[i % colors.length]} strokeWidth={1.6} vectorEffect="non-scaling-stroke" />
        ))}
      </svg>
    </figure>
  );
}

/** A horizontal usage bar. */
export function Meter({ used, total, label, detail }: { used: number; total: number; label: string; detail: string }) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return (
    <div className="meter">
      <div className="meter-head">
        <span>{label}</span>
        <span className="muted">{detail}</span>
      </div>
      <div className="meter-bar">
        <div className={`meter-fill ${pct > 85 ? "hot" : ""}`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

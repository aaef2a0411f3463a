// Containers grouped by compose project or Swarm stack (a stack's services, with their tasks
// running/desired and published ports, head its task containers), refreshed from the engine's event stream, with search,
// a state filter, per-container and per-project actions, and a details panel. The list is
// virtualized, so hundreds of containers stay smooth.
import { memo, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, type ContainerAction, type ContainerRow, type ProjectAction, type ServiceRow } from "../../api";
import { useEngineList } from "../../state/engine";
import { useToasts } from "../../components/Toasts";
import { Confirm, Modal } from "../../components/Modal";
import { StackLogs } from "./StackLogs";
import { ComposeUp } from "./ComposeUp";
import { ContainerDetails } from "./ContainerDetails";
import { shortId } from "../../format";
import { Ago, ContainerStatus, markRead } from "../../components/Time";
import { useOpenUrl } from "../../components/openUrl";
import { useRunning } from "../../state/vm";

type Filter = "all" | "running" | "stopped";

type Item =
  | { kind: "group"; project: string; count: number; running: number; swarm: boolean }
  | { kind: "service"; service: ServiceRow }
  | { kind: "container"; row: ContainerRow; grouped: boolean };

/** Groups by compose project or Swarm stack (groups first, by name; a stack's `services` head
 * its tasks), filtered by `query` and `filter`. */
export function buildItems(rows: ContainerRow[], query: string, filter: Filter, collapsed: Set<string>, services: ServiceRow[] = []): Item[] {
  const q = query.trim().toLowerCase();
  const keep = rows.filter((r) => {
    if (filter === "running" && r.state !== "running") return false;
    if (filter === "stopped" && r.state === "running") return false;
    if (!q) return true;
    return (
      r.name.toLowerCase().includes(q) ||
      r.image.toLowerCase().includes(q) ||
      r.id.startsWith(q) ||
      (r.project ?? r.stack ?? "").toLowerCase().includes(q) ||
      r.ports.some((p) => String(p.public ?? "").includes(q))
    );
  });
  const groups = new Map<string, ContainerRow[]>();
  const loose: ContainerRow[] = [];
  const stacks = new Map<string, ServiceRow[]>();
  for (const s of services) if (s.stack && (!q || s.name.toLowerCase().includes(q) || s.stack.toLowerCase().includes(q))) stacks.set(s.stack, [...(stacks.get(s.stack) ?? []), s]);
  for (const r of keep) {
    const group = r.project ?? r.stack;
    if (group) {
      const g = groups.get(group) ?? [];
      g.push(r);
      groups.set(group, g);
    } else loose.push(r);
  }
  for (const stack of stacks.keys()) if (!groups.has(stack)) groups.set(stack, []);
  const items: Item[] = [];
  for (const project of [...groups.keys()].sort()) {
    const members = groups.get(project)!.sort((a, b) => a.name.localeCompare(b.name));
    const stackServices = (stacks.get(project) ?? []).sort((a, b) => a.name.localeCompare(b.name));
    const swarm = stackServices.length > 0 || members.some((m) => m.stack === project && !m.project);
    items.push({ kind: "group", project, count: members.length, running: members.filter((m) => m.state === "running").length, swarm });
    if (collapsed.has(project)) continue;
    for (const service of stackServices) items.push({ kind: "service", service });
    for (const row of members) items.push({ kind: "container", row, grouped: true });
  }
  loose.sort((a, b) => b.created - a.created || a.name.localeCompare(b.name));
  for (const row of loose) items.push({ kind: "container", row, grouped: false });
  return items;
}

const ROW_HEIGHT = 48;

/** A Swarm service of a stack: name, mode, tasks running/desired, published ports. */
function ServiceLine({ service, onOpenPort }: { service: ServiceRow; onOpenPort: (port: number) => void }) {
  const published = service.ports.filter((p) => p.public != null);
  return (
    <div className="row grouped" data-testid="service-row" data-name={service.name}>
      <div className="cell name">
        <strong>{service.name}</strong>
        <span className="muted small" data-testid="service-tasks">
          service · {service.mode} · {service.running}/{service.desired} running
        </span>
      </div>
      <div className="cell ports">
        {published.map((p) => (
          <button key={`${p.public}/${p.protocol}`} className="link small" onClick={() => onOpenPort(p.public!)} title={`${p.ip} port`}>
            {p.public}:{p.private}
          </button>
        ))}
      </div>
    </div>
  );
}

const Row = memo(function Row({
  row,
  grouped,
  selected,
  onSelect,
  onAction,
  onOpenPort,
}: {
  row: ContainerRow;
  grouped: boolean;
  selected: boolean;
  onSelect: (id: string) => void;
  onAction: (row: ContainerRow, a: ContainerAction) => void;
  onOpenPort: (port: number) => void;
}) {
  const running = row.state === "running";
  const paused = row.state === "paused";
  const published = row.ports.filter((p) => p.public != null);
  return (
    <div
      className={`row ${selected ? "selected" : ""} ${grouped ? "grouped" : ""}`}
      data-testid="container-row"
      data-name={row.name}
      data-state={row.state}
      onClick={() => onSelect(row.id)}
    >
      <span className={`state-dot s-${row.state}`} title={row.state} />
      <div className="cell name">
        <strong>{row.service ?? row.name}</strong>
        <span className="muted small">
          {shortId(row.id)} · <ContainerStatus row={row} />
        </span>
      </div>
      <div className="cell image" title={row.image}>
        {row.image}
      </div>
      <div className="cell ports">
        {published.slice(0, 2).map((p) => (
          <button
            key={`${p.public}/${p.protocol}`}
            className="link"
            data-testid="open-port"
            title={`Open http://localhost:${p.public} in the browser`}
            onClick={(e) => {
              e.stopPropagation();
              onOpenPort(p.public!);
            }}
          >
            {p.public}:{p.private}
          </button>
        ))}
        {published.length > 2 && <span className="muted small">+{published.length - 2}</span>}
      </div>
      <div className="cell created muted small">
        <Ago unix={row.created} />
      </div>
      <div className="cell row-actions" onClick={(e) => e.stopPropagation()}>
        {running || paused ? (
          <button className="btn small" data-testid="stop" onClick={() => onAction(row, "stop")}>
            Stop
          </button>
        ) : (
          <button className="btn small" data-testid="start" onClick={() => onAction(row, "start")}>
            Start
          </button>
        )}
        <button className="btn small" disabled={!running} onClick={() => onAction(row, "restart")}>
          Restart
        </button>
        <button className="btn small" disabled={!running && !paused} onClick={() => onAction(row, paused ? "unpause" : "pause")}>
          {paused ? "Resume" : "Pause"}
        </button>
        <button className="btn small danger-text" data-testid="delete" onClick={() => onAction(row, "remove")}>
          Delete
        </button>
      </div>
    </div>
  );
});

export function Containers() {
  const running = useRunning();
  const toasts = useToasts();
  const { items: rows, error, reload } = useEngineList(api.containers, ["container"]);
  const { items: services } = useEngineList(api.services, ["service", "node"]);
  const [query, setQuery] = useState("");
  const [filter, setFilter] = useState<Filter>("all");
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ title: string; text: string; run: () => void } | null>(null);
  const [stackLogs, setStackLogs] = useState<string | null>(null);
  const [composeUp, setComposeUp] = useState(false);
  // The rows' status texts count from when they were loaded.
  useMemo(() => markRead(rows), [rows]);
  const items = useMemo(() => buildItems(rows, query, filter, collapsed, services), [rows, query, filter, collapsed, services]);
  const parent = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => parent.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });

  const run = (label: string, f: () => Promise<unknown>) =>
    f()
      .then(() => toasts.ok(label))
      .catch((e) => {
        toasts.fail(`${label} failed`, e);
        reload();
      });

  const onAction = (row: ContainerRow, a: ContainerAction) => {
    const go = () => run(`${a[0].toUpperCase()}${a.slice(1)} ${row.name}`, () => api.containerAction(row.id, a));
    if (a === "remove") {
      setConfirm({ title: "Delete container", text: `Delete ${row.name}? Its anonymous volumes go with it.`, run: go });
    } else go();
  };
  const onProject = (project: string, a: ProjectAction) => {
    const go = () => run(`${a === "down" ? "Down" : a[0].toUpperCase() + a.slice(1)} ${project}`, () => api.projectAction(project, a));
    if (a === "down") setConfirm({ title: "Compose down", text: `Remove every container and network of ${project}?`, run: go });
    else go();
  };
  const openUrl = useOpenUrl();
  const onOpenPort = (port: number) => openUrl(`http://localhost:${port}`);
  const selectedRow = rows.find((r) => r.id === selected) ?? null;

  return (
    <div className="view split">
      <div className={`list-pane ${selectedRow ? "compact" : ""}`}>
        <div className="toolbar">
          <input className="search" placeholder="Search name, image, project, port…" value={query} onChange={(e) => setQuery(e.target.value)} data-testid="container-search" />
          <div className="segmented">
            {(["all", "running", "stopped"] as Filter[]).map((f) => (
              <button key={f} className={filter === f ? "on" : ""} onClick={() => setFilter(f)}>
                {f[0].toUpperCase() + f.slice(1)}
              </button>
            ))}
          </div>
          <span className="muted small" data-testid="container-count">
            {rows.length} container{rows.length === 1 ? "" : "s"}
          </span>
          <span className="spacer" />
          <button className="btn small" disabled={!running} onClick={() => setComposeUp(true)} data-testid="compose-up-open">
            Compose up…
          </button>
        </div>
        {error && <p className="error-text">{error.message}</p>}
        {!running && <p className="empty">Berth is not running. Start it from the dashboard to see containers.</p>}
        {running && rows.length === 0 && !error && <p className="empty">No containers yet. Run one from the Images view.</p>}
        {running && rows.length > 0 && items.length === 0 && <p className="empty">No containers match.</p>}
        {/* Kept mounted (the virtualizer holds it), hidden while it has no rows. */}
        <div className={items.length ? "vlist" : "vlist is-empty"} ref={parent} data-testid="container-list">
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((v) => {
              const item = items[v.index];
              return (
                <div key={v.key} className="vrow" style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}>
                  {item.kind === "group" ? (
                    <div className="row group" data-testid="project-row" data-project={item.project}>
                      <button
                        className="icon-btn"
                        aria-label={collapsed.has(item.project) ? "Expand" : "Collapse"}
                        onClick={() =>
                          setCollapsed((c) => {
                            const n = new Set(c);
                            if (n.has(item.project)) n.delete(item.project);
                            else n.add(item.project);
                            return n;
                          })
                        }
                      >
                        {collapsed.has(item.project) ? "▸" : "▾"}
                      </button>
                      <div className="cell name">
                        <strong>{item.project}</strong>
                        <span className="muted small">
                          {item.swarm ? "stack" : "compose"} · {item.running}/{item.count} running
                        </span>
                      </div>
                      <div className="cell row-actions" hidden={item.swarm}>
                        <button className="btn small" data-testid="stack-logs-open" onClick={() => setStackLogs(item.project)}>
                          Logs
                        </button>
                        <button className="btn small" onClick={() => onProject(item.project, "start")}>
                          Start
                        </button>
                        <button className="btn small" onClick={() => onProject(item.project, "stop")}>
                          Stop
                        </button>
                        <button className="btn small" onClick={() => onProject(item.project, "restart")}>
                          Restart
                        </button>
                        <button className="btn small danger-text" data-testid="stack-down" onClick={() => onProject(item.project, "down")}>
                          Down
                        </button>
                      </div>
                    </div>
                  ) : item.kind === "service" ? (
                    <ServiceLine service={item.service} onOpenPort={onOpenPort} />
                  ) : (
                    <Row row={item.row} grouped={item.grouped} selected={item.row.id === selected} onSelect={setSelected} onAction={onAction} onOpenPort={onOpenPort} />
                  )}
                </div>
              );
            })}
          </div>
        </div>
      </div>
      {selectedRow && <ContainerDetails key={selectedRow.id} row={selectedRow} onAction={onAction} onClose={() => setSelected(null)} />}
      {composeUp && <ComposeUp onClose={() => setComposeUp(false)} />}
      {stackLogs && (
        <Modal title={`Logs of ${stackLogs}`} onClose={() => setStackLogs(null)} wide>
          <StackLogs members={rows.filter((r) => r.project === stackLogs)} />
        </Modal>
      )}
      {confirm && <Confirm title={confirm.title} text={confirm.text} confirm="Delete" danger onConfirm={confirm.run} onClose={() => setConfirm(null)} />}
    </div>
  );
}

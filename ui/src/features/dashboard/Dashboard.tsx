// The dashboard: the VM's state with start/stop/restart, the start-up phases as they are
// published, the engine's version, host and guest CPU, memory and disk, and a banner while the
// guest's data disk is nearly full.
import { useEffect, useRef, useState } from "react";
import { api, type Dashboard as Figures, type EngineInfo, type VmView } from "../../api";
import { Meter } from "../../components/Graph";
import { useToasts } from "../../components/Toasts";
import { bytes, duration, percent } from "../../format";
import { useEngineEvents } from "../../state/engine";
import { DiskBanner } from "./DiskWarning";
import { useVm } from "../../state/vm";

const STATE_LABEL: Record<VmView["state"], string> = {
  starting: "Starting",
  running: "Running",
  paused: "Paused to save power",
  stopping: "Stopping",
  stopped: "Stopped",
  error: "Failed",
};

export function StateBadge({ vm }: { vm: VmView }) {
  return (
    <span className={`badge state-${vm.state}`} data-testid="vm-state">
      <span className="dot" />
      {STATE_LABEL[vm.state]}
    </span>
  );
}

/** Phases seen since the VM last left the stopped state, oldest first. */
function usePhases(vm: VmView): string[] {
  const [phases, setPhases] = useState<string[]>([]);
  const last = useRef<VmView["state"]>(vm.state);
  useEffect(() => {
    if (vm.state === "starting" && last.current !== "starting") setPhases([]);
    last.current = vm.state;
    if (vm.phase && vm.state !== "stopped") {
      setPhases((p) => (p[p.length - 1] === vm.phase ? p : [...p.slice(-11), vm.phase!]));
    }
  }, [vm.state, vm.phase]);
  return phases;
}

export function Dashboard({ onOpenSettings }: { onOpenSettings?: () => void }) {
  const vm = useVm();
  const toasts = useToasts();
  const [busy, setBusy] = useState<string | null>(null);
  const [figures, setFigures] = useState<Figures | null>(null);
  const [engine, setEngine] = useState<EngineInfo | null>(null);
  const phases = usePhases(vm);
  const running = vm.state === "running";

  const live = useRef(true);
  const load = () =>
    api
      .dashboard()
      .then((f) => live.current && setFigures(f))
      .catch(() => {});
  useEffect(() => {
    live.current = true;
    load();
    // Resource figures change continuously: sample them every 2 s while the dashboard is shown.
    const t = setInterval(load, 2000);
    return () => {
      live.current = false;
      clearInterval(t);
    };
  }, []);
  const loadEngine = () => api.engineInfo().then(setEngine).catch(() => setEngine(null));
  useEffect(() => {
    if (!running) return setEngine(null);
    loadEngine();
  }, [running]);
  // Container and image counts follow the engine's events.
  useEngineEvents(["container", "image"], (e) => {
    if (running && (e.kind !== "container" || ["create", "destroy", "start", "die"].includes(e.action))) loadEngine();
  });

  const act = (label: string, f: () => Promise<unknown>, done: string) => {
    setBusy(label);
    f()
      .then(() => toasts.ok(done))
      .catch((e) => toasts.fail(`${label} failed`, e))
      .finally(() => setBusy(null));
  };

  const canStart = vm.state === "stopped" || vm.state === "error";
  const guest = figures?.guest;
  return (
    <div className="view dashboard">
      <section className="card vm-card">
        <div className="vm-head">
          <div>
            <h2>Berth VM</h2>
            <StateBadge vm={vm} />
          </div>
          <div className="actions">
            <button className="btn primary" data-testid="vm-start" disabled={!canStart || !!busy} onClick={() => act("Start", api.vmStart, "Berth is running")}>
              {busy === "Start" ? "Starting…" : "Start"}
            </button>
            <button className="btn" data-testid="vm-stop" disabled={canStart || !!busy} onClick={() => act("Stop", api.vmStop, "Berth stopped")}>
              {busy === "Stop" ? "Stopping…" : "Stop"}
            </button>
            <button className="btn" data-testid="vm-restart" disabled={!running || !!busy} onClick={() => act("Restart", api.vmRestart, "Berth restarted")}>
              Restart
            </button>
            {vm.state === "paused" && (
              <button className="btn primary" data-testid="vm-resume" disabled={!!busy} onClick={() => act("Resume", api.vmResume, "Berth resumed")}>
                {busy === "Resume" ? "Resuming…" : "Resume"}
              </button>
            )}
          </div>
        </div>
        {vm.state === "error" && vm.error && (
          <p className="error-text" data-testid="vm-error" data-code={vm.error.code}>
            {vm.error.message}
            {vm.error.field && onOpenSettings && (
              <>
                {" "}
                <button className="btn small" data-testid="vm-error-fix" onClick={onOpenSettings}>
                  Fix in Settings
                </button>
              </>
            )}
          </p>
        )}
        {(vm.state === "starting" || (phases.length > 0 && vm.state !== "stopped")) && (
          <ol className="phases" data-testid="phases">
            {phases.map((p, i) => (
              <li key={i} className={i === phases.length - 1 ? (vm.state === "starting" ? "current" : vm.state === "error" ? "failed" : "done") : "done"}>
                {p}
              </li>
            ))}
          </ol>
        )}
        {vm.state === "paused" && (
          <p className="muted small" data-testid="vm-paused">
            Nothing used the VM, so Berth paused it to save power. Any <code>docker</code> command, published port or shell resumes it.
          </p>
        )}
        {running && vm.engine_socket && (
          <p className="muted small">
            Engine socket <code>{vm.engine_socket}</code> — try <code>docker --context berth ps</code>
          </p>
        )}
      </section>

      {running && figures?.disk_warning && <DiskBanner warning={figures.disk_warning} onReclaimed={load} />}

      <div className="grid-3">
        <section className="card">
          <h3>Engine</h3>
          {engine ? (
            <dl className="facts">
              <dt>Version</dt>
              <dd data-testid="engine-version">{engine.version}</dd>
              <dt>API</dt>
              <dd>{engine.api_version}</dd>
              <dt>Containers</dt>
              <dd>
                {engine.running} running / {engine.containers}
              </dd>
              <dt>Images</dt>
              <dd>{engine.images}</dd>
            </dl>
          ) : (
            <p className="muted">{running ? "Connecting…" : "Not running"}</p>
          )}
        </section>
        <section className="card">
          <h3>Guest</h3>
          {guest ? (
            <>
              <Meter label="CPU" used={guest.cpu_percent} total={100} detail={`${percent(guest.cpu_percent)} · load ${guest.load1.toFixed(2)}`} />
              <Meter label="Memory" used={guest.memory_used_bytes} total={guest.memory_total_bytes} detail={`${bytes(guest.memory_used_bytes)} / ${bytes(guest.memory_total_bytes)}`} />
              <Meter label="Data disk" used={guest.disk_used_bytes} total={guest.disk_total_bytes} detail={`${bytes(guest.disk_used_bytes)} / ${bytes(guest.disk_total_bytes)}`} />
              <p className="muted small">Up {duration(guest.uptime_ms)}</p>
            </>
          ) : (
            <p className="muted">Figures appear once the VM runs.</p>
          )}
        </section>
        <section className="card">
          <h3>Host</h3>
          {figures ? (
            <>
              <Meter label="CPU" used={figures.host.cpu_percent} total={100} detail={`${percent(figures.host.cpu_percent)} of ${figures.host.cpus} CPUs`} />
              <Meter label="Memory" used={figures.host.memory_used} total={figures.host.memory_total} detail={`${bytes(figures.host.memory_used)} / ${bytes(figures.host.memory_total)}`} />
              <Meter
                label="Disk"
                used={figures.host.disk_total - figures.host.disk_free}
                total={figures.host.disk_total}
                detail={`${bytes(figures.host.disk_free)} free of ${bytes(figures.host.disk_total)}`}
              />
            </>
          ) : (
            <p className="muted">…</p>
          )}
        </section>
      </div>
    </div>
  );
}

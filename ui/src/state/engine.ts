// Shared React hooks: the VM state (pushed by the Rust state watch), engine events (pushed by
// the engine's event stream) and a debounced refresh driven by them.
import { useCallback, useEffect, useRef, useState } from "react";
import { listen } from "@tauri-apps/api/event";
import { api, asAppError, type AppError, type VmView } from "./api";

export interface EngineEvent {
  kind: string;
  action: string;
  id: string;
}

const STOPPED: VmView = { state: "stopped", phase: null, error: null, engine_socket: null };

/** The VM's state, kept current by `vm-state` events. */
export function useVm(): VmView {
  const [vm, setVm] = useState<VmView>(STOPPED);
  useEffect(() => {
    let live = true;
    const un = listen<VmView>("vm-state", (e) => live && setVm(e.payload));
    api.vmState().then((v) => live && setVm(v)).catch(() => {});
    return () => {
      live = false;
      un.then((f) => f()).catch(() => {});
    };
  }, []);
  return vm;
}

/** Calls `onEvent` for every engine event whose kind is in `kinds` (or "engine" reconnects). */
export function useEngineEvents(kinds: string[], onEvent: (e: EngineEvent) => void) {
  const ref = useRef(onEvent);
  ref.current = onEvent;
  const key = kinds.join(",");
  useEffect(() => {
    const wanted = new Set(key.split(","));
    const un = listen<EngineEvent>("engine-event", (e) => {
      if (wanted.has(e.payload.kind) || e.payload.kind === "engine") ref.current(e.payload);
    });
    return () => {
      un.then((f) => f()).catch(() => {});
    };
  }, [key]);
}

/**
 * A list loaded from the engine, reloaded (debounced) on engine events of `kinds` and when the
 * VM starts running. No polling.
 */
export function useEngineList<T>(load: () => Promise<T[]>, kinds: string[], running: boolean) {
  const [items, setItems] = useState<T[]>([]);
  const [error, setError] = useState<AppError | null>(null);
  const [loading, setLoading] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => {
    setLoading(true);
    loadRef
      .current()
      .then((list) => {
        setItems(list);
        setError(null);
      })
      .catch((e) => setError(asAppError(e)))
      .finally(() => setLoading(false));
  }, []);
  useEffect(() => {
    if (running) reload();
    else setItems([]);
  }, [running, reload]);
  useEngineEvents(kinds, () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(reload, 120);
  });
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  return { items, error, loading, reload };
}

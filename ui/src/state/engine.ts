// The engine's events (pushed by its event stream as ENGINE_EVENTs) and a list from the engine
// that a debounced refresh driven by them keeps current.
import { useCallback, useEffect, useRef, useState } from "react";
import { listen } from "@tauri-apps/api/event";
import { asAppError, ENGINE_EVENT, type AppError, type EngineEvent } from "../api";
import { useRunning } from "./vm";

/** Calls `onEvent` for every engine event whose kind is in `kinds` (or "engine" reconnects). */
export function useEngineEvents(kinds: string[], onEvent: (e: EngineEvent) => void) {
  const ref = useRef(onEvent);
  ref.current = onEvent;
  const key = kinds.join(",");
  useEffect(() => {
    const wanted = new Set(key.split(","));
    const un = listen<EngineEvent>(ENGINE_EVENT, (e) => {
      if (wanted.has(e.payload.kind) || e.payload.kind === "engine") ref.current(e.payload);
    });
    return () => {
      un.then((f) => f()).catch(() => {});
    };
  }, [key]);
}

/**
 * A list loaded from the engine, reloaded (debounced) on engine events of `kinds` and when the
 * VM starts running (useRunning). No polling.
 */
export function useEngineList<T>(load: () => Promise<T[]>, kinds: string[]) {
  const running = useRunning();
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

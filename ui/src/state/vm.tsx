// The VM's state for the whole window: VmProvider keeps one VmView current from the Rust state
// watch (VM_EVENT), and every view reads it with useVm (or useRunning) instead of a prop.
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { listen } from "@tauri-apps/api/event";
import { api, VM_EVENT, type EventPayloads, type VmView } from "../api";

const STOPPED: VmView = { state: "stopped", phase: null, error: null, engine_socket: null };

const VmContext = createContext<VmView>(STOPPED);

/** Follows the VM's state: asks for it once, then takes every VM_EVENT (`initial` until then). */
export function VmProvider({ children, initial = STOPPED }: { children: ReactNode; initial?: VmView }) {
  const [vm, setVm] = useState<VmView>(initial);
  useEffect(() => {
    let live = true;
    const un = listen<EventPayloads[typeof VM_EVENT]>(VM_EVENT, (e) => live && setVm(e.payload));
    api.vmState().then((v) => live && setVm(v)).catch(() => {});
    return () => {
      live = false;
      un.then((f) => f()).catch(() => {});
    };
  }, []);
  return <VmContext.Provider value={vm}>{children}</VmContext.Provider>;
}

/** The VM's state now (stopped outside a VmProvider). */
export function useVm(): VmView {
  return useContext(VmContext);
}

/** Whether the engine serves: a paused VM serves too (the first request of a view resumes it). */
export function useRunning(): boolean {
  const { state } = useVm();
  return state === "running" || state === "paused";
}

// The Backend of the real app: each method invokes the src-tauri command of its name with its
// arguments (in the browser tests, mockIPC answers them from the mock backend).
import { invoke, type InvokeArgs } from "@tauri-apps/api/core";
import type { Backend } from "./backend";

export const tauriBackend: Backend = new Proxy({} as Backend, {
  get: (_target, command) => (args: InvokeArgs) => invoke(String(command), args),
});

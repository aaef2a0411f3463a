// The app over the mock backend, for browser tests and the benchmark (built into dist-mock by
// vite.mock.config.ts). URL parameters: containers, images, vm, view, disk (nearly_full, full),
// stack (any value adds a Swarm stack), opener=fails (no browser opens).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App, type ViewName } from "../App";
import { installMock, makeContainers } from "../api/mock";
import "../styles.css";

const params = new URLSearchParams(location.search);
const backend = installMock({
  containers: Number(params.get("containers") ?? 6),
  images: Number(params.get("images") ?? 4),
  vm: (params.get("vm") as "running" | "stopped" | null) ?? "running",
  disk: (params.get("disk") as "nearly_full" | "full" | null) ?? undefined,
  stack: params.has("stack"),
  opener: params.get("opener") === "fails" ? "fails" : undefined,
});
(window as any).__mock = backend;
(window as any).__makeContainers = makeContainers;
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App initial={(params.get("view") as ViewName) ?? "dashboard"} />
  </StrictMode>,
);

// Vitest set-up: unmount React trees between tests and give jsdom what the components use.
import { afterEach } from "vitest";
import { cleanup } from "@testing-library/react";
import { clearMocks } from "@tauri-apps/api/mocks";

class NoResize {
  observe() {}
  unobserve() {}
  disconnect() {}
}
(globalThis as any).ResizeObserver ??= NoResize;

afterEach(() => {
  cleanup();
  clearMocks();
});

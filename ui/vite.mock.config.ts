// Builds the app over the mock backend (mock.html) into dist-mock, for browser tests and the
// render benchmark. The shipped app is built by vite.config.ts.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist-mock", emptyOutDir: true, chunkSizeWarningLimit: 2048, rollupOptions: { input: "mock.html" } },
});

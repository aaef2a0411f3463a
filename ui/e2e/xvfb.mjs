// A private X server for the real-window suite and the memory benchmark: Xvfb picks a free
// display itself (-displayfd), so parallel runs never collide.
import { spawn } from "node:child_process";

export function startXvfb(env) {
  const child = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x860x24", "-nolisten", "tcp"], {
    env,
    stdio: ["ignore", "ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => (err = (err + d).slice(-2000)));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`Xvfb did not start: ${err}`)), 15000);
    child.stdio[3].on("data", (d) => {
      out += d;
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve({ display: `:${out.trim()}`, child });
      }
    });
    child.on("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${err}`)));
  });
}

export function freePort() {
  return import("node:net").then(
    ({ createServer }) =>
      new Promise((resolve, reject) => {
        const s = createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
          const { port } = s.address();
          s.close(() => resolve(port));
        });
      }),
  );
}

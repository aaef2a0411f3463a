// A shell in the container (docker exec on a TTY) rendered by xterm.js; keystrokes (in order,
// through `inputQueue`) and resizes go back to the engine.
import { useEffect, useRef, useState } from "react";
import { Terminal as Xterm } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { api } from "../../../api";
import { useToasts } from "../../../components/Toasts";
import { inputQueue } from "./inputQueue";

export function Terminal({ id }: { id: string }) {
  const toasts = useToasts();
  const host = useRef<HTMLDivElement>(null);
  const [exited, setExited] = useState(false);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!host.current) return;
    const term = new Xterm({
      fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace",
      fontSize: 13,
      cursorBlink: true,
      theme: { background: "#0f1420", foreground: "#d8dee9" },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current);
    try {
      fit.fit();
    } catch {
      /* not laid out yet */
    }
    let session: number | null = null;
    let live = true;
    setExited(false);
    api
      .terminalOpen(id, term.cols, term.rows, (o) => {
        if (!live) return;
        if (o.type === "data") term.write(o.data);
        else setExited(true);
      })
      .then((s) => {
        session = s;
        if (!live) api.terminalClose(s);
        term.focus();
      })
      .catch((e) => toasts.fail("Cannot open a terminal", e));
    const send = inputQueue(
      (d) => api.terminalInput(session as number, d),
      () => setExited(true),
    );
    const input = term.onData((d) => session != null && send(d));
    const resize = term.onResize(({ cols, rows }) => session != null && api.terminalResize(session, cols, rows).catch(() => {}));
    const observer = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        /* hidden */
      }
    });
    observer.observe(host.current);
    return () => {
      live = false;
      observer.disconnect();
      input.dispose();
      resize.dispose();
      if (session != null) api.terminalClose(session).catch(() => {});
      term.dispose();
    };
  }, [id, generation, toasts]);
  return (
    <div className="terminal-wrap">
      {exited && (
        <div className="terminal-exit">
          The shell exited.{" "}
          <button className="btn small" onClick={() => setGeneration((g) => g + 1)}>
            Open a new one
          </button>
        </div>
      )}
      <div className="terminal" ref={host} data-testid="terminal" />
    </div>
  );
}

// Notices at the bottom right: successes fade out, warnings stay until dismissed, failures stay
// too and offer the fix their error code calls for (e.g. "Start Berth" when the VM is not
// running). A failure about an address (a port the browser could not open) shows the address
// selectable with a Copy button, and the raw error behind "Details".
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { api, asAppError, type AppError } from "../api";

interface Toast {
  id: number;
  kind: "ok" | "warn" | "error";
  text: string;
  detail?: string;
  error?: AppError;
  /** Text the user may want instead (an address): shown selectable, with a Copy button. */
  copy?: string;
}

export interface FailOptions {
  /** Shown selectable with a Copy button; the error's own message then goes behind "Details". */
  copy?: string;
}

interface ToastApi {
  ok: (text: string) => void;
  warn: (text: string, detail: string) => void;
  fail: (what: string, e: unknown, options?: FailOptions) => void;
}

const Ctx = createContext<ToastApi>({ ok: () => {}, warn: () => {}, fail: () => {} });

export function useToasts(): ToastApi {
  return useContext(Ctx);
}

/** The fix each error code offers, if any. */
export function fixFor(error: AppError): { label: string; run: () => Promise<unknown> } | null {
  switch (error.code) {
    case "vm_not_running":
      return { label: "Start Berth", run: () => api.vmStart() };
    case "engine_unreachable":
      return { label: "Restart Berth", run: () => api.vmRestart() };
    default:
      return null;
  }
}

let nextId = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setToasts((t) => t.filter((x) => x.id !== id)), []);
  const ok = useCallback(
    (text: string) => {
      const id = nextId++;
      setToasts((t) => [...t.slice(-4), { id, kind: "ok", text }]);
      setTimeout(() => dismiss(id), 3500);
    },
    [dismiss],
  );
  const warn = useCallback((text: string, detail: string) => {
    const id = nextId++;
    setToasts((t) => [...t.slice(-4), { id, kind: "warn", text, detail }]);
  }, []);
  const fail = useCallback((what: string, e: unknown, options?: FailOptions) => {
    const error = asAppError(e);
    if (error.code === "cancelled") return;
    const id = nextId++;
    setToasts((t) => [...t.slice(-4), { id, kind: "error", text: what, error, copy: options?.copy }]);
  }, []);
  const value = useMemo(() => ({ ok, warn, fail }), [ok, warn, fail]);
  return (
    <Ctx.Provider value={value}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => {
          const fix = t.error ? fixFor(t.error) : null;
          return (
            <div key={t.id} className={`toast toast-${t.kind}`} data-testid={`toast-${t.kind}`} data-code={t.error?.code}>
              <div className="toast-body">
                <strong>{t.text}</strong>
                {t.detail && <span>{t.detail}</span>}
                {t.copy && <CopyText text={t.copy} />}
                {t.error &&
                  (t.copy ? (
                    <details className="toast-details">
                      <summary>Details</summary>
                      <span data-testid="toast-details">{t.error.message}</span>
                    </details>
                  ) : (
                    <span>{t.error.message}</span>
                  ))}
              </div>
              {fix && (
                <button
                  className="btn small"
                  onClick={() => {
                    dismiss(t.id);
                    fix.run().catch((e) => fail(fix.label, e));
                  }}
                >
                  {fix.label}
                </button>
              )}
              <button className="icon-btn" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
                ×
              </button>
            </div>
          );
        })}
      </div>
    </Ctx.Provider>
  );
}

/** Copies `text` to the clipboard; where the WebView offers no clipboard API, by selecting
 * `el`'s text and the editing command. */
async function copyText(text: string, el: HTMLElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!el) return false;
    const range = document.createRange();
    range.selectNodeContents(el);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    return document.execCommand?.("copy") ?? false;
  }
}

/** Text to copy: selectable as a whole, with a Copy button that says when it worked. */
function CopyText({ text }: { text: string }) {
  const el = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <span className="copy-text">
      <code ref={el} data-testid="toast-copy-text">
        {text}
      </code>
      <button className="btn small" data-testid="toast-copy" onClick={() => copyText(text, el.current).then(setCopied)}>
        {copied ? "Copied" : "Copy"}
      </button>
      {copied === false && <span className="muted small">Select the address and copy it.</span>}
    </span>
  );
}

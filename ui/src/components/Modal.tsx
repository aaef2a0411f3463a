// A modal dialog and a confirmation built on it. A dialog takes the focus when it opens (its
// `data-autofocus` element, else its first control), keeps Tab and Shift+Tab inside itself,
// closes on Escape (only the topmost of stacked dialogs) and gives the focus back to what had it
// (the button that opened it) when it closes. A confirmation focuses its confirm button and
// Enter confirms.
import { useEffect, useRef, type ReactNode } from "react";

const FOCUSABLE = 'button:not(:disabled), [href], input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [tabindex]:not([tabindex="-1"])';

/** The dialogs open now, in the order they opened. */
const open: HTMLElement[] = [];

/** The dialog keys go to: the last opened of those with no open dialog inside them (a dialog
 * opened from inside another one is in its DOM, and opens before it in effect order). */
function topmost(): HTMLElement | undefined {
  return open.filter((d) => !open.some((o) => o !== d && d.contains(o))).pop();
}

function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((e) => !e.closest("[hidden]"));
}

export function Modal({
  title,
  onClose,
  onEnter,
  children,
  wide,
}: {
  title: string;
  onClose: () => void;
  /** Enter on anything but a button, link or text area (which keep their own Enter). */
  onEnter?: () => void;
  children: ReactNode;
  wide?: boolean;
}) {
  const dialog = useRef<HTMLDivElement>(null);
  // The latest handlers, so the listener below is installed once a dialog.
  const handlers = useRef({ onClose, onEnter });
  handlers.current = { onClose, onEnter };

  useEffect(() => {
    const el = dialog.current!;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    open.push(el);
    const first = el.querySelector<HTMLElement>("[data-autofocus]") ?? focusables(el).find((e) => !e.classList.contains("modal-close")) ?? el;
    first.focus();
    const onKey = (e: KeyboardEvent) => {
      if (topmost() !== el || e.defaultPrevented) return;
      const target = e.target instanceof HTMLElement && el.contains(e.target) ? e.target : null;
      if (e.key === "Escape") {
        e.preventDefault();
        handlers.current.onClose();
      } else if (e.key === "Tab") {
        const all = focusables(el);
        if (all.length === 0) {
          e.preventDefault();
          el.focus();
          return;
        }
        const at = target ? all.indexOf(target) : -1;
        const next = e.shiftKey ? (at <= 0 ? all[all.length - 1] : null) : at === -1 || at === all.length - 1 ? all[0] : null;
        if (next) {
          e.preventDefault();
          next.focus();
        }
      } else if (e.key === "Enter" && target && !e.isComposing) {
        if (target.matches("button, a[href]")) {
          // What the browser does too; done here so it is one click whatever the WebView.
          e.preventDefault();
          target.click();
        } else if (handlers.current.onEnter && !target.matches("textarea")) {
          e.preventDefault();
          handlers.current.onEnter();
        }
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      open.splice(open.indexOf(el), 1);
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className={`modal ${wide ? "modal-wide" : ""}`} role="dialog" aria-modal="true" aria-label={title} tabIndex={-1} ref={dialog}>
        <header>
          <h2>{title}</h2>
          <button className="icon-btn modal-close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

export function Confirm({
  title,
  text,
  confirm,
  danger,
  onConfirm,
  onClose,
}: {
  title: string;
  text: ReactNode;
  confirm: string;
  danger?: boolean;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const done = () => {
    onConfirm();
    onClose();
  };
  return (
    <Modal title={title} onClose={onClose} onEnter={done}>
      <div className="modal-body">{text}</div>
      <footer className="modal-actions">
        <button className="btn" onClick={onClose}>
          Cancel
        </button>
        <button className={`btn ${danger ? "danger" : "primary"}`} data-testid="confirm" data-autofocus onClick={done}>
          {confirm}
        </button>
      </footer>
    </Modal>
  );
}

import { describe, expect, it, vi } from "vitest";
import { useState } from "react";
import { render, screen, fireEvent } from "@testing-library/react";
import { Confirm, Modal } from "./Modal";
import { Troubleshoot } from "../features/troubleshoot/Troubleshoot";
import { ToastProvider } from "./Toasts";
import { installMock } from "../api/mock";

/** A button that opens a confirmation, as the views do. */
function Opener({ onConfirm, extra }: { onConfirm: () => void; extra?: boolean }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button onClick={() => setOpen(true)}>Delete web</button>
      {open && (
        <Confirm
          title="Delete container"
          text={
            <>
              <p>Delete web?</p>
              {extra && (
                <label>
                  <input type="checkbox" data-testid="force" /> Force
                </label>
              )}
            </>
          }
          confirm="Delete"
          danger
          onConfirm={onConfirm}
          onClose={() => setOpen(false)}
        />
      )}
    </>
  );
}

const openIt = (extra = false) => {
  const onConfirm = vi.fn();
  render(<Opener onConfirm={onConfirm} extra={extra} />);
  const opener = screen.getByText("Delete web");
  opener.focus();
  fireEvent.click(opener);
  return { onConfirm, opener };
};

describe("<Confirm>", () => {
  it("focuses its confirm button, keeping its wording", () => {
    openIt();
    expect(document.activeElement).toBe(screen.getByTestId("confirm"));
    expect(screen.getByTestId("confirm").textContent).toBe("Delete");
    expect(screen.getByRole("dialog").getAttribute("aria-modal")).toBe("true");
  });

  it("confirms on Enter and gives the focus back to what opened it", () => {
    const { onConfirm, opener } = openIt();
    fireEvent.keyDown(document.activeElement!, { key: "Enter" });
    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it("confirms on Enter from another control of the dialog (a check box)", () => {
    const { onConfirm } = openIt(true);
    screen.getByTestId("force").focus();
    fireEvent.keyDown(screen.getByTestId("force"), { key: "Enter" });
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });

  it("cancels on Enter on its Cancel button", () => {
    const { onConfirm } = openIt();
    screen.getByText("Cancel").focus();
    fireEvent.keyDown(document.activeElement!, { key: "Enter" });
    expect(onConfirm).not.toHaveBeenCalled();
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("cancels on Escape, focus back on the opener", () => {
    const { onConfirm, opener } = openIt();
    fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    expect(onConfirm).not.toHaveBeenCalled();
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it("keeps Tab inside the dialog", () => {
    openIt();
    const confirm = screen.getByTestId("confirm");
    const close = screen.getByLabelText("Close");
    // The confirm button is the last control: Tab goes round to the first (the close button).
    fireEvent.keyDown(confirm, { key: "Tab" });
    expect(document.activeElement).toBe(close);
    fireEvent.keyDown(close, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(confirm);
    // Focus lost to the page (a click on the backdrop's text): Tab brings it back inside.
    screen.getByText("Delete web").focus();
    fireEvent.keyDown(document.activeElement!, { key: "Tab" });
    expect(screen.getByRole("dialog").contains(document.activeElement)).toBe(true);
  });

  it("is the one to answer Escape when it opens over another dialog", () => {
    const outer = vi.fn();
    const inner = vi.fn();
    render(
      <Modal title="Run" onClose={outer}>
        <input data-testid="first" />
        <Confirm title="Sure?" text="Really?" confirm="Yes" onConfirm={() => {}} onClose={inner} />
      </Modal>,
    );
    fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    expect(inner).toHaveBeenCalledTimes(1);
    expect(outer).not.toHaveBeenCalled();
  });

  it("a plain dialog focuses its first field, not its close button", () => {
    render(
      <Modal title="Tag image" onClose={() => {}}>
        <input data-testid="first" />
      </Modal>,
    );
    expect(document.activeElement).toBe(screen.getByTestId("first"));
  });

  it("Troubleshoot's reset: focused on “Delete everything”, Escape leaves Berth as it was", () => {
    const mock = installMock();
    render(
      <ToastProvider>
        <Troubleshoot />
      </ToastProvider>,
    );
    fireEvent.click(screen.getByText("Reset…"));
    expect(document.activeElement?.textContent).toBe("Delete everything");
    fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(mock.calls.some((c) => c.cmd === "reset")).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { render, screen, fireEvent, waitFor } from "@testing-library/react";
import { foldProgress, PullPanel } from "./PullPanel";
import { installMock } from "../../api/mock";
import { ToastProvider } from "../../components/Toasts";

describe("foldProgress", () => {
  it("tracks each layer's bytes and marks completed layers full", () => {
    let m = foldProgress(new Map(), { layer: "l1", status: "Downloading", current: 10, total: 100 });
    m = foldProgress(m, { layer: "l2", status: "Already exists", current: 0, total: 0 });
    m = foldProgress(m, { layer: "", status: "Digest: sha256:…", current: 0, total: 0 });
    expect(m.get("l1")).toEqual({ status: "Downloading", current: 10, total: 100 });
    expect(m.get("l2")).toEqual({ status: "Already exists", current: 1, total: 1 });
    expect(m.size).toBe(2);
  });
});

describe("<PullPanel>", () => {
  it("streams per-layer progress and reports the pull", async () => {
    installMock();
    let pulled = 0;
    render(
      <ToastProvider>
        <PullPanel running onPulled={() => pulled++} />
      </ToastProvider>,
    );
    fireEvent.change(screen.getByTestId("pull-input"), { target: { value: "busybox" } });
    fireEvent.click(screen.getByTestId("pull-button"));
    await waitFor(() => expect(screen.getAllByTestId("layer-progress")).toHaveLength(2));
    await waitFor(() => expect(pulled).toBe(1));
    expect(screen.getByTestId("pull-status").textContent).toBe("Pulled busybox");
  });
});

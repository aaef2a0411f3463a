import { describe, expect, it } from "vitest";
import { render, screen, fireEvent, waitFor } from "@testing-library/react";
import { buildItems, Containers } from "./Containers";
import { makeContainers, installMock } from "../mock/backend";
import { ToastProvider } from "../components/Toasts";

describe("buildItems", () => {
  const rows = makeContainers(30);
  it("puts compose projects first, each followed by its members", () => {
    const items = buildItems(rows, "", "all", new Set());
    expect(items[0]).toMatchObject({ kind: "group", project: "stack-0" });
    const firstLoose = items.findIndex((i) => i.kind === "container" && !i.grouped);
    expect(items.slice(firstLoose).every((i) => i.kind === "container" && !i.grouped)).toBe(true);
    expect(items.filter((i) => i.kind === "container")).toHaveLength(30);
  });
  it("filters by state and search, and hides collapsed projects' members", () => {
    const running = buildItems(rows, "", "running", new Set()).filter((i) => i.kind === "container");
    expect(running.every((i) => i.kind === "container" && i.row.state === "running")).toBe(true);
    expect(buildItems(rows, "loose-1", "all", new Set()).map((i) => (i.kind === "container" ? i.row.name : i.project))).toEqual(["loose-10", "loose-15"]);
    const collapsed = buildItems(rows, "", "all", new Set(["stack-0", "stack-1"]));
    expect(collapsed.filter((i) => i.kind === "container" && i.grouped)).toHaveLength(0);
  });
});

describe("<Containers>", () => {
  it("loads the engine's containers", async () => {
    const backend = installMock({ containers: 6 });
    render(
      <ToastProvider>
        <Containers running />
      </ToastProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("container-count").textContent).toBe("6 containers"));
    // jsdom has no layout, so the virtual list renders nothing; the count and actions are checked
    // through the backend instead (the browser tests cover the rendered rows).
    expect(backend.calls.some((c) => c.cmd === "containers_list")).toBe(true);
  });

  it("shows the engine's error message when the VM is not running", async () => {
    installMock({ vm: "stopped" });
    render(
      <ToastProvider>
        <Containers running={false} />
      </ToastProvider>,
    );
    expect(await screen.findByText(/Berth is not running/)).toBeTruthy();
    fireEvent.change(screen.getByTestId("container-search"), { target: { value: "x" } });
  });
});

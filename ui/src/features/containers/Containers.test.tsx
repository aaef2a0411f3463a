import { describe, expect, it } from "vitest";
import { render, screen, fireEvent, waitFor } from "@testing-library/react";
import { buildItems, Containers } from "./Containers";
import { makeContainers, makeStack, installMock, RUNNING } from "../../api/mock";
import { VmProvider } from "../../state/vm";
import type { VmView } from "../../api";
import { ToastProvider } from "../../components/Toasts";

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
    expect(buildItems(rows, "loose-1", "all", new Set()).map((i) => (i.kind === "container" ? i.row.name : i.kind === "group" ? i.project : i.service.name))).toEqual(["loose-10", "loose-15"]);
    const collapsed = buildItems(rows, "", "all", new Set(["stack-0", "stack-1"]));
    expect(collapsed.filter((i) => i.kind === "container" && i.grouped)).toHaveLength(0);
  });
  it("groups a Swarm stack's services and tasks under the stack", () => {
    const { services, tasks } = makeStack();
    const items = buildItems([...makeContainers(3), ...tasks], "", "all", new Set(), services);
    const at = items.findIndex((i) => i.kind === "group" && i.project === "shop");
    expect(items[at]).toMatchObject({ kind: "group", swarm: true, count: 3, running: 3 });
    const shop = items.slice(at + 1, at + 6);
    expect(shop.map((i) => (i.kind === "service" ? i.service.name : i.kind === "container" ? i.row.name : i.project))).toEqual([
      "shop_agent",
      "shop_web",
      "shop_agent.n1.x3",
      "shop_web.1.x1",
      "shop_web.2.x2",
    ]);
    expect(buildItems(tasks, "", "all", new Set(["shop"]), services)).toHaveLength(1);
    // A stack whose tasks have not started yet still shows its services.
    expect(buildItems([], "", "all", new Set(), services).map((i) => i.kind)).toEqual(["group", "service", "service"]);
  });
});

/** The Containers view with the VM in `vm` (stopped if none), as VmProvider would hold it. */
const show = (vm?: VmView) =>
  render(
    <VmProvider initial={vm}>
      <ToastProvider>
        <Containers />
      </ToastProvider>
    </VmProvider>,
  );

describe("<Containers>", () => {
  it("loads the engine's containers", async () => {
    const backend = installMock({ containers: 6 });
    show(RUNNING);
    await waitFor(() => expect(screen.getByTestId("container-count").textContent).toBe("6 containers"));
    // jsdom has no layout, so the virtual list renders nothing; the count and actions are checked
    // through the backend instead (the browser tests cover the rendered rows).
    expect(backend.calls.some((c) => c.cmd === "containers_list")).toBe(true);
  });

  it("asks the engine for the Swarm services", async () => {
    const backend = installMock({ containers: 2, stack: true });
    show(RUNNING);
    await waitFor(() => expect(screen.getByTestId("container-count").textContent).toBe("5 containers"));
    expect(backend.calls.some((c) => c.cmd === "swarm_services")).toBe(true);
  });

  it("shows the engine's error message when the VM is not running", async () => {
    installMock({ vm: "stopped" });
    show();
    expect(await screen.findByText(/Berth is not running/)).toBeTruthy();
    fireEvent.change(screen.getByTestId("container-search"), { target: { value: "x" } });
  });
});

import { describe, expect, it } from "vitest";
import { render, screen, fireEvent, waitFor } from "@testing-library/react";
import { RunDialog } from "./RunDialog";
import { installMock } from "../../api/mock";
import { ToastProvider } from "../../components/Toasts";

function runWith(volumes: string) {
  installMock();
  let closed = false;
  render(
    <ToastProvider>
      <RunDialog image="busybox" onClose={() => (closed = true)} />
    </ToastProvider>,
  );
  fireEvent.change(screen.getByTestId("run-name"), { target: { value: "web" } });
  fireEvent.change(screen.getByTestId("run-volumes"), { target: { value: volumes } });
  fireEvent.click(screen.getByTestId("run-submit"));
  return () => closed;
}

describe("<RunDialog>", () => {
  it("keeps the engine's warning about a volume outside the shared folders as a notice", async () => {
    const closed = runWith("/srv/data:/data\n/home/user/src:/src");
    await waitFor(() => expect(closed()).toBe(true));
    expect(screen.getByTestId("toast-ok").textContent).toContain("Started web");
    const warnings = screen.getAllByTestId("toast-warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0].textContent).toContain("/srv/data is not in a folder shared with the Berth VM");
    expect(warnings[0].textContent).toContain("shared_folders");
  });

  it("shows no warning when every volume is shared", async () => {
    const closed = runWith("/home/user/src:/src\ndata:/data");
    await waitFor(() => expect(closed()).toBe(true));
    expect(screen.queryAllByTestId("toast-warn")).toHaveLength(0);
  });
});

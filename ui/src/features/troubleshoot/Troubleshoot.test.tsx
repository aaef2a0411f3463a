import { describe, expect, it } from "vitest";
import { render, screen, fireEvent, waitFor, within } from "@testing-library/react";
import { Troubleshoot } from "./Troubleshoot";
import { installMock } from "../../api/mock";
import { ToastProvider } from "../../components/Toasts";

describe("<Troubleshoot>", () => {
  it("shows the doctor's checks as rows with their status and fix", async () => {
    const mock = installMock();
    render(
      <ToastProvider>
        <Troubleshoot />
      </ToastProvider>,
    );
    fireEvent.click(screen.getByText("Run doctor"));
    await waitFor(() => expect(screen.getAllByTestId("doctor-check")).toHaveLength(3));
    expect(mock.calls.some((c) => c.cmd === "doctor")).toBe(true);
    const [qemu, virtiofsd, qemuImg] = screen.getAllByTestId("doctor-check");
    expect([qemu.dataset.status, virtiofsd.dataset.status, qemuImg.dataset.status]).toEqual(["ok", "warn", "fail"]);
    expect(qemu.textContent).toContain("QEMU");
    expect(within(qemu).queryByTestId("doctor-fix")).toBeNull();
    expect(within(qemuImg).getByTestId("doctor-fix").textContent).toContain("sudo apt-get install qemu-utils");
    expect(within(virtiofsd).getByTestId("doctor-status").textContent).toBe("warning");
    expect(screen.getByTestId("doctor-summary").textContent).toBe("1 check failed");
  });

  it("exports the diagnostics as a zip named berth-diagnostics.zip", async () => {
    const mock = installMock();
    render(
      <ToastProvider>
        <Troubleshoot />
      </ToastProvider>,
    );
    fireEvent.click(screen.getByTestId("diagnostics-export"));
    await waitFor(() => expect(mock.calls.some((c) => c.cmd === "diagnostics_export")).toBe(true));
    expect(mock.calls.find((c) => c.cmd === "pick_save_path")?.args).toEqual({ defaultName: "berth-diagnostics.zip" });
    expect(mock.calls.find((c) => c.cmd === "diagnostics_export")?.args).toEqual({ path: "/home/user/berth-diagnostics.zip" });
    await screen.findByText("Diagnostics written to /home/user/berth-diagnostics.zip");
  });

  it("marks which log the text shown is of", async () => {
    installMock();
    render(
      <ToastProvider>
        <Troubleshoot />
      </ToastProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("log-tail").dataset.kind).toBe("console"));
    fireEvent.click(screen.getAllByTestId("log-tab").find((t) => t.dataset.kind === "supervisor")!);
    await waitFor(() => expect(screen.getByTestId("log-tail").dataset.kind).toBe("supervisor"));
  });
});

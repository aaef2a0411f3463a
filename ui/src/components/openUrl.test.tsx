import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, fireEvent, waitFor, within } from "@testing-library/react";
import { useOpenUrl } from "./openUrl";
import { ToastProvider } from "./Toasts";
import { installMock } from "../api/mock";

function PortLink({ url }: { url: string }) {
  const openUrl = useOpenUrl();
  return <button onClick={() => openUrl(url)}>8080:80</button>;
}

const show = () =>
  render(
    <ToastProvider>
      <PortLink url="http://127.0.0.1:8080" />
    </ToastProvider>,
  );

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("opening a published port", () => {
  it("opens the address, with no notice", async () => {
    const mock = installMock();
    show();
    fireEvent.click(screen.getByText("8080:80"));
    await waitFor(() => expect(mock.calls.find((c) => c.cmd === "open_url")?.args).toEqual({ url: "http://127.0.0.1:8080" }));
    expect(screen.queryByTestId("toast-error")).toBeNull();
  });

  it("says so in plain words when no browser opens, offers the address to copy, the error under Details", async () => {
    installMock({ opener: "fails" });
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    show();
    fireEvent.click(screen.getByText("8080:80"));
    const toast = await screen.findByTestId("toast-error");
    expect(within(toast).getByText("Could not open a browser for http://127.0.0.1:8080 — copy the address instead")).toBeTruthy();
    expect(within(toast).getByTestId("toast-copy-text").textContent).toBe("http://127.0.0.1:8080");
    // The launcher's own words are there, folded under "Details".
    const details = within(toast).getByText("Details").closest("details")!;
    expect(details.open).toBe(false);
    expect(within(details).getByTestId("toast-details").textContent).toMatch(/xdg-open/);
    fireEvent.click(within(toast).getByTestId("toast-copy"));
    await waitFor(() => expect(within(toast).getByTestId("toast-copy").textContent).toBe("Copied"));
    expect(writeText).toHaveBeenCalledWith("http://127.0.0.1:8080");
  });
});

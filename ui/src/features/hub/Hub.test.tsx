import { describe, expect, it } from "vitest";
import { render, screen, fireEvent, waitFor, within } from "@testing-library/react";
import { Hub } from "./Hub";
import { count } from "../../format";
import { Accounts } from "../accounts/Accounts";
import { installMock, RUNNING } from "../../api/mock";
import { VmProvider } from "../../state/vm";
import { ToastProvider } from "../../components/Toasts";

const wrap = (ui: React.ReactNode) =>
  render(
    <VmProvider initial={RUNNING}>
      <ToastProvider>{ui}</ToastProvider>
    </VmProvider>,
  );

describe("count", () => {
  it("shortens large figures", () => {
    expect([count(7_000_000_000), count(3400), count(12)]).toEqual(["7.0B", "3.4k", "12"]);
  });
});

describe("<Hub>", () => {
  it("searches, shows badges, pages, and opens a repository's tags", async () => {
    installMock();
    wrap(<Hub />);
    fireEvent.change(screen.getByTestId("hub-query"), { target: { value: "busybox" } });
    fireEvent.click(screen.getByTestId("hub-search"));
    await waitFor(() => expect(screen.getAllByTestId("hub-result")).toHaveLength(25));
    const first = screen.getAllByTestId("hub-result")[0];
    expect(first.dataset.name).toBe("busybox");
    expect(within(first).getByTestId("badge-official")).toBeTruthy();
    expect(within(screen.getAllByTestId("hub-result")[1]).getByTestId("badge-verified")).toBeTruthy();
    expect(first.textContent).toContain("7.0B");
    fireEvent.click(screen.getByTestId("hub-results-next"));
    await waitFor(() => expect(screen.getAllByTestId("hub-result")).toHaveLength(5));
    expect(screen.getByTestId("hub-results-page").textContent).toBe("Page 2 of 2");
    fireEvent.click(screen.getByTestId("hub-results-prev"));
    await waitFor(() => expect(screen.getAllByTestId("hub-result")).toHaveLength(25));
    fireEvent.click(within(screen.getAllByTestId("hub-result")[0]).getByTestId("hub-open"));
    await waitFor(() => expect(screen.getAllByTestId("hub-tag")).toHaveLength(10));
    expect(screen.getByTestId("hub-repo-description").textContent).toBe("Busybox base image.");
    expect(screen.getAllByTestId("hub-tag")[0].textContent).toContain("amd64, arm64/v8");
    fireEvent.click(screen.getByTestId("hub-tags-next"));
    await waitFor(() => expect(screen.getAllByTestId("hub-tag")).toHaveLength(2));
  });

  it("pulls a tag with per-layer progress, then offers the run dialog", async () => {
    const mock = installMock();
    wrap(<Hub />);
    fireEvent.change(screen.getByTestId("hub-query"), { target: { value: "busybox" } });
    fireEvent.click(screen.getByTestId("hub-search"));
    await waitFor(() => screen.getAllByTestId("hub-open"));
    fireEvent.click(screen.getAllByTestId("hub-open")[0]);
    await waitFor(() => screen.getAllByTestId("hub-pull"));
    fireEvent.click(within(screen.getAllByTestId("hub-tag")[1]).getByTestId("hub-pull"));
    await waitFor(() => expect(screen.getAllByTestId("layer-progress")).toHaveLength(2));
    await waitFor(() => expect(screen.getByTestId("pull-status").textContent).toBe("Pulled busybox:1.37"));
    expect(mock.calls.find((c) => c.cmd === "image_pull")?.args.reference).toBe("busybox:1.37");
    await waitFor(() => expect(screen.getByTestId("run-submit")).toBeTruthy());
  });

  it("shows an image it already holds as pulled, without layers", async () => {
    installMock();
    wrap(<Hub />);
    fireEvent.change(screen.getByTestId("hub-query"), { target: { value: "busybox" } });
    fireEvent.click(screen.getByTestId("hub-search"));
    await waitFor(() => screen.getAllByTestId("hub-open"));
    fireEvent.click(screen.getAllByTestId("hub-open")[0]);
    await waitFor(() => screen.getAllByTestId("hub-pull"));
    const pull = () => fireEvent.click(within(screen.getAllByTestId("hub-tag")[1]).getByTestId("hub-pull"));
    pull();
    await waitFor(() => expect(screen.getByTestId("pull-status").textContent).toBe("Pulled busybox:1.37"));
    fireEvent.click(screen.getByText("Cancel"));
    await waitFor(() => expect(within(screen.getAllByTestId("hub-tag")[1]).getByTestId("hub-pull").hasAttribute("disabled")).toBe(false));
    pull();
    await waitFor(() => expect(screen.queryAllByTestId("layer-progress")).toHaveLength(0));
    await waitFor(() => expect(screen.getByTestId("pull-status").textContent).toBe("Pulled busybox:1.37"));
    expect(screen.queryByTestId("hub-pull-error")).toBeNull();
    await waitFor(() => expect(screen.getByTestId("run-submit")).toBeTruthy());
  });

  it("says offline and rate limits by their code", async () => {
    installMock();
    wrap(<Hub />);
    fireEvent.change(screen.getByTestId("hub-query"), { target: { value: "offline" } });
    fireEvent.click(screen.getByTestId("hub-search"));
    await waitFor(() => expect(screen.getByTestId("hub-error").dataset.code).toBe("hub_offline"));
    expect(screen.getByTestId("hub-error").textContent).toContain("network connection");
    fireEvent.change(screen.getByTestId("hub-query"), { target: { value: "limited" } });
    fireEvent.click(screen.getByTestId("hub-search"));
    await waitFor(() => expect(screen.getByTestId("hub-error").dataset.code).toBe("hub_rate_limited"));
    expect(screen.getByTestId("hub-error").textContent).toContain("90 s");
  });
});

describe("<Accounts>", () => {
  it("refuses a wrong password, stores nothing, then logs in and out", async () => {
    const mock = installMock();
    wrap(<Accounts />);
    fireEvent.change(screen.getByTestId("account-registry"), { target: { value: "127.0.0.1:5000" } });
    fireEvent.change(screen.getByTestId("account-username"), { target: { value: "alice" } });
    fireEvent.change(screen.getByTestId("account-password"), { target: { value: "wrong" } });
    fireEvent.click(screen.getByTestId("account-login"));
    await waitFor(() => expect(screen.getByTestId("account-error").dataset.code).toBe("unauthorized"));
    expect(screen.getByTestId("account-error").textContent).toContain("Nothing was stored");
    expect(mock.accounts).toEqual([]);
    fireEvent.change(screen.getByTestId("account-password"), { target: { value: "right" } });
    fireEvent.click(screen.getByTestId("account-login"));
    await waitFor(() => expect(screen.getAllByTestId("account-row")).toHaveLength(1));
    expect(screen.getByTestId("account-row").dataset.registry).toBe("127.0.0.1:5000");
    expect((screen.getByTestId("account-password") as HTMLInputElement).value).toBe("");
    fireEvent.click(screen.getByTestId("account-logout"));
    await waitFor(() => expect(screen.queryAllByTestId("account-row")).toHaveLength(0));
  });

  it("highlights the field an input error names", async () => {
    installMock();
    wrap(<Accounts />);
    fireEvent.click(screen.getByTestId("account-login"));
    await waitFor(() => expect(screen.getByTestId("account-username").className).toBe("invalid"));
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, render, screen } from "@testing-library/react";
import { Ago, ContainerStatus, markRead } from "./Time";
import { makeContainers } from "../api/mock";
import type { ContainerRow } from "../api";

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const MIN = 60_000;

const row = (status: string, createdAgoS: number, state = "running"): ContainerRow => ({
  ...makeContainers(1)[0],
  state,
  status,
  created: Math.floor(T0 / 1000) - createdAgoS,
});

const tick = (ms: number) => act(() => vi.advanceTimersByTime(ms));

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("<ContainerStatus>", () => {
  it("counts up from the creation time when the engine says only “Less than a second”", () => {
    render(<ContainerStatus row={row("Up Less than a second", 0)} />);
    expect(screen.getByTestId("container-status").textContent).toBe("Up Less than a minute");
    tick(MIN);
    expect(screen.getByTestId("container-status").textContent).toBe("Up About a minute");
    tick(4 * MIN);
    expect(screen.getByTestId("container-status").textContent).toBe("Up 5 minutes");
    tick(60 * MIN);
    expect(screen.getByTestId("container-status").textContent).toBe("Up About an hour");
  });

  it("counts from the creation time when it falls in the engine's words, and keeps the health", () => {
    // Created 5 min 30 s ago and up since: the next minute is at 6 min, 30 s from now.
    render(<ContainerStatus row={row("Up 5 minutes (healthy)", 330)} />);
    expect(screen.getByTestId("container-status").textContent).toBe("Up 5 minutes (healthy)");
    tick(MIN);
    expect(screen.getByTestId("container-status").textContent).toBe("Up 6 minutes (healthy)");
  });

  it("a container restarted since its creation counts from what the engine said", () => {
    render(<ContainerStatus row={row("Up 3 hours", 3 * 86400)} />);
    expect(screen.getByTestId("container-status").textContent).toBe("Up 3 hours");
    tick(60 * MIN);
    expect(screen.getByTestId("container-status").textContent).toBe("Up 4 hours");
  });

  it("an exited container's “… ago” moves too; a status with no time stays as it is", () => {
    render(
      <>
        <ContainerStatus row={row("Exited (137) 2 hours ago", 86400, "exited")} />
        <ContainerStatus row={row("Created", 10, "created")} />
      </>,
    );
    const [exited, created] = screen.getAllByTestId("container-status");
    expect(exited.textContent).toBe("Exited (137) 2 hours ago");
    tick(60 * MIN);
    expect(exited.textContent).toBe("Exited (137) 3 hours ago");
    expect(created.textContent).toBe("Created");
  });

  it("rows shown after the list loaded count from when it loaded", () => {
    const late = row("Up 5 minutes", 86400);
    markRead([late]);
    vi.setSystemTime(T0 + 10 * MIN); // scrolled to ten minutes later
    render(<ContainerStatus row={late} />);
    expect(screen.getByTestId("container-status").textContent).toBe("Up 15 minutes");
  });

  it("many rows share one timer, which stops when none is shown", () => {
    const rows = makeContainers(40).map((r) => ({ ...r, created: Math.floor(T0 / 1000) - 90 }));
    const { unmount } = render(
      <>
        {rows.map((r) => (
          <span key={r.id}>
            <ContainerStatus row={r} />
            <Ago unix={r.created} />
          </span>
        ))}
      </>,
    );
    expect(vi.getTimerCount()).toBe(1);
    unmount();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("<Ago>", () => {
  it("moves once a minute", () => {
    render(<Ago unix={Math.floor(T0 / 1000) - 30} />);
    expect(document.body.textContent).toBe("just now");
    tick(MIN);
    expect(document.body.textContent).toBe("1 minute ago");
    tick(2 * MIN);
    expect(document.body.textContent).toBe("3 minutes ago");
  });
});

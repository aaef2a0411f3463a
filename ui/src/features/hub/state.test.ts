import { describe, expect, it } from "vitest";
import { REPOSITORY, repositoryReducer, SEARCH, searchReducer } from "./state";

describe("searchReducer", () => {
  it("keeps the results of the last search while a new one runs, and drops the old error", () => {
    const results = { page: 1, page_size: 25, count: 1, has_next: false, results: [] };
    let s = searchReducer(SEARCH, { type: "edit", query: "busybox" });
    s = searchReducer(s, { type: "failed", error: { code: "hub_offline", message: "offline", field: null } });
    s = searchReducer(s, { type: "start" });
    expect(s).toMatchObject({ busy: true, error: null });
    s = searchReducer(s, { type: "found", query: "busybox", results });
    expect(s).toMatchObject({ busy: false, searched: "busybox", results });
  });
});

describe("repositoryReducer", () => {
  it("follows a pull: the status line from layerless messages, layers folded, then the run offer", () => {
    let s = repositoryReducer(REPOSITORY, { type: "pull", tag: "1.37", reference: "busybox:1.37" });
    expect(s).toMatchObject({ pulling: "1.37", status: "Pulling busybox:1.37…" });
    s = repositoryReducer(s, { type: "progress", progress: { layer: "", status: "Pulling from library/busybox", current: 0, total: 0 } });
    s = repositoryReducer(s, { type: "progress", progress: { layer: "a1", status: "Downloading", current: 5, total: 10 } });
    expect(s.status).toBe("Pulling from library/busybox");
    expect(s.layers.size).toBe(1);
    s = repositoryReducer(s, { type: "pulled", reference: "busybox:1.37" });
    expect(s).toMatchObject({ pulling: null, status: "Pulled busybox:1.37", run: "busybox:1.37" });
    s = repositoryReducer(s, { type: "closeRun" });
    expect(s.run).toBeNull();
  });
});

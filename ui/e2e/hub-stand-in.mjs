// A stand-in for Docker Hub's public API on 127.0.0.1, serving JSON of the real shape
// (search with paging, a repository, its tags with platforms, 404s, a 429 with Retry-After),
// for the real-window test. `tags` lists the tags served for library/busybox.
import { createServer } from "node:http";

export function startHubStandIn({ tags }) {
  const requests = [];
  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://stand-in");
    requests.push(url.pathname + url.search);
    const page = Number(url.searchParams.get("page") ?? 1);
    const size = Number(url.searchParams.get("page_size") ?? 25);
    const paged = (all) => ({
      count: all.length,
      next: page * size < all.length ? `http://stand-in${url.pathname}?page=${page + 1}&page_size=${size}` : null,
      previous: page > 1 ? `http://stand-in${url.pathname}?page=${page - 1}&page_size=${size}` : null,
      results: all.slice((page - 1) * size, page * size),
    });
    if (url.pathname === "/v2/search/repositories/") {
      const q = url.searchParams.get("query") ?? "";
      if (q === "limited") return json(res, 429, { message: "Too Many Requests" }, { "retry-after": "90" });
      const all = [
        { repo_name: "busybox", short_description: "Busybox base image.", star_count: 3400, pull_count: 7000000000, repo_owner: "", is_automated: false, is_official: true },
        { repo_name: "acme/busybox-tools", short_description: "Tools on busybox.", star_count: 12, pull_count: 3400, repo_owner: "", is_automated: false, is_official: false, is_verified: true },
      ].filter((r) => r.repo_name.includes(q));
      return json(res, 200, paged(all));
    }
    if (url.pathname === "/v2/repositories/library/busybox/") {
      return json(res, 200, {
        user: "library", name: "busybox", namespace: "library", repository_type: "image", status: 1,
        description: "Busybox base image.", is_private: false, is_automated: false, star_count: 3400, pull_count: 7000000000,
        last_updated: "2026-10-01T12:00:00.000000Z", full_description: "# Busybox", content_types: ["image"], categories: [],
      });
    }
    if (url.pathname === "/v2/repositories/library/busybox/tags") {
      const all = tags.map((name, i) => ({
        creator: 7, id: i, name, repository: 1, v2: true, tag_status: "active", full_size: 1100000,
        images: [{ architecture: "amd64", features: "", variant: null, digest: `sha256:${String(i).padStart(64, "0")}`, os: "linux", size: 1100000, status: "active" }],
        last_updated: "2026-10-01T12:00:00Z", tag_last_pushed: "2026-10-01T12:00:00Z", media_type: "application/vnd.oci.image.index.v1+json",
      }));
      return json(res, 200, paged(all));
    }
    return json(res, 404, { message: "object not found" });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ port: server.address().port, requests, close: () => server.close() }));
  });
}

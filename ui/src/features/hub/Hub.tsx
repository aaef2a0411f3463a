// Docker Hub: search repositories (badges, stars, pulls), open one to see its tags (size,
// platforms, last push) page by page, pull a tag with per-layer progress, then run it.
// Failures are shown by their code: offline and rate limits get their own notice.
import { useState } from "react";
import { api, asAppError, type AppError, type HubRepository, type HubTag, type Page, type RepoSummary } from "../api";
import { useToasts } from "../components/Toasts";
import { bytes } from "../format";
import { foldProgress, LayerList, type LayerState } from "./images/PullPanel";
import { RunDialog } from "./images/RunDialog";

const PAGE_SIZE = 25;
const TAGS_PAGE_SIZE = 10;

/** A short count: 7.0B, 3.4k. */
export function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** What to tell the user for a Hub failure, by code. */
export function hubNotice(e: AppError): string {
  switch (e.code) {
    case "hub_offline":
      return "Docker Hub cannot be reached. Check the network connection (or the Hub API URL in Settings).";
    case "hub_timeout":
      return "Docker Hub did not answer in time. Try again in a moment.";
    case "hub_rate_limited":
      return e.message;
    case "hub_not_found":
      return "That repository is not on Docker Hub.";
    default:
      return e.message;
  }
}

function Badges({ official, verified }: { official: boolean; verified: boolean }) {
  return (
    <>
      {official && (
        <span className="badge hub-badge official" data-testid="badge-official">
          Official
        </span>
      )}
      {verified && (
        <span className="badge hub-badge verified" data-testid="badge-verified">
          Verified
        </span>
      )}
    </>
  );
}

function Pager({ page, onPage, testid }: { page: Page<unknown> | null; onPage: (p: number) => void; testid: string }) {
  if (!page || (page.page === 1 && !page.has_next)) return null;
  return (
    <div className="toolbar hub-pager">
      <button className="btn small" disabled={page.page <= 1} onClick={() => onPage(page.page - 1)} data-testid={`${testid}-prev`}>
        ← Previous
      </button>
      <span className="muted small" data-testid={`${testid}-page`}>
        Page {page.page} of {Math.max(1, Math.ceil(page.count / page.page_size))}
      </span>
      <button className="btn small" disabled={!page.has_next} onClick={() => onPage(page.page + 1)} data-testid={`${testid}-next`}>
        Next →
      </button>
    </div>
  );
}

export function Hub({ running }: { running: boolean }) {
  const [query, setQuery] = useState("");
  const [searched, setSearched] = useState("");
  const [results, setResults] = useState<Page<RepoSummary> | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [busy, setBusy] = useState(false);
  const [repo, setRepo] = useState<string | null>(null);

  const search = (q: string, page: number) => {
    setBusy(true);
    setError(null);
    api
      .hubSearch(q, page, PAGE_SIZE)
      .then((r) => {
        setResults(r);
        setSearched(q);
      })
      .catch((e) => setError(asAppError(e)))
      .finally(() => setBusy(false));
  };

  if (repo) return <RepoPage name={repo} running={running} onBack={() => setRepo(null)} />;
  return (
    <div className="stack">
      <section className="card">
        <form
          className="pull-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (query.trim()) search(query.trim(), 1);
          }}
        >
          <input className="search grow" placeholder="Search Docker Hub: nginx, postgres, busybox…" value={query} onChange={(e) => setQuery(e.target.value)} data-testid="hub-query" />
          <button className="btn primary" type="submit" disabled={busy || !query.trim()} data-testid="hub-search">
            {busy ? "Searching…" : "Search"}
          </button>
        </form>
        {error && (
          <p className={`error-text hub-error ${error.code}`} data-testid="hub-error" data-code={error.code}>
            {error.field === "query" ? error.message : hubNotice(error)}
          </p>
        )}
      </section>
      {results && (
        <section className="card">
          {results.results.length === 0 ? (
            <p className="empty">No repositories match “{searched}”.</p>
          ) : (
            <ul className="hub-results" data-testid="hub-results">
              {results.results.map((r) => (
                <li key={r.name} className="hub-result" data-testid="hub-result" data-name={r.name}>
                  <button className="linklike" onClick={() => setRepo(r.name)} data-testid="hub-open">
                    <strong>{r.name}</strong>
                  </button>
                  <Badges official={r.official} verified={r.verified} />
                  <span className="muted small grow">{r.description}</span>
                  <span className="muted small" title={`${r.stars} stars`}>
                    ★ {count(r.stars)}
                  </span>
                  <span className="muted small" title={`${r.pulls} pulls`}>
                    ⤓ {count(r.pulls)}
                  </span>
                </li>
              ))}
            </ul>
          )}
          <Pager page={results} onPage={(p) => search(searched, p)} testid="hub-results" />
        </section>
      )}
    </div>
  );
}

function RepoPage({ name, running, onBack }: { name: string; running: boolean; onBack: () => void }) {
  const toasts = useToasts();
  const [repo, setRepo] = useState<HubRepository | null>(null);
  const [tags, setTags] = useState<Page<HubTag> | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [pulling, setPulling] = useState<string | null>(null);
  const [layers, setLayers] = useState<Map<string, LayerState>>(new Map());
  const [status, setStatus] = useState<string | null>(null);
  const [pullError, setPullError] = useState<AppError | null>(null);
  const [run, setRun] = useState<string | null>(null);

  const loadTags = (page: number) =>
    api
      .hubTags(name, page, TAGS_PAGE_SIZE)
      .then(setTags)
      .catch((e) => setError(asAppError(e)));
  if (!loaded) {
    setLoaded(true);
    api
      .hubRepository(name)
      .then(setRepo)
      .catch((e) => setError(asAppError(e)));
    loadTags(1);
  }

  const pull = (tag: string) => {
    const reference = `${name}:${tag}`;
    setPulling(tag);
    setPullError(null);
    setLayers(new Map());
    setStatus(`Pulling ${reference}…`);
    api
      .imagePull(reference, (p) => {
        if (!p.layer) setStatus(p.status);
        setLayers((l) => foldProgress(l, p));
      })
      .then(() => {
        setStatus(`Pulled ${reference}`);
        toasts.ok(`Pulled ${reference}`);
        setRun(reference);
      })
      .catch((e) => {
        setStatus(null);
        setPullError(asAppError(e));
        toasts.fail(`Pull of ${reference} failed`, e);
      })
      .finally(() => setPulling(null));
  };

  return (
    <div className="stack">
      <section className="card">
        <div className="toolbar">
          <button className="btn small" onClick={onBack} data-testid="hub-back">
            ← Results
          </button>
          <h2 className="grow" data-testid="hub-repo-name">
            {name}
          </h2>
          {repo && <Badges official={repo.official} verified={false} />}
          {repo && (
            <span className="muted small">
              ★ {count(repo.stars)} · ⤓ {count(repo.pulls)}
            </span>
          )}
        </div>
        {repo && <p data-testid="hub-repo-description">{repo.description}</p>}
        {error && (
          <p className={`error-text hub-error ${error.code}`} data-testid="hub-error" data-code={error.code}>
            {hubNotice(error)}
          </p>
        )}
        {!running && <p className="muted small">Start Berth to pull an image.</p>}
      </section>
      {(status || pullError) && (
        <section className="card pull">
          {status && (
            <p className="muted small" data-testid="pull-status">
              {status}
            </p>
          )}
          {pullError && (
            <p className="error-text" data-testid="hub-pull-error" data-code={pullError.code}>
              {pullError.message}
            </p>
          )}
          <LayerList layers={layers} />
        </section>
      )}
      {tags && (
        <section className="card">
          <h3>Tags</h3>
          <table className="kv table" data-testid="hub-tags">
            <thead>
              <tr>
                <th>Tag</th>
                <th>Size</th>
                <th>Platforms</th>
                <th>Last pushed</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {tags.results.map((t) => (
                <tr key={t.name} data-testid="hub-tag" data-name={t.name}>
                  <td>
                    <code>{t.name}</code>
                  </td>
                  <td>{t.size == null ? "—" : bytes(t.size)}</td>
                  <td className="small">{t.architectures.join(", ") || "—"}</td>
                  <td className="small">{t.last_pushed ? new Date(t.last_pushed).toLocaleDateString() : "—"}</td>
                  <td>
                    <button className="btn small primary" disabled={!running || pulling !== null} onClick={() => pull(t.name)} data-testid="hub-pull">
                      {pulling === t.name ? "Pulling…" : "Pull"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager page={tags} onPage={(p) => loadTags(p)} testid="hub-tags" />
        </section>
      )}
      {run && <RunDialog image={run} onClose={() => setRun(null)} />}
    </div>
  );
}

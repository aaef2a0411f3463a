// The Hub's search pane: the query, the matching repositories (badges, stars, pulls) page by
// page; opening one hands its name up.
import type { Dispatch } from "react";
import { api, asAppError } from "../../api";
import { Badges } from "../../components/Badges";
import { Pager } from "../../components/Pager";
import { count } from "../../format";
import { hubNotice } from "./notice";
import type { SearchAction, SearchState } from "./state";

const PAGE_SIZE = 25;

export function Search({ state, dispatch, onOpen }: { state: SearchState; dispatch: Dispatch<SearchAction>; onOpen: (name: string) => void }) {
  const { query, searched, results, error, busy } = state;
  const search = (q: string, page: number) => {
    dispatch({ type: "start" });
    api
      .hubSearch(q, page, PAGE_SIZE)
      .then((r) => dispatch({ type: "found", query: q, results: r }))
      .catch((e) => dispatch({ type: "failed", error: asAppError(e) }));
  };
  return (
    <div className="view">
      <section className="card">
        <form
          className="pull-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (query.trim()) search(query.trim(), 1);
          }}
        >
          <input className="search grow" placeholder="Search Docker Hub: nginx, postgres, busybox…" value={query} onChange={(e) => dispatch({ type: "edit", query: e.target.value })} data-testid="hub-query" />
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
                  <button className="linklike" onClick={() => onOpen(r.name)} data-testid="hub-open">
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

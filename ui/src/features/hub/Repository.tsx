// The Hub's repository pane: a repository's details and its tags (size, platforms, last push)
// page by page; pulling a tag shows per-layer progress, then offers to run it.
import { useEffect, useReducer } from "react";
import { api, asAppError } from "../../api";
import { Badges } from "../../components/Badges";
import { Pager } from "../../components/Pager";
import { useToasts } from "../../components/Toasts";
import { bytes, count } from "../../format";
import { LayerList } from "../images/PullPanel";
import { RunDialog } from "../images/RunDialog";
import { hubNotice } from "./notice";
import { REPOSITORY, repositoryReducer } from "./state";

const TAGS_PAGE_SIZE = 10;

export function Repository({ name, running, onBack }: { name: string; running: boolean; onBack: () => void }) {
  const toasts = useToasts();
  const [{ repo, tags, error, pulling, layers, status, pullError, run }, dispatch] = useReducer(repositoryReducer, REPOSITORY);
  const failed = (e: unknown) => dispatch({ type: "failed", error: asAppError(e) });

  const loadTags = (page: number) =>
    api
      .hubTags(name, page, TAGS_PAGE_SIZE)
      .then((t) => dispatch({ type: "tags", tags: t }))
      .catch(failed);
  useEffect(() => {
    api
      .hubRepository(name)
      .then((r) => dispatch({ type: "repository", repo: r }))
      .catch(failed);
    loadTags(1);
    // Loads once a repository: the name does not change while this pane shows it.
  }, [name]);

  const pull = (tag: string) => {
    const reference = `${name}:${tag}`;
    dispatch({ type: "pull", tag, reference });
    api
      .imagePull(reference, (p) => dispatch({ type: "progress", progress: p }))
      .then(() => {
        dispatch({ type: "pulled", reference });
        toasts.ok(`Pulled ${reference}`);
      })
      .catch((e) => {
        dispatch({ type: "pullFailed", error: asAppError(e) });
        toasts.fail(`Pull of ${reference} failed`, e);
      });
  };

  return (
    <div className="view">
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
      {run && <RunDialog image={run} onClose={() => dispatch({ type: "closeRun" })} />}
    </div>
  );
}

// The Hub view's state as two reducers, one a pane: the search (query, results, error) and the
// open repository (its details, tags and a pull's progress). Pure, so tested on their own.
import type { AppError, HubRepository, HubTag, Page, Progress, RepoSummary } from "../../api";
import { foldProgress, type LayerState } from "../images/PullPanel";

export interface SearchState {
  /** What the field holds. */
  query: string;
  /** What the results are for. */
  searched: string;
  results: Page<RepoSummary> | null;
  error: AppError | null;
  busy: boolean;
}

export type SearchAction =
  | { type: "edit"; query: string }
  | { type: "start" }
  | { type: "found"; query: string; results: Page<RepoSummary> }
  | { type: "failed"; error: AppError };

export const SEARCH: SearchState = { query: "", searched: "", results: null, error: null, busy: false };

export function searchReducer(s: SearchState, a: SearchAction): SearchState {
  switch (a.type) {
    case "edit":
      return { ...s, query: a.query };
    case "start":
      return { ...s, busy: true, error: null };
    case "found":
      return { ...s, busy: false, results: a.results, searched: a.query };
    case "failed":
      return { ...s, busy: false, error: a.error };
  }
}

export interface RepositoryState {
  repo: HubRepository | null;
  tags: Page<HubTag> | null;
  /** Loading the repository or its tags failed. */
  error: AppError | null;
  /** The tag being pulled. */
  pulling: string | null;
  layers: Map<string, LayerState>;
  /** The pull's status line. */
  status: string | null;
  pullError: AppError | null;
  /** The pulled reference the run dialog offers. */
  run: string | null;
}

export type RepositoryAction =
  | { type: "repository"; repo: HubRepository }
  | { type: "tags"; tags: Page<HubTag> }
  | { type: "failed"; error: AppError }
  | { type: "pull"; tag: string; reference: string }
  | { type: "progress"; progress: Progress }
  | { type: "pulled"; reference: string }
  | { type: "pullFailed"; error: AppError }
  | { type: "closeRun" };

export const REPOSITORY: RepositoryState = { repo: null, tags: null, error: null, pulling: null, layers: new Map(), status: null, pullError: null, run: null };

export function repositoryReducer(s: RepositoryState, a: RepositoryAction): RepositoryState {
  switch (a.type) {
    case "repository":
      return { ...s, repo: a.repo };
    case "tags":
      return { ...s, tags: a.tags };
    case "failed":
      return { ...s, error: a.error };
    case "pull":
      return { ...s, pulling: a.tag, pullError: null, layers: new Map(), status: `Pulling ${a.reference}…` };
    case "progress":
      return { ...s, status: a.progress.layer ? s.status : a.progress.status, layers: foldProgress(s.layers, a.progress) };
    case "pulled":
      return { ...s, pulling: null, status: `Pulled ${a.reference}`, run: a.reference };
    case "pullFailed":
      return { ...s, pulling: null, status: null, pullError: a.error };
    case "closeRun":
      return { ...s, run: null };
  }
}

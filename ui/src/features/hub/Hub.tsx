// Docker Hub: search repositories (the Search pane), open one to see its tags and pull one
// (the Repository pane). Failures are shown by their code: offline and rate limits get their
// own notice. The search keeps its results while a repository is open.
import { useReducer, useState } from "react";
import { useRunning } from "../../state/vm";
import { Repository } from "./Repository";
import { Search } from "./Search";
import { SEARCH, searchReducer } from "./state";

export function Hub() {
  const running = useRunning();
  const [search, dispatch] = useReducer(searchReducer, SEARCH);
  const [repo, setRepo] = useState<string | null>(null);
  if (repo) return <Repository name={repo} running={running} onBack={() => setRepo(null)} />;
  return <Search state={search} dispatch={dispatch} onOpen={setRepo} />;
}

// Previous and next buttons over a page of results, with "Page n of m"; nothing for one page.
import type { Page } from "../api";

export function Pager({ page, onPage, testid }: { page: Page<unknown> | null; onPage: (p: number) => void; testid: string }) {
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

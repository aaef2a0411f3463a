// Opening an address (a published port) in the default browser. When none opens (no browser,
// no launcher), the failure says so in plain words and offers the address to copy; the
// launcher's own error is under "Details".
import { useCallback } from "react";
import { api } from "../api";
import { useToasts } from "./Toasts";

export function useOpenUrl(): (url: string) => Promise<void> {
  const toasts = useToasts();
  return useCallback(
    (url: string) =>
      api
        .openUrl(url)
        .then(() => {})
        .catch((e) => toasts.fail(`Could not open a browser for ${url} — copy the address instead`, e, { copy: url })),
    [toasts],
  );
}

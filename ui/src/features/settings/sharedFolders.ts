// The settings' shared folders as the Settings view's text: one folder per line, a read-only
// one (berth_core::shares::SharedFolder, `{"path": …, "read_only": true}`) marked with
// READ_ONLY after its path. A folder given as a path alone is read-write.
import type { SharedFolder } from "../../api";

/** What follows a read-only folder's path on its line. */
export const READ_ONLY = "(read-only)";

/** A folder's path and whether containers may only read it. */
export function folderOf(folder: SharedFolder): { path: string; readOnly: boolean } {
  return typeof folder === "string" ? { path: folder, readOnly: false } : { path: folder.path, readOnly: folder.read_only === true };
}

/** The folders as lines of text. */
export function foldersText(folders: SharedFolder[]): string {
  return folders
    .map(folderOf)
    .map(({ path, readOnly }) => (readOnly ? `${path} ${READ_ONLY}` : path))
    .join("\n");
}

/** The lines of text as folders: blank lines dropped, a line ending in READ_ONLY read-only. */
export function parseFolders(text: string): SharedFolder[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      if (!line.endsWith(READ_ONLY)) return line;
      return { path: line.slice(0, -READ_ONLY.length).trim(), read_only: true };
    });
}

import { describe, expect, it } from "vitest";
import { foldersText, parseFolders } from "./sharedFolders";

describe("shared folders as text", () => {
  it("marks read-only folders and reads them back", () => {
    const folders = ["/home/ana", { path: "/srv/ref", read_only: true }, { path: "/work" }];
    const text = foldersText(folders);
    expect(text).toBe("/home/ana\n/srv/ref (read-only)\n/work");
    expect(parseFolders(text)).toEqual(["/home/ana", { path: "/srv/ref", read_only: true }, "/work"]);
  });

  it("drops blank lines and keeps spaces inside paths", () => {
    expect(parseFolders("  /My Projects  \n\n/x/y   (read-only)\n")).toEqual(["/My Projects", { path: "/x/y", read_only: true }]);
  });
});

import { describe, expect, it } from "vitest";
import { ago, bytes, shortId } from "./format";

describe("format", () => {
  it("prints sizes in decimal units", () => {
    expect(bytes(0)).toBe("0 B");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(2_500_000_000)).toBe("2.5 GB");
    expect(bytes(-1)).toBe("—");
  });
  it("prints ages", () => {
    const now = 1_000_000 * 1000;
    expect(ago(1_000_000, now)).toBe("just now");
    expect(ago(1_000_000 - 180, now)).toBe("3 minutes ago");
    expect(ago(1_000_000 - 7200, now)).toBe("2 hours ago");
  });
  it("shortens ids", () => {
    expect(shortId("sha256:0123456789abcdef")).toBe("0123456789ab");
  });
});

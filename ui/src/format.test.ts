import { describe, expect, it } from "vitest";
import { ago, bytes, humanDuration, humanDurationRange, liveStatus, shortId } from "./format";

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
  it("prints durations in the engine's words, and reads them back as the range they cover", () => {
    expect(humanDuration(0.4)).toBe("Less than a second");
    expect(humanDuration(75)).toBe("About a minute");
    expect(humanDuration(5 * 60 + 59)).toBe("5 minutes");
    expect(humanDuration(80 * 60)).toBe("About an hour");
    expect(humanDuration(2.6 * 3600)).toBe("3 hours");
    expect(humanDuration(3 * 86400)).toBe("3 days");
    expect(humanDuration(20 * 86400)).toBe("2 weeks");
    expect(humanDuration(100 * 86400)).toBe("3 months");
    expect(humanDuration(800 * 86400)).toBe("2 years");
    for (let s = 0; s < 3 * 365 * 86400; s = s * 1.07 + 0.5) {
      const [lo, hi] = humanDurationRange(humanDuration(s))!;
      expect(s >= lo && s < hi, `${s} s in ${humanDuration(s)} [${lo}, ${hi})`).toBe(true);
      expect(humanDuration(lo)).toBe(humanDuration(s));
    }
    expect(humanDurationRange("a while")).toBeNull();
  });
  it("reads a container's status as a time that moves", () => {
    expect(liveStatus("Up 2 minutes (health: starting)", 1000 - 150, 1000)).toEqual({ before: "Up ", since: 850, after: " (health: starting)" });
    expect(liveStatus("Up 2 minutes (Paused)", 0, 1000)).toEqual({ before: "Up ", since: 880, after: " (Paused)" });
    expect(liveStatus("Restarting (1) 3 seconds ago", 0, 1000)).toEqual({ before: "Restarting (1) ", since: 997, after: " ago" });
    expect(liveStatus("Created", 0, 1000)).toBeNull();
    expect(liveStatus("Removal In Progress", 0, 1000)).toBeNull();
  });
  it("shortens ids", () => {
    expect(shortId("sha256:0123456789abcdef")).toBe("0123456789ab");
  });
});

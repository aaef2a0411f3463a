import { describe, expect, it } from "vitest";
import { inputQueue } from "./inputQueue";

describe("inputQueue", () => {
  it("sends in order, one call at a time, joining what was typed meanwhile", async () => {
    const calls: string[] = [];
    let inFlight = 0;
    let most = 0;
    const send = async (d: string) => {
      inFlight++;
      most = Math.max(most, inFlight);
      calls.push(d);
      // A later call finishing first is what reordered keys when each key was its own call.
      await new Promise((r) => setTimeout(r, calls.length === 1 ? 20 : 1));
      inFlight--;
    };
    const push = inputQueue(send, () => {});
    for (const c of "echo term-42\r") push(c);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.join("")).toBe("echo term-42\r");
    expect(calls).toEqual(["e", "cho term-42\r"]);
    expect(most).toBe(1);
  });

  it("stops at the first failure and reports it once", async () => {
    const errors: unknown[] = [];
    const calls: string[] = [];
    const push = inputQueue(async (d) => {
      calls.push(d);
      throw new Error("no session");
    }, (e) => errors.push(e));
    push("a");
    push("b");
    await new Promise((r) => setTimeout(r, 10));
    push("c");
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual(["a"]);
    expect(errors).toHaveLength(1);
  });
});

// Render benchmark (prints figures): time from opening the Containers view to the rows on screen
// for 500 containers, against 50 in the same run, and one scroll to the end of the list; the
// same for 500 images. Headless Chromium over the mock backend (dist-mock). Goal: ≤ 100 ms for
// 500 containers.
import { serve, browser } from "./harness.mjs";
import { emitRow, median } from "./report.mjs";

const RUNS = 7;

async function measure(chrome, url, count, view, rowSelector) {
  const page = await chrome.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${url}?containers=${count}&images=${count}`);
  await page.getByTestId("vm-state").filter({ hasText: "Running" }).first().waitFor();
  const open = [];
  const scroll = [];
  for (let i = 0; i < RUNS; i++) {
    await page.getByTestId("nav-dashboard").click();
    const t = await page.evaluate(
      ({ view, rowSelector }) =>
        new Promise((resolve) => {
          const t0 = performance.now();
          document.querySelector(`[data-testid="nav-${view}"]`).click();
          const check = () => {
            if (document.querySelectorAll(rowSelector).length > 0) {
              // The frame after the rows exist is the one the user sees.
              requestAnimationFrame(() => resolve(performance.now() - t0));
            } else requestAnimationFrame(check);
          };
          check();
        }),
      { view, rowSelector },
    );
    open.push(t);
    const s = await page.evaluate(
      ({ rowSelector }) =>
        new Promise((resolve) => {
          const list = document.querySelector(rowSelector).closest(".vlist");
          const t0 = performance.now();
          list.scrollTop = list.scrollHeight;
          requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
        }),
      { rowSelector },
    );
    scroll.push(s);
  }
  const rendered = await page.evaluate((sel) => document.querySelectorAll(sel).length, rowSelector);
  await page.close();
  return { opens: open, open: median(open), scroll: median(scroll), rendered };
}

const { server, url } = await serve();
const chrome = await browser();
try {
  for (const [view, row] of [
    ["containers", '[data-testid="container-row"]'],
    ["images", '[data-testid="image-row"]'],
  ]) {
    const base = await measure(chrome, url, 50, view, row);
    const big = await measure(chrome, url, 500, view, row);
    console.log(
      `${view}: open 500 ${big.open.toFixed(1)} ms (goal ≤ 100 ms) vs 50 ${base.open.toFixed(1)} ms (×${(big.open / base.open).toFixed(2)}); ` +
        `scroll to end ${big.scroll.toFixed(1)} ms vs ${base.scroll.toFixed(1)} ms; rows in the DOM for 500: ${big.rendered}`,
    );
    emitRow({
      name: `app: open the ${view} list with 500 rows (Chromium)`,
      unit: "ms",
      values: big.opens,
      baselineName: "the same list with 50 rows",
      baseline: base.opens,
      goal: { kind: "absolute", bound: 100 },
    });
  }
} finally {
  await chrome.close();
  server.close();
}

// A minimal W3C WebDriver client (fetch only) for the real-window suite: tauri-driver speaks the
// protocol and forwards it to WebKitWebDriver, which drives the app's WebKitGTK view.

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
export const ENTER = "\uE007";

export class WebDriver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async call(method, path, body, timeoutMs = 45000) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A command the driver never answers becomes an error the polling loops can retry.
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      throw new Error(`${method} ${path}: ${res.status} ${v.error ?? ""} ${v.message ?? JSON.stringify(json)}`);
    }
    return json.value;
  }

  async start(application) {
    const value = await this.call("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application } } },
    });
    this.session = value.sessionId;
  }

  async quit() {
    if (this.session) await this.call("DELETE", `/session/${this.session}`).catch(() => {});
    this.session = null;
  }

  s(path) {
    return `/session/${this.session}${path}`;
  }

  /** Runs `script` (a function body) in the page; returns its value. */
  exec(script, ...args) {
    return this.call("POST", this.s("/execute/sync"), { script, args });
  }

  async find(css) {
    const v = await this.call("POST", this.s("/element"), { using: "css selector", value: css });
    return v[ELEMENT];
  }

  async click(css) {
    const id = await this.waitElement(css);
    await this.call("POST", this.s(`/element/${id}/click`), {});
  }

  async type(css, text) {
    const id = await this.waitElement(css);
    await this.call("POST", this.s(`/element/${id}/value`), { text });
  }

  /** Empties an input (WebDriver's element clear). */
  async clear(css) {
    const id = await this.waitElement(css);
    await this.call("POST", this.s(`/element/${id}/clear`), {});
  }

  async text(css) {
    const id = await this.find(css);
    return this.call("GET", this.s(`/element/${id}/text`));
  }

  /** PNG bytes of the window. */
  async screenshot() {
    // WebKitWebDriver's snapshot waits for the page's next paint, so on a page where nothing
    // changes (a static view; the dashboard's live figures hide this) it never answers. A
    // 1-pixel, invisible element repainted every 50 ms while the snapshot is taken gives it
    // that paint. A screenshot is an artifact, so it also gets a short deadline and one retry.
    await this.exec(`
      if (!window.__berthRepaint) {
        const d = document.createElement("div");
        d.style.cssText = "position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.01;pointer-events:none;z-index:2147483647";
        document.body.append(d);
        window.__berthRepaint = { d, t: setInterval(() => (d.textContent = String(Date.now() % 10)), 50) };
      }`).catch(() => {});
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return Buffer.from(await this.call("GET", this.s("/screenshot"), undefined, 8000), "base64");
        } catch (e) {
          if (attempt === 2) throw e;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    } finally {
      await this.exec(`
        const r = window.__berthRepaint;
        if (r) { clearInterval(r.t); r.d.remove(); delete window.__berthRepaint; }`).catch(() => {});
    }
  }

  async waitElement(css, timeoutMs = 30000) {
    let id;
    await this.waitFor(`the element ${css}`, async () => {
      id = await this.find(css).catch(() => null);
      return id;
    }, timeoutMs);
    return id;
  }

  /** Polls `check` (async, truthy when done) until it holds. */
  async waitFor(what, check, timeoutMs = 30000, everyMs = 250) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        const v = await check();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** Waits until `expr` (a JS expression) is truthy in the page; returns its value. */
  waitJs(what, expr, timeoutMs = 30000) {
    return this.waitFor(what, () => this.exec(`return (${expr});`), timeoutMs);
  }
}

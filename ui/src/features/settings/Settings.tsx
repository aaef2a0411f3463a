// Settings (berth_core::settings::Settings): edited, validated in Rust with the field named,
// saved, and applied by restarting the VM after confirmation. "Start at login" is the OS's own
// entry, changed as soon as it is ticked (it needs no restart).
import { useEffect, useState } from "react";
import { api, asAppError, type AppError, type Settings as S, type SettingsView } from "../../api";
import { Confirm } from "../../components/Modal";
import { useToasts } from "../../components/Toasts";
import { foldersText, parseFolders, READ_ONLY } from "./sharedFolders";
import { useVm } from "../../state/vm";

const list = (s: string) =>
  s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);
const opt = (s: string) => (s.trim() ? s.trim() : null);

export function Settings() {
  const vm = useVm();
  const toasts = useToasts();
  const [view, setView] = useState<SettingsView | null>(null);
  const [form, setForm] = useState<S | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [atLogin, setAtLogin] = useState<boolean | null>(null);
  useEffect(() => {
    api
      .loginItemGet()
      .then(setAtLogin)
      .catch((e) => toasts.fail("Cannot read whether Berth starts at login", e));
  }, [toasts]);
  useEffect(() => {
    api
      .settingsGet()
      .then((v) => {
        setView(v);
        setForm(v.settings);
      })
      .catch((e) => setError(asAppError(e)));
  }, []);
  if (!form || !view) return <div className="view">{error ? <p className="error-text">{error.message}</p> : <p className="muted">Loading…</p>}</div>;
  const set = <K extends keyof S>(k: K, v: S[K]) => setForm({ ...form, [k]: v });
  // A start that failed on a setting marks that field too, until the form is saved.
  const fault = error ?? (vm.state === "error" && vm.error?.field ? vm.error : null);
  const bad = (f: string) => (fault?.field === f ? "invalid" : "");
  const running = vm.state === "running" || vm.state === "starting";
  const save = async (restart: boolean) => {
    try {
      await api.settingsSave(form);
      setError(null);
      if (restart) {
        toasts.ok("Settings saved; restarting Berth");
        await api.vmRestart();
        toasts.ok("Berth restarted with the new settings");
      } else toasts.ok(running ? "Settings saved; they apply at the next start" : "Settings saved");
    } catch (e) {
      const err = asAppError(e);
      setError(err);
      if (err.code !== "invalid_setting" && err.code !== "invalid_input") toasts.fail("Cannot apply the settings", e);
    }
  };
  const changeAtLogin = async (enabled: boolean) => {
    try {
      setAtLogin(await api.loginItemSet(enabled));
      toasts.ok(enabled ? "Berth starts at login, with the VM" : "Berth no longer starts at login");
    } catch (e) {
      toasts.fail("Cannot change starting at login", e);
    }
  };
  return (
    <div className="view settings">
      <section className="card form">
        <h3>General</h3>
        <label className="check">
          <input type="checkbox" checked={atLogin ?? false} disabled={atLogin === null} onChange={(e) => changeAtLogin(e.target.checked)} data-testid="set-login" /> Start Berth at login: the VM starts and Berth waits in the tray, with no window
        </label>
      </section>
      <form
        className="card form"
        onSubmit={(e) => {
          e.preventDefault();
          if (running) setConfirm(true);
          else save(false);
        }}
      >
        <h3>Resources</h3>
        <div className="grid-3">
          <label>
            CPUs <span className="muted small">1–{view.host_cpus}</span>
            <input type="number" className={bad("cpus")} value={form.cpus} onChange={(e) => set("cpus", Number(e.target.value))} data-testid="set-cpus" />
          </label>
          <label>
            Memory (MiB) <span className="muted small">512–{view.host_memory_mib}</span>
            <input type="number" className={bad("memory_mib")} value={form.memory_mib} onChange={(e) => set("memory_mib", Number(e.target.value))} data-testid="set-memory" />
          </label>
          <label>
            Disk (GiB) <span className="muted small">sparse; set when created</span>
            <input type="number" className={bad("disk_gib")} value={form.disk_gib} onChange={(e) => set("disk_gib", Number(e.target.value))} />
          </label>
        </div>
        <h3>Files and network</h3>
        <label>
          Shared folders <span className="muted small">one per line; mounted at the same path in the VM; containers cannot change one followed by {READ_ONLY}</span>
          <textarea className={bad("shared_folders")} rows={2} value={foldersText(form.shared_folders)} onChange={(e) => set("shared_folders", parseFolders(e.target.value))} data-testid="set-shared-folders" />
        </label>
        <div className="grid-2">
          <label>
            Registry mirrors <span className="muted small">http(s)://host:port</span>
            <textarea className={bad("registry_mirrors")} rows={2} value={form.registry_mirrors.join("\n")} onChange={(e) => set("registry_mirrors", list(e.target.value))} data-testid="set-mirrors" />
          </label>
          <label>
            Insecure registries <span className="muted small">host:port</span>
            <textarea className={bad("insecure_registries")} rows={2} value={form.insecure_registries.join("\n")} onChange={(e) => set("insecure_registries", list(e.target.value))} />
          </label>
          <label>
            Docker Hub API <span className="muted small">http(s):// URL the Hub view searches</span>
            <input className={bad("hub_api_url")} value={form.hub_api_url} onChange={(e) => set("hub_api_url", e.target.value)} data-testid="set-hub-api" />
          </label>
          <label>
            HTTP proxy
            <input className={bad("http_proxy")} value={form.http_proxy ?? ""} onChange={(e) => set("http_proxy", opt(e.target.value))} />
          </label>
          <label>
            HTTPS proxy
            <input className={bad("https_proxy")} value={form.https_proxy ?? ""} onChange={(e) => set("https_proxy", opt(e.target.value))} />
          </label>
          <label>
            No proxy
            <input value={form.no_proxy ?? ""} onChange={(e) => set("no_proxy", opt(e.target.value))} />
          </label>
          <label>
            DNS servers
            <input className={bad("dns")} value={form.dns.join(", ")} onChange={(e) => set("dns", list(e.target.value))} />
          </label>
          <label>
            Container log driver
            <input className={bad("log_driver")} placeholder="json-file" value={form.log_driver ?? ""} onChange={(e) => set("log_driver", opt(e.target.value))} />
          </label>
          <label title="What containers reach of this computer's own services through host.docker.internal: all ports, none, or only the ports listed">
            Host ports containers may reach
            <input className={bad("host_loopback")} placeholder="all, none or 5432, 6379" value={form.host_loopback} onChange={(e) => set("host_loopback", e.target.value)} />
          </label>
        </div>
        <label className="check">
          <input type="checkbox" checked={form.publish_on_all_interfaces} onChange={(e) => set("publish_on_all_interfaces", e.target.checked)} /> Publish container ports on every interface (default: 127.0.0.1 only)
        </label>
        {view.host_os === "windows" && (
          <label className="check">
            <input type="checkbox" checked={form.serve_default_endpoint} onChange={(e) => set("serve_default_endpoint", e.target.checked)} /> Also serve the engine at the default <code>docker_engine</code> pipe, for tools that ignore docker contexts (only when no other engine has it)
          </label>
        )}
        {fault && (
          <p className="error-text" data-testid="settings-error" data-code={fault.code} data-field={fault.field ?? ""}>
            {fault.message}
          </p>
        )}
        <footer className="modal-actions">
          <button type="button" className="btn" onClick={() => setForm(view.defaults)}>
            Defaults
          </button>
          <button type="submit" className="btn primary" data-testid="settings-save">
            {running ? "Apply…" : "Save"}
          </button>
        </footer>
        <p className="muted small">
          Stored in <code>{view.path}</code>
        </p>
      </form>
      {confirm && (
        <Confirm
          title="Apply settings"
          text="Berth restarts to apply them: running containers stop."
          confirm="Save and restart"
          onConfirm={() => save(true)}
          onClose={() => setConfirm(false)}
        />
      )}
    </div>
  );
}

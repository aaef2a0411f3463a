// Registry accounts: log in to Docker Hub or another registry (the engine checks the password
// with the registry first; the account is then kept in the OS keychain), see who is logged
// in where, log out. Pulls and pushes use these accounts automatically.
import { useEffect, useState } from "react";
import { api, asAppError, type Account, type AppError } from "../../api";
import { useToasts } from "../../components/Toasts";
import { useRunning } from "../../state/vm";

/** What to say for a failed login, by code. */
export function loginNotice(e: AppError): string {
  switch (e.code) {
    case "unauthorized":
      return "The registry refused that user name and password. Nothing was stored.";
    case "vm_not_running":
      return "Start Berth first: the engine checks the password with the registry.";
    case "keychain_unavailable":
      return `The system keychain is not available, so the account cannot be kept: ${e.message}`;
    default:
      return e.message;
  }
}

export function Accounts() {
  const running = useRunning();
  const toasts = useToasts();
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [registry, setRegistry] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<AppError | null>(null);
  const [busy, setBusy] = useState(false);
  const reload = () =>
    api
      .accounts()
      .then(setAccounts)
      .catch((e) => setError(asAppError(e)));
  useEffect(() => {
    reload();
  }, []);
  const bad = (f: string) => (error?.field === f ? "invalid" : "");
  const login = () => {
    setBusy(true);
    setError(null);
    api
      .login(registry.trim(), username.trim(), password)
      .then((a) => {
        toasts.ok(`Logged in to ${a.registry} as ${a.username}`);
        setPassword("");
        reload();
      })
      .catch((e) => setError(asAppError(e)))
      .finally(() => setBusy(false));
  };
  return (
    <div className="view accounts">
      <section className="card">
        <h2>Log in to a registry</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            login();
          }}
        >
          <label>
            <span>
              Registry <span className="muted small">empty for Docker Hub, else host:port</span>
            </span>
            <input className={bad("registry")} placeholder="Docker Hub" value={registry} onChange={(e) => setRegistry(e.target.value)} data-testid="account-registry" />
          </label>
          <div className="grid-2">
            <label>
              User name
              <input className={bad("username")} value={username} onChange={(e) => setUsername(e.target.value)} data-testid="account-username" autoComplete="username" />
            </label>
            <label>
              Password or access token
              <input className={bad("password")} type="password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="account-password" autoComplete="current-password" />
            </label>
          </div>
          <div className="toolbar">
            <button className="btn primary" type="submit" disabled={busy || !running} data-testid="account-login">
              {busy ? "Checking…" : "Log in"}
            </button>
            {!running && <span className="muted small">Start Berth to log in.</span>}
          </div>
        </form>
        {error && (
          <p className="error-text" data-testid="account-error" data-code={error.code}>
            {loginNotice(error)}
          </p>
        )}
      </section>
      <section className="card">
        <h2>Accounts</h2>
        {accounts && accounts.length === 0 && <p className="empty">No accounts. Public images pull without one.</p>}
        {accounts && accounts.length > 0 && (
          <table className="kv table" data-testid="account-list">
            <tbody>
              {accounts.map((a) => (
                <tr key={a.registry} data-testid="account-row" data-registry={a.registry}>
                  <td>{a.registry === "docker.io" ? "Docker Hub" : a.registry}</td>
                  <td>{a.username}</td>
                  <td>
                    <button
                      className="btn small"
                      onClick={() =>
                        api
                          .logout(a.registry)
                          .then(() => {
                            toasts.ok(`Logged out of ${a.registry}`);
                            reload();
                          })
                          .catch((e) => toasts.fail("Log out failed", e))
                      }
                      data-testid="account-logout"
                    >
                      Log out
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="muted small">Kept in the system keychain, never in a file.</p>
      </section>
    </div>
  );
}

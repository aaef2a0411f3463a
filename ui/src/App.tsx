// The app shell: a sidebar of views, the VM state always visible, and notices.
import { useState } from "react";
import { useVm } from "./hooks";
import { ToastProvider } from "./components/Toasts";
import { Dashboard, StateBadge } from "./views/Dashboard";
import { Containers } from "./views/Containers";
import { Images } from "./views/Images";
import { Hub } from "./views/Hub";
import { Accounts } from "./views/Accounts";
import { Volumes } from "./views/Volumes";
import { Build } from "./views/Build";
import { Settings } from "./views/Settings";
import { Troubleshoot } from "./views/Troubleshoot";

export type ViewName = "dashboard" | "containers" | "images" | "hub" | "accounts" | "volumes" | "build" | "settings" | "troubleshoot";

const NAV: [ViewName, string, string][] = [
  ["dashboard", "Dashboard", "◉"],
  ["containers", "Containers", "▤"],
  ["images", "Images", "◧"],
  ["hub", "Docker Hub", "⌕"],
  ["volumes", "Volumes", "⛁"],
  ["build", "Build", "⚒"],
  ["accounts", "Accounts", "⚿"],
  ["settings", "Settings", "⚙"],
  ["troubleshoot", "Troubleshoot", "✚"],
];

export function App({ initial = "dashboard" }: { initial?: ViewName }) {
  const vm = useVm();
  const [view, setView] = useState<ViewName>(initial);
  // A paused VM serves the engine too: the first request of a view resumes it.
  const running = vm.state === "running" || vm.state === "paused";
  return (
    <ToastProvider>
      <div className="app">
        <aside className="sidebar">
          <div className="brand">
            <img src="/icon.png" alt="" width={28} height={28} />
            <span>Berth</span>
          </div>
          <nav>
            {NAV.map(([v, label, glyph]) => (
              <button key={v} className={view === v ? "on" : ""} data-testid={`nav-${v}`} onClick={() => setView(v)}>
                <span className="glyph">{glyph}</span>
                {label}
              </button>
            ))}
          </nav>
          <div className="sidebar-foot">
            <StateBadge vm={vm} />
          </div>
        </aside>
        <main className="main">
          <header className="topbar">
            <h1>{NAV.find(([v]) => v === view)?.[1]}</h1>
            {vm.state === "starting" && vm.phase && <span className="muted small">{vm.phase}</span>}
          </header>
          {view === "dashboard" && <Dashboard vm={vm} onOpenSettings={() => setView("settings")} />}
          {view === "containers" && <Containers running={running} />}
          {view === "images" && <Images running={running} />}
          {view === "hub" && <Hub running={running} />}
          {view === "accounts" && <Accounts running={running} />}
          {view === "volumes" && <Volumes running={running} />}
          {view === "build" && <Build running={running} />}
          {view === "settings" && <Settings vm={vm} />}
          {view === "troubleshoot" && <Troubleshoot />}
        </main>
      </div>
    </ToastProvider>
  );
}

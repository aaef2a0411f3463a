// The app shell: a sidebar of the features' views, the VM state always visible (VmProvider),
// and notices.
import { useState } from "react";
import { useVm, VmProvider } from "./state/vm";
import { ToastProvider } from "./components/Toasts";
import { Dashboard, StateBadge } from "./features/dashboard/Dashboard";
import { Containers } from "./features/containers/Containers";
import { Images } from "./features/images/Images";
import { Hub } from "./features/hub/Hub";
import { Accounts } from "./features/accounts/Accounts";
import { Volumes } from "./features/volumes/Volumes";
import { Build } from "./features/build/Build";
import { Settings } from "./features/settings/Settings";
import { Troubleshoot } from "./features/troubleshoot/Troubleshoot";

export type ViewName = "dashboard" | "containers" | "images" | "hub" | "accounts" | "volumes" | "build" | "settings" | "troubleshoot";

const NAV: [ViewName, string, string][] = [
  ["dashboard", "Dashboard", "◉"],
  ["containers", "Containers", "▤"],
  ["images", "Images", "◧"],
  ["hub", "Docker Hub", "⌕"],
  ["volumes", "Volumes", "⛁"],
  ["build", "Build", "⚒"],
  ["accounts", "Accounts", "☺\uFE0E"],
  ["settings", "Settings", "⚙"],
  ["troubleshoot", "Troubleshoot", "✚"],
];

export function App({ initial = "dashboard" }: { initial?: ViewName }) {
  return (
    <VmProvider>
      <Shell initial={initial} />
    </VmProvider>
  );
}

function Shell({ initial }: { initial: ViewName }) {
  const vm = useVm();
  const [view, setView] = useState<ViewName>(initial);
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
          {view === "dashboard" && <Dashboard onOpenSettings={() => setView("settings")} />}
          {view === "containers" && <Containers />}
          {view === "images" && <Images />}
          {view === "hub" && <Hub />}
          {view === "accounts" && <Accounts />}
          {view === "volumes" && <Volumes />}
          {view === "build" && <Build />}
          {view === "settings" && <Settings />}
          {view === "troubleshoot" && <Troubleshoot />}
        </main>
      </div>
    </ToastProvider>
  );
}

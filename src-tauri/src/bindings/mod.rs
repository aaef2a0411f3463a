//! The UI's contract, generated: TypeScript declarations of the types the commands take and
//! return, the error shape and its codes, and the event names with their payloads, from the
//! Rust types themselves (ts-rs), in one file the UI imports, `ui/src/generated/bindings.ts`.
//! [`commands`] generates the command surface beside it (`ui/src/generated/commands.ts`) from
//! the commands' signatures. The test below fails when a checked-in file differs from what the
//! Rust code says now; `BERTH_WRITE_BINDINGS=1 cargo test -p berth-desktop --lib bindings`
//! rewrites both.

#[cfg(test)]
pub mod commands;

use ts_rs::{Config, TS};

use berth_core::disk_usage::{DiskWarning, SpaceBreakdown, SpaceUse};
use berth_core::doctor::{Check, CheckStatus};
use berth_core::instance::{Failure, VmState, VmView};
use berth_core::settings::Settings;
use berth_core::shares::SharedFolder;
use berth_hub::credentials::Account;
use berth_hub::model::{Page, RepoSummary, Repository, Tag};
use berth_protocol::message::{DiskPressure, EngineState, StatusReport};
use berth_protocol::settings::{EngineSettings, HostLoopback};

use crate::containers::{Action, ContainerRow, PortView, ProjectAction};
use crate::dashboard::{Dashboard, HostFigures};
use crate::disk::ReclaimKind;
use crate::engine::{EngineEvent, EngineInfo, ENGINE_EVENT};
use crate::error::{ErrorCode, ErrorView};
use crate::images::{ImageRow, Layer, Progress, RunRequest, RunStarted};
use crate::services::ServiceRow;
use crate::settings::SettingsView;
use crate::streams::{LogBatch, LogLine, StatsSample};
use crate::terminal::TerminalOutput;
use crate::troubleshoot::LogKind;
use crate::vm::VM_EVENT;
use crate::volume_files::Entry;
use crate::volumes::VolumeRow;

/// Where the file lives, from this crate's folder.
pub const PATH: &str = "../ui/src/generated/bindings.ts";

/// The declarations of `$ty`, each with its doc comment, in order; and each type's Rust name
/// with its TypeScript one (they differ where ts-rs renames, and for generics by the name
/// alone), for the command surface.
macro_rules! declarations {
    ($cfg:expr, $($ty:ty),* $(,)?) => {{
        let mut out = String::new();
        let mut names = std::collections::BTreeMap::new();
        $(
            out.push('\n');
            if let Some(docs) = <$ty as TS>::docs() {
                out.push_str(&docs);
            }
            out.push_str("export ");
            out.push_str(&<$ty as TS>::decl($cfg));
            out.push('\n');
            let rust = stringify!($ty);
            let rust = rust.split('<').next().unwrap_or(rust).trim().to_owned();
            names.insert(rust, <$ty as TS>::ident($cfg));
        )*
        (out, names)
    }};
}

/// An event: its name's constant in Rust and TypeScript, and its payload.
macro_rules! events {
    ($cfg:expr, $($name:ident: $payload:ty),* $(,)?) => {{
        let mut out = String::new();
        $(
            out.push_str(&format!(
                "\n/** The event `{}` (src-tauri `{}`); its payload: {}. */\nexport const {} = {:?};\n",
                $name,
                stringify!($name),
                <$payload as TS>::name($cfg),
                stringify!($name),
                $name,
            ));
        )*
        out.push_str("\n/** Each event's payload, by the event's name. */\nexport type EventPayloads = {\n");
        $(
            out.push_str(&format!("  [{}]: {};\n", stringify!($name), <$payload as TS>::name($cfg)));
        )*
        out.push_str("};\n");
        out
    }};
}

/// The whole file as the Rust types declare it now.
pub fn render() -> String {
    render_with_names().0
}

/// The file, and each declared type's Rust name with its TypeScript one.
pub fn render_with_names() -> (String, std::collections::BTreeMap<String, String>) {
    // Sizes, counts and times are below 2^53: plain numbers, as JSON carries them.
    let cfg = &Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs: do not edit.\n\
         // Rewrite it with `BERTH_WRITE_BINDINGS=1 cargo test -p berth-desktop --lib bindings`.\n",
    );
    let (declarations, names) = declarations!(
        cfg,
        // Errors.
        ErrorCode,
        ErrorView,
        // The VM and the dashboard.
        VmState,
        Failure,
        VmView,
        EngineState,
        StatusReport,
        DiskPressure,
        SpaceUse,
        SpaceBreakdown,
        DiskWarning,
        ReclaimKind,
        HostFigures,
        Dashboard,
        EngineInfo,
        EngineEvent,
        // Containers and services.
        PortView,
        ContainerRow,
        ServiceRow,
        Action,
        ProjectAction,
        LogLine,
        LogBatch,
        StatsSample,
        TerminalOutput,
        // Images.
        ImageRow,
        Progress,
        Layer,
        RunRequest,
        RunStarted,
        // Volumes.
        VolumeRow,
        Entry,
        // The Hub and accounts.
        Page<RepoSummary>,
        RepoSummary,
        Repository,
        Tag,
        Account,
        // Settings and troubleshooting.
        SharedFolder,
        HostLoopback,
        EngineSettings,
        Settings,
        SettingsView,
        LogKind,
        CheckStatus,
        Check,
    );
    out.push_str(&declarations);
    out.push_str(&events!(cfg, VM_EVENT: VmView, ENGINE_EVENT: EngineEvent));
    (out, names)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// `now` is what `path` (from this crate's folder) must hold: written with
    /// `BERTH_WRITE_BINDINGS=1`, else compared.
    fn current(path: &str, now: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if std::env::var_os("BERTH_WRITE_BINDINGS").is_some_and(|v| v == "1") {
            std::fs::write(&path, now).expect("write the bindings");
            return;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == now,
            "{} is not what the Rust code declares; rewrite it with \
             `BERTH_WRITE_BINDINGS=1 cargo test -p berth-desktop --lib bindings` and commit it",
            path.display()
        );
    }

    #[test]
    fn bindings_are_current() {
        current(super::PATH, &super::render());
    }

    #[test]
    fn bindings_of_the_commands_are_current() {
        let (_, names) = super::render_with_names();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let now = super::commands::render(&src, &names).unwrap_or_else(|e| panic!("{e}"));
        current(super::commands::PATH, &now);
    }
}

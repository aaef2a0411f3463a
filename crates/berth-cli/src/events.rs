//! `berth events`: the VM's lifecycle (stopped → starting → running ⇄ paused → stopping →
//! stopped, or error) as it happens, and while the VM runs, the agent's events (engine state, published
//! ports). One line per event; `--json` prints one JSON object per line for scripts and tests.

use anyhow::Result;
use berth_core::agent::{AgentAddress, AgentClient};
use berth_core::instance::{StateFile, VmState};
use berth_core::paths::Paths;
use berth_core::state_events::StateEvents;
use berth_protocol::call::Subscribe;
use berth_protocol::message::Event;
use serde_json::json;

/// Prints events until Ctrl-C.
pub async fn run(json: bool) -> Result<()> {
    let paths = Paths::for_user()?;
    let mut states = StateEvents::watch(&paths.runtime)?;
    let mut agent: Option<AgentClient> = None;
    loop {
        tokio::select! {
            state = states.next() => {
                print_state(&state, json);
                agent = match (state.state, &state.agent) {
                    (VmState::Running, Some(endpoint)) if agent.is_none() => subscribe(endpoint).await,
                    // Paused: the agent's connection waits with the VM (it does not wake it).
                    (VmState::Running | VmState::Paused, _) => agent,
                    _ => None,
                };
            }
            event = next_event(&mut agent) => match event {
                Some(event) => print_event(&event, json),
                None => agent = None,
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn subscribe(endpoint: &AgentAddress) -> Option<AgentClient> {
    let mut client = AgentClient::connect(endpoint).await.ok()?;
    client.call(Subscribe).await.ok()?;
    Some(client)
}

/// The agent's next event; pending forever without an agent, `None` when it goes away.
async fn next_event(agent: &mut Option<AgentClient>) -> Option<Event> {
    match agent {
        Some(client) => client.next_event().await.ok(),
        None => std::future::pending().await,
    }
}

fn print_state(state: &StateFile, json: bool) {
    if json {
        let line = json!({
            "kind": "vm",
            "state": state.state,
            "phase": state.phase,
            "error": state.error,
        });
        println!("{line}");
        return;
    }
    let state_name = serde_json::to_value(state.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    match (&state.error, &state.phase) {
        (Some(error), _) => println!("vm      {state_name}: {error}"),
        (None, Some(phase)) => println!("vm      {state_name}: {phase}"),
        (None, None) => println!("vm      {state_name}"),
    }
}

fn print_event(event: &Event, json: bool) {
    if json {
        let line = json!({ "kind": "agent", "event": event });
        println!("{line}");
        return;
    }
    match event {
        Event::EngineStateChanged { state } => println!("engine  {state:?}"),
        Event::PortsChanged { published, more } => {
            let ports: Vec<String> = published
                .iter()
                .map(|p| format!("{}:{}/{:?}", p.host_ip, p.port, p.protocol))
                .collect();
            // A large set comes in pages: each line is one page.
            let follows = if *more { " (more follow)" } else { "" };
            println!("ports   {}{follows}", ports.join(" "));
        }
    }
}

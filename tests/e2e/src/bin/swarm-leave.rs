//! Benchmark: `docker swarm leave --force` through Berth with services still defined (one on
//! the ingress mesh, one with `mode=host`, each with a running task and its forwarded port),
//! against leaving an empty swarm in the same run. The goal (under 10 s) is issue 18's.
//!
//!     cargo run --release -p berth-e2e --bin swarm-leave

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_e2e::berth::Env;
use berth_e2e::ports::{free_port, test_rootfs, wait_for_page};
use berth_e2e::report::{Better, Goal, Row};

const IMAGE: &str = "berth-bench/swarm:1";
/// Leaves timed of each kind.
const REPS: usize = 3;
/// How long a new service's task may take to serve its port.
const SERVE: Duration = Duration::from_secs(180);

/// Seconds `docker swarm leave --force` takes.
fn leave(env: &Env) -> f64 {
    let started = Instant::now();
    env.docker(&["swarm", "leave", "--force"], None);
    started.elapsed().as_secs_f64()
}

fn main() {
    let env = Env::new();
    env.write_settings(&serde_json::json!({ "resource_saver_seconds": 0 }));
    env.start();
    env.docker(&["import", "-", IMAGE], Some(&test_rootfs(&[])));
    let mut with_services = Vec::new();
    let mut empty = Vec::new();
    for _ in 0..REPS {
        env.docker(&["swarm", "init"], None);
        empty.push(leave(&env));

        env.docker(&["swarm", "init"], None);
        let (mesh, host) = (free_port(), free_port());
        for (name, publish) in [
            ("mesh", format!("{mesh}:80")),
            ("host", format!("mode=host,published={host},target=80")),
        ] {
            env.docker(
                &[
                    "service",
                    "create",
                    "-d",
                    "--name",
                    name,
                    "--publish",
                    &publish,
                    IMAGE,
                    "httpd",
                    "-f",
                    "-p",
                    "80",
                    "-h",
                    "/www",
                ],
                None,
            );
        }
        for port in [mesh, host] {
            wait_for_page(SocketAddr::from(([127, 0, 0, 1], port)), SERVE);
        }
        with_services.push(leave(&env));
    }
    println!(
        "docker swarm leave --force: {:.2} s with two services running, {:.2} s for an empty swarm (medians of {REPS})",
        Row::stats(&with_services).0,
        Row::stats(&empty).0
    );
    env.stop();
    Row::measured(
        "docker swarm leave --force, two services running",
        "s",
        Better::Lower,
        &with_services,
        "leaving an empty swarm",
        &empty,
        Goal::Absolute { bound: 10.0 },
    )
    .emit();
}

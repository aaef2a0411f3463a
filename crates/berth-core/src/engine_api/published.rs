//! How many ports a container create publishes, and the most one container may publish in
//! this VM. The engine runs a `docker-proxy` process per published port and address family
//! (IPv4 and IPv6) in the VM: about 6 MiB of the VM's memory a port, measured (100 ports took
//! 610 MiB, and 91 s to start under TCG). So `-p 10000-20000:10000-20000` would start twenty
//! thousand processes and ask for some 60 GiB: the VM would run out of memory and the engine
//! with it, every other container's ports too. The relay refuses such a create before the
//! engine starts anything ([`refusal`]: the engine's error format, which the CLI, compose and
//! the app print), with the count, the limit and what to do. The limit ([`limit`]) keeps one
//! container's proxies to a quarter of the VM's memory: 256 ports with 6 GiB.
//!
//! Counted: each `HostConfig.PortBindings` entry (a host port, or a host range to one
//! container port, which the engine gives one port of), and with `PublishAllPorts` (`-P`)
//! each `ExposedPorts` key the bindings do not name. Ports only the image's `EXPOSE` names are
//! not in the request and are not counted.

use serde_json::Value;

/// The VM memory one published port costs the engine: a `docker-proxy` per address family.
pub const MIB_PER_PORT: u32 = 6;

/// The most ports one container may publish in a VM of `memory_mib`: a quarter of its memory
/// at [`MIB_PER_PORT`], and at least 16.
pub fn limit(memory_mib: u32) -> usize {
    usize::try_from(memory_mib / 4 / MIB_PER_PORT).map_or(usize::MAX, |n| n.max(16))
}

/// The ports the create request `request` publishes (see the module's doc).
pub fn count(request: &Value) -> usize {
    let Some(host_config) = request.get("HostConfig") else {
        return 0;
    };
    let bindings = host_config.get("PortBindings").and_then(Value::as_object);
    let bound: usize = bindings
        .into_iter()
        .flatten()
        .map(|(_, entries)| entries.as_array().map_or(0, Vec::len))
        .sum();
    let publish_all = host_config
        .get("PublishAllPorts")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !publish_all {
        return bound;
    }
    let exposed_only = request
        .get("ExposedPorts")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(port, _)| !bindings.is_some_and(|b| b.contains_key(port.as_str())))
        .count();
    bound + exposed_only
}

/// Why the create request `body` is refused in a VM of `memory_mib`, or `None` when it
/// publishes no more than [`limit`] ports (or is not JSON: the engine answers that itself).
pub fn refusal(body: &[u8], memory_mib: u32) -> Option<String> {
    let request = serde_json::from_slice::<Value>(body).ok()?;
    let ports = count(&request);
    let limit = limit(memory_mib);
    (ports > limit).then(|| {
        format!(
            "Berth refused to create this container: it publishes {ports} ports, and one \
             container may publish at most {limit} in this VM. The engine runs a docker-proxy \
             process per published port and address family (about {MIB_PER_PORT} MiB a port), \
             and the limit keeps one container's to a quarter of the VM's {memory_mib} MiB. \
             Publish fewer ports (a host range to one container port, `-p 8000-8100:80`, is one \
             port), or give the VM more memory (memory_mib in Berth's settings)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the docker CLI sends for `-p RANGE:RANGE` of `n` ports from 10000.
    fn range_create(n: u16) -> Value {
        let bindings: serde_json::Map<String, Value> = (10_000..10_000 + n)
            .map(|p| {
                (
                    format!("{p}/tcp"),
                    serde_json::json!([{"HostIp": "", "HostPort": p.to_string()}]),
                )
            })
            .collect();
        serde_json::json!({"Image": "busybox", "HostConfig": {"PortBindings": bindings}})
    }

    #[test]
    fn the_limit_is_a_quarter_of_the_vm_memory() {
        assert_eq!(limit(6144), 256);
        assert_eq!(limit(4096), 170);
        assert_eq!(limit(1024), 42);
        assert_eq!(limit(0), 16);
    }

    #[test]
    fn each_binding_is_a_port_and_publish_all_adds_what_is_only_exposed() {
        assert_eq!(count(&range_create(10_001)), 10_001);
        let create = serde_json::json!({
            "ExposedPorts": {"80/tcp": {}, "53/udp": {}, "9000/tcp": {}},
            "HostConfig": {
                "PortBindings": {
                    "80/tcp": [{"HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "8081"}],
                    "53/udp": [{"HostPort": "5300-5399"}],
                    "443/tcp": null
                },
                "PublishAllPorts": true
            }
        });
        assert_eq!(count(&create), 4);
        let mut without_all = create.clone();
        without_all["HostConfig"]["PublishAllPorts"] = false.into();
        assert_eq!(count(&without_all), 3);
        for nothing in [
            serde_json::json!({"Image": "busybox"}),
            serde_json::json!({"HostConfig": {"PortBindings": "bad"}}),
            serde_json::json!({"HostConfig": {"PortBindings": {"80/tcp": {}}}}),
        ] {
            assert_eq!(count(&nothing), 0, "{nothing}");
        }
    }

    #[test]
    fn a_create_over_the_limit_is_refused_naming_the_count_the_limit_and_the_fix() {
        let body = range_create(10_001).to_string();
        let message = refusal(body.as_bytes(), 6144).expect("refused");
        for part in ["10001 ports", "at most 256", "6144 MiB", "memory_mib"] {
            assert!(message.contains(part), "{part}: {message}");
        }
        let fits = range_create(256).to_string();
        assert_eq!(refusal(fits.as_bytes(), 6144), None);
        assert_eq!(refusal(b"not json", 6144), None);
    }
}

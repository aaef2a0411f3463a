//! `berth.net=dhcp`, the network mode of Virtualization.framework's NAT, on a real VM: QEMU's
//! user network has a DHCP server too, so the agent's `udhcpc` path is exercised here end to end
//! (lease, default route, resolver, `host.docker.internal` naming the gateway) and the engine
//! still answers.

use std::time::Duration;

use berth_core::agent::AgentClient;
use berth_e2e::{image_dir, open_image, qemu_config};

#[tokio::test(flavor = "multi_thread")]
async fn dhcp_mode_leases_the_address_route_and_resolver() {
    let run = tempfile::tempdir().expect("tempdir");
    let image = open_image(&image_dir());
    let mut config = qemu_config(&image, run.path());
    config.kernel_params.push("berth.net=dhcp".into());
    let vm = berth_core::vm::boot_with_retry(&config, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("boot: {e}"));
    let endpoint = vm.agent().expect("vsock");
    let _agent = AgentClient::connect(&endpoint).await.expect("agent");

    let out = berth_e2e::engine::guest_shell(
        &endpoint,
        "ip -4 -o addr show dev eth0; ip route show default; cat /etc/resolv.conf /etc/hosts; \
         for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null \
         | grep -q '[b]usybox udhcpc' && echo udhcpc-renewing\n",
    )
    .await;
    // QEMU's DHCP server leases 10.0.2.15 with 10.0.2.2 as the router and 10.0.2.3 for DNS.
    assert!(out.contains("inet 10.0.2.15/24"), "{out}");
    assert!(out.contains("default via 10.0.2.2 dev eth0"), "{out}");
    assert!(out.contains("nameserver 10.0.2.3"), "{out}");
    assert!(out.contains("10.0.2.2\thost.docker.internal"), "{out}");
    assert!(
        out.contains("udhcpc-renewing"),
        "the lease must be renewed: {out}"
    );

    vm.power_off(Duration::from_secs(60))
        .await
        .expect("power off");
}

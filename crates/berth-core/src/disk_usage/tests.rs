//! The sums of a `/system/df` answer, the warning's text, and the request against a stand-in
//! engine on an in-memory connection.

use std::convert::Infallible;

use berth_protocol::message::{EngineState, StatusReport};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::*;

const MIB: u64 = 1 << 20;

/// An engine 26 answer (trimmed to a few objects of each kind): two images, one used by the
/// running container; a stopped container; a volume in use and one not; build cache records,
/// one in use, one shared.
const DF: &str = r#"{
  "LayersSize": 314572800,
  "Images": [
    {"Containers": 1, "Created": 1, "Id": "sha256:a", "Labels": null, "ParentId": "",
     "RepoDigests": null, "RepoTags": ["app:1"], "SharedSize": 52428800, "Size": 209715200},
    {"Containers": 0, "Created": 1, "Id": "sha256:b", "Labels": null, "ParentId": "",
     "RepoDigests": null, "RepoTags": ["old:1"], "SharedSize": 52428800, "Size": 157286400}
  ],
  "Containers": [
    {"Id": "c1", "Names": ["/web"], "State": "running", "SizeRw": 10485760, "SizeRootFs": 0},
    {"Id": "c2", "Names": ["/done"], "State": "exited", "SizeRw": 4194304, "SizeRootFs": 0}
  ],
  "Volumes": [
    {"Name": "data", "Driver": "local", "UsageData": {"RefCount": 1, "Size": 104857600}},
    {"Name": "fill", "Driver": "local", "UsageData": {"RefCount": 0, "Size": 524288000}},
    {"Name": "new", "Driver": "local", "UsageData": {"RefCount": 0, "Size": -1}}
  ],
  "BuildCache": [
    {"ID": "x", "Type": "regular", "Size": 20971520, "InUse": false, "Shared": false},
    {"ID": "y", "Type": "regular", "Size": 1048576, "InUse": true, "Shared": false},
    {"ID": "z", "Type": "regular", "Size": 99999999, "InUse": false, "Shared": true}
  ]
}"#;

#[test]
fn sums_a_system_df_answer_as_docker_system_df_does() {
    let breakdown = parse_df(DF.as_bytes()).expect("parses");
    assert_eq!(
        breakdown,
        SpaceBreakdown {
            // In use: what app:1 holds alone (200 - 50 MiB).
            images: SpaceUse {
                bytes: 300 * MIB,
                reclaimable_bytes: 150 * MIB
            },
            build_cache: SpaceUse {
                bytes: 21 * MIB,
                reclaimable_bytes: 20 * MIB
            },
            volumes: SpaceUse {
                bytes: 600 * MIB,
                reclaimable_bytes: 500 * MIB
            },
            containers: SpaceUse {
                bytes: 14 * MIB,
                reclaimable_bytes: 4 * MIB
            },
            container_logs_bytes: None,
        }
    );
}

#[test]
fn each_volumes_size_is_read_and_unknown_ones_left_out() {
    assert_eq!(
        parse_volume_sizes(DF.as_bytes()).expect("parses"),
        [
            ("data".to_owned(), 100 * MIB),
            ("fill".to_owned(), 500 * MIB)
        ]
    );
    assert_eq!(
        parse_volume_sizes(br#"{"Volumes": null}"#).expect("parses"),
        []
    );
}

#[test]
fn an_empty_engine_and_null_lists_sum_to_zero() {
    let empty =
        r#"{"LayersSize":0,"Images":[],"Containers":null,"Volumes":null,"BuildCache":null}"#;
    assert_eq!(
        parse_df(empty.as_bytes()).expect("parses"),
        SpaceBreakdown::default()
    );
    assert!(parse_df(b"<html>").is_err());
}

fn report(total: u64, used: u64) -> StatusReport {
    StatusReport {
        uptime_ms: 0,
        engine: EngineState::Ready,
        engine_version: None,
        cpu_percent: 0.0,
        memory_total_bytes: 0,
        memory_used_bytes: 0,
        disk_total_bytes: total,
        disk_used_bytes: used,
        load1: 0.0,
        guest_time_unix_ms: 0,
        container_logs_bytes: Some(3 * MIB),
    }
}

#[test]
fn the_warning_says_how_full_and_plainly_when_full() {
    assert_eq!(DiskWarning::of(&report(1000 * MIB, 899 * MIB)), None);
    let nearly = DiskWarning::of(&report(1000 * MIB, 934 * MIB)).expect("nearly full");
    assert_eq!(
        (nearly.pressure, nearly.percent),
        (DiskPressure::NearlyFull, 93)
    );
    assert_eq!(
        nearly.headline(),
        "the data disk is 93% full (934 MiB used, 66 MiB free of 1000 MiB)"
    );
    let full = DiskWarning::of(&report(1000 * MIB, 984 * MIB)).expect("full");
    assert_eq!(full.pressure, DiskPressure::Full);
    assert!(
        full.headline()
            .starts_with("the data disk is full (984 MiB used, 16 MiB free of 1000 MiB): writes"),
        "{}",
        full.headline()
    );
}

#[test]
fn the_summary_names_every_kind_and_the_logs() {
    let mut breakdown = parse_df(DF.as_bytes()).expect("parses");
    breakdown.container_logs_bytes = Some(3 * MIB);
    assert_eq!(
        breakdown.summary(),
        "images 300 MiB (150 MiB reclaimable), build cache 21 MiB (20 MiB reclaimable), \
         volumes 600 MiB (500 MiB reclaimable), containers 14 MiB (4.0 MiB reclaimable), \
         container logs 3.0 MiB"
    );
}

#[test]
fn bytes_read_as_people_read_them() {
    assert_eq!(format_bytes(0), "0 B");
    assert_eq!(format_bytes(1023), "1023 B");
    assert_eq!(format_bytes(1536), "1.5 KiB");
    assert_eq!(format_bytes(100 * MIB), "100 MiB");
    assert_eq!(format_bytes(64 << 30), "64 GiB");
    assert_eq!(format_bytes(u64::MAX), "16384 PiB");
}

/// An engine on an in-memory connection that answers every request with `status` and `body`
/// (and 404 to any path but the `/system/df` one).
#[derive(Clone)]
struct Canned(StatusCode, &'static str);

impl Upstream for Canned {
    type Io = tokio::io::DuplexStream;

    async fn connect(&self) -> std::io::Result<Self::Io> {
        let (client, server) = tokio::io::duplex(64 << 10);
        let Canned(status, body) = self.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<_>| async move {
            let mut answer = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *answer.status_mut() = if request.uri().path() == DF_PATH {
                status
            } else {
                StatusCode::NOT_FOUND
            };
            Ok::<_, Infallible>(answer)
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server), service),
        );
        Ok(client)
    }
}

#[tokio::test]
async fn the_warning_carries_the_engines_breakdown_and_the_agents_logs() {
    let engine = Canned(StatusCode::OK, DF);
    assert_eq!(warning(&report(1000 * MIB, 100 * MIB), &engine).await, None);
    let warned = warning(&report(1000 * MIB, 950 * MIB), &engine)
        .await
        .expect("a warning");
    let breakdown = warned.breakdown.expect("a breakdown");
    assert_eq!(breakdown.volumes.reclaimable_bytes, 500 * MIB);
    assert_eq!(breakdown.container_logs_bytes, Some(3 * MIB));
    assert_eq!(warned.breakdown_error, None);
}

#[tokio::test]
async fn an_engine_error_leaves_the_warning_without_a_breakdown() {
    let engine = Canned(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"message":"no space left"}"#,
    );
    let warned = warning(&report(1000 * MIB, 1000 * MIB), &engine)
        .await
        .expect("a warning");
    assert_eq!(warned.breakdown, None);
    assert_eq!(
        warned.breakdown_error.as_deref(),
        Some("the engine answered 500 to /v1.45/system/df: no space left")
    );
}

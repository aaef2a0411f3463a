//! The Hub client against a stand-in of the Hub's API on a real socket (axum), serving JSON of
//! the real shape: search with paging, a repository, tags with platforms, 404s, 429s with
//! `Retry-After`, a slow answer; and a closed port for "offline".

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_hub::{HubClient, HubConfig, HubError};
use serde_json::{json, Value};

#[derive(Default)]
struct Hub {
    requests: AtomicUsize,
    limited: AtomicUsize,
}

fn catalog() -> Vec<Value> {
    let mut repos = vec![
        json!({"repo_name": "busybox", "short_description": "Busybox base image.", "star_count": 3400, "pull_count": 7_000_000_000u64, "repo_owner": "", "is_automated": false, "is_official": true}),
        json!({"repo_name": "acme/busybox-tools", "short_description": "Tools", "star_count": 12, "pull_count": 3400, "repo_owner": "", "is_automated": false, "is_official": false, "is_verified": true}),
    ];
    for i in 0..28 {
        repos.push(json!({"repo_name": format!("user{i}/busybox-{i}"), "short_description": null, "star_count": i, "pull_count": i * 10, "repo_owner": "", "is_automated": false, "is_official": false}));
    }
    repos
}

fn page_of(all: Vec<Value>, q: &HashMap<String, String>, path: &str) -> Value {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: usize = q
        .get("page_size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(25);
    let count = all.len();
    let results: Vec<Value> = all.into_iter().skip((page - 1) * size).take(size).collect();
    let next = (page * size < count)
        .then(|| format!("http://stand-in{path}?page={}&page_size={size}", page + 1));
    json!({"count": count, "next": next, "previous": null, "results": results})
}

async fn search(State(hub): State<Arc<Hub>>, Query(q): Query<HashMap<String, String>>) -> Response {
    hub.requests.fetch_add(1, Ordering::SeqCst);
    let query = q.get("query").cloned().unwrap_or_default();
    match query.as_str() {
        "limited-once" if hub.limited.fetch_add(1, Ordering::SeqCst) == 0 => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                "slow down",
            )
                .into_response();
        }
        "limited-long" => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "120")],
                Json(json!({"message": "rate limited"})),
            )
                .into_response();
        }
        "slow" => tokio::time::sleep(Duration::from_secs(3)).await,
        "broken" => return (StatusCode::OK, "<html>maintenance</html>").into_response(),
        "error" => {
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({"message": "upstream failed"})),
            )
                .into_response()
        }
        _ => {}
    }
    let all: Vec<Value> = catalog()
        .into_iter()
        .filter(|r| {
            r["repo_name"]
                .as_str()
                .is_some_and(|n| n.contains(query.as_str()))
                || query == "limited-once"
        })
        .collect();
    Json(page_of(all, &q, "/v2/search/repositories/")).into_response()
}

/// The Hub's answer for a repository it does not have.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "object not found"})),
    )
        .into_response()
}

async fn repository(
    State(hub): State<Arc<Hub>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    hub.requests.fetch_add(1, Ordering::SeqCst);
    if (ns.as_str(), name.as_str()) != ("library", "busybox") {
        return not_found();
    }
    Json(json!({
        "user": "library", "name": "busybox", "namespace": "library", "repository_type": "image",
        "status": 1, "status_description": "active", "description": "Busybox base image.",
        "is_private": false, "is_automated": false, "star_count": 3400, "pull_count": 7_000_000_000u64,
        "last_updated": "2026-10-01T12:00:00.000000Z", "date_registered": "2014-06-05T19:52:29.000000Z",
        "collaborator_count": 0, "affiliation": null, "hub_user": "library", "has_starred": false,
        "full_description": "# Busybox\nThe Swiss Army Knife of Embedded Linux.", "permissions": {"read": true, "write": false, "admin": false},
        "media_types": ["application/vnd.oci.image.index.v1+json"], "content_types": ["image"], "categories": []
    }))
    .into_response()
}

async fn tags(
    State(hub): State<Arc<Hub>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    hub.requests.fetch_add(1, Ordering::SeqCst);
    if (ns.as_str(), name.as_str()) != ("library", "busybox") {
        return not_found();
    }
    let image = |arch: &str, variant: Value, size: u64| json!({"architecture": arch, "features": "", "variant": variant, "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "os": "linux", "os_features": "", "os_version": null, "size": size, "status": "active", "last_pulled": "2026-11-01T00:00:00Z", "last_pushed": "2026-10-01T00:00:00Z"});
    let mut all = Vec::new();
    for (i, name) in [
        "latest", "1.37", "1.36", "musl", "glibc", "uclibc", "stable",
    ]
    .iter()
    .enumerate()
    {
        all.push(json!({
            "creator": 7, "id": i, "images": [image("amd64", Value::Null, 2_155_000), image("arm64", json!("v8"), 1_900_000), image("unknown", Value::Null, 0)],
            "last_updated": "2026-10-01T12:00:00Z", "last_updater": 1, "last_updater_username": "doijanky",
            "name": name, "repository": 1, "full_size": 2_155_000, "v2": true, "tag_status": "active",
            "tag_last_pulled": "2026-11-01T00:00:00Z", "tag_last_pushed": format!("2026-10-0{}T12:00:00Z", 7 - i),
            "media_type": "application/vnd.oci.image.index.v1+json", "content_type": "image",
            "digest": format!("sha256:{i:064}")
        }));
    }
    Json(page_of(all, &q, "/v2/repositories/library/busybox/tags")).into_response()
}

async fn stand_in() -> (String, Arc<Hub>) {
    let hub = Arc::new(Hub::default());
    let app = Router::new()
        .route("/api/v2/search/repositories/", get(search))
        .route("/api/v2/repositories/{ns}/{name}/", get(repository))
        .route("/api/v2/repositories/{ns}/{name}/tags", get(tags))
        .with_state(hub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    // A base URL with a path: the client keeps it.
    (format!("http://{addr}/api"), hub)
}

fn client(base: &str) -> HubClient {
    HubClient::new(HubConfig::new(base)).expect("client")
}

#[tokio::test]
async fn search_returns_badges_counts_and_pages() {
    let (base, _) = stand_in().await;
    let hub = client(&base);
    let first = hub.search("busybox", 1, 25).await.expect("search");
    assert_eq!(first.count, 30);
    assert!(first.has_next);
    assert_eq!(first.results.len(), 25);
    let busybox = &first.results[0];
    assert_eq!(busybox.name, "busybox");
    assert!(busybox.official && !busybox.verified);
    assert_eq!((busybox.stars, busybox.pulls), (3400, 7_000_000_000));
    let tools = &first.results[1];
    assert!(tools.verified && !tools.official);
    assert_eq!(
        first.results[2].description, "",
        "a null description is empty"
    );
    let last = hub.search("busybox", 2, 25).await.expect("page 2");
    assert_eq!(last.results.len(), 5);
    assert!(!last.has_next);
    assert_eq!(last.page, 2);
    let none = hub.search("nothing-matches", 1, 25).await.expect("empty");
    assert_eq!(
        (none.count, none.results.len(), none.has_next),
        (0, 0, false)
    );
    let err = hub.search("  ", 1, 25).await.expect_err("empty query");
    assert_eq!((err.code(), err.field()), ("invalid_input", Some("query")));
}

#[tokio::test]
async fn repository_and_tags_with_sizes_platforms_and_paging() {
    let (base, _) = stand_in().await;
    let hub = client(&base);
    let repo = hub.repository("busybox").await.expect("repository");
    assert_eq!(repo.name, "busybox");
    assert!(repo.official);
    assert!(repo.full_description.contains("Swiss Army Knife"));
    let tags = hub.tags("busybox", 1, 5).await.expect("tags");
    assert_eq!(
        (tags.count, tags.results.len(), tags.has_next),
        (7, 5, true)
    );
    let latest = &tags.results[0];
    assert_eq!(latest.name, "latest");
    assert_eq!(latest.size, Some(2_155_000));
    assert_eq!(
        latest.architectures,
        ["amd64", "arm64/v8"],
        "unknown platforms (attestations) are left out"
    );
    assert_eq!(latest.last_pushed.as_deref(), Some("2026-10-07T12:00:00Z"));
    let rest = hub.tags("busybox", 2, 5).await.expect("page 2");
    assert_eq!(
        rest.results
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["uclibc", "stable"]
    );
    assert!(!rest.has_next);

    let missing = hub.repository("nobody/nothing").await.expect_err("404");
    assert_eq!(missing.code(), "hub_not_found");
    assert!(missing.to_string().contains("nobody/nothing"), "{missing}");
    assert_eq!(
        hub.tags("nobody/nothing", 1, 5)
            .await
            .expect_err("404")
            .code(),
        "hub_not_found"
    );
    assert_eq!(
        hub.tags("../etc", 1, 5).await.expect_err("bad name").code(),
        "invalid_input"
    );
}

#[tokio::test]
async fn answers_are_cached_briefly() {
    let (base, counts) = stand_in().await;
    let mut config = HubConfig::new(&base);
    config.cache_ttl = Duration::from_millis(400);
    let hub = HubClient::new(config).expect("client");
    hub.search("busybox", 1, 10).await.expect("search");
    hub.search("busybox", 1, 10).await.expect("cached");
    hub.tags("busybox", 1, 10).await.expect("tags");
    hub.tags("busybox", 1, 10).await.expect("cached tags");
    assert_eq!(
        counts.requests.load(Ordering::SeqCst),
        2,
        "the repeats came from the cache"
    );
    hub.search("busybox", 2, 10).await.expect("another page");
    assert_eq!(counts.requests.load(Ordering::SeqCst), 3);
    tokio::time::sleep(Duration::from_millis(450)).await;
    hub.search("busybox", 1, 10).await.expect("expired");
    assert_eq!(
        counts.requests.load(Ordering::SeqCst),
        4,
        "an expired answer is asked again"
    );
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_and_a_long_one_reported() {
    let (base, counts) = stand_in().await;
    let hub = client(&base);
    let started = Instant::now();
    let page = hub
        .search("limited-once", 1, 25)
        .await
        .expect("retried after 1 s");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert!(!page.results.is_empty());
    assert_eq!(counts.requests.load(Ordering::SeqCst), 2);

    let started = Instant::now();
    let err = hub.search("limited-long", 1, 25).await.expect_err("429");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a 120 s wait is not waited out"
    );
    match &err {
        HubError::RateLimited { retry_after } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(120)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(err.code(), "hub_rate_limited");
    assert!(err.to_string().contains("120 s"), "{err}");
}

#[tokio::test]
async fn offline_slow_and_broken_answers_are_typed_errors() {
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let hub = client(&format!("http://127.0.0.1:{port}"));
    let err = hub.search("busybox", 1, 25).await.expect_err("offline");
    assert_eq!(err.code(), "hub_offline", "{err}");
    assert!(err.to_string().contains("network"), "{err}");

    let (base, _) = stand_in().await;
    let mut config = HubConfig::new(&base);
    config.timeout = Duration::from_millis(500);
    let hub = HubClient::new(config).expect("client");
    let started = Instant::now();
    let err = hub.search("slow", 1, 25).await.expect_err("timeout");
    assert_eq!(err.code(), "hub_timeout", "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let hub = client(&base);
    assert_eq!(
        hub.search("broken", 1, 25).await.expect_err("html").code(),
        "hub_error"
    );
    let err = hub.search("error", 1, 25).await.expect_err("502");
    assert!(
        matches!(err, HubError::Status { status: 502, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("upstream failed"), "{err}");
}

//! The Hub's public API over reqwest: search, repository details and tags, each one page at a
//! time. Answers are cached briefly ([`crate::cache`]); a `429` is waited out once when its
//! `Retry-After` is short (at most [`HubConfig::max_retry_wait`]), otherwise reported as
//! [`HubError::RateLimited`] with the wait the Hub asked for.

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use crate::cache::Cache;
use crate::error::HubError;
use crate::model::{
    ApiPage, ApiRepository, ApiSearchResult, ApiTag, Page, RepoSummary, Repository, Tag,
};

/// How the client talks to the Hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The API's base URL (`https://hub.docker.com`, or a stand-in's).
    pub base_url: String,
    /// The whole request's deadline.
    pub timeout: Duration,
    /// How long answers are reused.
    pub cache_ttl: Duration,
    /// The longest `Retry-After` waited out before retrying once; longer ones are reported.
    pub max_retry_wait: Duration,
}

impl HubConfig {
    /// Defaults for `base_url`: 15 s timeout, 60 s cache, retry after at most 5 s.
    pub fn new(base_url: impl Into<String>) -> HubConfig {
        HubConfig {
            base_url: base_url.into(),
            timeout: Duration::from_secs(15),
            cache_ttl: Duration::from_secs(60),
            max_retry_wait: Duration::from_secs(5),
        }
    }
}

/// A client of the Hub's API.
#[derive(Debug)]
pub struct HubClient {
    http: reqwest::Client,
    base: Url,
    config: HubConfig,
    cache: Cache,
}

/// Results per page when the caller does not say (the API's own default).
pub const DEFAULT_PAGE_SIZE: u32 = 25;
const MAX_PAGE_SIZE: u32 = 100;

impl HubClient {
    /// A client for `config`; fails only on a base URL that is not http(s).
    pub fn new(config: HubConfig) -> Result<HubClient, HubError> {
        let invalid = |message: String| HubError::InvalidInput {
            field: "hub_api_url",
            message,
        };
        let mut base = Url::parse(config.base_url.trim())
            .map_err(|e| invalid(format!("{:?} is not a URL: {e}", config.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(invalid(format!(
                "{:?} must be an http(s):// URL",
                config.base_url
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HubError::Offline {
                base: config.base_url.clone(),
                reason: e.to_string(),
            })?;
        Ok(HubClient {
            http,
            base,
            cache: Cache::new(config.cache_ttl, 256),
            config,
        })
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// Searches repositories; `page` counts from 1.
    pub async fn search(
        &self,
        query: &str,
        page: u32,
        page_size: u32,
    ) -> Result<Page<RepoSummary>, HubError> {
        let query = query.trim();
        if query.is_empty() || query.len() > 200 {
            return Err(HubError::InvalidInput {
                field: "query",
                message: "enter up to 200 characters to search for, such as busybox".into(),
            });
        }
        let (page, page_size) = paging(page, page_size);
        let url = self.url(
            "v2/search/repositories/",
            &[
                ("query", query.to_owned()),
                ("page", page.to_string()),
                ("page_size", page_size.to_string()),
            ],
        )?;
        let answer: ApiPage<ApiSearchResult> = self.get(url, query).await?;
        Ok(to_page(answer, page, page_size))
    }

    /// A repository's details; `name` as searched (`busybox`, `owner/name`).
    pub async fn repository(&self, name: &str) -> Result<Repository, HubError> {
        let (namespace, repo) = split_repository(name)?;
        let url = self.url(&format!("v2/repositories/{namespace}/{repo}/"), &[])?;
        let answer: ApiRepository = self.get(url, name).await?;
        Ok(answer.into())
    }

    /// A page of a repository's tags, most recently pushed first.
    pub async fn tags(&self, name: &str, page: u32, page_size: u32) -> Result<Page<Tag>, HubError> {
        let (namespace, repo) = split_repository(name)?;
        let (page, page_size) = paging(page, page_size);
        let url = self.url(
            &format!("v2/repositories/{namespace}/{repo}/tags"),
            &[
                ("page", page.to_string()),
                ("page_size", page_size.to_string()),
                ("ordering", "last_updated".to_owned()),
            ],
        )?;
        let answer: ApiPage<ApiTag> = self.get(url, name).await?;
        Ok(to_page(answer, page, page_size))
    }

    /// Forgets cached answers.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, HubError> {
        let mut url = self.base.join(path).map_err(|e| HubError::InvalidInput {
            field: "hub_api_url",
            message: e.to_string(),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url, what: &str) -> Result<T, HubError> {
        let key = url.to_string();
        if let Some(value) = self.cache.get(&key) {
            return serde_json::from_value(value)
                .map_err(|e| HubError::InvalidResponse(e.to_string()));
        }
        let mut retried = false;
        loop {
            let response = self
                .http
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| self.transport_error(e))?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let retry_after = retry_after(response.headers());
                match retry_after {
                    Some(wait) if !retried && wait <= self.config.max_retry_wait => {
                        tracing::debug!("the Hub asked to wait {wait:?}; retrying once");
                        retried = true;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    _ => return Err(HubError::RateLimited { retry_after }),
                }
            }
            if status == StatusCode::NOT_FOUND {
                return Err(HubError::NotFound(what.to_owned()));
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(e))?;
            if !status.is_success() {
                return Err(HubError::Status {
                    status: status.as_u16(),
                    message: error_message(status, &body),
                });
            }
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| HubError::InvalidResponse(format!("not JSON: {e}")))?;
            let parsed = serde_json::from_value(value.clone())
                .map_err(|e| HubError::InvalidResponse(e.to_string()))?;
            self.cache.put(key, value);
            return Ok(parsed);
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> HubError {
        if e.is_timeout() {
            return HubError::Timeout(self.config.timeout);
        }
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        HubError::Offline {
            base: self.config.base_url.clone(),
            reason,
        }
    }
}

fn paging(page: u32, page_size: u32) -> (u32, u32) {
    let size = if page_size == 0 {
        DEFAULT_PAGE_SIZE
    } else {
        page_size.min(MAX_PAGE_SIZE)
    };
    (page.max(1), size)
}

fn to_page<A, T: From<A>>(answer: ApiPage<A>, page: u32, page_size: u32) -> Page<T> {
    Page {
        page,
        page_size,
        count: answer.count,
        has_next: answer.next.is_some_and(|n| !n.is_empty()),
        results: answer.results.into_iter().map(T::from).collect(),
    }
}

/// `busybox` → (`library`, `busybox`); `owner/name` → (`owner`, `name`), each part checked so
/// nothing but a repository name reaches the URL path.
pub fn split_repository(name: &str) -> Result<(String, String), HubError> {
    let name = name.trim();
    let (namespace, repo) = match name.split_once('/') {
        Some((ns, repo)) => (ns, repo),
        None => ("library", name),
    };
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 255
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && !p.starts_with('.')
    };
    if !part_ok(namespace) || !part_ok(repo) {
        return Err(HubError::InvalidInput {
            field: "repository",
            message: format!(
                "{name:?} is not a Hub repository name (name or owner/name, lowercase)"
            ),
        });
    }
    Ok((namespace.to_owned(), repo.to_owned()))
}

/// `Retry-After` in seconds, or as an HTTP date (then measured from now); at most an hour.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    let at = httpdate(value)?;
    let now = std::time::SystemTime::now();
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP servers send.
fn httpdate(s: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + sec;
    let secs = u64::try_from(secs).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

fn error_message(status: StatusCode, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["message", "detail", "error"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
        });
    from_json.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("unexpected status")
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_checked_before_they_reach_a_url() {
        assert_eq!(
            split_repository("busybox").expect("official"),
            ("library".into(), "busybox".into())
        );
        assert_eq!(
            split_repository("bitnami/redis").expect("user"),
            ("bitnami".into(), "redis".into())
        );
        for bad in ["", "a/b/c", "../x", "x?y", "A/b", "a/"] {
            assert_eq!(
                split_repository(bad).expect_err(bad).code(),
                "invalid_input"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "3".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        assert_eq!(
            httpdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().expect("header"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn the_base_url_must_be_http() {
        assert!(HubClient::new(HubConfig::new("ftp://x")).is_err());
        assert!(HubClient::new(HubConfig::new("not a url")).is_err());
        assert!(HubClient::new(HubConfig::new("http://127.0.0.1:1/api")).is_ok());
    }
}

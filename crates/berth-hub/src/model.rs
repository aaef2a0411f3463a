//! The Hub API's JSON (only the fields Berth reads; unknown ones are ignored, missing optional
//! ones default) and the trimmed shapes the client returns.

use serde::{Deserialize, Serialize};

/// One page of a paged API answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiPage<T> {
    /// Results in all pages.
    #[serde(default)]
    pub count: u64,
    /// The next page's URL, if any.
    #[serde(default)]
    pub next: Option<String>,
    /// This page.
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

/// A search result as the API sends it (`/v2/search/repositories/`).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiSearchResult {
    /// `busybox` for official images, `owner/name` otherwise.
    pub repo_name: String,
    /// One-line description.
    #[serde(default)]
    pub short_description: Option<String>,
    /// Stars.
    #[serde(default)]
    pub star_count: u64,
    /// Pulls.
    #[serde(default)]
    pub pull_count: u64,
    /// A Docker Official Image.
    #[serde(default)]
    pub is_official: bool,
    /// From a verified publisher (sent by the API for such repositories).
    #[serde(default)]
    pub is_verified: bool,
}

/// A repository as the API sends it (`/v2/repositories/{namespace}/{name}/`).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiRepository {
    /// `library` for official images.
    pub namespace: String,
    /// The repository's name.
    pub name: String,
    /// One-line description.
    #[serde(default)]
    pub description: Option<String>,
    /// The long description (Markdown).
    #[serde(default)]
    pub full_description: Option<String>,
    /// Stars.
    #[serde(default)]
    pub star_count: u64,
    /// Pulls.
    #[serde(default)]
    pub pull_count: u64,
    /// Last update, RFC 3339.
    #[serde(default)]
    pub last_updated: Option<String>,
}

/// One platform of a tag as the API sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiTagImage {
    /// `amd64`, `arm64`…
    #[serde(default)]
    pub architecture: Option<String>,
    /// `v7`, `v8`…
    #[serde(default)]
    pub variant: Option<String>,
    /// `linux`, `windows`…
    #[serde(default)]
    pub os: Option<String>,
}

/// A tag as the API sends it (`/v2/repositories/{namespace}/{name}/tags`).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiTag {
    /// The tag.
    pub name: String,
    /// Compressed size of the largest platform, bytes.
    #[serde(default)]
    pub full_size: Option<u64>,
    /// Its platforms.
    #[serde(default = "Vec::new")]
    pub images: Vec<ApiTagImage>,
    /// Last push, RFC 3339.
    #[serde(default)]
    pub tag_last_pushed: Option<String>,
    /// Last update, RFC 3339 (older answers only have this).
    #[serde(default)]
    pub last_updated: Option<String>,
    /// The manifest (list) digest.
    #[serde(default)]
    pub digest: Option<String>,
}

/// A page of results for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T> {
    /// The page number (from 1).
    pub page: u32,
    /// Results per page.
    pub page_size: u32,
    /// Results in all pages.
    pub count: u64,
    /// Whether a next page exists.
    pub has_next: bool,
    /// This page.
    pub results: Vec<T>,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RepoSummary {
    /// What to pull: `busybox`, `owner/name`.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Stars.
    pub stars: u64,
    /// Pulls.
    pub pulls: u64,
    /// A Docker Official Image.
    pub official: bool,
    /// From a verified publisher.
    pub verified: bool,
}

/// A repository's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "HubRepository"))]
pub struct Repository {
    /// What to pull: `busybox`, `owner/name`.
    pub name: String,
    /// `library` for official images.
    pub namespace: String,
    /// One-line description.
    pub description: String,
    /// The long description (Markdown, shown as text).
    pub full_description: String,
    /// Stars.
    pub stars: u64,
    /// Pulls.
    pub pulls: u64,
    /// A Docker Official Image.
    pub official: bool,
    /// Last update, RFC 3339.
    pub last_updated: Option<String>,
}

/// A tag of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "HubTag"))]
pub struct Tag {
    /// The tag.
    pub name: String,
    /// Compressed size in bytes (the largest platform), when known.
    pub size: Option<u64>,
    /// Platforms: `amd64`, `arm64/v8`, `windows/amd64`…
    pub architectures: Vec<String>,
    /// Last push, RFC 3339.
    pub last_pushed: Option<String>,
    /// The manifest (list) digest.
    pub digest: Option<String>,
}

impl From<ApiSearchResult> for RepoSummary {
    fn from(r: ApiSearchResult) -> RepoSummary {
        RepoSummary {
            official: r.is_official || !r.repo_name.contains('/'),
            name: r.repo_name,
            description: r.short_description.unwrap_or_default(),
            stars: r.star_count,
            pulls: r.pull_count,
            verified: r.is_verified,
        }
    }
}

impl From<ApiRepository> for Repository {
    fn from(r: ApiRepository) -> Repository {
        let official = r.namespace == "library";
        Repository {
            name: if official {
                r.name.clone()
            } else {
                format!("{}/{}", r.namespace, r.name)
            },
            namespace: r.namespace,
            description: r.description.unwrap_or_default(),
            full_description: r.full_description.unwrap_or_default(),
            stars: r.star_count,
            pulls: r.pull_count,
            official,
            last_updated: r.last_updated,
        }
    }
}

impl From<ApiTag> for Tag {
    fn from(t: ApiTag) -> Tag {
        let mut architectures: Vec<String> = Vec::new();
        for image in &t.images {
            let Some(arch) = image.architecture.as_deref().filter(|a| *a != "unknown") else {
                continue;
            };
            let mut platform = String::new();
            if let Some(os) = image
                .os
                .as_deref()
                .filter(|o| *o != "linux" && !o.is_empty())
            {
                platform.push_str(os);
                platform.push('/');
            }
            platform.push_str(arch);
            if let Some(variant) = image.variant.as_deref().filter(|v| !v.is_empty()) {
                platform.push('/');
                platform.push_str(variant);
            }
            if !architectures.contains(&platform) {
                architectures.push(platform);
            }
        }
        Tag {
            name: t.name,
            size: t.full_size,
            architectures,
            last_pushed: t.tag_last_pushed.or(t.last_updated),
            digest: t.digest,
        }
    }
}

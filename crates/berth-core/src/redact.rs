//! Redaction of credentials in text that leaves the machine with the user (the diagnostics
//! bundle): user info in URLs (`http://user:pass@proxy`, `https://token@mirror`), the values of
//! password-, token-, secret- and key-named fields (`"password": "…"`, `token=…`), and
//! `Authorization` header values become `***`; [`Redactions`] counts what was replaced, so the
//! bundle can say so.

use std::sync::LazyLock;

use regex::Regex;

/// The user info of a URL: `scheme://` and everything up to the `@` before the host.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@"'<>]+@"#).expect("URL pattern")
});

/// A field whose name says it is secret, with its value (JSON, `key=value`, `key: value`).
static SECRET_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)("?[a-z0-9_-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|auth)[a-z0-9_-]*"?\s*[:=]\s*"?)([^"\s,}]+)"#,
    )
    .expect("field pattern")
});

/// An `Authorization` header's credentials.
static AUTHORIZATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(authorization:\s*(?:bearer|basic)\s+)\S+").expect("header pattern")
});

/// What [`redact`] replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redactions {
    /// User info in URLs.
    pub url_credentials: usize,
    /// Values of secret-named fields and `Authorization` headers.
    pub secrets: usize,
}

impl Redactions {
    /// Adds another text's count.
    pub fn add(&mut self, other: Redactions) {
        self.url_credentials += other.url_credentials;
        self.secrets += other.secrets;
    }
}

impl std::fmt::Display for Redactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} credential(s) in URLs and {} password, token or key value(s) were replaced by ***",
            self.url_credentials, self.secrets
        )
    }
}

/// `text` with its credentials replaced by `***`, and how many.
pub fn redact(text: &str) -> (String, Redactions) {
    let mut counts = Redactions::default();
    let text = URL_USERINFO.replace_all(text, |c: &regex::Captures<'_>| {
        counts.url_credentials += 1;
        format!("{}***@", &c[1])
    });
    let text = AUTHORIZATION.replace_all(&text, |c: &regex::Captures<'_>| {
        counts.secrets += 1;
        format!("{}***", &c[1])
    });
    let text = SECRET_FIELD.replace_all(&text, |c: &regex::Captures<'_>| {
        // Already replaced, or the scheme word of an `Authorization` header done above.
        let value = &c[2];
        if value == "***"
            || value.eq_ignore_ascii_case("bearer")
            || value.eq_ignore_ascii_case("basic")
        {
            return c[0].to_owned();
        }
        counts.secrets += 1;
        format!("{}***", &c[1])
    });
    (text.into_owned(), counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_fields_and_headers_are_replaced_and_counted() {
        let settings = r#"{"http_proxy": "http://ann:s3cret@proxy:3128", "registry_mirrors": ["https://t0ken@mirror.internal:5000"], "dns": ["1.1.1.1"]}"#;
        let (out, counts) = redact(settings);
        assert!(
            !out.contains("s3cret") && !out.contains("t0ken") && !out.contains("ann:"),
            "{out}"
        );
        assert!(out.contains("http://***@proxy:3128"), "{out}");
        assert!(out.contains("https://***@mirror.internal:5000"), "{out}");
        assert!(out.contains("1.1.1.1"), "{out}");
        assert_eq!(counts.url_credentials, 2);

        let (out, counts) = redact(
            "login: \"password\": \"hunter2\", token=abc.def api_key: xyz\nAuthorization: Bearer eyJhbGci",
        );
        for secret in ["hunter2", "abc.def", "xyz", "eyJhbGci"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert_eq!(counts.secrets, 4, "{out}");
        assert!(counts.to_string().contains("4 password"), "{counts}");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let text = "engine ready: agent_ms=812 uptime_ms=4100\nGET http://docker/v1.47/containers/json\nsha256:0123abcd";
        assert_eq!(redact(text), (text.to_owned(), Redactions::default()));
    }
}

//! Image references (`[registry/]path[:tag][@digest]`), checked against the registry's
//! grammar (the one the engine itself applies) so an invalid name is refused with a clear
//! message before any engine call, and resolved to the registry whose credentials a pull or
//! push needs (`docker.io` when none is named).

use std::fmt;

/// The registry of references that name none.
pub const DOCKER_HUB: &str = "docker.io";
/// What the engine calls Docker Hub in credentials (`serveraddress`).
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// A parsed, valid image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, or the `host[:port]` the reference names.
    pub registry: String,
    /// The repository path, e.g. `library/busybox` or `team/app`.
    pub path: String,
    /// The tag, if given.
    pub tag: Option<String>,
    /// The digest (`sha256:…`), if given.
    pub digest: Option<String>,
}

/// Why a reference is invalid; the message says how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reference:?}: {reason}")]
pub struct ReferenceError {
    /// The reference as given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Reference {
    /// Parses and checks `input` (surrounding whitespace ignored).
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let s = input.trim();
        let fail = |reason: &str| ReferenceError {
            reference: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(fail(
                "enter an image name such as busybox, busybox:1.36 or registry:5000/team/app:1.2",
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("an image name contains no spaces"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|r| fail(&r))?;
                (rest, Some(digest.to_owned()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(colon) => {
                let at = last_slash + colon;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| fail(&r))?;
        }
        if name.len() > 255 {
            return Err(fail("the name is longer than 255 characters"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first != first.to_lowercase() =>
            {
                check_domain(first).map_err(|r| fail(&r))?;
                (first.to_owned(), path.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        for component in path.split('/') {
            check_component(component).map_err(|r| fail(&r))?;
        }
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Reference {
            registry,
            path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The repository as the engine and `docker images` show it: `busybox` for Hub official
    /// images, `team/app` for other Hub repositories, `host:port/path` elsewhere.
    pub fn name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            format!("{}/{}", self.registry, self.path)
        }
    }

    /// What to ask the engine for besides [`Reference::name`]: the digest if given, else the
    /// tag, else `latest`.
    pub fn tag_or_digest(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The address the engine's credentials name for this registry.
    pub fn server_address(&self) -> String {
        server_address(&self.registry)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        if self.tag.is_none() && self.digest.is_none() {
            f.write_str(":latest")?;
        }
        Ok(())
    }
}

/// The credentials' `serveraddress` for a registry key (`docker.io` → the Hub's index URL).
pub fn server_address(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_SERVER.to_owned()
    } else {
        registry.to_owned()
    }
}

/// Normalizes what a user typed as a registry for a login (`docker.io`, an empty field, the
/// Hub's index URL, `host[:port]`, with or without `http(s)://`) to the key accounts are
/// stored under.
pub fn registry_key(input: &str) -> Result<String, ReferenceError> {
    let s = input.trim();
    let bare = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s)
        .trim_end_matches('/');
    let bare = bare.strip_suffix("/v1").unwrap_or(bare);
    let bare = bare.strip_suffix("/v2").unwrap_or(bare);
    if bare.is_empty()
        || matches!(
            bare,
            "docker.io" | "index.docker.io" | "registry-1.docker.io" | "hub.docker.com"
        )
    {
        return Ok(DOCKER_HUB.to_owned());
    }
    check_domain(bare).map_err(|reason| ReferenceError {
        reference: s.to_owned(),
        reason,
    })?;
    Ok(bare.to_lowercase())
}

fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 registry address needs its closing ]")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{host} is not an IPv6 address"));
        }
        (None, after.strip_prefix(':'))
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err(format!(
                "{host} is not a registry host name (letters, digits, '-' and '.')"
            ));
        }
    }
    if let Some(port) = port {
        if port.parse::<u16>().ok().filter(|p| *p > 0).is_none() {
            return Err(format!("{port} is not a port number"));
        }
    }
    Ok(())
}

/// `[a-z0-9]+` separated by `.`, `_`, `__` or any number of `-`.
fn check_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("the name has an empty part (a doubled or trailing '/')".to_owned());
    }
    if component.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("{component}: repository names are lowercase"));
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(format!(
            "{component}: each part of the name starts and ends with a letter or digit"
        ));
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(format!(
                "{component}: use lowercase letters, digits and single '.', '_' or '-' between them"
            ));
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let first_ok = tag
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok
        || tag.len() > 128
        || !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(format!(
            "{tag:?} is not a valid tag (up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-')"
        ));
    }
    Ok(())
}

/// `algorithm:hex`, e.g. `sha256:` and 64 hex digits.
fn check_digest(digest: &str) -> Result<(), String> {
    let valid = match digest.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        Some((algo, hex)) => {
            !algo.is_empty()
                && algo
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
        }
        None => false,
    } && digest.split_once(':').is_some_and(|(_, hex)| {
        hex.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{digest:?} is not a digest (sha256: and 64 lowercase hex digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn hub_names_get_their_registry_and_library_namespace() {
        let r = ok("busybox");
        assert_eq!(
            (r.registry.as_str(), r.path.as_str()),
            ("docker.io", "library/busybox")
        );
        assert_eq!((r.name(), r.tag_or_digest()), ("busybox".into(), "latest"));
        assert_eq!(r.to_string(), "busybox:latest");
        let r = ok("team/app:1.2");
        assert_eq!(
            (r.name(), r.tag.as_deref()),
            ("team/app".into(), Some("1.2"))
        );
        assert_eq!(r.server_address(), DOCKER_HUB_SERVER);
        assert_eq!(ok("docker.io/library/busybox:1").name(), "busybox");
    }

    #[test]
    fn other_registries_are_named_by_host_and_port() {
        let r = ok("10.0.2.2:5000/team/app:e2e");
        assert_eq!(r.registry, "10.0.2.2:5000");
        assert_eq!(r.path, "team/app");
        assert_eq!(r.name(), "10.0.2.2:5000/team/app");
        assert_eq!(r.server_address(), "10.0.2.2:5000");
        assert_eq!(ok("localhost/app").registry, "localhost");
        assert_eq!(ok("[::1]:5000/app").registry, "[::1]:5000");
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = ok(&format!("busybox@{digest}"));
        assert_eq!(r.tag_or_digest(), digest);
        assert_eq!(ok("a_b__c.d-e---f").path, "library/a_b__c.d-e---f");
    }

    #[test]
    fn invalid_references_say_what_is_wrong() {
        for bad in [
            "",
            "  ",
            "Busybox",
            "busy box",
            "busybox:",
            "busybox:-x",
            "busybox:a/b",
            "bad..name",
            "-app",
            "app-",
            "team//app",
            "app/",
            "registry:99999/app",
            "reg_istry.io/app",
            "busybox@sha256:abc",
            "busybox@md5",
            "a!b",
        ] {
            let err = Reference::parse(bad).expect_err(bad);
            assert!(!err.reason.is_empty(), "{bad}");
        }
        let long = format!("busybox:{}", "x".repeat(129));
        assert!(Reference::parse(&long).is_err());
        assert!(Reference::parse(&"a".repeat(256)).is_err());
        assert!(Reference::parse("Busybox")
            .expect_err("uppercase")
            .reason
            .contains("lowercase"));
    }

    #[test]
    fn registry_keys_normalize_what_users_type() {
        for hub in [
            "",
            "docker.io",
            "https://index.docker.io/v1/",
            "hub.docker.com",
        ] {
            assert_eq!(registry_key(hub).expect(hub), DOCKER_HUB, "{hub}");
        }
        assert_eq!(
            registry_key("http://127.0.0.1:5000/").expect("url"),
            "127.0.0.1:5000"
        );
        assert_eq!(
            registry_key("Registry.Example:443").expect("host"),
            "registry.example:443"
        );
        assert!(registry_key("not a host").is_err());
        assert!(registry_key("host:0").is_err());
    }
}

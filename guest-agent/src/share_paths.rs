//! Where a host path lies among the shared folders: the check every path of a host file event
//! ([`berth_protocol::message::Request::FilesChanged`]) passes before the agent touches anything
//! (`file_events.rs`). Pure string work, fuzzed in `fuzz/`.

use berth_protocol::settings::Share;

/// Finds the shared folder `path` lies in; returns it and the path below it (empty for the
/// folder itself). `None` for anything else, including relative paths, `.`, `..`, empty
/// components and NUL bytes.
pub fn locate<'a, 'p>(shares: &'a [Share], path: &'p str) -> Option<(&'a Share, &'p str)> {
    let rest = path.strip_prefix('/')?;
    let bad_part = |part: &str| part.is_empty() || part == "." || part == "..";
    if path.contains('\0') || (!rest.is_empty() && rest.split('/').any(bad_part)) {
        return None;
    }
    shares
        .iter()
        // A share's path is absolute (the settings accept no other); an empty one would hold
        // every path.
        .filter(|share| share.path.starts_with('/'))
        .filter_map(|share| {
            let below = path.strip_prefix(share.path.as_str())?;
            match below.strip_prefix('/') {
                Some(rel) => Some((share, rel)),
                None if below.is_empty() => Some((share, "")),
                None => None,
            }
        })
        .max_by_key(|(share, _)| share.path.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_located_inside_a_shared_folder_only() {
        let shares = [("s0-ana", "/home/ana"), ("s1-work", "/work")].map(|(tag, path)| Share {
            tag: tag.into(),
            path: path.into(),
            read_only: false,
        });
        let at = |p: &str| locate(&shares, p).map(|(s, rel)| (s.tag.clone(), rel.to_owned()));
        assert_eq!(
            at("/home/ana/src/a.rs"),
            Some(("s0-ana".into(), "src/a.rs".into()))
        );
        assert_eq!(at("/home/ana"), Some(("s0-ana".into(), String::new())));
        assert_eq!(at("/work/x"), Some(("s1-work".into(), "x".into())));
        for outside in [
            "/home/anabel/x",
            "/home",
            "/etc/passwd",
            "home/ana/x",
            "/home/ana/../../etc/passwd",
            "/home/ana/./x",
            "/home/ana//x",
            "/home/ana/x/",
            "/home/ana/x\0y",
            "",
        ] {
            assert_eq!(at(outside), None, "{outside:?}");
        }
    }

    /// Found by the `share_paths` fuzz target: a share with an empty path held every path.
    #[test]
    fn a_share_that_is_not_absolute_holds_nothing() {
        for path in ["", "relative"] {
            let shares = [Share {
                tag: "s0".into(),
                path: path.into(),
                read_only: false,
            }];
            for event in ["/", "/etc/passwd", "/relative/x"] {
                assert_eq!(locate(&shares, event), None, "{path:?} {event:?}");
            }
        }
    }
}

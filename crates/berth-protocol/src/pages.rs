//! Answers too large for one frame, made to fit ([`crate::frame::MAX_FRAME`], 1 MiB).
//!
//! - The published-port set travels as pages of at most [`PORTS_PAGE`] ports
//!   ([`port_pages`]), each an [`Event::PortsChanged`] whose `more` says another page of the
//!   same set follows; the host applies the set once the last page arrives ([`PortPages`]).
//!   `docker run -p 10000-20000:10000-20000` publishes 20,002 ports (IPv4 and IPv6), ~4 MB as
//!   one message: as pages it reaches the host, and every other container's ports with it.
//! - A log tail is trimmed to [`LOG_BUDGET`] bytes, keeping the newest lines, and says so
//!   ([`fit_lines`], [`crate::message::LogBatch`]'s `truncated`); a followed log's batch keeps
//!   the oldest instead, so the follower asks on from where it ends ([`fit_oldest`], `more`).
//!
//! Every field of a port is bounded (a container id of 64 hex digits, an IP address, a name
//! the agent cuts to [`MAX_NAME`] bytes), so a page is well under the frame limit (tested).

use crate::message::{Event, PublishedPort};

/// Ports per [`Event::PortsChanged`] page.
pub const PORTS_PAGE: usize = 256;

/// The most ports a host assembles into one set; pages beyond it are dropped (every port of
/// both protocols and both address families is 262,144).
pub const MAX_SET: usize = 4 * 65_536;

/// The longest container name a port carries, in bytes (names are for messages only).
pub const MAX_NAME: usize = 128;

/// The most bytes of log lines in one answer.
pub const LOG_BUDGET: usize = 512 * 1024;

/// `set` as the events that carry it: one page per [`PORTS_PAGE`] ports, at least one (an
/// empty set is one empty page), every page but the last with `more`.
pub fn port_pages(set: &[PublishedPort]) -> Vec<Event> {
    if set.is_empty() {
        return vec![Event::PortsChanged {
            published: Vec::new(),
            more: false,
        }];
    }
    let pages = set.len().div_ceil(PORTS_PAGE);
    set.chunks(PORTS_PAGE)
        .enumerate()
        .map(|(i, page)| Event::PortsChanged {
            published: page.to_vec(),
            more: i + 1 < pages,
        })
        .collect()
}

/// Assembles pages into sets on the receiving side.
#[derive(Debug, Default)]
pub struct PortPages {
    partial: Vec<PublishedPort>,
    /// Ports dropped from the set being assembled for being over [`MAX_SET`].
    dropped: usize,
}

/// A set, once its last page arrived.
#[derive(Debug, PartialEq, Eq)]
pub struct Assembled {
    /// The ports.
    pub published: Vec<PublishedPort>,
    /// How many ports were left out for being over [`MAX_SET`].
    pub dropped: usize,
}

impl PortPages {
    /// Adds one page; returns the whole set when `more` is false.
    pub fn add(&mut self, page: Vec<PublishedPort>, more: bool) -> Option<Assembled> {
        let room = MAX_SET.saturating_sub(self.partial.len());
        self.dropped += page.len().saturating_sub(room);
        self.partial.extend(page.into_iter().take(room));
        (!more).then(|| Assembled {
            published: std::mem::take(&mut self.partial),
            dropped: std::mem::take(&mut self.dropped),
        })
    }

    /// Forgets a partly received set (the connection it came on is gone).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.dropped = 0;
    }
}

/// `name` cut to at most [`MAX_NAME`] bytes at a character boundary.
pub fn short_name(name: &str) -> String {
    if name.len() <= MAX_NAME {
        return name.to_owned();
    }
    let mut end = MAX_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// The bytes `line` takes as a JSON string in an array: quotes, comma and escapes.
fn json_len(line: &str) -> usize {
    3 + line
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if u32::from(c) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

/// The newest of `lines` whose JSON fits in `budget` bytes, oldest first; and whether older
/// lines were left out. A single line longer than the budget keeps its newest bytes.
pub fn fit_lines(mut lines: Vec<String>, budget: usize) -> (Vec<String>, bool) {
    let keep = fitting(lines.iter().rev(), budget);
    let truncated = keep < lines.len();
    if keep == 0 {
        if let Some(last) = lines.pop() {
            // At most 6 bytes of JSON per byte kept.
            let mut start = last.len().saturating_sub(budget.saturating_sub(3) / 6);
            while !last.is_char_boundary(start) {
                start += 1;
            }
            return (vec![last[start..].to_owned()], true);
        }
        return (Vec::new(), false);
    }
    let newest = lines.split_off(lines.len() - keep);
    (newest, truncated)
}

/// The oldest of `lines` whose JSON fits in `budget` bytes, and whether newer lines were left
/// out. The first line is kept whatever its size (the agent cuts its lines far below any
/// budget), so a follower always gets on.
pub fn fit_oldest(mut lines: Vec<String>, budget: usize) -> (Vec<String>, bool) {
    let keep = fitting(lines.iter(), budget).max(1).min(lines.len());
    let more = keep < lines.len();
    lines.truncate(keep);
    (lines, more)
}

/// How many of `lines`, in that order, fit in `budget` bytes of JSON.
fn fitting<'a>(lines: impl Iterator<Item = &'a String>, budget: usize) -> usize {
    let mut used = 0;
    let mut keep = 0;
    for line in lines {
        let cost = json_len(line);
        if used + cost > budget {
            break;
        }
        used += cost;
        keep += 1;
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{encode_frame, MAX_FRAME};
    use crate::message::{AgentToHost, LogBatch, PortProtocol, Response};

    fn port(i: usize, name: &str) -> PublishedPort {
        PublishedPort {
            container_id: format!("{:064x}", i),
            protocol: PortProtocol::Tcp,
            host_ip: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".into(),
            port: (i % 65_536) as u16,
            container_name: short_name(name),
            container_port: 65_535,
        }
    }

    #[test]
    fn a_huge_set_goes_as_pages_that_fit_and_comes_back_whole() {
        // The worst case of every field: the longest id, address and name, with characters
        // JSON escapes.
        let name = "\u{1}\"é".repeat(200);
        let set: Vec<PublishedPort> = (0..20_002).map(|i| port(i, &name)).collect();
        let pages = port_pages(&set);
        assert_eq!(pages.len(), 20_002usize.div_ceil(PORTS_PAGE));
        let mut assembler = PortPages::default();
        let mut whole = None;
        for (i, event) in pages.into_iter().enumerate() {
            let frame = encode_frame(&AgentToHost::Event {
                event: event.clone(),
            })
            .expect("a page fits a frame");
            assert!(
                frame.len() < MAX_FRAME / 2,
                "page {i}: {} bytes",
                frame.len()
            );
            let Event::PortsChanged { published, more } = event else {
                panic!("not ports");
            };
            assert!(whole.is_none(), "a set before its last page");
            whole = assembler.add(published, more);
        }
        let whole = whole.expect("the last page completes the set");
        assert_eq!(whole.published, set);
        assert_eq!(whole.dropped, 0);
        assert_eq!(
            port_pages(&[]),
            vec![Event::PortsChanged {
                published: vec![],
                more: false
            }]
        );
    }

    #[test]
    fn an_endless_set_is_capped_and_a_reset_forgets_a_partial_one() {
        let mut assembler = PortPages::default();
        let page: Vec<PublishedPort> = (0..PORTS_PAGE).map(|i| port(i, "x")).collect();
        for _ in 0..(MAX_SET / PORTS_PAGE) {
            assert!(assembler.add(page.clone(), true).is_none());
        }
        let done = assembler.add(page.clone(), false).expect("last page");
        assert_eq!(done.published.len(), MAX_SET);
        assert_eq!(done.dropped, PORTS_PAGE);
        assembler.add(page.clone(), true);
        assembler.reset();
        let done = assembler.add(vec![port(1, "y")], false).expect("set");
        assert_eq!((done.published.len(), done.dropped), (1, 0));
    }

    #[test]
    fn names_are_cut_at_a_character_boundary() {
        assert_eq!(short_name("web"), "web");
        let long = "é".repeat(100);
        let cut = short_name(&long);
        assert!(cut.len() <= MAX_NAME && long.starts_with(&cut) && !cut.is_empty());
    }

    #[test]
    fn log_tails_keep_the_newest_lines_that_fit() {
        let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        assert_eq!(fit_lines(lines.clone(), 1 << 20), (lines.clone(), false));
        let (kept, truncated) = fit_lines(lines.clone(), 3 * 9);
        assert_eq!(kept, vec!["line 7", "line 8", "line 9"]);
        assert!(truncated);
        // One enormous line keeps its end.
        let (kept, truncated) = fit_lines(vec!["a".repeat(100) + "END"], 60);
        assert!(truncated && kept.len() == 1 && kept[0].ends_with("END") && kept[0].len() <= 10);
        assert_eq!(fit_lines(Vec::new(), 10), (Vec::new(), false));
        // A full budget of lines still fits a frame.
        let big: Vec<String> = (0..100_000).map(|_| "\u{1}".repeat(40)).collect();
        let (lines, truncated) = fit_lines(big, LOG_BUDGET);
        assert!(truncated);
        let frame = encode_frame(&AgentToHost::Response {
            id: 1,
            response: Response::Log(LogBatch {
                lines,
                truncated: true,
                next: u64::MAX,
                ..LogBatch::default()
            }),
        });
        assert!(frame.is_ok(), "{frame:?}");
    }

    #[test]
    fn followed_batches_keep_the_oldest_lines_that_fit() {
        let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        assert_eq!(fit_oldest(lines.clone(), 1 << 20), (lines.clone(), false));
        let (kept, more) = fit_oldest(lines.clone(), 3 * 9);
        assert_eq!(kept, vec!["line 0", "line 1", "line 2"]);
        assert!(more);
        let (kept, more) = fit_oldest(lines, 1);
        assert_eq!((kept, more), (vec!["line 0".to_owned()], true));
        assert_eq!(fit_oldest(Vec::new(), 10), (Vec::new(), false));
    }
}

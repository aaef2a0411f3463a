//! Log text made fit to read outside a terminal: the app's Troubleshoot view, the diagnostics
//! bundle, anything that shows a log Berth did not write for people.
//!
//! Terminal output in logs (colours from a logger, the firmware's and the kernel's screen
//! set-up on the serial console: `ESC c`, `ESC [?7l`, `ESC [2J`, window titles) is parsed out
//! by `strip-ansi-escapes` (vte's state machine, so a sequence is removed whole, whatever its
//! parameters). A carriage return inside a line (a progress counter redrawn in place) keeps
//! what a terminal would have shown last: the text after the last one that is not empty; a
//! line's closing `\r` (CRLF) is dropped. Tabs stay; every other control character goes. The
//! rest of the text, UTF-8 included, is left as it was.

/// `line` (one line, no `\n`) without escape sequences and control characters other than tabs,
/// showing what its last carriage return left on screen.
pub fn clean_line(line: &str) -> String {
    // The last segment a carriage return starts that still shows something (a redraw often
    // ends with `\r` and an erase sequence, which show nothing).
    let mut shown = String::new();
    for segment in line.split('\r') {
        let cleaned = strip_segment(segment);
        if !cleaned.is_empty() {
            shown = cleaned;
        }
    }
    shown
}

/// `text` line by line through [`clean_line`], its line breaks kept (`\r\n` becomes `\n`).
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&clean_line(line));
    }
    out
}

/// One carriage-return-free segment: escape sequences parsed out, tabs kept (the parser drops
/// every C0 control but the line feed), other controls removed.
fn strip_segment(segment: &str) -> String {
    if !segment.chars().any(char::is_control) {
        return segment.to_owned();
    }
    let mut out = String::with_capacity(segment.len());
    for (i, piece) in segment.split('\t').enumerate() {
        if i > 0 {
            out.push('\t');
        }
        let stripped = strip_ansi_escapes::strip(piece);
        // The parser only ever hands back whole characters of valid UTF-8; lossy all the same,
        // so no input can make this fail.
        out.extend(
            String::from_utf8_lossy(&stripped)
                .chars()
                .filter(|c| !c.is_control()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracing_line_loses_its_colours_and_nothing_else() {
        let line = "\u{1b}[2m2026-12-08T03:40:11.123Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2mberth_daemon::supervisor\u{1b}[0m\u{1b}[2m:\u{1b}[0m engine ready: agent_ms=812 — größe 16 MiB ✓";
        assert_eq!(
            clean_line(line),
            "2026-12-08T03:40:11.123Z  INFO berth_daemon::supervisor: engine ready: agent_ms=812 — größe 16 MiB ✓"
        );
    }

    #[test]
    fn the_console_screen_set_up_goes_whole() {
        // SeaBIOS and the kernel: reset, no autowrap, clear, home, a window title, a bell.
        let line = "\u{1b}c\u{1b}[?7l\u{1b}[2J\u{1b}[0mSeaBIOS (version 1.16.3-debian-1.16.3-2)\u{1b}]0;title\u{7}\u{8}";
        assert_eq!(clean_line(line), "SeaBIOS (version 1.16.3-debian-1.16.3-2)");
        assert!(!clean(line).contains('\u{1b}'));
    }

    #[test]
    fn carriage_returns_keep_what_a_terminal_showed_last() {
        assert_eq!(
            clean_line("pulling  10%\rpulling  55%\rpulling 100%"),
            "pulling 100%"
        );
        assert_eq!(clean_line("done\r\u{1b}[K"), "done");
        assert_eq!(clean_line("windows line\r"), "windows line");
        assert_eq!(clean("one\r\ntwo\r\n"), "one\ntwo\n");
    }

    #[test]
    fn tabs_stay_and_other_controls_go() {
        assert_eq!(clean_line("a\tb\u{0}c\u{7f}d\u{9b}e"), "a\tbcde");
        assert_eq!(clean_line("\tat \u{1b}[1mmain\u{1b}[0m"), "\tat main");
    }

    #[test]
    fn plain_text_and_odd_input_are_safe() {
        let plain = "GET http://docker/v1.47/containers/json 200\nsha256:0123abcd";
        assert_eq!(clean(plain), plain);
        assert_eq!(clean(""), "");
        // Cut sequences and a lone ESC at the end do not panic and leave no ESC.
        for odd in [
            "\u{1b}",
            "\u{1b}[",
            "\u{1b}[38;5",
            "x\u{1b}]8;;",
            "\u{1b}P",
            "\r\r\r",
        ] {
            assert!(!clean(odd).chars().any(char::is_control), "{odd:?}");
        }
    }
}

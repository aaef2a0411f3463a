//! The Linux login entry, `~/.config/autostart/Berth.desktop`: the plugin writes its `Exec=`
//! line with the program's path bare, so a path with a space (or another reserved character)
//! breaks the launch; [`quote_exec`] rewrites it quoted as the Desktop Entry spec says.

use super::{ARG, ENTRY_NAME};

/// The XDG autostart entry the plugin writes (it uses `$HOME/.config/autostart`).
fn entry_path() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(
        std::path::Path::new(&home)
            .join(".config/autostart")
            .join(format!("{ENTRY_NAME}.desktop")),
    )
}

/// The plugin writes the entry's `Exec=` line with the program's path as it is, so a path with
/// a space (or another reserved character) breaks the launch; this rewrites the line quoted as
/// the Desktop Entry spec says. An entry that needs no quoting is left as it is.
pub fn quote_exec() -> std::io::Result<()> {
    let Some(path) = entry_path() else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)?;
    if let Some(fixed) = requote_exec(&text) {
        std::fs::write(&path, fixed)?;
    }
    Ok(())
}

/// `entry` with its `Exec=<program> --autostart` line quoted, or `None` if it needs nothing.
fn requote_exec(entry: &str) -> Option<String> {
    let suffix = format!(" {ARG}");
    let mut changed = false;
    let lines: Vec<String> = entry
        .lines()
        .map(|line| {
            let program = line
                .strip_prefix("Exec=")
                .and_then(|rest| rest.strip_suffix(&suffix));
            match program {
                Some(program) if needs_quoting(program) => {
                    changed = true;
                    format!("Exec={} {ARG}", quote_arg(program))
                }
                _ => line.to_owned(),
            }
        })
        .collect();
    let mut fixed = lines.join("\n");
    if entry.ends_with('\n') {
        fixed.push('\n');
    }
    changed.then_some(fixed)
}

/// The characters the Desktop Entry spec reserves in an `Exec` argument, and `%`.
const RESERVED: &str = "\"'\\><~|&;$*?#()`%";

/// Whether an `Exec` argument must be quoted.
fn needs_quoting(arg: &str) -> bool {
    arg.chars()
        .any(|c| c.is_whitespace() || RESERVED.contains(c))
}

/// An `Exec` argument as the Desktop Entry spec quotes it: in double quotes, with `"`, `` ` ``,
/// `$` and `\` escaped by a backslash; then the string rule doubles every backslash, and a
/// literal `%` is `%%`.
fn quote_arg(arg: &str) -> String {
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' => {
                quoted.push_str("\\\\");
                quoted.push(c);
            }
            '\\' => quoted.push_str("\\\\\\\\"),
            '%' => quoted.push_str("%%"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_is_left_as_the_plugin_wrote_it() {
        let entry = "[Desktop Entry]\nExec=/usr/bin/berth-desktop --autostart\nTerminal=false";
        assert_eq!(requote_exec(entry), None);
    }

    #[test]
    fn a_path_with_spaces_and_reserved_characters_is_quoted_per_the_spec() {
        let entry = "[Desktop Entry]\nName=Berth\nExec=/home/a b/Apps/100% $x/Berth --autostart\nTerminal=false";
        let fixed = requote_exec(entry).expect("quoted");
        assert_eq!(
            fixed,
            "[Desktop Entry]\nName=Berth\nExec=\"/home/a b/Apps/100%% \\\\$x/Berth\" --autostart\nTerminal=false"
        );
    }

    #[test]
    fn quoting_escapes_quotes_backquotes_and_backslashes() {
        assert_eq!(quote_arg(r#"a"b`c\d"#), r#""a\\"b\\`c\\\\d""#);
    }
}

//! Windows: the console in raw mode with virtual-terminal input and output (keys arrive as the
//! escape sequences the guest's shell expects, its output's sequences are rendered), the size
//! from the console's window, and resizes by polling it (the console has no `SIGWINCH`; the
//! docker CLI polls the same way).

use std::time::Duration;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Console::{
    GetConsoleMode, GetConsoleScreenBufferInfo, GetStdHandle, SetConsoleMode, CONSOLE_MODE,
    CONSOLE_SCREEN_BUFFER_INFO, DISABLE_NEWLINE_AUTO_RETURN, ENABLE_ECHO_INPUT, ENABLE_LINE_INPUT,
    ENABLE_PROCESSED_INPUT, ENABLE_VIRTUAL_TERMINAL_INPUT, ENABLE_VIRTUAL_TERMINAL_PROCESSING,
    STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
};

/// How often the size is looked at.
const POLL: Duration = Duration::from_millis(250);

/// The console's input and output modes, restored when dropped.
pub struct RawMode {
    input: (HANDLE, CONSOLE_MODE),
    output: Option<(HANDLE, CONSOLE_MODE)>,
}

fn mode(handle: HANDLE) -> std::io::Result<CONSOLE_MODE> {
    let mut mode = 0;
    // SAFETY: `mode` is written by the call; an invalid handle makes it fail, not crash.
    if unsafe { GetConsoleMode(handle, &mut mode) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(mode)
}

fn set_mode(handle: HANDLE, mode: CONSOLE_MODE) -> std::io::Result<()> {
    // SAFETY: a plain call on a console handle.
    if unsafe { SetConsoleMode(handle, mode) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl RawMode {
    /// Raw virtual-terminal mode on the console.
    pub fn enter() -> anyhow::Result<RawMode> {
        // SAFETY: standard handles of this process; no ownership is taken.
        let (stdin, stdout) = unsafe {
            (
                GetStdHandle(STD_INPUT_HANDLE),
                GetStdHandle(STD_OUTPUT_HANDLE),
            )
        };
        let saved_in = mode(stdin)?;
        set_mode(stdin, raw_input(saved_in))?;
        // Output stays as it is when it is not a console (redirected).
        let output = mode(stdout).ok().map(|saved| (stdout, saved));
        if let Some((stdout, saved)) = output {
            let _ = set_mode(stdout, vt_output(saved));
        }
        Ok(RawMode {
            input: (stdin, saved_in),
            output,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = set_mode(self.input.0, self.input.1);
        if let Some((handle, saved)) = self.output {
            let _ = set_mode(handle, saved);
        }
    }
}

/// The input mode: no line editing, echo or Ctrl-C handling (the guest's terminal does them),
/// keys as escape sequences.
fn raw_input(mode: CONSOLE_MODE) -> CONSOLE_MODE {
    (mode & !(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT))
        | ENABLE_VIRTUAL_TERMINAL_INPUT
}

/// The output mode: escape sequences rendered, a line feed only a line feed.
fn vt_output(mode: CONSOLE_MODE) -> CONSOLE_MODE {
    mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING | DISABLE_NEWLINE_AUTO_RETURN
}

/// The console window's (columns, rows), or (80, 24).
pub fn size() -> (u16, u16) {
    // SAFETY: the info is plain data written by the call.
    let mut info: CONSOLE_SCREEN_BUFFER_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: as above; a non-console handle makes the call fail.
    let ok = unsafe { GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &mut info) };
    window_size(ok != 0, &info)
}

fn window_size(ok: bool, info: &CONSOLE_SCREEN_BUFFER_INFO) -> (u16, u16) {
    let window = info.srWindow;
    let cols = i32::from(window.Right) - i32::from(window.Left) + 1;
    let rows = i32::from(window.Bottom) - i32::from(window.Top) + 1;
    match (ok, u16::try_from(cols), u16::try_from(rows)) {
        (true, Ok(cols), Ok(rows)) if cols > 0 && rows > 0 => (cols, rows),
        _ => (80, 24),
    }
}

/// The console's new size whenever it changes.
pub struct Resizes {
    last: (u16, u16),
    tick: tokio::time::Interval,
}

impl Resizes {
    /// Starts polling.
    pub fn new() -> std::io::Result<Resizes> {
        Ok(Resizes {
            last: size(),
            tick: tokio::time::interval(POLL),
        })
    }

    /// The next size that differs from the last.
    pub async fn next(&mut self) -> Option<(u16, u16)> {
        loop {
            self.tick.tick().await;
            let now = size();
            if now != self.last {
                self.last = now;
                return Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windows_sys::Win32::System::Console::SMALL_RECT;

    #[test]
    fn raw_input_turns_off_line_editing_and_asks_for_escape_sequences() {
        let cooked = ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT | 0x0080;
        let raw = raw_input(cooked);
        assert_eq!(
            raw & (ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT),
            0
        );
        assert_ne!(raw & ENABLE_VIRTUAL_TERMINAL_INPUT, 0);
        assert_ne!(raw & 0x0080, 0, "other flags are kept");
        assert_ne!(vt_output(0) & ENABLE_VIRTUAL_TERMINAL_PROCESSING, 0);
    }

    #[test]
    fn the_window_gives_the_size_and_nonsense_gives_80_by_24() {
        // SAFETY: plain data.
        let mut info: CONSOLE_SCREEN_BUFFER_INFO = unsafe { std::mem::zeroed() };
        info.srWindow = SMALL_RECT {
            Left: 0,
            Top: 100,
            Right: 119,
            Bottom: 129,
        };
        assert_eq!(window_size(true, &info), (120, 30));
        assert_eq!(window_size(false, &info), (80, 24));
        info.srWindow.Right = -5;
        assert_eq!(window_size(true, &info), (80, 24));
    }

    #[test]
    fn without_a_console_the_size_is_80_by_24_and_raw_mode_is_refused() {
        // Under the test harness standard output is a pipe, not a console.
        let (cols, rows) = size();
        assert!(cols > 0 && rows > 0);
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            assert!(RawMode::enter().is_err());
        }
    }
}

//! The ACPI power button: QEMU's `system_powerdown` presses it, the kernel reports it as a
//! `KEY_POWER` event on an evdev device, and the agent turns that into a clean power-off by
//! signalling itself `SIGPWR` (handled in [`crate::shutdown`]).

use std::io::Read;

/// Size of `struct input_event` on 64-bit Linux: timeval (16), type (2), code (2), value (4).
pub const EVENT_SIZE: usize = 24;
const EV_KEY: u16 = 0x01;
const KEY_POWER: u16 = 116;

/// Whether a buffer of raw input events contains a press of the power key. A trailing partial
/// event is ignored.
pub fn power_pressed(events: &[u8]) -> bool {
    events.chunks_exact(EVENT_SIZE).any(|event| {
        let kind = u16::from_ne_bytes([event[16], event[17]]);
        let code = u16::from_ne_bytes([event[18], event[19]]);
        let value = i32::from_ne_bytes([event[20], event[21], event[22], event[23]]);
        kind == EV_KEY && code == KEY_POWER && value == 1
    })
}

/// Starts one watcher thread per input device. Input reads block, so they stay off the async
/// runtime.
pub fn watch() {
    let Ok(entries) = std::fs::read_dir("/dev/input") else {
        tracing::warn!("no input devices: the ACPI power button is not watched");
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_event = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("event"));
        if !is_event {
            continue;
        }
        let spawned = std::thread::Builder::new()
            .name("power-button".into())
            .spawn(move || {
                let Ok(mut device) = std::fs::File::open(&path) else {
                    return;
                };
                let mut buf = [0u8; EVENT_SIZE * 16];
                while let Ok(n) = device.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if power_pressed(&buf[..n]) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(1),
                            nix::sys::signal::Signal::SIGPWR,
                        );
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::warn!("cannot watch input devices: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u16, code: u16, value: i32) -> Vec<u8> {
        let mut e = vec![0u8; 16];
        e.extend_from_slice(&kind.to_ne_bytes());
        e.extend_from_slice(&code.to_ne_bytes());
        e.extend_from_slice(&value.to_ne_bytes());
        e
    }

    #[test]
    fn detects_a_power_key_press_among_other_events() {
        let mut buf = event(0, 0, 0);
        buf.extend(event(EV_KEY, KEY_POWER, 1));
        assert!(power_pressed(&buf));
    }

    #[test]
    fn ignores_release_other_keys_and_partial_events() {
        assert!(!power_pressed(&event(EV_KEY, KEY_POWER, 0)));
        assert!(!power_pressed(&event(EV_KEY, 30, 1)));
        assert!(!power_pressed(
            &event(EV_KEY, KEY_POWER, 1)[..EVENT_SIZE - 1]
        ));
        assert!(!power_pressed(&[]));
    }
}

//! The agent settings codec (`berth_protocol::settings`): `berth.KEY=VALUE` parameters from
//! the kernel command line and the boot channel. Never panics; the settings read from any
//! command line encode (public and private parameters) to parameters that read back to equal
//! settings without a warning, also through the boot channel's text.
#![no_main]

use berth_protocol::auth::{BootChannel, BootSecret};
use berth_protocol::settings::AgentSettings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cmdline = String::from_utf8_lossy(data);
    let (settings, warnings) = AgentSettings::from_cmdline(&cmdline);
    assert!(warnings.len() <= cmdline.split_ascii_whitespace().count());
    let public = settings.to_cmdline();
    for param in public.iter().chain(&settings.private_params()) {
        assert!(
            !param.contains(|c: char| c.is_ascii_whitespace()),
            "{param:?}"
        );
    }
    let channel = BootChannel::new(BootSecret::from_bytes([7; 32]), &settings);
    let channel = BootChannel::parse(&channel.to_text()).expect("the channel reads back");
    let again = format!("{} {}", public.join(" "), channel.params.join(" "));
    let (reread, warnings) = AgentSettings::from_cmdline(&again);
    assert!(warnings.is_empty(), "{warnings:?} from {again:?}");
    assert_eq!(reread, settings, "{again:?}");
});

//! A no-panic sweep: thousands of pseudo-random byte strings through every decoder.

use super::{agent_messages, data_headers, host_messages};
use crate::data::{DataHeader, DataReply};
use crate::frame::{decode_frame, encode_frame};
use crate::message::{AgentToHost, HostToAgent};

/// A tiny deterministic generator so the sweep needs no extra dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn decode_all(bytes: &[u8]) {
    for used in [
        decode_frame::<HostToAgent>(bytes).map(|m| m.map(|(_, n)| n)),
        decode_frame::<AgentToHost>(bytes).map(|m| m.map(|(_, n)| n)),
        decode_frame::<DataHeader>(bytes).map(|m| m.map(|(_, n)| n)),
        decode_frame::<DataReply>(bytes).map(|m| m.map(|(_, n)| n)),
    ] {
        if let Ok(Some(n)) = used {
            assert!(n <= bytes.len());
        }
    }
}

#[test]
fn random_bytes_never_panic_the_decoders() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let valid: Vec<Vec<u8>> = host_messages()
        .iter()
        .map(encode_frame)
        .chain(agent_messages().iter().map(encode_frame))
        .chain(data_headers().iter().map(encode_frame))
        .collect::<Result<_, _>>()
        .expect("encodes");
    for _ in 0..4000 {
        // Pure noise, noise behind a plausible prefix, and valid frames with bytes flipped.
        let mut bytes: Vec<u8> = match rng.below(3) {
            0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
            1 => {
                let body: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                let mut b = (body.len() as u32).to_be_bytes().to_vec();
                b.extend(body);
                b
            }
            _ => {
                let mut b = valid[rng.below(valid.len())].clone();
                for _ in 0..=rng.below(4) {
                    let i = 4 + rng.below(b.len() - 4);
                    b[i] = rng.next() as u8;
                }
                b
            }
        };
        decode_all(&bytes);
        bytes.truncate(rng.below(bytes.len() + 1));
        decode_all(&bytes);
    }
}

//! Length-prefixed JSON frames (`berth_protocol::frame`) of the control connection: the host
//! decodes `AgentToHost`, the agent `HostToAgent`. Never panics; a frame never claims more
//! than it holds; a decoded message re-encodes to a frame that decodes to an equal message;
//! the slice decoder, the codec and the stream reader agree.
#![no_main]

use berth_fuzz::now;
use berth_protocol::frame::{decode_frame, encode_frame, read_message, FrameCodec, MAX_FRAME};
use berth_protocol::message::{AgentToHost, HostToAgent};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::codec::Decoder;

fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let decoded = decode_frame::<T>(data);
    if let Ok(Some((msg, used))) = &decoded {
        assert!(*used <= data.len() && *used <= MAX_FRAME + 4);
        let frame = encode_frame(msg).expect("a decoded message encodes");
        let (again, n) = decode_frame::<T>(&frame).expect("decodes").expect("whole");
        assert_eq!((&again, n), (msg, frame.len()));
    }
    let streamed = now(read_message::<_, T>(&mut &data[..]));
    match (&decoded, &streamed) {
        (Ok(Some((a, _))), Ok(b)) => assert_eq!(a, b),
        (Ok(Some(_)), Err(e)) => panic!("the stream reader refused a frame: {e}"),
        _ => {}
    }
    // The codec over the whole input, frame after frame, until it needs more or fails.
    let mut buf = bytes::BytesMut::from(data);
    let mut codec = FrameCodec::<T>::new();
    while let Ok(Some(_)) = codec.decode(&mut buf) {}
    let _ = codec.decode_eof(&mut buf);
}

fuzz_target!(|data: &[u8]| {
    check::<AgentToHost>(data);
    check::<HostToAgent>(data);
});

//! Feeds arbitrary bytes to every decoder a peer can reach: both directions of the control
//! connection, the data-connection header and reply, the async header reader and the UDP
//! datagram frames. None may panic, and a decoded frame never claims more bytes than it was
//! given.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use berth_protocol::data::{read_header, DataHeader, DataReply};
use berth_protocol::datagram;
use berth_protocol::frame::{decode_frame, encode_frame};
use berth_protocol::message::{AgentToHost, HostToAgent};
use libfuzzer_sys::fuzz_target;

fn check<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    if let Ok(Some((msg, used))) = decode_frame::<T>(data) {
        assert!(used <= data.len());
        // Whatever decodes must encode again (it may still be too long; that is an error).
        let _ = encode_frame(&msg);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<HostToAgent>(data);
    check::<AgentToHost>(data);
    check::<DataHeader>(data);
    check::<DataReply>(data);

    // The async readers on an in-memory stream complete on the first poll.
    let mut cx = Context::from_waker(Waker::noop());
    let mut stream = data;
    let mut read = pin!(read_header(&mut stream));
    match read.as_mut().poll(&mut cx) {
        Poll::Ready(_) => {}
        Poll::Pending => panic!("reading from a slice never waits"),
    }

    if let Some((payload, used)) = datagram::decode(data) {
        assert!(used <= data.len() && payload.len() + datagram::HEADER_LEN == used);
    }
    let mut stream = data;
    let mut buf = Vec::new();
    let mut read = pin!(datagram::read_datagram(&mut stream, &mut buf));
    match read.as_mut().poll(&mut cx) {
        Poll::Ready(_) => {}
        Poll::Pending => panic!("reading from a slice never waits"),
    }
});

//! The agent's DNS server for containers (`berth_agent::dns_message`): the first question of
//! a query, and the local answer built from it. Never panics; the question lies inside the
//! message; the answer is a response to it that echoes its id and question.
#![no_main]

use std::net::Ipv4Addr;

use berth_agent::dns_message::{local_answer, parse_question};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(question) = parse_question(data) else {
        return;
    };
    assert!(question.end <= data.len() && question.end >= 12 + 1 + 4);
    assert!(question.name.len() < question.end);
    let answer = local_answer(data, &question, Ipv4Addr::new(10, 0, 2, 2));
    assert_eq!(&answer[..2], &data[..2]);
    assert_eq!(answer[2] & 0x80, 0x80, "a response");
    assert_eq!(&answer[12..question.end], &data[12..question.end]);
    assert!(
        parse_question(&answer).is_none(),
        "responses are not queries"
    );
});

//! The DNS wire format, as far as the agent's DNS server for containers (`dns.rs`) needs
//! it: the first question of a query (to spot the names that resolve to the host) and the
//! local answer for those names. Containers send these bytes, so nothing here trusts them:
//! anything unexpected is `None`, never a panic (`fuzz/` fuzzes both functions).

use std::net::Ipv4Addr;

/// Time to live of the local answers, in seconds.
const TTL: u32 = 60;

/// The first question of a query.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    /// The name, dot-separated, without the final dot.
    pub name: String,
    /// The query type (1 = A, 28 = AAAA, 255 = ANY).
    pub qtype: u16,
    /// Where the question section ends in the message.
    pub end: usize,
}

/// Parses the header and first question of a standard query; `None` for anything else
/// (responses, other opcodes, no question, compression or bad labels in the question).
pub fn parse_question(message: &[u8]) -> Option<Question> {
    let header = message.get(..12)?;
    let is_response = header[2] & 0x80 != 0;
    let opcode = (header[2] >> 3) & 0x0f;
    let questions = u16::from_be_bytes([header[4], header[5]]);
    if is_response || opcode != 0 || questions == 0 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = message.get(at..at + len)?;
        labels.push(std::str::from_utf8(label).ok()?.to_owned());
        at += len;
    }
    let fixed = message.get(at..at + 4)?;
    Some(Question {
        name: labels.join("."),
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        end: at + 4,
    })
}

/// The local answer to `query` for one of [`HOST_NAMES`]: the A record for `host`, and an empty
/// (no data) answer for every other type, so resolvers do not wait for an IPv6 address.
pub fn local_answer(query: &[u8], question: &Question, host: Ipv4Addr) -> Vec<u8> {
    const TYPE_A: u16 = 1;
    const TYPE_ANY: u16 = 255;
    let with_address = matches!(question.qtype, TYPE_A | TYPE_ANY);
    let mut answer = Vec::with_capacity(question.end + 16);
    answer.extend_from_slice(&query[..2]); // id
                                           // QR, the query's opcode (0) and RD, AA; RA; NOERROR.
    answer.push(0x84 | (query[2] & 0x01));
    answer.push(0x80);
    answer.extend_from_slice(&1u16.to_be_bytes()); // one question
    answer.extend_from_slice(&u16::from(with_address).to_be_bytes());
    answer.extend_from_slice(&[0, 0, 0, 0]); // no authority, no additional
    answer.extend_from_slice(&query[12..question.end]);
    if with_address {
        answer.extend_from_slice(&[0xc0, 0x0c]); // the name: a pointer to the question's
        answer.extend_from_slice(&TYPE_A.to_be_bytes());
        answer.extend_from_slice(&1u16.to_be_bytes()); // IN
        answer.extend_from_slice(&TTL.to_be_bytes());
        answer.extend_from_slice(&4u16.to_be_bytes());
        answer.extend_from_slice(&host.octets());
    }
    answer
}

/// A standard query as `nslookup` and glibc send it: `id`, recursion desired, one question for
/// `name` of type `qtype`, class IN (for tests).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0]);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_parse_and_garbage_does_not() {
        let q = query(7, "Host.Docker.Internal", 1);
        let question = parse_question(&q).expect("parses");
        assert_eq!(question.name, "Host.Docker.Internal");
        assert_eq!((question.qtype, question.end), (1, q.len()));
        for n in 0..q.len() {
            assert_eq!(parse_question(&q[..n]), None, "prefix {n}");
        }
        let mut response = q.clone();
        response[2] |= 0x80;
        assert_eq!(parse_question(&response), None);
        let mut compressed = q.clone();
        compressed[12] = 0xc0;
        assert_eq!(parse_question(&compressed), None);
        assert_eq!(parse_question(&[0xff; 300]), None);
    }

    #[test]
    fn the_host_names_get_the_hosts_address_and_no_ipv6() {
        let host = Ipv4Addr::new(10, 0, 2, 2);
        let q = query(0xbeef, "host.docker.internal", 1);
        let question = parse_question(&q).expect("parses");
        let a = local_answer(&q, &question, host);
        assert_eq!(&a[..2], &[0xbe, 0xef], "same id");
        assert_eq!(a[2] & 0x80, 0x80, "a response");
        assert_eq!(a[3] & 0x0f, 0, "NOERROR");
        assert_eq!(&a[6..8], &[0, 1], "one answer");
        assert_eq!(&a[12..q.len()], &q[12..], "the question echoed");
        assert_eq!(&a[a.len() - 4..], &[10, 0, 2, 2]);

        let q6 = query(1, "host.docker.internal", 28);
        let none = local_answer(&q6, &parse_question(&q6).expect("parses"), host);
        assert_eq!(&none[6..8], &[0, 0], "no AAAA record");
        assert_eq!(none.len(), q6.len());
    }
}

//! Wire tests: messages through real sockets, framing edge cases and a no-panic sweep.

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::codec::{Decoder, Encoder, Framed};

use crate::data::{read_header, read_reply, write_header, write_reply, DataHeader, DataReply};
use crate::frame::{
    decode_frame, encode_frame, read_message, AgentCodec, FrameCodec, HostCodec, MAX_FRAME,
};
use crate::message::*;
use crate::{ProtocolError, PROTOCOL_VERSION};

mod sweep;

fn host_messages() -> Vec<HostToAgent> {
    let hello = HostToAgent::Hello(HostHello {
        protocol_version: PROTOCOL_VERSION,
        host_version: "0.1.0".into(),
    });
    let requests = [
        Request::Ping,
        Request::Status,
        Request::SetTime(SetTime {
            unix_nanos: 1_700_000_000_123_456_789,
        }),
        Request::Shutdown,
        Request::Subscribe,
        Request::FilesChanged(FilesChanged {
            paths: vec![
                "/home/ana/My Projects/app.js".into(),
                "/home/ana/ü\n".into(),
            ],
            overflow: false,
        }),
        Request::FilesChanged(FilesChanged {
            paths: Vec::new(),
            overflow: true,
        }),
    ]
    .into_iter()
    .chain(
        [
            LogSource::Agent,
            LogSource::Engine,
            LogSource::Containerd,
            LogSource::Console,
        ]
        .map(|source| {
            Request::LogTail(LogTail {
                source,
                lines: 200,
                since: None,
            })
        }),
    )
    .chain([Request::LogTail(LogTail {
        source: LogSource::Agent,
        lines: 5000,
        since: Some(u64::MAX),
    })]);
    let requests = requests
        .enumerate()
        .map(|(id, request)| HostToAgent::Request {
            id: id as u64 + u64::from(u32::MAX),
            request,
        });
    std::iter::once(hello).chain(requests).collect()
}

fn engine_states() -> Vec<EngineState> {
    vec![
        EngineState::Starting,
        EngineState::Ready,
        EngineState::Crashed {
            reason: "exit status 2: \"oops\" ✗".into(),
        },
        EngineState::Restarting {
            attempt: 3,
            backoff_ms: 4000,
        },
        EngineState::Stopped,
    ]
}

fn agent_messages() -> Vec<AgentToHost> {
    let mut responses = vec![
        Response::Pong,
        Response::Ok,
        Response::Log(LogBatch::default()),
    ];
    responses.push(Response::Log(LogBatch {
        lines: vec!["first".into(), String::new(), "tab\there".into()],
        truncated: true,
        next: 17,
        dropped: 0,
        more: false,
    }));
    responses.push(Response::Log(LogBatch {
        lines: vec!["after a gap".into()],
        truncated: false,
        next: u64::MAX,
        dropped: 4000,
        more: true,
    }));
    for code in [
        ErrorCode::BadRequest,
        ErrorCode::Unsupported,
        ErrorCode::Engine,
        ErrorCode::Internal,
        ErrorCode::Other,
    ] {
        responses.push(Response::Error {
            code,
            message: format!("{code:?} failed"),
        });
    }
    for (i, engine) in engine_states().into_iter().enumerate() {
        responses.push(Response::Status(StatusReport {
            uptime_ms: 12_345,
            engine,
            engine_version: (i % 2 == 0).then(|| "27.3.1".into()),
            cpu_percent: 12.5,
            memory_total_bytes: 4 << 30,
            memory_used_bytes: 1 << 30,
            disk_total_bytes: 64 << 30,
            disk_used_bytes: u64::MAX,
            load1: 0.75,
            guest_time_unix_ms: 1_767_225_600_000,
            container_logs_bytes: (i % 2 == 1).then_some(10 << 20),
        }));
    }
    let mut events: Vec<Event> = engine_states()
        .into_iter()
        .map(|state| Event::EngineStateChanged { state })
        .collect();
    events.push(Event::PortsChanged {
        published: vec![],
        more: false,
    });
    events.push(Event::PortsChanged {
        more: true,
        published: vec![
            PublishedPort {
                container_id: "c0ffee".into(),
                protocol: PortProtocol::Tcp,
                host_ip: "0.0.0.0".into(),
                port: 8080,
                container_name: "web".into(),
                container_port: 80,
            },
            PublishedPort {
                container_id: "c0ffee".into(),
                protocol: PortProtocol::Udp,
                host_ip: "::".into(),
                port: u16::MAX,
                container_name: String::new(),
                container_port: 0,
            },
        ],
    });
    let mut all = vec![
        AgentToHost::Hello(AgentHello {
            protocol_version: PROTOCOL_VERSION,
            agent_version: "0.1.0".into(),
            capabilities: vec![Capability::Events, Capability::Unknown],
        }),
        AgentToHost::Refused {
            reason: "no".into(),
        },
    ];
    all.extend(
        responses
            .into_iter()
            .enumerate()
            .map(|(id, response)| AgentToHost::Response {
                id: id as u64,
                response,
            }),
    );
    all.extend(events.into_iter().map(|event| AgentToHost::Event { event }));
    all
}

fn data_headers() -> [DataHeader; 6] {
    [
        DataHeader::EngineApi,
        DataHeader::Tcp { port: 80 },
        DataHeader::Udp { port: 53 },
        DataHeader::ListDir {
            volume: "data".into(),
            path: "a/b\nc".into(),
        },
        DataHeader::Export {
            volume: "data".into(),
        },
        DataHeader::Exec {
            argv: vec![
                "docker".into(),
                "compose".into(),
                "-f".into(),
                "it's.yaml".into(),
            ],
            cwd: "/home/me/shop".into(),
        },
    ]
}

fn pair() -> (
    Framed<UnixStream, HostCodec>,
    Framed<UnixStream, AgentCodec>,
) {
    let (host, agent) = UnixStream::pair().expect("socket pair");
    (
        Framed::new(host, HostCodec::new()),
        Framed::new(agent, AgentCodec::new()),
    )
}

#[tokio::test]
async fn every_message_round_trips_through_framed_sockets() {
    let (mut host, mut agent) = pair();
    for msg in host_messages() {
        host.send(msg.clone()).await.expect("host sends");
        let got = agent.next().await.expect("open").expect("decodes");
        assert_eq!(got, msg);
    }
    for msg in agent_messages() {
        agent.send(msg.clone()).await.expect("agent sends");
        let got = host.next().await.expect("open").expect("decodes");
        assert_eq!(got, msg);
    }
    drop(agent);
    assert!(host.next().await.is_none(), "clean close ends the stream");
}

#[tokio::test]
async fn data_messages_round_trip_through_framed_sockets() {
    let (a, b) = UnixStream::pair().expect("socket pair");
    let mut a = Framed::new(a, FrameCodec::<DataReply, DataHeader>::new());
    let mut b = Framed::new(b, FrameCodec::<DataHeader, DataReply>::new());
    for header in data_headers() {
        a.send(header.clone()).await.expect("sends");
        assert_eq!(b.next().await.expect("open").expect("decodes"), header);
    }
    for reply in [
        DataReply::Accepted,
        DataReply::Refused {
            reason: "connection refused".into(),
        },
    ] {
        b.send(reply.clone()).await.expect("sends");
        assert_eq!(a.next().await.expect("open").expect("decodes"), reply);
    }
}

async fn handshake(host_version: u32) -> AgentToHost {
    let (mut host, mut agent) = pair();
    let hello = HostHello {
        protocol_version: host_version,
        host_version: "test".into(),
    };
    host.send(HostToAgent::Hello(hello)).await.expect("sends");
    let Some(Ok(HostToAgent::Hello(hello))) = agent.next().await else {
        panic!("agent did not get a hello");
    };
    let answer = answer_hello(&hello, "0.1.0", &[Capability::Events]);
    agent.send(answer).await.expect("answers");
    host.next().await.expect("open").expect("decodes")
}

#[tokio::test]
async fn handshake_is_accepted_for_same_or_newer_host() {
    for host_version in [PROTOCOL_VERSION, PROTOCOL_VERSION + 1] {
        let AgentToHost::Hello(hello) = handshake(host_version).await else {
            panic!("refused {host_version}");
        };
        assert_eq!(hello.protocol_version, PROTOCOL_VERSION);
        assert_eq!(hello.capabilities, [Capability::Events]);
        // The host checks the agreed version in turn.
        assert_eq!(
            negotiate(PROTOCOL_VERSION, hello.protocol_version).expect("agreed"),
            PROTOCOL_VERSION
        );
    }
}

#[tokio::test]
async fn handshake_is_refused_for_unsupported_host() {
    let AgentToHost::Refused { reason } = handshake(0).await else {
        panic!("accepted version 0");
    };
    assert!(reason.contains("host speaks 0"), "{reason}");
    assert!(
        reason.contains(&format!("agent speaks {PROTOCOL_VERSION}")),
        "{reason}"
    );
}

#[test]
fn oversize_length_prefix_is_rejected_without_allocating_it() {
    for len in [MAX_FRAME as u32 + 1, u32::MAX] {
        let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
        buf.extend_from_slice(b"{\"type\":\"ping\"}");
        let err = HostCodec::new().decode(&mut buf).expect_err("too long");
        assert!(
            matches!(err, ProtocolError::FrameTooLong { len: l } if l == u64::from(len)),
            "{err}"
        );
        assert!(buf.capacity() < 1024, "capacity {}", buf.capacity());
    }
    // Exactly MAX_FRAME is allowed: the decoder just waits for the rest.
    let buf = (MAX_FRAME as u32).to_be_bytes();
    assert!(decode_frame::<HostToAgent>(&buf).expect("ok").is_none());
}

#[test]
fn oversize_message_is_not_encoded() {
    let huge = AgentToHost::Response {
        id: 1,
        response: Response::Log(LogBatch {
            lines: vec!["x".repeat(MAX_FRAME)],
            ..LogBatch::default()
        }),
    };
    let mut dst = BytesMut::new();
    let err = AgentCodec::new().encode(huge.clone(), &mut dst);
    assert!(matches!(err, Err(ProtocolError::FrameTooLong { .. })));
    assert!(dst.is_empty());
    assert!(matches!(
        encode_frame(&huge),
        Err(ProtocolError::FrameTooLong { .. })
    ));
}

#[tokio::test]
async fn read_message_rejects_oversize_prefix() {
    let (mut a, mut b) = UnixStream::pair().expect("socket pair");
    a.write_all(&u32::MAX.to_be_bytes()).await.expect("writes");
    let err = read_header(&mut b).await.expect_err("too long");
    assert!(matches!(err, ProtocolError::FrameTooLong { .. }), "{err}");
}

#[tokio::test]
async fn truncated_frame_needs_more_bytes() {
    let frame = encode_frame(&host_messages()[0]).expect("encodes");
    for cut in 0..frame.len() {
        let partial = decode_frame::<HostToAgent>(&frame[..cut]).expect("no error");
        assert!(partial.is_none(), "decoded from {cut} bytes");
    }
    let (msg, used) = decode_frame::<HostToAgent>(&frame)
        .expect("ok")
        .expect("complete");
    assert_eq!((msg, used), (host_messages()[0].clone(), frame.len()));

    // A peer that hangs up mid-frame is an error, not a silent end.
    let (mut raw, agent) = UnixStream::pair().expect("socket pair");
    let mut agent = Framed::new(agent, AgentCodec::new());
    raw.write_all(&frame[..frame.len() - 1])
        .await
        .expect("writes");
    drop(raw);
    let err = agent.next().await.expect("an item").expect_err("truncated");
    assert!(matches!(err, ProtocolError::Truncated), "{err}");

    let (mut raw, mut b) = UnixStream::pair().expect("socket pair");
    raw.write_all(&frame[..6]).await.expect("writes");
    drop(raw);
    let err = read_message::<_, HostToAgent>(&mut b)
        .await
        .expect_err("cut");
    assert!(matches!(err, ProtocolError::Truncated), "{err}");
}

#[test]
fn garbage_payloads_are_malformed_errors() {
    let payloads: [&[u8]; 9] = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b"{}",
        b"{\"type\":\"nope\"}",
        b"{\"type\":\"request\",\"id\":-1,\"request\":{\"type\":\"ping\"}}",
        b"{\"type\":\"request\",\"id\":1,\"request\":{\"type\":\"ping\"}} trailing",
        b"{\"type\":\"hello\",\"protocol_version\":1}",
    ];
    for payload in payloads {
        let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(payload);
        let err = decode_frame::<HostToAgent>(&frame).expect_err("malformed");
        assert!(matches!(err, ProtocolError::Malformed(_)), "{err}");
    }
}

#[tokio::test]
async fn data_header_leaves_raw_bytes_unread() {
    for header in data_headers() {
        let (mut host, mut agent) = UnixStream::pair().expect("socket pair");
        // Header and raw bytes arrive in one write, so a greedy reader would swallow them.
        let mut bytes = encode_frame(&header).expect("encodes");
        bytes.extend_from_slice(b"GET /_ping HTTP/1.1\r\n");
        host.write_all(&bytes).await.expect("writes");
        assert_eq!(read_header(&mut agent).await.expect("header"), header);
        let mut raw = [0u8; 21];
        agent.read_exact(&mut raw).await.expect("raw bytes");
        assert_eq!(&raw, b"GET /_ping HTTP/1.1\r\n");

        write_reply(&mut agent, &DataReply::Accepted)
            .await
            .expect("replies");
        agent.write_all(b"HTTP/1.1 200 OK").await.expect("writes");
        assert_eq!(
            read_reply(&mut host).await.expect("reply"),
            DataReply::Accepted
        );
        let mut raw = [0u8; 15];
        host.read_exact(&mut raw).await.expect("raw bytes");
        assert_eq!(&raw, b"HTTP/1.1 200 OK");

        let (mut a, mut b) = UnixStream::pair().expect("socket pair");
        write_header(&mut a, &header).await.expect("writes");
        assert_eq!(read_header(&mut b).await.expect("header"), header);
    }
}

#[tokio::test]
async fn guest_operation_streams_end_in_a_typed_trailer() {
    use crate::data::{
        read_frame, read_stream_and_trailer, write_frame, DirEntry, EntryKind, ExecEnd, ExecError,
        ExportEnd, ListReply, VolumeError,
    };
    use crate::stream::write_chunk;

    let listing = ListReply::Entries {
        entries: vec![DirEntry {
            name: b"a\nb\xff".to_vec(),
            kind: EntryKind::Symlink,
            size: 4,
            target: Some(b"/etc".to_vec()),
        }],
        truncated: false,
    };
    let refusal = ListReply::Failed(VolumeError::ThroughSymlink {
        path: "escape/x".into(),
    });
    for reply in [listing, refusal] {
        let (mut a, mut b) = UnixStream::pair().expect("socket pair");
        write_frame(&mut a, &reply).await.expect("writes");
        assert_eq!(
            read_frame::<_, ListReply>(&mut b).await.expect("reads"),
            reply
        );
    }

    let ends = [
        ExecEnd::Exited { code: 15 },
        ExecEnd::Killed { signal: 9 },
        ExecEnd::NotStarted(ExecError::NoSuchFolder { cwd: "/x".into() }),
    ];
    for end in ends {
        let (mut agent, mut host) = UnixStream::pair().expect("socket pair");
        // The trailer arrives in the same write as the output, so a greedy reader would lose it.
        let mut bytes = Vec::new();
        write_chunk(&mut bytes, b"half a line")
            .await
            .expect("chunk");
        write_chunk(&mut bytes, b" and the rest\n")
            .await
            .expect("chunk");
        write_chunk(&mut bytes, b"").await.expect("end");
        bytes.extend(encode_frame(&end).expect("encodes"));
        agent.write_all(&bytes).await.expect("writes");
        let mut output = Vec::new();
        let (moved, got): (u64, ExecEnd) = read_stream_and_trailer(&mut host, &mut output)
            .await
            .expect("stream and trailer");
        assert_eq!(
            (moved, got, output),
            (25, end, b"half a line and the rest\n".to_vec())
        );
    }

    // Cut short: the bytes came, the trailer did not.
    let (mut agent, mut host) = UnixStream::pair().expect("socket pair");
    let mut bytes = Vec::new();
    write_chunk(&mut bytes, b"tar bytes").await.expect("chunk");
    write_chunk(&mut bytes, b"").await.expect("end");
    agent.write_all(&bytes).await.expect("writes");
    drop(agent);
    let mut output = Vec::new();
    read_stream_and_trailer::<_, _, ExportEnd>(&mut host, &mut output)
        .await
        .expect_err("no trailer");
}

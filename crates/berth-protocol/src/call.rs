//! Each control request with the answer it expects: a [`Call`] turns into its [`Request`] and
//! reads its typed result out of the agent's [`Response`], so a caller never matches on
//! responses itself. The wire is [`crate::message`]'s; this adds types, not JSON.
//!
//! | call | request | result |
//! |---|---|---|
//! | [`Ping`] | [`Request::Ping`] | `()` ([`Response::Pong`]) |
//! | [`Status`] | [`Request::Status`] | [`StatusReport`] |
//! | [`SetTime`] | [`Request::SetTime`] | `()` ([`Response::Ok`]) |
//! | [`Shutdown`] | [`Request::Shutdown`] | `()` ([`Response::Ok`]) |
//! | [`LogTail`] | [`Request::LogTail`] | [`LogBatch`] |
//! | [`Subscribe`] | [`Request::Subscribe`] | `()` ([`Response::Ok`]) |
//! | [`FilesChanged`] | [`Request::FilesChanged`] | `()` ([`Response::Ok`]) |

pub use crate::message::{FilesChanged, LogTail, SetTime};
use crate::message::{LogBatch, Request, Response, StatusReport};

/// A request that names its answer.
pub trait Call: Into<Request> {
    /// What a successful answer carries.
    type Response;

    /// The result in `response`, or `response` itself when it is not this call's answer (an
    /// [`Response::Error`] or another request's kind), for the caller to report.
    fn from_response(response: Response) -> Result<Self::Response, Response>;
}

/// [`Request::Ping`]: is the agent there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ping;

/// [`Request::Status`]: the guest's health and resource usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status;

/// [`Request::Shutdown`]: stop the engine and power off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shutdown;

/// [`Request::Subscribe`]: send events on this connection from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Subscribe;

/// A [`Call`]: `$call` becomes a request by `$into`, and its answer is `$pattern`, whose
/// `$result` it returns.
macro_rules! call {
    ($call:ty, $into:expr, $answer:ty, $pattern:pat => $result:expr) => {
        impl From<$call> for Request {
            #[allow(clippy::redundant_closure_call)]
            fn from(call: $call) -> Request {
                $into(call)
            }
        }

        impl Call for $call {
            type Response = $answer;

            fn from_response(response: Response) -> Result<$answer, Response> {
                match response {
                    $pattern => Ok($result),
                    other => Err(other),
                }
            }
        }
    };
}

call!(Ping, |_| Request::Ping, (), Response::Pong => ());
call!(Status, |_| Request::Status, StatusReport, Response::Status(report) => report);
call!(SetTime, Request::SetTime, (), Response::Ok => ());
call!(Shutdown, |_| Request::Shutdown, (), Response::Ok => ());
call!(LogTail, Request::LogTail, LogBatch, Response::Log(batch) => batch);
call!(Subscribe, |_| Request::Subscribe, (), Response::Ok => ());
call!(FilesChanged, Request::FilesChanged, (), Response::Ok => ());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ErrorCode, LogSource};

    #[test]
    fn each_call_takes_its_own_answer_only() {
        assert_eq!(Ping::from_response(Response::Pong), Ok(()));
        assert_eq!(Ping::from_response(Response::Ok), Err(Response::Ok));
        assert_eq!(Shutdown::from_response(Response::Ok), Ok(()));
        assert_eq!(
            Subscribe::from_response(Response::Pong),
            Err(Response::Pong)
        );
        let batch = LogBatch {
            lines: vec!["a".into()],
            next: 1,
            ..LogBatch::default()
        };
        assert_eq!(
            LogTail::from_response(Response::Log(batch.clone())),
            Ok(batch.clone())
        );
        assert_eq!(
            Status::from_response(Response::Log(batch.clone())),
            Err(Response::Log(batch))
        );
        let failed = Response::Error {
            code: ErrorCode::Internal,
            message: "no clock".into(),
        };
        assert_eq!(SetTime::from_response(failed.clone()), Err(failed.clone()));
        assert_eq!(FilesChanged::from_response(failed.clone()), Err(failed));
    }

    #[test]
    fn calls_become_their_requests() {
        let tail = LogTail {
            source: LogSource::Engine,
            lines: 3,
            since: Some(7),
        };
        assert_eq!(Request::from(tail), Request::LogTail(tail));
        assert_eq!(Request::from(Ping), Request::Ping);
        assert_eq!(Request::from(Status), Request::Status);
        assert_eq!(Request::from(Shutdown), Request::Shutdown);
        assert_eq!(Request::from(Subscribe), Request::Subscribe);
        assert_eq!(Request::from(SetTime { unix_nanos: 1 }).kind(), "set_time");
        assert_eq!(
            Request::from(FilesChanged::default()).kind(),
            "files_changed"
        );
    }
}

//! GetLogs: a container's output as a stream of payload bytes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::errors::{from_bollard, Subject};
use super::DockerEngine;
use crate::error::Result;
use crate::model::GetLogsRequest;
use crate::validate;

type FrameStream = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A container's stdout and stderr, merged in the engine's order, followed until the container
/// exits. Yields payload bytes only (the engine's 8-byte frame headers are removed).
///
/// The stream is pulled, not pushed: nothing is read from the engine until the consumer asks,
/// so memory stays bounded whatever the container writes. Dropping the stream closes the
/// connection. A broken connection is an error item, never a silent end.
pub struct LogStream {
    frames: FrameStream,
    finished: bool,
}

impl DockerEngine {
    /// SPEC.md GetLogs. The container is looked up first, so that an unknown or ambiguous ID
    /// fails here rather than at the first read.
    pub async fn get_logs(&self, req: GetLogsRequest) -> Result<LogStream> {
        validate::container_id("id", &req.id)?;
        let info = self.inspect(&req.id).await?;
        // The full ID pins the stream to the container just inspected, even if the name is
        // reused meanwhile.
        let target = info.id.unwrap_or(req.id);
        let options = LogsOptions { follow: true, stdout: true, stderr: true, ..Default::default() };
        let frames = self.docker().logs(&target, Some(options));
        Ok(LogStream { frames: Box::pin(frames), finished: false })
    }
}

impl Stream for LogStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            return match self.frames.poll_next_unpin(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => {
                    self.finished = true;
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(e))) => {
                    self.finished = true;
                    Poll::Ready(Some(Err(from_bollard(e, Subject::Container))))
                }
                Poll::Ready(Some(Ok(frame))) => {
                    let payload = frame.into_bytes();
                    if payload.is_empty() {
                        continue;
                    }
                    Poll::Ready(Some(Ok(payload)))
                }
            };
        }
    }
}

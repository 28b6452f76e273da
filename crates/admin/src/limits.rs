//! Per-topic size limits, read with the DescribeConfigs admin request, for the producers
//! (streams and the agent) to size their batches under.
//!
//! A broker refuses a whole record batch (`MESSAGE_TOO_LARGE`) when it is larger than the
//! topic's `max.message.bytes` (broker default 1,048,588 bytes). The size it checks is the
//! batch as written to the log: after compression, including the 61-byte batch header.
//! librdkafka fills a batch up to `batch.size` bytes counted before compression, with the
//! same framing (librdkafka 2.12 `rd_kafka_msgset_writer_write_msgq`), so a `batch.size`
//! somewhat under the topic's limit keeps every batch acceptable; see
//! [`batch_size_under`].
//!
//! These calls block (up to the options' timeout) and need no async runtime: rdkafka's
//! admin client answers from its own thread.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions as RdAdminOptions, ResourceSpecifier};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use crate::{AdminError, AdminOptions, Result};

/// The topic setting that bounds a record batch.
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";

/// librdkafka's default `batch.size` (and `message.max.bytes`): the bound of a batch when no
/// topic asks for less.
pub const LIBRDKAFKA_BATCH_SIZE: usize = 1_000_000;

/// The smallest `batch.size` this module suggests: below it every batch holds one record.
const MIN_BATCH_SIZE: usize = 1_000;

/// Each topic's `max.message.bytes`, as the brokers report it (topic setting, else the
/// broker default). Topics the brokers do not know, or whose value is unreadable, are left
/// out.
pub fn max_message_bytes(opts: &AdminOptions, topics: &[&str]) -> Result<HashMap<String, usize>> {
    let mut out = HashMap::new();
    if topics.is_empty() {
        return Ok(out);
    }
    let admin: AdminClient<Quiet> = opts.client_config().create_with_context(Quiet)?;
    let specs: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let ask = admin.describe_configs(
        specs.iter(),
        &RdAdminOptions::new().request_timeout(Some(opts.timeout)),
    );
    let answers = block_on(ask).map_err(|e| AdminError::Unreachable {
        bootstrap: opts.bootstrap_servers.clone(),
        timeout: opts.timeout,
        detail: e.to_string(),
    })?;
    for (topic, answer) in topics.iter().zip(answers) {
        let Ok(resource) = answer else { continue };
        let value = resource
            .get(MAX_MESSAGE_BYTES)
            .and_then(|e| e.value.as_deref())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(v) = value {
            out.insert((*topic).to_string(), v);
        }
    }
    Ok(out)
}

/// The limits are read in the background of a running producer: a broker that cannot be
/// reached is the caller's one error, not a librdkafka line per connection attempt.
struct Quiet;

impl ClientContext for Quiet {
    fn log(&self, _level: RDKafkaLogLevel, fac: &str, message: &str) {
        tracing::debug!(facility = fac, "librdkafka (topic limits): {message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, reason, "librdkafka (topic limits)");
    }
}

/// The librdkafka `batch.size` that keeps every batch under a topic limit of `limit` bytes.
///
/// Leaves 1/64 of the limit plus 512 bytes: for the framing librdkafka's count can miss and
/// for compression that grows incompressible data (lz4 and zstd add at most about 0.4 %
/// plus a frame header; gzip less). Never above librdkafka's default nor below 1,000 bytes.
pub fn batch_size_under(limit: usize) -> usize {
    let margin = limit / 64 + 512;
    limit
        .saturating_sub(margin)
        .clamp(MIN_BATCH_SIZE, LIBRDKAFKA_BATCH_SIZE)
}

/// Whether a record of `bytes` (value plus headers) can be written to a topic whose limit is
/// `limit` in a batch of its own, counted uncompressed: a record-batch header (61 bytes) and
/// a record header (at most 21 bytes without a key) come on top of the value.
pub fn fits_alone(bytes: usize, limit: usize) -> bool {
    bytes + 61 + 21 <= limit
}

/// Whether a librdkafka property is one an admin client needs to reach the same brokers
/// as a producer that has it (security, addresses, sockets); producer-only properties
/// (`acks`, `linger.ms`, ...) are left out.
pub fn is_connection_property(key: &str) -> bool {
    [
        "security.",
        "sasl.",
        "ssl.",
        "ssl_",
        "enable.ssl.",
        "client.dns.",
        "socket.",
        "broker.",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// Polls a future to completion on this thread. Enough for rdkafka's admin futures, which
/// are completed by the admin client's own polling thread.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        // A wake between the poll and the park leaves the token set: park returns at once.
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_stays_under_the_limit_with_room_for_compression() {
        assert_eq!(batch_size_under(65_536), 65_536 - 1024 - 512);
        assert_eq!(
            batch_size_under(1_048_588),
            LIBRDKAFKA_BATCH_SIZE,
            "the broker default needs no change"
        );
        assert_eq!(batch_size_under(100), MIN_BATCH_SIZE);
        for limit in [2_000, 16_384, 65_536, 500_000] {
            let b = batch_size_under(limit);
            // lz4's worst case on incompressible input: n/255 + 16 per block, plus a frame.
            assert!(b + b / 255 + 64 < limit, "{limit}: {b}");
        }
    }

    #[test]
    fn a_record_fits_alone_with_its_framing() {
        assert!(fits_alone(1_000, 65_536));
        assert!(fits_alone(65_536 - 82, 65_536));
        assert!(!fits_alone(65_536 - 81, 65_536));
    }

    #[test]
    fn block_on_waits_for_another_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = tx.send(());
        });
        let fut = std::future::poll_fn(|cx| {
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                Poll::Ready(7)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        });
        assert_eq!(block_on(fut), 7);
        rx.recv().unwrap();
    }
}

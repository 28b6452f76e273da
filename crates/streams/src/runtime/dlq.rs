//! The dead-letter path: rejected records and outputs the brokers refused go to the
//! dead-letter topic with reason headers ([`super::dlq_headers`]), or are counted only.

use metrics::Counter;
use rdkafka::message::{Header, OwnedHeaders};
use tracing::warn;

use super::dlq_headers as h;
use super::offsets::DeliveryToken;
use super::producer::{Outputs, Sent};

pub struct DeadLetters {
    pub topic: Option<String>,
    /// Longer values are cut to this, with header `truncated-from`.
    pub max_value_bytes: usize,
    pub records: Counter,
}

/// Where a dead letter came from.
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

impl DeadLetters {
    pub fn enabled(&self) -> bool {
        self.topic.is_some()
    }

    /// Sends `value` to the dead-letter topic with `headers`. Returns false when it could
    /// not even be dead-lettered (then the caller acknowledges the token itself).
    pub fn send(
        &self,
        out: &dyn Outputs,
        value: &[u8],
        headers: OwnedHeaders,
        token: DeliveryToken,
    ) -> bool {
        let Some(dlq) = &self.topic else {
            return false;
        };
        let (value, headers) = if value.len() > self.max_value_bytes {
            let len = value.len().to_string();
            (
                &value[..self.max_value_bytes],
                headers.insert(Header {
                    key: h::TRUNCATED_FROM,
                    value: Some(len.as_bytes()),
                }),
            )
        } else {
            (value, headers)
        };
        match out.send(dlq, value, Some(headers), token) {
            Sent::Queued => {
                self.records.increment(1);
                true
            }
            Sent::Refused(e) => {
                warn!(topic = %dlq, error = %e, "the dead-letter topic refused a record; it is counted and dropped");
                false
            }
            Sent::Abandoned => false,
        }
    }
}

/// The headers of a rejected record's dead letter: ours, then KIP-1034's.
pub fn headers(
    reason: &str,
    detail: &str,
    node: &str,
    routed: &str,
    from: &Origin<'_>,
) -> OwnedHeaders {
    let partition = from.partition.to_string();
    let offset = from.offset.to_string();
    let k = Kip1034::new(h::kip1034::REJECTED_CLASS, reason, detail, node);
    let pairs: [(&str, &str); 13] = [
        (h::REASON, reason),
        (h::DETAIL, detail),
        (h::NODE, node),
        (h::ROUTED, routed),
        (h::SOURCE_TOPIC, from.topic),
        (h::SOURCE_PARTITION, &partition),
        (h::SOURCE_OFFSET, &offset),
        (h::kip1034::EXCEPTION, &k.exception),
        (h::kip1034::MESSAGE, &k.message),
        (h::kip1034::STACKTRACE, &k.stacktrace),
        (h::kip1034::TOPIC, from.topic),
        (h::kip1034::PARTITION, &partition),
        (h::kip1034::OFFSET, &offset),
    ];
    to_headers(&pairs)
}

/// The headers of an output the brokers refused after the producer took it (`reason`:
/// `refused-by-broker`, or `too-large` for a record refused even alone). The source record
/// is not known there, so KIP-1034's topic, partition and offset are left out.
pub fn refused_headers(reason: &str, detail: &str, routed: &str) -> OwnedHeaders {
    let k = Kip1034::new(h::kip1034::REFUSED_CLASS, reason, detail, routed);
    to_headers(&[
        (h::REASON, reason),
        (h::DETAIL, detail),
        (h::ROUTED, routed),
        (h::kip1034::EXCEPTION, &k.exception),
        (h::kip1034::MESSAGE, &k.message),
        (h::kip1034::STACKTRACE, &k.stacktrace),
    ])
}

fn to_headers(pairs: &[(&str, &str)]) -> OwnedHeaders {
    pairs.iter().fold(
        OwnedHeaders::new_with_capacity(pairs.len()),
        |hs, (key, value)| {
            hs.insert(Header {
                key,
                value: Some(*value),
            })
        },
    )
}

/// KIP-1034's exception, message and stack trace, in the shapes Java writes them.
struct Kip1034 {
    exception: String,
    message: String,
    stacktrace: String,
}

impl Kip1034 {
    fn new(class: &str, reason: &str, detail: &str, at: &str) -> Self {
        let message = format!("{reason}: {detail}");
        let exception = format!("{class}: {message}");
        let stacktrace = if at.is_empty() {
            exception.clone()
        } else {
            format!("{exception}\n\tat {at}")
        };
        Kip1034 {
            exception,
            message,
            stacktrace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;

    fn get(hs: &OwnedHeaders, key: &str) -> Option<String> {
        hs.iter()
            .find(|h| h.key == key)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    #[test]
    fn a_dead_letter_carries_ours_and_kip_1034_headers() {
        let from = Origin {
            topic: "metric.all",
            partition: 2,
            offset: 41,
        };
        let hs = headers(
            "not-json",
            "expected value at 1:1",
            "KSTREAM-SOURCE-0000000000",
            "",
            &from,
        );
        assert_eq!(get(&hs, h::REASON).as_deref(), Some("not-json"));
        assert_eq!(get(&hs, h::SOURCE_OFFSET).as_deref(), Some("41"));
        assert_eq!(
            get(&hs, "__streams.errors.exception").as_deref(),
            Some("metricpipe.streams.RejectedRecord: not-json: expected value at 1:1")
        );
        assert_eq!(
            get(&hs, "__streams.errors.message").as_deref(),
            Some("not-json: expected value at 1:1")
        );
        assert_eq!(
            get(&hs, "__streams.errors.stacktrace").as_deref(),
            Some("metricpipe.streams.RejectedRecord: not-json: expected value at 1:1\n\tat KSTREAM-SOURCE-0000000000")
        );
        assert_eq!(
            get(&hs, "__streams.errors.topic").as_deref(),
            Some("metric.all")
        );
        assert_eq!(get(&hs, "__streams.errors.partition").as_deref(), Some("2"));
        assert_eq!(get(&hs, "__streams.errors.offset").as_deref(), Some("41"));
        let refused = refused_headers("too-large", "Broker: Message size too large", "metric.cpu");
        assert_eq!(
            get(&refused, "__streams.errors.exception").as_deref(),
            Some("metricpipe.streams.RefusedOutput: too-large: Broker: Message size too large")
        );
        assert_eq!(get(&refused, "__streams.errors.topic"), None);
    }
}

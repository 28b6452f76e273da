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
        out: &Outputs,
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

/// The headers of a rejected record's dead letter.
pub fn headers(
    reason: &str,
    detail: &str,
    node: &str,
    routed: &str,
    from: &Origin<'_>,
) -> OwnedHeaders {
    let partition = from.partition.to_string();
    let offset = from.offset.to_string();
    let pairs: [(&str, &str); 7] = [
        (h::REASON, reason),
        (h::DETAIL, detail),
        (h::NODE, node),
        (h::ROUTED, routed),
        (h::SOURCE_TOPIC, from.topic),
        (h::SOURCE_PARTITION, &partition),
        (h::SOURCE_OFFSET, &offset),
    ];
    pairs
        .iter()
        .fold(OwnedHeaders::new_with_capacity(7), |hs, (key, value)| {
            hs.insert(Header {
                key,
                value: Some(*value),
            })
        })
}

/// The headers of an output the brokers refused after the producer took it (`reason`:
/// `refused-by-broker`, or `too-large` for a record refused even alone).
pub fn refused_headers(reason: &str, detail: &str, routed: &str) -> OwnedHeaders {
    [
        (h::REASON, reason),
        (h::DETAIL, detail),
        (h::ROUTED, routed),
    ]
    .iter()
    .fold(OwnedHeaders::new_with_capacity(3), |hs, (key, value)| {
        hs.insert(Header {
            key,
            value: Some(*value),
        })
    })
}

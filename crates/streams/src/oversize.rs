//! Output topics' size limits, and records refused as too large sent again in smaller
//! batches instead of being dead-lettered.
//!
//! - At start, [`SizeLimits::learn`] reads each output topic's `max.message.bytes`
//!   (DescribeConfigs) and [`SizeLimits::batch_size`] gives the producer's `batch.size` that
//!   keeps every batch under the smallest one (see `metricpipe_admin::limits`).
//! - A batch the brokers still refuse as too large (`MSG_SIZE_TOO_LARGE`: the limit was
//!   lowered while running, or compression grew a batch) fails every record in it. Those
//!   records are sent again by [`split_and_resend`], KIP-126's split as the Java producer
//!   does it: in groups under the topic's limit, one group in flight at a time, a refused
//!   group split in two. Only a record refused when it went alone is too large for the
//!   topic: that one is a dead letter (`too-large`).
//! - The limits are read again, at most every [`REFRESH_AFTER_REFUSAL`], when a refusal
//!   comes: a changed limit then sizes the groups. The producer's `batch.size` is fixed
//!   when it is created; a limit lowered below it costs a split per batch until a restart.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use metricpipe_admin::limits::{batch_size_under, fits_alone, max_message_bytes};
use metricpipe_admin::AdminOptions;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, OwnedHeaders};
use tracing::{info, warn};

use crate::dsl::Topology;
use crate::runtime::RuntimeConfig;

/// How often a refusal may make us read the limits again.
pub const REFRESH_AFTER_REFUSAL: Duration = Duration::from_secs(10);

/// Whether `err` says a batch (or one record) was larger than the brokers take. The
/// records of such a batch are sent again; see [`split_and_resend`].
pub fn is_size_refusal(err: &KafkaError) -> bool {
    matches!(
        err.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge)
    )
}

/// Each output topic's `max.message.bytes`, as last read.
pub struct SizeLimits {
    admin: Option<AdminOptions>,
    topics: Vec<String>,
    by_topic: HashMap<String, usize>,
    read_at: Option<Instant>,
}

impl SizeLimits {
    /// The limits of `topics`, not read yet. `properties` are the admin client's
    /// librdkafka properties (security settings reach it this way).
    pub fn unread(bootstrap: &str, properties: Vec<(String, String)>, topics: &[&str]) -> Self {
        let mut admin = AdminOptions::new(bootstrap);
        admin.timeout = Duration::from_secs(10);
        admin.client_properties = properties;
        SizeLimits {
            admin: Some(admin),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            by_topic: HashMap::new(),
            read_at: None,
        }
    }

    /// The limits of a run's output topics (sinks and the dead-letter topic), read with the
    /// run's admin-client properties (`ClientRole::Admin`: shared and `admin.`-prefixed).
    ///
    /// A failed read is logged and leaves the limits unknown: batches keep librdkafka's
    /// default bound, and refusals are still split. The read waits up to 10 s for
    /// unreachable brokers, so it runs on a helper thread and a `stop` asked meanwhile
    /// returns at once with the limits unknown: a stop must not wait for it.
    pub fn for_run<X>(
        topology: &Topology<X>,
        config: &RuntimeConfig,
        stop: &dyn Fn() -> bool,
    ) -> Self {
        let mut topics: Vec<&str> = topology.sink_topics().iter().map(String::as_str).collect();
        topics.extend(config.dlq_topic.as_deref());
        let properties = config
            .client
            .properties_for(metricpipe_kafka::ClientRole::Admin);
        let unread = || Self::unread(&config.client.bootstrap, properties.clone(), &topics);
        let mut limits = unread();
        let reading = std::thread::Builder::new()
            .name("size-limits".into())
            .spawn(move || {
                limits.read();
                limits
            });
        let Ok(reading) = reading else {
            return unread();
        };
        while !reading.is_finished() {
            if stop() {
                return unread();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        reading.join().unwrap_or_else(|_| unread())
    }

    /// `cfg` with a `batch.size` under the limits (see [`SizeLimits::batch_size`]).
    pub fn producer_config(&self, mut cfg: ClientConfig) -> ClientConfig {
        let configured = cfg.get("batch.size").and_then(|v| v.parse().ok());
        if let Some(bound) = self.batch_size(configured) {
            info!(
                batch_size = bound,
                "producer batches sized under the output topics' max.message.bytes"
            );
            cfg.set("batch.size", bound.to_string());
        }
        cfg
    }

    /// Limits given, not read (for tests).
    #[cfg(test)]
    pub fn fixed(by_topic: &[(&str, usize)]) -> Self {
        SizeLimits {
            admin: None,
            topics: by_topic.iter().map(|(t, _)| t.to_string()).collect(),
            by_topic: by_topic.iter().map(|(t, l)| (t.to_string(), *l)).collect(),
            read_at: None,
        }
    }

    fn read(&mut self) {
        let Some(admin) = &self.admin else { return };
        self.read_at = Some(Instant::now());
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        match max_message_bytes(admin, &topics) {
            Ok(limits) => {
                for (topic, limit) in &limits {
                    if self.by_topic.get(topic) != Some(limit) {
                        info!(topic, max_message_bytes = limit, "output topic size limit");
                    }
                }
                self.by_topic.extend(limits);
            }
            Err(e) => {
                warn!(error = %e, "could not read the output topics' max.message.bytes; batches keep librdkafka's bound and refused ones are split")
            }
        }
    }

    /// Reads the limits again unless that was done within [`REFRESH_AFTER_REFUSAL`].
    pub fn refresh(&mut self) {
        if self
            .read_at
            .is_none_or(|t| t.elapsed() >= REFRESH_AFTER_REFUSAL)
        {
            self.read();
        }
    }

    pub fn limit(&self, topic: &str) -> Option<usize> {
        self.by_topic.get(topic).copied()
    }

    /// The producer's `batch.size`: under every known limit, and never above `configured`
    /// (a `batch.size` the user set). `None` when librdkafka's default already fits.
    pub fn batch_size(&self, configured: Option<usize>) -> Option<usize> {
        let under = self.by_topic.values().map(|l| batch_size_under(*l)).min()?;
        let bound = configured.map_or(under, |c| c.min(under));
        (bound < configured.unwrap_or(metricpipe_admin::limits::LIBRDKAFKA_BATCH_SIZE))
            .then_some(bound)
    }
}

/// An output record that came back from the brokers refused. `T` is the runtime's
/// delivery opaque (what names the source record it counts down).
pub struct Refused<T = usize> {
    pub topic: String,
    pub payload: Vec<u8>,
    pub headers: Option<OwnedHeaders>,
    pub opaque: T,
    pub error: KafkaError,
}

impl<T> Refused<T> {
    /// Value plus header bytes: what a batch holds of it, uncompressed, without framing.
    fn bytes(&self) -> usize {
        let headers = self.headers.as_ref().map_or(0, |h| {
            h.iter()
                .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len) + 2)
                .sum()
        });
        self.payload.len() + headers
    }
}

/// What [`split_and_resend`] needs from the producer.
pub trait Resend<T = usize> {
    /// Hands a record to the producer. Gives it back when the producer refused it at once
    /// (larger than its `message.max.bytes`).
    fn resend(&self, record: Refused<T>) -> Option<Refused<T>>;
    /// Waits until every record handed to the producer is acknowledged or failed; false
    /// after the runtime's drain timeout.
    fn settle(&self) -> bool;
    /// Takes the failed deliveries that are size refusals; others stay for the caller.
    fn take_refused(&self) -> Vec<Refused<T>>;
}

/// Groups of records for one topic, each under `bound` bytes (counted as a batch would:
/// value, headers and framing), in the order given; a record larger than `bound` goes
/// alone.
pub fn groups<T>(records: Vec<Refused<T>>, bound: usize) -> Vec<Vec<Refused<T>>> {
    let mut out: Vec<Vec<Refused<T>>> = Vec::new();
    let mut size = 0;
    for r in records {
        let n = r.bytes() + 21;
        match out.last_mut() {
            Some(g) if size + n <= bound => {
                size += n;
                g.push(r);
            }
            _ => {
                size = 61 + n;
                out.push(vec![r]);
            }
        }
    }
    out
}

/// Sends `refused` again, one group in flight at a time, splitting refused groups in two.
/// `too_large` gets each record the brokers refused although it went alone.
///
/// Returns when every record is acknowledged, dead (handed to `too_large`), or, after a
/// drain timeout or at shutdown, left to the runtime's failed-delivery path.
pub fn split_and_resend<T>(
    sink: &impl Resend<T>,
    limits: &mut SizeLimits,
    refused: Vec<Refused<T>>,
    mut too_large: impl FnMut(Refused<T>),
) {
    limits.refresh();
    // The refused records must not share batches with anything else in flight.
    if !sink.settle() {
        for r in refused {
            if let Some(r) = sink.resend(r) {
                too_large(r);
            }
        }
        return;
    }
    let mut by_topic: Vec<(String, Vec<Refused<T>>)> = Vec::new();
    for r in refused {
        match by_topic.iter_mut().find(|(t, _)| *t == r.topic) {
            Some((_, v)) => v.push(r),
            None => by_topic.push((r.topic.clone(), vec![r])),
        }
    }
    let mut queue: VecDeque<Vec<Refused<T>>> = VecDeque::new();
    for (topic, records) in by_topic {
        let bound = limits.limit(&topic).map_or(
            metricpipe_admin::limits::LIBRDKAFKA_BATCH_SIZE / 2,
            batch_size_under,
        );
        queue.extend(groups(records, bound));
    }
    while let Some(group) = queue.pop_front() {
        let alone = group.len() == 1;
        for r in group {
            if let Some(r) = sink.resend(r) {
                too_large(r);
            }
        }
        if !sink.settle() {
            // Brokers gone: what is still in flight comes back through the failed path.
            for r in queue.into_iter().flatten() {
                if let Some(r) = sink.resend(r) {
                    too_large(r);
                }
            }
            return;
        }
        let mut back = sink.take_refused();
        if back.is_empty() {
            continue;
        }
        if alone || back.len() == 1 && !fits(&back[0], limits) {
            back.into_iter().for_each(&mut too_large);
            continue;
        }
        let second = back.split_off(back.len().div_ceil(2));
        queue.push_front(second);
        queue.push_front(back);
    }
}

/// Whether a record can go alone to its topic (unknown limits: assume so).
fn fits<T>(r: &Refused<T>, limits: &SizeLimits) -> bool {
    limits
        .limit(&r.topic)
        .is_none_or(|l| fits_alone(r.bytes(), l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn rec(topic: &str, bytes: usize, opaque: usize) -> Refused {
        Refused {
            topic: topic.into(),
            payload: vec![b'x'; bytes],
            headers: None,
            opaque,
            error: KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge),
        }
    }

    #[test]
    fn batch_size_follows_the_smallest_limit_and_a_users_setting() {
        let l = SizeLimits::fixed(&[("a", 1_048_588), ("b", 65_536)]);
        assert_eq!(l.batch_size(None), Some(batch_size_under(65_536)));
        assert_eq!(
            l.batch_size(Some(10_000)),
            None,
            "the user's smaller setting stays"
        );
        assert_eq!(l.batch_size(Some(500_000)), Some(batch_size_under(65_536)));
        let default = SizeLimits::fixed(&[("a", 1_048_588)]);
        assert_eq!(default.batch_size(None), None, "the default fits already");
        assert_eq!(SizeLimits::fixed(&[]).batch_size(None), None);
    }

    #[test]
    fn groups_stay_under_the_bound_and_keep_the_order() {
        let records: Vec<Refused> = (0..10).map(|i| rec("t", 400, i)).collect();
        let g = groups(records, 1_000);
        assert!(g.iter().all(|g| g.len() == 2), "{:?}", g.len());
        let order: Vec<usize> = g.iter().flatten().map(|r| r.opaque).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
        let g = groups(vec![rec("t", 5_000, 0), rec("t", 10, 1)], 1_000);
        assert_eq!(g.len(), 2, "a record over the bound goes alone");
    }

    /// A broker with a limit on the sum of a batch: the batch is what one group sends.
    struct FakeBroker {
        limit: usize,
        in_flight: RefCell<Vec<Refused>>,
        refused: RefCell<Vec<Refused>>,
        delivered: RefCell<Vec<usize>>,
    }

    impl Resend for FakeBroker {
        fn resend(&self, record: Refused) -> Option<Refused> {
            self.in_flight.borrow_mut().push(record);
            None
        }
        fn settle(&self) -> bool {
            let batch = std::mem::take(&mut *self.in_flight.borrow_mut());
            let size: usize = 61 + batch.iter().map(|r| r.bytes() + 21).sum::<usize>();
            if size > self.limit {
                self.refused.borrow_mut().extend(batch);
            } else {
                self.delivered
                    .borrow_mut()
                    .extend(batch.iter().map(|r| r.opaque));
            }
            true
        }
        fn take_refused(&self) -> Vec<Refused> {
            std::mem::take(&mut *self.refused.borrow_mut())
        }
    }

    #[test]
    fn refused_records_that_fit_are_all_delivered_and_only_a_lone_giant_is_dead() {
        let broker = FakeBroker {
            // Lower than the limit we believe: every first group is refused once.
            limit: 3_000,
            in_flight: RefCell::new(Vec::new()),
            refused: RefCell::new(Vec::new()),
            delivered: RefCell::new(Vec::new()),
        };
        let mut limits = SizeLimits::fixed(&[("t", 65_536)]);
        let mut records: Vec<Refused> = (0..200).map(|i| rec("t", 300, i)).collect();
        records.push(rec("t", 4_000, 999));
        let mut dead = Vec::new();
        split_and_resend(&broker, &mut limits, records, |r| dead.push(r.opaque));
        let mut delivered = broker.delivered.borrow().clone();
        delivered.sort_unstable();
        assert_eq!(delivered, (0..200).collect::<Vec<_>>());
        assert_eq!(dead, vec![999]);
    }
}

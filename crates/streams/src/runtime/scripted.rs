//! A scripted producer behind [`Outputs`], for tests without a broker: the script says,
//! send by send, whether the producer queues the output, refuses it at once or abandons
//! it; serving the reports then acknowledges each queued output's token in the offset
//! tracker, or fails it (tokens named in `failing`), as the rdkafka producer's delivery
//! callback does.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Instant;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;

use super::offsets::{DeliveryToken, OffsetTracker};
use super::producer::{Outputs, Sent};

/// What the producer does with one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Queue,
    Refuse,
    Abandon,
}

/// One output handed over.
#[derive(Debug)]
pub struct Handed {
    pub topic: String,
    pub payload: Vec<u8>,
    pub headers: Option<OwnedHeaders>,
    pub token: DeliveryToken,
}

#[derive(Default)]
pub struct ScriptedOutputs {
    pub tracker: RefCell<OffsetTracker>,
    /// Steps for the next sends; `Queue` once it runs out.
    pub script: RefCell<VecDeque<Step>>,
    /// Deliveries of these tokens fail when served.
    pub failing: RefCell<Vec<DeliveryToken>>,
    pub handed: RefCell<Vec<Handed>>,
    queued: RefCell<Vec<DeliveryToken>>,
    pub failed: RefCell<Vec<DeliveryToken>>,
}

impl Outputs for ScriptedOutputs {
    fn send(
        &self,
        topic: &str,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        token: DeliveryToken,
    ) -> Sent {
        let step = self.script.borrow_mut().pop_front().unwrap_or(Step::Queue);
        match step {
            Step::Refuse => {
                return Sent::Refused(KafkaError::MessageProduction(
                    RDKafkaErrorCode::MessageSizeTooLarge,
                ))
            }
            Step::Abandon => return Sent::Abandoned,
            Step::Queue => {}
        }
        self.handed.borrow_mut().push(Handed {
            topic: topic.to_string(),
            payload: payload.to_vec(),
            headers,
            token,
        });
        self.queued.borrow_mut().push(token);
        Sent::Queued
    }

    fn serve_delivery_reports(&self) -> bool {
        let served: Vec<DeliveryToken> = self.queued.borrow_mut().drain(..).collect();
        for &token in &served {
            if self.failing.borrow().contains(&token) {
                self.failed.borrow_mut().push(token);
            } else {
                self.tracker.borrow_mut().ack(token);
            }
        }
        !served.is_empty()
    }

    fn wait_for_acks(&self, _deadline: Instant) -> bool {
        self.serve_delivery_reports();
        true
    }

    fn in_flight(&self) -> i32 {
        self.queued.borrow().len() as i32
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers;

    use super::super::dlq::DeadLetters;
    use super::super::dlq_headers;
    use super::*;

    fn dead_letters(topic: Option<&str>) -> DeadLetters {
        DeadLetters {
            topic: topic.map(str::to_string),
            max_value_bytes: 8,
            records: metrics::Counter::noop(),
        }
    }

    #[test]
    fn a_dead_letter_carries_its_record_token_and_its_ack_moves_the_commit_point() {
        let out = ScriptedOutputs::default();
        let id = out.tracker.borrow_mut().assign("metric.all", 0, Some(0));
        let token = out.tracker.borrow_mut().register(id, 0, 1).unwrap();
        let dlq = dead_letters(Some("metric.dlq"));
        assert!(dlq.send(&out, b"0123456789", OwnedHeaders::new(), token));
        let handed = &out.handed.borrow()[0];
        assert_eq!((handed.topic.as_str(), handed.token), ("metric.dlq", token));
        assert_eq!(handed.payload, b"01234567", "cut to max_value_bytes");
        let truncated = handed
            .headers
            .as_ref()
            .and_then(|h| h.iter().find(|h| h.key == dlq_headers::TRUNCATED_FROM))
            .and_then(|h| h.value);
        assert_eq!(truncated, Some(&b"10"[..]));
        assert_eq!(out.tracker.borrow().commit_point(id), Some(0), "in flight");
        out.serve_delivery_reports();
        assert_eq!(out.tracker.borrow().commit_point(id), Some(1));
    }

    #[test]
    fn a_dead_letter_the_producer_refuses_or_abandons_is_left_to_the_caller() {
        let out = ScriptedOutputs::default();
        out.script
            .borrow_mut()
            .extend([Step::Refuse, Step::Abandon]);
        let id = out.tracker.borrow_mut().assign("metric.all", 0, Some(0));
        let token = out.tracker.borrow_mut().register(id, 0, 1).unwrap();
        let dlq = dead_letters(Some("metric.dlq"));
        assert!(!dlq.send(&out, b"x", OwnedHeaders::new(), token));
        assert!(!dlq.send(&out, b"x", OwnedHeaders::new(), token));
        assert!(!dead_letters(None).send(&out, b"x", OwnedHeaders::new(), token));
        assert!(out.handed.borrow().is_empty());
        assert_eq!(out.tracker.borrow().commit_point(id), Some(0));
        // The caller gives the record up for good: the point moves on.
        out.tracker.borrow_mut().ack(token);
        assert_eq!(out.tracker.borrow().commit_point(id), Some(1));
    }

    #[test]
    fn a_failed_delivery_holds_the_commit_point_per_token() {
        let out = ScriptedOutputs::default();
        let id = out.tracker.borrow_mut().assign("metric.all", 0, Some(0));
        let mut tracker = out.tracker.borrow_mut();
        let first = tracker.register(id, 0, 1).unwrap();
        let second = tracker.register(id, 1, 1).unwrap();
        drop(tracker);
        out.failing.borrow_mut().push(first);
        out.send("metric.cpu", b"a", None, first);
        out.send("metric.cpu", b"b", None, second);
        assert_eq!(out.in_flight(), 2);
        assert!(out.wait_for_acks(Instant::now()));
        assert_eq!(*out.failed.borrow(), vec![first]);
        assert_eq!(out.tracker.borrow().commit_point(id), Some(0), "0 failed");
    }
}

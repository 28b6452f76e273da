//! The one table of Kafka error classes, for producers, consumers and admin clients.
//!
//! Sources: librdkafka's `INTRODUCTION.md` (fatal errors: an idempotent or transactional
//! producer's `ERR__FATAL`, a static consumer's `FENCED_INSTANCE_ID`) and Kafka's Java
//! clients (an exception class per error code: `RetriableException` or not).
//!
//! A missing topic (`UNKNOWN_TOPIC_OR_PART`, librdkafka's `__UNKNOWN_TOPIC`) is retriable
//! here, as in the Java clients (`UnknownTopicOrPartitionException` is retriable): our
//! brokers do not create topics, and records for a topic someone is about to create must
//! wait, not be dropped.
//!
//! `CORRUPT_MESSAGE` (librdkafka's `InvalidMessage`, code 2) is retriable, as the Java
//! producer has it (`CorruptRecordException` is a `RetriableException`): the broker found
//! a bad checksum, which a resend from our intact copy cures. (Metricbeat drops such an
//! event; we do not.) A record the broker rejects on its content is `INVALID_RECORD` (87),
//! permanent.
//!
//! Authorization and authentication refusals are permanent for the request as it is, but
//! an operator's fix (an ACL, a password) cures them: [`is_access_refusal`] tells callers
//! to keep such records rather than dead-letter or drop them.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What to do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Not now: try again (librdkafka often does already).
    Retriable,
    /// Never, for this record or request as it is (too large, invalid, not authorized):
    /// dead-letter or drop it, or report the setting at fault. The client itself is fine.
    Permanent,
    /// The client is unusable for good (fenced, or librdkafka raised `ERR__FATAL`): stop
    /// it and say why; a restart gets a fresh one.
    Fatal,
}

/// The class of an error code. Codes not listed are retriable.
pub fn classify_code(code: RDKafkaErrorCode) -> ErrorClass {
    use RDKafkaErrorCode as C;
    match code {
        C::Fatal
        | C::FencedInstanceId
        | C::ProducerFenced
        | C::InvalidProducerEpoch
        | C::InvalidProducerIdMapping
        | C::TransactionalIdAuthorizationFailed
        | C::OutOfOrderSequenceNumber => ErrorClass::Fatal,
        C::MessageSizeTooLarge
        | C::InvalidMessageSize
        | C::MessageBatchTooLarge
        | C::InvalidRecord
        | C::InvalidRequiredAcks
        | C::InvalidTopic
        | C::InvalidArgument
        | C::InvalidConfig
        | C::InvalidReplicationFactor
        | C::PolicyViolation
        | C::UnsupportedVersion
        | C::UnsupportedForMessageFormat
        | C::InvalidTransactionTimeout
        | C::InconsistentGroupProtocol
        | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::Authentication
        | C::SaslAuthenticationFailed => ErrorClass::Permanent,
        _ => ErrorClass::Retriable,
    }
}

/// The class of a client error. Errors without a code (a bad config value, a closed
/// client's channel) are permanent: trying again gives the same answer.
pub fn classify(error: &KafkaError) -> ErrorClass {
    match error.rdkafka_error_code() {
        Some(code) => classify_code(code),
        None => match error {
            KafkaError::ClientConfig(..)
            | KafkaError::ClientCreation(_)
            | KafkaError::Subscription(_) => ErrorClass::Permanent,
            _ => ErrorClass::Retriable,
        },
    }
}

/// Whether a code is a refusal of this client's principal or credentials (a missing ACL, a
/// wrong password) rather than of the record: the same record goes through once an
/// operator fixes the ACL or the credentials, so it must be kept, not dead-lettered.
pub fn is_access_refusal(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::Authentication
            | C::SaslAuthenticationFailed
    )
}

/// Whether an error says the brokers cannot be reached (for one clear operator line).
pub fn is_unreachable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::AllBrokersDown | C::BrokerTransportFailure | C::Resolve | C::BrokerNotAvailable
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;

    #[test]
    fn the_table_sorts_the_cases_both_old_tables_listed() {
        for c in [
            C::MessageSizeTooLarge,
            C::InvalidMessageSize,
            C::MessageBatchTooLarge,
            C::InvalidRecord,
            C::TopicAuthorizationFailed,
            C::ClusterAuthorizationFailed,
            C::InvalidArgument,
        ] {
            assert_eq!(classify_code(c), ErrorClass::Permanent, "{c:?}");
        }
        for c in [
            C::QueueFull,
            C::MessageTimedOut,
            C::AllBrokersDown,
            C::NotLeaderForPartition,
            C::UnknownTopicOrPartition,
            C::UnknownTopic,
            C::UnknownPartition,
            C::RequestTimedOut,
            C::InvalidMessage,
        ] {
            assert_eq!(classify_code(c), ErrorClass::Retriable, "{c:?}");
        }
        for c in [C::Fatal, C::FencedInstanceId, C::ProducerFenced] {
            assert_eq!(classify_code(c), ErrorClass::Fatal, "{c:?}");
        }
    }

    #[test]
    fn a_corrupt_message_is_retried_and_an_invalid_record_is_not() {
        // CORRUPT_MESSAGE (2): a checksum the broker could not verify; the Java producer
        // retries it (CorruptRecordException is retriable).
        assert_eq!(
            classify(&KafkaError::MessageProduction(C::InvalidMessage)),
            ErrorClass::Retriable
        );
        assert_eq!(
            classify(&KafkaError::MessageProduction(C::InvalidRecord)),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn access_refusals_are_permanent_but_kept() {
        for c in [
            C::TopicAuthorizationFailed,
            C::GroupAuthorizationFailed,
            C::ClusterAuthorizationFailed,
            C::SaslAuthenticationFailed,
        ] {
            assert!(is_access_refusal(c), "{c:?}");
            assert_eq!(classify_code(c), ErrorClass::Permanent, "{c:?}");
        }
        for c in [C::MessageSizeTooLarge, C::InvalidRecord, C::InvalidMessage] {
            assert!(!is_access_refusal(c), "{c:?}");
        }
    }

    #[test]
    fn classify_reads_the_code_of_every_error_kind() {
        assert_eq!(
            classify(&KafkaError::MessageProduction(C::MessageSizeTooLarge)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(&KafkaError::MessageConsumption(C::FencedInstanceId)),
            ErrorClass::Fatal
        );
        assert_eq!(
            classify(&KafkaError::ConsumerCommit(C::RebalanceInProgress)),
            ErrorClass::Retriable
        );
        assert_eq!(
            classify(&KafkaError::Subscription("bad".into())),
            ErrorClass::Permanent
        );
    }
}

//! Why a record is bad: the `reason` label values of
//! [`STREAMS_BAD_RECORDS_TOTAL`](super::STREAMS_BAD_RECORDS_TOTAL), which the dead-letter
//! header `metricpipe.dlq.reason` and the DSL's `Reason::code` carry too.

/// A reason a record was not routed, alerted on or delivered. [`as_str`](Self::as_str) is
/// the label value; operators' alert rules and the drills match on those strings, so a
/// variant's string never changes.
///
/// The DSL's `unknown-source` (a caller handing `Topology::process` a source id the
/// topology lacks, which metricpipe's runtime never does) is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadRecordReason {
    /// The value is not UTF-8 (the router's extractor).
    NotUtf8,
    /// The value is not one JSON object (the router's extractor).
    NotJson,
    /// A field the router reads has the wrong JSON type.
    MistypedField,
    /// `metricset.name` is missing.
    MissingField,
    /// Over the topology's `max_value_bytes`, or refused by the brokers as too large when
    /// sent alone.
    TooLarge,
    /// A cpu event the alert branch cannot judge (no host, no usable percentage).
    Unalertable,
    /// An output the brokers refused for good (a permanent delivery error).
    RefusedByBroker,
    /// An output the producer refused before sending it.
    RefusedByProducer,
}

impl BadRecordReason {
    /// Every reason, in the order their series are registered at zero.
    pub const ALL: [BadRecordReason; 8] = [
        BadRecordReason::NotUtf8,
        BadRecordReason::NotJson,
        BadRecordReason::MistypedField,
        BadRecordReason::MissingField,
        BadRecordReason::TooLarge,
        BadRecordReason::Unalertable,
        BadRecordReason::RefusedByBroker,
        BadRecordReason::RefusedByProducer,
    ];

    /// The label value, e.g. `not-json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            BadRecordReason::NotUtf8 => "not-utf8",
            BadRecordReason::NotJson => "not-json",
            BadRecordReason::MistypedField => "mistyped-field",
            BadRecordReason::MissingField => "missing-field",
            BadRecordReason::TooLarge => "too-large",
            BadRecordReason::Unalertable => "unalertable",
            BadRecordReason::RefusedByBroker => "refused-by-broker",
            BadRecordReason::RefusedByProducer => "refused-by-producer",
        }
    }

    /// The reason whose label value is `code`, if it is one of [`ALL`](Self::ALL).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl From<BadRecordReason> for &'static str {
    fn from(reason: BadRecordReason) -> Self {
        reason.as_str()
    }
}

impl std::fmt::Display for BadRecordReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

//! [`TopologyTestDriver`]: runs a topology in memory, with no broker.

use crate::dsl::{Output, Reason, SinkId, Topology};

/// One record a topology wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecord {
    pub topic: String,
    pub value: Vec<u8>,
}

/// One rejection: the input that caused it, the node and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub input: Vec<u8>,
    pub node: String,
    pub reason: Reason,
}

/// Like Kafka Streams' `TopologyTestDriver`: pipe values in, read what the sinks wrote.
pub struct TopologyTestDriver<X> {
    topology: Topology<X>,
    outputs: Vec<TestRecord>,
    rejections: Vec<Rejection>,
}

struct Collect<'a> {
    input: &'a [u8],
    outputs: &'a mut Vec<TestRecord>,
    rejections: &'a mut Vec<Rejection>,
}

impl Output for Collect<'_> {
    fn emit(&mut self, _sink: SinkId, topic: &str, value: &[u8]) {
        self.outputs.push(TestRecord {
            topic: topic.to_string(),
            value: value.to_vec(),
        });
    }

    fn reject(&mut self, node: &str, reason: Reason) {
        self.rejections.push(Rejection {
            input: self.input.to_vec(),
            node: node.to_string(),
            reason,
        });
    }
}

impl<X> TopologyTestDriver<X> {
    pub fn new(topology: Topology<X>) -> Self {
        TopologyTestDriver {
            topology,
            outputs: Vec::new(),
            rejections: Vec::new(),
        }
    }

    /// Processes one record of `topic`; returns the records it produced, in order.
    pub fn pipe_input(&mut self, topic: &str, value: impl AsRef<[u8]>) -> &[TestRecord] {
        let value = value.as_ref();
        let first = self.outputs.len();
        let mut out = Collect {
            input: value,
            outputs: &mut self.outputs,
            rejections: &mut self.rejections,
        };
        self.topology.process_topic(topic, value, &mut out);
        &self.outputs[first..]
    }

    /// Removes and returns the values written to `topic`, oldest first.
    pub fn read_output(&mut self, topic: &str) -> Vec<Vec<u8>> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.outputs)
            .into_iter()
            .partition(|r| r.topic == topic);
        self.outputs = kept;
        taken.into_iter().map(|r| r.value).collect()
    }

    /// Every record written and not yet read, in the order written.
    pub fn outputs(&self) -> &[TestRecord] {
        &self.outputs
    }

    /// Every rejection so far.
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    pub fn topology(&self) -> &Topology<X> {
        &self.topology
    }
}

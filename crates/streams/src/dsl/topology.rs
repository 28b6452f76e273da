//! The built [`Topology`]: runs each record through the node tree into an [`Output`], and
//! describes itself as Kafka Streams' `Topology.describe()` does.

use std::fmt;

use super::{ExtractFn, Node, NodeKind, Reason, SinkId, SourceId};

/// Where a topology's results go: the runtime's producer, the test driver, `--dry-run`.
pub trait Output {
    /// A record for sink `sink`. `value` is the source value itself (same pointer and
    /// length) unless a `map_values` upstream replaced it.
    fn emit(&mut self, sink: SinkId, topic: &str, value: &[u8]);
    /// The record, or one path of it, was not processed, at node `node`.
    fn reject(&mut self, node: &str, reason: Reason);
}

/// A built topology: immutable, `Send + Sync`, shared by every partition and thread.
pub struct Topology<X> {
    pub(super) nodes: Vec<Node<X>>,
    pub(super) sinks: Vec<String>,
    pub(super) sources: Vec<(String, usize)>,
    pub(super) extract: ExtractFn<X>,
    pub(super) max_value_bytes: Option<usize>,
}

impl<X> Topology<X> {
    /// The topics read, in the order the sources were declared (index = [`SourceId`]).
    pub fn source_topics(&self) -> Vec<&str> {
        self.sources.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// The topics written, one entry per `to` (index = [`SinkId`]).
    pub fn sink_topics(&self) -> &[String] {
        &self.sinks
    }

    pub fn source_id(&self, topic: &str) -> Option<SourceId> {
        self.sources.iter().position(|(t, _)| t == topic)
    }

    /// Runs one record of source `source` through the tree. Never fails: results and
    /// reasons go to `out`.
    pub fn process<O: Output>(&self, source: SourceId, value: &[u8], out: &mut O) {
        let Some(&(_, node)) = self.sources.get(source) else {
            out.reject(
                "",
                Reason::new("unknown-source", format!("no source #{source}")),
            );
            return;
        };
        let name = &self.nodes[node].name;
        if let Some(limit) = self.max_value_bytes {
            if value.len() > limit {
                out.reject(
                    name,
                    Reason::new(
                        metricpipe_telemetry::BadRecordReason::TooLarge,
                        format!("{} bytes, over the limit of {limit}", value.len()),
                    ),
                );
                return;
            }
        }
        match (self.extract)(value) {
            Ok(fields) => self.forward(node, value, &fields, out),
            Err(reason) => out.reject(name, reason),
        }
    }

    /// [`process`](Self::process) by topic name; a topic no source reads is rejected.
    pub fn process_topic<O: Output>(&self, topic: &str, value: &[u8], out: &mut O) {
        match self.source_id(topic) {
            Some(id) => self.process(id, value, out),
            None => out.reject(
                "",
                Reason::new("unknown-source", format!("no source reads topic {topic}")),
            ),
        }
    }

    fn forward<O: Output>(&self, node: usize, value: &[u8], x: &X, out: &mut O) {
        for &child in &self.nodes[node].children {
            self.run(child, value, x, out);
        }
    }

    fn run<O: Output>(&self, id: usize, value: &[u8], x: &X, out: &mut O) {
        let node = &self.nodes[id];
        match &node.kind {
            NodeKind::Source { .. } | NodeKind::Branch { .. } => self.forward(id, value, x, out),
            NodeKind::Split => {
                for &branch in &node.children {
                    let NodeKind::Branch { predicate } = &self.nodes[branch].kind else {
                        continue;
                    };
                    let taken = match predicate {
                        None => Ok(true),
                        Some(p) => p(value, x),
                    };
                    match taken {
                        Ok(true) => return self.forward(branch, value, x, out),
                        Ok(false) => {}
                        Err(reason) => return out.reject(&self.nodes[branch].name, reason),
                    }
                }
            }
            NodeKind::Filter { predicate } => match predicate(value, x) {
                Ok(true) => self.forward(id, value, x, out),
                Ok(false) => {}
                Err(reason) => out.reject(&node.name, reason),
            },
            NodeKind::MapValues { mapper } => match mapper(value, x) {
                Ok(mapped) => self.forward(id, &mapped, x, out),
                Err(reason) => out.reject(&node.name, reason),
            },
            NodeKind::Sink { topic, sink } => out.emit(*sink, topic, value),
        }
    }

    /// The description Kafka Streams' `Topology.describe()` prints for the same topology.
    pub fn describe(&self) -> TopologyDescription {
        let mut size = vec![1usize; self.nodes.len()];
        // Children always come after their parent, so one reverse pass sums the subtrees.
        for id in (0..self.nodes.len()).rev() {
            if let Some(p) = self.nodes[id].parent {
                size[p] += size[id];
            }
        }
        let order = |ids: &mut Vec<usize>| {
            ids.sort_by(|&a, &b| {
                size[b]
                    .cmp(&size[a])
                    .then_with(|| self.nodes[a].name.cmp(&self.nodes[b].name))
            })
        };
        let names = |ids: &[usize]| -> String {
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.iter()
                    .map(|&i| self.nodes[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut text = String::from("Topologies:\n");
        for (sub, &(_, root)) in self.sources.iter().enumerate() {
            let mut members = Vec::new();
            let mut stack = vec![root];
            while let Some(n) = stack.pop() {
                members.push(n);
                stack.extend(self.nodes[n].children.iter().copied());
            }
            order(&mut members);
            text.push_str(&format!("   Sub-topology: {sub}\n"));
            for &n in &members {
                let node = &self.nodes[n];
                let mut succ = node.children.clone();
                order(&mut succ);
                let pred: Vec<usize> = node.parent.into_iter().collect();
                let line = match &node.kind {
                    NodeKind::Source { topic } => format!(
                        "Source: {} (topics: [{topic}])\n      --> {}",
                        node.name,
                        names(&succ)
                    ),
                    NodeKind::Sink { topic, .. } => format!(
                        "Sink: {} (topic: {topic})\n      <-- {}",
                        node.name,
                        names(&pred)
                    ),
                    _ => format!(
                        "Processor: {} (stores: [])\n      --> {}\n      <-- {}",
                        node.name,
                        names(&succ),
                        names(&pred)
                    ),
                };
                text.push_str("    ");
                text.push_str(&line);
                text.push('\n');
            }
            text.push('\n');
        }
        TopologyDescription(text)
    }
}

/// A printable topology description (see [`Topology::describe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyDescription(String);

impl fmt::Display for TopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

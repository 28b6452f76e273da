//! The DSL: [`StreamsBuilder`], [`KStream`], [`BranchedKStream`] and the built [`Topology`].
//!
//! A topology is a tree of processor nodes hanging off one or more sources. Every record
//! carries two things through the tree: its value bytes and the fields `X` that the
//! builder's extractor pulled out of the *source* value once, so that predicates and mappers
//! never parse the same bytes twice. `map_values` replaces the bytes; `X` keeps describing
//! the source record.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

/// Why a record, or one path of it through the topology, could not be processed.
///
/// `code` is a short stable label (metrics, DLQ headers); `detail` is for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub detail: Cow<'static, str>,
}

impl Reason {
    pub fn new(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Reason {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(self.code)
        } else {
            write!(f, "{}: {}", self.code, self.detail)
        }
    }
}

/// Index of a sink (`to(topic)`) in [`Topology::sink_topics`].
pub type SinkId = usize;
/// Index of a source (`stream(topic)`) in [`Topology::source_topics`].
pub type SourceId = usize;

type ExtractFn<X> = Box<dyn Fn(&[u8]) -> Result<X, Reason> + Send + Sync>;
type PredicateFn<X> = Box<dyn Fn(&[u8], &X) -> Result<bool, Reason> + Send + Sync>;
type MapperFn<X> = Box<dyn Fn(&[u8], &X) -> Result<Vec<u8>, Reason> + Send + Sync>;

enum NodeKind<X> {
    Source {
        topic: String,
    },
    Split,
    /// `None` is the default branch; it is always the split's last child.
    Branch {
        predicate: Option<PredicateFn<X>>,
    },
    Filter {
        predicate: PredicateFn<X>,
    },
    MapValues {
        mapper: MapperFn<X>,
    },
    Sink {
        topic: String,
        sink: SinkId,
    },
}

struct Node<X> {
    name: String,
    kind: NodeKind<X>,
    children: Vec<usize>,
    parent: Option<usize>,
}

struct Graph<X> {
    nodes: Vec<Node<X>>,
    sinks: Vec<String>,
    sources: Vec<(String, usize)>,
    next_index: u32,
}

impl<X> Graph<X> {
    /// Kafka Streams' generated names: a prefix and a 10-digit index shared by all nodes.
    fn generated_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}{:010}", self.next_index);
        self.next_index += 1;
        name
    }

    fn add(&mut self, parent: Option<usize>, name: String, kind: NodeKind<X>) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            name,
            kind,
            children: Vec::new(),
            parent,
        });
        if let Some(p) = parent {
            self.nodes[p].children.push(id);
        }
        id
    }
}

/// Builds a [`Topology`], like Kafka Streams' `StreamsBuilder`.
///
/// `X` is what the extractor pulls out of each source value; use [`StreamsBuilder::raw`]
/// for topologies that never look inside values (pass-through, benchmarks).
pub struct StreamsBuilder<X> {
    graph: RefCell<Graph<X>>,
    extract: ExtractFn<X>,
    max_value_bytes: Option<usize>,
}

impl StreamsBuilder<()> {
    /// A builder whose records carry no extracted fields.
    pub fn raw() -> Self {
        StreamsBuilder::new(|_| Ok(()))
    }
}

impl<X> StreamsBuilder<X> {
    /// `extract` runs once per source record; an `Err` rejects the whole record.
    pub fn new(extract: impl Fn(&[u8]) -> Result<X, Reason> + Send + Sync + 'static) -> Self {
        StreamsBuilder {
            graph: RefCell::new(Graph {
                nodes: Vec::new(),
                sinks: Vec::new(),
                sources: Vec::new(),
                next_index: 0,
            }),
            extract: Box::new(extract),
            max_value_bytes: None,
        }
    }

    /// Records larger than this are rejected with reason `too-large` before extraction.
    pub fn max_value_bytes(mut self, limit: usize) -> Self {
        self.max_value_bytes = Some(limit);
        self
    }

    /// A stream of the records of `topic`.
    pub fn stream(&self, topic: &str) -> KStream<'_, X> {
        let mut g = self.graph.borrow_mut();
        let name = g.generated_name("KSTREAM-SOURCE-");
        let id = g.add(
            None,
            name,
            NodeKind::Source {
                topic: topic.to_string(),
            },
        );
        g.sources.push((topic.to_string(), id));
        KStream {
            builder: self,
            node: id,
        }
    }

    pub fn build(self) -> Topology<X> {
        let g = self.graph.into_inner();
        Topology {
            nodes: g.nodes,
            sinks: g.sinks,
            sources: g.sources,
            extract: self.extract,
            max_value_bytes: self.max_value_bytes,
        }
    }

    fn add(&self, parent: usize, prefix: &str, kind: NodeKind<X>) -> KStream<'_, X> {
        let mut g = self.graph.borrow_mut();
        let name = g.generated_name(prefix);
        let node = g.add(Some(parent), name, kind);
        KStream {
            builder: self,
            node,
        }
    }
}

/// A stream of records, like Kafka Streams' `KStream`. Cheap to copy; using one stream
/// twice (e.g. `to` and `filter`) gives the node two children, run in that order.
pub struct KStream<'b, X> {
    builder: &'b StreamsBuilder<X>,
    node: usize,
}

impl<X> Clone for KStream<'_, X> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<X> Copy for KStream<'_, X> {}

impl<'b, X> KStream<'b, X> {
    /// Keeps the records for which `predicate` is `Ok(true)`. An `Err` drops the record
    /// on this path and reports the reason.
    pub fn filter(
        &self,
        predicate: impl Fn(&[u8], &X) -> Result<bool, Reason> + Send + Sync + 'static,
    ) -> KStream<'b, X> {
        self.builder.add(
            self.node,
            "KSTREAM-FILTER-",
            NodeKind::Filter {
                predicate: Box::new(predicate),
            },
        )
    }

    /// Replaces each value by `mapper`'s result. An `Err` drops the record on this path
    /// and reports the reason.
    pub fn map_values(
        &self,
        mapper: impl Fn(&[u8], &X) -> Result<Vec<u8>, Reason> + Send + Sync + 'static,
    ) -> KStream<'b, X> {
        self.builder.add(
            self.node,
            "KSTREAM-MAPVALUES-",
            NodeKind::MapValues {
                mapper: Box::new(mapper),
            },
        )
    }

    /// Writes every record, value as it is and with no key, to `topic`.
    pub fn to(&self, topic: &str) {
        let mut g = self.builder.graph.borrow_mut();
        let sink = g.sinks.len();
        g.sinks.push(topic.to_string());
        let name = g.generated_name("KSTREAM-SINK-");
        g.add(
            Some(self.node),
            name,
            NodeKind::Sink {
                topic: topic.to_string(),
                sink,
            },
        );
    }

    /// Splits the stream into branches; the first branch whose predicate holds takes a record.
    pub fn split(&self) -> BranchedKStream<'b, X> {
        let name = self
            .builder
            .graph
            .borrow_mut()
            .generated_name("KSTREAM-BRANCH-");
        self.split_as(name)
    }

    /// Like [`split`](Self::split), with `name` as the split node's name and the prefix of
    /// its branches' names (Kafka Streams' `split(Named.as(name))`).
    pub fn split_named(&self, name: &str) -> BranchedKStream<'b, X> {
        // A named node still takes an index, as in Kafka Streams.
        self.builder.graph.borrow_mut().next_index += 1;
        self.split_as(name.to_string())
    }

    fn split_as(&self, name: String) -> BranchedKStream<'b, X> {
        let node =
            self.builder
                .graph
                .borrow_mut()
                .add(Some(self.node), name.clone(), NodeKind::Split);
        BranchedKStream {
            builder: self.builder,
            split: node,
            prefix: name,
            branches: HashMap::new(),
            count: 0,
        }
    }
}

/// The result of [`KStream::split`], like Kafka Streams' `BranchedKStream`.
pub struct BranchedKStream<'b, X> {
    builder: &'b StreamsBuilder<X>,
    split: usize,
    prefix: String,
    branches: HashMap<String, KStream<'b, X>>,
    count: usize,
}

impl<'b, X> BranchedKStream<'b, X> {
    /// A branch named `prefix + name` (`prefix + position` when `name` is empty); records
    /// for which `predicate` is `Ok(true)` go to it (if no earlier branch took them).
    pub fn branch(
        mut self,
        name: &str,
        predicate: impl Fn(&[u8], &X) -> Result<bool, Reason> + Send + Sync + 'static,
    ) -> Self {
        self.add_branch(name, Some(Box::new(predicate)));
        self
    }

    /// Ends the split; records no branch took go to a branch named `prefix + name`.
    pub fn default_branch(mut self, name: &str) -> HashMap<String, KStream<'b, X>> {
        self.add_branch(name, None);
        self.branches
    }

    /// Ends the split; records no branch took are dropped.
    pub fn no_default_branch(self) -> HashMap<String, KStream<'b, X>> {
        self.branches
    }

    /// Kafka Streams names a branch `prefix + name`, or `prefix + position` (from 0) when
    /// it has no name; either way the branch takes an index.
    fn add_branch(&mut self, name: &str, predicate: Option<PredicateFn<X>>) {
        let full = if name.is_empty() {
            format!("{}{}", self.prefix, self.count)
        } else {
            format!("{}{}", self.prefix, name)
        };
        self.count += 1;
        let mut g = self.builder.graph.borrow_mut();
        g.next_index += 1;
        let node = g.add(
            Some(self.split),
            full.clone(),
            NodeKind::Branch { predicate },
        );
        drop(g);
        self.branches.insert(
            full,
            KStream {
                builder: self.builder,
                node,
            },
        );
    }
}

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
    nodes: Vec<Node<X>>,
    sinks: Vec<String>,
    sources: Vec<(String, usize)>,
    extract: ExtractFn<X>,
    max_value_bytes: Option<usize>,
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
                        "too-large",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka Streams 4.3.1 printed this for `stream("in").split().branch(p).defaultBranch()`
    /// with each branch sent `to("out-" + its name)`.
    #[test]
    fn unnamed_split_names_and_describes_like_kafka_streams() {
        let b = StreamsBuilder::raw();
        let branches = b
            .stream("in")
            .split()
            .branch("", |_, _| Ok(true))
            .default_branch("");
        let mut names: Vec<&String> = branches.keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["KSTREAM-BRANCH-00000000010", "KSTREAM-BRANCH-00000000011"]
        );
        for name in names {
            branches[name].to(&format!("out-{name}"));
        }
        let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [in])
      --> KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCH-0000000001 (stores: [])
      --> KSTREAM-BRANCH-00000000010, KSTREAM-BRANCH-00000000011
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-BRANCH-00000000010 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCH-00000000011 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-BRANCH-0000000001
    Sink: KSTREAM-SINK-0000000004 (topic: out-KSTREAM-BRANCH-00000000010)
      <-- KSTREAM-BRANCH-00000000010
    Sink: KSTREAM-SINK-0000000005 (topic: out-KSTREAM-BRANCH-00000000011)
      <-- KSTREAM-BRANCH-00000000011

";
        assert_eq!(b.build().describe().to_string(), expected);
    }

    #[test]
    fn first_matching_branch_wins_and_default_takes_the_rest() {
        let b = StreamsBuilder::raw();
        let branches = b
            .stream("in")
            .split_named("s-")
            .branch("a", |v, _| Ok(v.starts_with(b"a")))
            .branch("ab", |v, _| Ok(v.starts_with(b"ab")))
            .default_branch("rest");
        branches["s-a"].to("A");
        branches["s-ab"].to("AB");
        branches["s-rest"].to("REST");
        let mut d = crate::TopologyTestDriver::new(b.build());
        d.pipe_input("in", b"abc");
        d.pipe_input("in", b"xyz");
        assert_eq!(d.read_output("A"), vec![b"abc".to_vec()]);
        assert!(d.read_output("AB").is_empty());
        assert_eq!(d.read_output("REST"), vec![b"xyz".to_vec()]);
    }

    #[test]
    fn predicate_errors_are_rejections_not_panics() {
        let b = StreamsBuilder::raw();
        b.stream("in")
            .filter(|_, _| Err(Reason::new("nope", "always")))
            .to("out");
        let mut d = crate::TopologyTestDriver::new(b.build());
        d.pipe_input("in", b"x");
        assert!(d.outputs().is_empty());
        assert_eq!(d.rejections()[0].reason.code, "nope");
        assert_eq!(d.rejections()[0].node, "KSTREAM-FILTER-0000000001");
    }
}

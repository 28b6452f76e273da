//! The builder half of the DSL: [`StreamsBuilder`], [`KStream`] and [`BranchedKStream`]
//! add nodes to the graph that [`StreamsBuilder::build`] freezes into a [`Topology`].

use std::cell::RefCell;
use std::collections::HashMap;

use super::{ExtractFn, Graph, NodeKind, PredicateFn, Reason, Topology};

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

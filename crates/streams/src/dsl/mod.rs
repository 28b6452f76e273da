//! The DSL: [`StreamsBuilder`], [`KStream`], [`BranchedKStream`] and the built [`Topology`].
//!
//! A topology is a tree of processor nodes hanging off one or more sources. Every record
//! carries two things through the tree: its value bytes and the fields `X` that the
//! builder's extractor pulled out of the *source* value once, so that predicates and mappers
//! never parse the same bytes twice. `map_values` replaces the bytes; `X` keeps describing
//! the source record.

use std::borrow::Cow;
use std::fmt;

mod builder;
mod topology;

pub use builder::{BranchedKStream, KStream, StreamsBuilder};
pub use topology::{Output, Topology, TopologyDescription};

/// Why a record, or one path of it through the topology, could not be processed.
///
/// `code` is a short stable label (metrics, DLQ headers); `detail` is for humans. metricpipe's
/// own codes are `metricpipe_telemetry::BadRecordReason`s, which [`Reason::new`] takes as
/// they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub detail: Cow<'static, str>,
}

impl Reason {
    pub fn new(code: impl Into<&'static str>, detail: impl Into<Cow<'static, str>>) -> Self {
        Reason {
            code: code.into(),
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

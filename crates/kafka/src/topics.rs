//! The mission's topics and their defaults (SPEC: 4 topics, 3 partitions, RF 2, no keys).

/// What the agent writes and streams reads: Metricbeat JSON, cpu and memory events.
pub const INPUT: &str = "metric.all";
/// Streams' output for `metricset.name == "cpu"`, values byte for byte.
pub const CPU: &str = "metric.cpu";
/// Streams' output for `metricset.name == "memory"`, values byte for byte.
pub const MEMORY: &str = "metric.memory";
/// `{host..., "timestamp"}` for CPU events above the threshold.
pub const ALERT: &str = "metric.cpu.alert";
/// All four, in pipeline order.
pub const ALL: [&str; 4] = [INPUT, CPU, MEMORY, ALERT];
/// Partitions per topic when we create them.
pub const DEFAULT_PARTITIONS: i32 = 3;
/// Replication factor when we create topics.
pub const DEFAULT_REPLICATION_FACTOR: i32 = 2;

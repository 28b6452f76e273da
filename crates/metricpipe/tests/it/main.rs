//! The metricpipe crate's integration tests, one binary with a module per area.

mod agent_host_metadata;
mod agent_http;
mod agent_logging;
mod agent_once;
mod agent_package;
mod agent_reload;
mod cli_output;
mod demo_cli;
mod demo_common;
mod demo_secured;
mod deploy_check;
mod drill_broker_kill;
mod drill_common;
mod drill_exactly_once;
mod drill_hostile;
mod drill_limits;
mod drill_outage;
mod drill_poison;
mod drill_streams;
mod local_cli;
mod operator;
// Also the parser's unit tests' list (src/help_tests.rs), so it stays outside `it/`.
#[path = "../support/runnable_examples.rs"]
mod runnable_examples;
mod secured_common;
mod secured_mtls;
mod secured_pipeline;
mod secured_refusals;
mod streams_cli;
mod streams_failover;
mod streams_properties;
mod tail_cli;
mod tail_console;
mod topics_cli;

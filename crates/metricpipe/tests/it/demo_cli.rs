//! `metricpipe demo --no-top` end to end: a real cluster, agent and streams as child
//! processes, alerts under `--burn`, and after Ctrl-C (SIGINT) nothing it started is left.

use crate::demo_common;

#[test]
fn headless_demo_shows_traffic_and_alerts_and_ctrl_c_leaves_nothing() {
    demo_common::headless_demo_shows_traffic_and_alerts(&[]);
}

//! `metricpipe demo --security sasl_ssl --no-top`: the same demo on a SASL_SSL cluster with
//! ACLs, the agent and streams each as their own SCRAM user allowed only their own topics.

use crate::demo_common;

#[test]
fn headless_demo_over_sasl_ssl_with_acls() {
    let stderr = demo_common::headless_demo_shows_traffic_and_alerts(&["--security", "sasl_ssl"]);
    assert!(stderr.contains("security: sasl_ssl with ACLs"), "{stderr}");
    assert!(stderr.contains("client properties: "), "{stderr}");
}

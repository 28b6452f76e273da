//! What `local up --security ...` tells the operator about a secured cluster.

use metricpipe_local::LocalCluster;

/// Print where the client properties file and the CA are (stderr: stdout keeps the one
/// line of bootstrap servers that scripts read).
pub fn print_client_files(cluster: &LocalCluster) {
    let Some(props) = cluster.client_properties_path() else {
        return;
    };
    eprintln!(
        "security: {} with ACLs; super user `{}`",
        cluster.security(),
        metricpipe_local::ADMIN_USER
    );
    eprintln!("client properties: {}", props.display());
    if let Some(ca) = cluster.ca_path() {
        eprintln!("CA certificate:    {}", ca.display());
    }
    eprintln!(
        "try: kafka-console-consumer.sh --bootstrap-server {} --consumer.config {} --topic metric.all",
        cluster.bootstrap_servers(),
        props.display()
    );
}

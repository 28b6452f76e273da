//! Readiness that cannot be fooled: the cluster that answers on our ports must be the one we
//! formatted (same cluster id, only our node ids on our ports), and a port that another
//! process holds is named before any node starts.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::{node, LocalCluster, LocalError, NodeInfo, Result};

/// What answered a metadata request on the bootstrap servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The cluster id of the metadata response (`None` if the broker did not send one).
    pub cluster_id: Option<String>,
    /// `(node id, port)` of every broker in the metadata.
    pub brokers: Vec<(i32, u16)>,
}

/// Whether an [`Answer`] comes from our cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// Ours, with this many brokers registered.
    Ours(usize),
    /// Not ours (or not yet proven ours); the string says why.
    Unproven(String),
    /// Another cluster answers: the string names what differs.
    Foreign(String),
}

/// Compare what answered with what we formatted: the cluster id and every broker's id and
/// port must be ours. A broker id or port we did not configure means another cluster.
pub(crate) fn identify(answer: &Answer, cluster_id: &str, nodes: &[NodeInfo]) -> Identity {
    match &answer.cluster_id {
        Some(id) if id != cluster_id => {
            return Identity::Foreign(format!(
                "it reports cluster id {id}, but this cluster was formatted with {cluster_id}"
            ))
        }
        Some(_) => {}
        None => return Identity::Unproven("the metadata carried no cluster id".into()),
    }
    for (id, port) in &answer.brokers {
        let ours = nodes
            .iter()
            .any(|n| i64::from(n.id) == i64::from(*id) && n.port == *port);
        if !ours {
            return Identity::Foreign(format!(
                "it lists broker {id} on port {port}, which is not one of this cluster's nodes"
            ));
        }
    }
    Identity::Ours(answer.brokers.len())
}

/// Ask the bootstrap servers for metadata and the cluster id.
pub(crate) fn probe(
    bootstrap: &str,
    client: &[(String, String)],
) -> std::result::Result<Answer, String> {
    // A secured cluster needs its client settings (TLS, SASL) for the probe too.
    let config = ClientSettings::new(bootstrap)
        .layer(client.iter().cloned())
        .client_config(ClientRole::Consumer, [("log_level", "0")]);
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    let brokers = md
        .brokers()
        .iter()
        .map(|b| (b.id(), u16::try_from(b.port()).unwrap_or(0)))
        .collect();
    // librdkafka keeps the cluster id of the metadata response it just received.
    let cluster_id = consumer.client().fetch_cluster_id(Duration::from_secs(1));
    Ok(Answer {
        cluster_id,
        brokers,
    })
}

/// The first of `node`'s ports (PLAINTEXT, then CONTROLLER) that another process holds.
pub(crate) fn busy_port(node: &NodeInfo) -> Option<(u16, &'static str)> {
    [
        (node.port, "PLAINTEXT listener"),
        (node.controller_port, "controller listener"),
    ]
    .into_iter()
    .find(|(port, _)| {
        matches!(
            TcpListener::bind(("127.0.0.1", *port)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse
        )
    })
}

/// Fail, naming the port, if another process listens on any port of `nodes`.
pub(crate) fn check_ports_free(nodes: &[NodeInfo]) -> Result<()> {
    for n in nodes {
        if let Some((port, role)) = busy_port(n) {
            return Err(LocalError::PortInUse {
                port,
                role,
                node: n.id,
            });
        }
    }
    Ok(())
}

impl LocalCluster {
    /// Wait until `expected` brokers of this cluster answer in the metadata. Fails at once
    /// if another cluster answers on our ports or a node exits (naming a port it could
    /// not bind), and after `timeout` otherwise.
    pub fn wait_ready(&self, expected: usize, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let (cluster_id, nodes) = {
            let s = self.lock();
            (s.cluster_id.clone(), s.nodes.clone())
        };
        let bootstrap = self.bootstrap_servers();
        let client = self.client_config();
        let mut last = String::from("no answer yet");
        while started.elapsed() < timeout {
            match probe(&bootstrap, &client).map(|a| identify(&a, &cluster_id, &nodes)) {
                Ok(Identity::Ours(n)) if n >= expected => return Ok(()),
                Ok(Identity::Ours(n)) => last = format!("{n} of {expected} brokers registered"),
                Ok(Identity::Unproven(why)) => last = why,
                Ok(Identity::Foreign(why)) => {
                    return Err(LocalError::Foreign {
                        bootstrap,
                        detail: why,
                    })
                }
                Err(e) => last = e,
            }
            if let Some(dead) = self.status().iter().find(|s| !s.running && s.pid.is_some()) {
                let info = self.node(dead.id)?;
                let log = node::log_tail(&info, 20);
                if log.contains("Address already in use") {
                    if let Some((port, role)) = busy_port(&info) {
                        return Err(LocalError::PortInUse {
                            port,
                            role,
                            node: info.id,
                        });
                    }
                }
                return Err(LocalError::NotReady {
                    waited: started.elapsed(),
                    detail: format!("node {} exited; its log ends with:\n{log}", dead.id),
                    dir: self.dir.clone(),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(LocalError::NotReady {
            waited: timeout,
            detail: last,
            dir: self.dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn nodes() -> Vec<NodeInfo> {
        (1..=3)
            .map(|i| NodeInfo {
                id: i,
                port: 9091 + i as u16,
                controller_port: 9191 + i as u16,
                dir: PathBuf::from(format!("/tmp/node-{i}")),
                pid: None,
            })
            .collect()
    }

    fn answer(id: Option<&str>, brokers: &[(i32, u16)]) -> Answer {
        Answer {
            cluster_id: id.map(String::from),
            brokers: brokers.to_vec(),
        }
    }

    #[test]
    fn our_cluster_id_and_node_ids_on_our_ports_are_ours() {
        let a = answer(Some("abc"), &[(1, 9092), (2, 9093)]);
        assert_eq!(identify(&a, "abc", &nodes()), Identity::Ours(2));
    }

    #[test]
    fn another_cluster_id_is_foreign() {
        let a = answer(Some("xyz"), &[(1, 9092)]);
        match identify(&a, "abc", &nodes()) {
            Identity::Foreign(why) => assert!(why.contains("xyz") && why.contains("abc"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_broker_id_or_port_we_did_not_configure_is_foreign() {
        let wrong_id = answer(Some("abc"), &[(7, 9092)]);
        assert!(matches!(
            identify(&wrong_id, "abc", &nodes()),
            Identity::Foreign(_)
        ));
        let wrong_port = answer(Some("abc"), &[(1, 9093)]);
        assert!(matches!(
            identify(&wrong_port, "abc", &nodes()),
            Identity::Foreign(_)
        ));
    }

    #[test]
    fn no_cluster_id_is_not_yet_proof() {
        let a = answer(None, &[(1, 9092)]);
        assert!(matches!(
            identify(&a, "abc", &nodes()),
            Identity::Unproven(_)
        ));
    }

    #[test]
    fn a_held_port_is_named() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let mut n = nodes();
        n[1].port = port;
        n[0].port = 0;
        n[0].controller_port = 0;
        match check_ports_free(&n) {
            Err(LocalError::PortInUse { port: p, node, .. }) => {
                assert_eq!((p, node), (port, 2));
            }
            other => panic!("{other:?}"),
        }
    }
}

//! `metricpipe demo --security MODE`: the demo on a secured cluster, with one principal
//! per process and ACLs on its own topics only, as a deployment would have it
//! (docs/SECURITY.md): the agent with Metricbeat's security keys, streams with a Java
//! client properties file, the dashboard as the super user `admin`.

use std::path::PathBuf;

use anyhow::Context;
use metricpipe_local::{Acl, LocalCluster, SecurityMode, User};

const GROUP: &str = "metric-streams-application";

/// What each process of the demo needs to reach a secured cluster.
pub struct DemoSecurity {
    /// Lines added under `output.kafka` in the agent's metricbeat.yml.
    pub agent_keys: String,
    /// `--command-config` for streams (`None` on a plaintext cluster).
    pub streams_config: Option<PathBuf>,
    /// librdkafka properties of the super user, for the admin calls and the dashboard.
    pub admin: Vec<(String, String)>,
}

/// The demo's SASL users (agent and streams), with passwords made for this run.
pub fn users(mode: SecurityMode) -> Vec<User> {
    if !mode.uses_sasl() {
        return Vec::new();
    }
    ["agent", "streams"]
        .into_iter()
        .map(|name| User::new(name, password()))
        .collect()
}

fn password() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(24)
        .collect()
}

/// ACLs for the agent and streams, and the settings each process uses.
pub fn prepare(cluster: &LocalCluster, users: &[User]) -> anyhow::Result<DemoSecurity> {
    let mode = cluster.security();
    if mode == SecurityMode::Plaintext {
        return Ok(DemoSecurity {
            agent_keys: String::new(),
            streams_config: None,
            admin: Vec::new(),
        });
    }
    cluster
        .add_acls(&Acl::pipeline("agent", "streams", GROUP))
        .context("granting the demo's ACLs")?;
    Ok(DemoSecurity {
        agent_keys: agent_keys(cluster, users)?,
        streams_config: Some(
            cluster
                .user_client_properties("streams")
                .context("writing streams' client properties")?,
        ),
        admin: cluster.client_config(),
    })
}

/// Metricbeat's `output.kafka` security keys for the user `agent`.
fn agent_keys(cluster: &LocalCluster, users: &[User]) -> anyhow::Result<String> {
    let mut keys = String::new();
    if let Some(agent) = users.iter().find(|u| u.name == "agent") {
        keys.push_str(&format!(
            "  username: agent\n  password: '{}'\n  sasl.mechanism: SCRAM-SHA-512\n",
            agent.password
        ));
    }
    if let Some(ca) = cluster.ca_path() {
        keys.push_str(&format!(
            "  ssl.certificate_authorities: ['{}']\n",
            ca.display()
        ));
    }
    if cluster.security() == SecurityMode::Ssl {
        let cert = cluster
            .client_cert("agent")
            .context("issuing the agent's client certificate")?;
        keys.push_str(&format!(
            "  ssl.certificate: '{}'\n  ssl.key: '{}'\n",
            cert.certificate.display(),
            cert.key.display()
        ));
    }
    Ok(keys)
}

//! The pipeline's principals on a secured local cluster, as a deployment would have them
//! (docs/SECURITY.md): the agent and streams each with a user of its own and ACLs on its
//! own topics only, the super user `admin` for everything else. `metricpipe demo` uses
//! them; `local up` and the demo tell the operator where the client files are.

use std::path::PathBuf;

use crate::{Acl, LocalCluster, LocalError, Result, SecurityMode, User, ADMIN_USER};

/// The streams app's consumer group, which its ACLs name.
const STREAMS_GROUP: &str = "metric-streams-application";

/// What each process of the pipeline needs to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct PipelineSecurity {
    /// Lines added under `output.kafka` in the agent's metricbeat.yml (Metricbeat's
    /// `username`, `password`, `sasl.mechanism`, `ssl.*` keys), each indented two spaces.
    pub agent_keys: String,
    /// `--command-config` for streams (`None` on a plaintext cluster).
    pub streams_config: Option<PathBuf>,
    /// librdkafka properties of the super user, for the admin calls and the dashboard.
    pub admin: Vec<(String, String)>,
}

/// The pipeline's SASL users (`agent` and `streams`) with passwords made for this run, or
/// none when `mode` uses no SASL.
pub fn pipeline_users(mode: SecurityMode) -> Vec<User> {
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

/// Wraps `source` with the step that failed.
fn step(what: &'static str) -> impl FnOnce(LocalError) -> LocalError {
    move |source| LocalError::Step {
        what,
        source: Box::new(source),
    }
}

impl LocalCluster {
    /// Grants the pipeline's ACLs (`agent` writes `metric.all`, `streams` reads it and
    /// writes the outputs) and makes each process's settings; on a plaintext cluster, no
    /// settings at all. `users` are those of [`pipeline_users`], created with the cluster.
    ///
    /// # Errors
    /// [`LocalError::Step`] naming the step (ACLs, streams' properties file, the agent's
    /// client certificate) around the cluster's error.
    pub fn pipeline_security(&self, users: &[User]) -> Result<PipelineSecurity> {
        if self.security() == SecurityMode::Plaintext {
            return Ok(PipelineSecurity::default());
        }
        self.add_acls(&Acl::pipeline("agent", "streams", STREAMS_GROUP))
            .map_err(step("granting the demo's ACLs"))?;
        Ok(PipelineSecurity {
            agent_keys: self.agent_keys(users)?,
            streams_config: Some(
                self.user_client_properties("streams")
                    .map_err(step("writing streams' client properties"))?,
            ),
            admin: self.client_config(),
        })
    }

    /// Metricbeat's `output.kafka` security keys for the user `agent`.
    fn agent_keys(&self, users: &[User]) -> Result<String> {
        let mut keys = String::new();
        if let Some(agent) = users.iter().find(|u| u.name == "agent") {
            keys.push_str(&format!(
                "  username: agent\n  password: '{}'\n  sasl.mechanism: SCRAM-SHA-512\n",
                agent.password
            ));
        }
        if let Some(ca) = self.ca_path() {
            keys.push_str(&format!(
                "  ssl.certificate_authorities: ['{}']\n",
                ca.display()
            ));
        }
        if self.security() == SecurityMode::Ssl {
            let cert = self
                .client_cert("agent")
                .map_err(step("issuing the agent's client certificate"))?;
            keys.push_str(&format!(
                "  ssl.certificate: '{}'\n  ssl.key: '{}'\n",
                cert.certificate.display(),
                cert.key.display()
            ));
        }
        Ok(keys)
    }

    /// What an operator needs to know about a secured cluster, one line each: the mode,
    /// the client properties file, the CA and a kafka-console-consumer line to try.
    /// `None` on a plaintext cluster.
    pub fn client_files_notice(&self) -> Option<String> {
        let props = self.client_properties_path()?;
        let mut lines = vec![
            format!(
                "security: {} with ACLs; super user `{}`",
                self.security(),
                ADMIN_USER
            ),
            format!("client properties: {}", props.display()),
        ];
        if let Some(ca) = self.ca_path() {
            lines.push(format!("CA certificate:    {}", ca.display()));
        }
        lines.push(format!(
            "try: kafka-console-consumer.sh --bootstrap-server {} --consumer.config {} --topic metric.all",
            self.bootstrap_servers(),
            props.display()
        ));
        Some(lines.join("\n"))
    }
}

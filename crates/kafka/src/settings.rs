//! Kafka client settings: one builder for every client we create.
//!
//! A client's properties are set in this order, each step overriding the ones before:
//!
//! 1. `bootstrap.servers` from [`ClientSettings::bootstrap`] and `client.id` from the caller;
//! 2. the caller's defaults for its role (e.g. streams' consumer: no auto commit);
//! 3. the operator's unprefixed properties, in [`ClientSettings::overrides`] order;
//! 4. the operator's properties prefixed with this role (`consumer.`, `producer.`,
//!    `admin.`), prefix stripped, in order. Properties with another role's prefix are
//!    left out. As in Kafka Streams, a prefixed property beats an unprefixed one.
//!
//! Callers push the operator's sources lowest precedence first: a config file's map (TOML
//! `[kafka]`, a properties file), then the `-X key=value` flags, so the command line wins.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::ClientConfig;

/// Which kind of client a config is for; it picks the defaults and the key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    Consumer,
    Producer,
    Admin,
}

impl ClientRole {
    /// The lower-case name, also the `client.id` suffix: `consumer`, `producer`, `admin`.
    pub fn name(self) -> &'static str {
        match self {
            ClientRole::Consumer => "consumer",
            ClientRole::Producer => "producer",
            ClientRole::Admin => "admin",
        }
    }

    /// The prefix that sends a property to this role only, e.g. `consumer.`.
    pub fn prefix(self) -> &'static str {
        match self {
            ClientRole::Consumer => "consumer.",
            ClientRole::Producer => "producer.",
            ClientRole::Admin => "admin.",
        }
    }

    const ALL: [ClientRole; 3] = [
        ClientRole::Consumer,
        ClientRole::Producer,
        ClientRole::Admin,
    ];
}

/// The brokers and the operator's client properties, shared by every client of a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// `host:port[,host:port…]`.
    pub bootstrap: String,
    /// librdkafka properties, lowest precedence first (see the module docs).
    pub overrides: Vec<(String, String)>,
}

impl ClientSettings {
    pub fn new(bootstrap: impl Into<String>) -> Self {
        ClientSettings {
            bootstrap: bootstrap.into(),
            overrides: Vec::new(),
        }
    }

    /// Adds a source of properties that beats every source added before it.
    pub fn layer<I, K, V>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.overrides
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The operator's properties as `role` sees them: prefixes resolved, later wins.
    pub fn properties_for(&self, role: ClientRole) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: &str| match out.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((k.to_string(), v.to_string())),
        };
        for (k, v) in &self.overrides {
            if !ClientRole::ALL.iter().any(|r| k.starts_with(r.prefix())) {
                put(k, v);
            }
        }
        for (k, v) in &self.overrides {
            if let Some(own) = k.strip_prefix(role.prefix()) {
                put(own, v);
            }
        }
        out
    }

    /// The operator's unprefixed properties only: what every client of the command shares
    /// (security settings, say), e.g. for a readiness probe.
    pub fn shared_properties(&self) -> Vec<(String, String)> {
        self.overrides
            .iter()
            .filter(|(k, _)| !ClientRole::ALL.iter().any(|r| k.starts_with(r.prefix())))
            .cloned()
            .collect()
    }

    /// A client config for `role`: brokers, `client.id`, `defaults`, then the operator's
    /// properties. librdkafka's own log lines below warning are not forwarded.
    pub fn config(
        &self,
        role: ClientRole,
        client_id: &str,
        defaults: &[(&str, &str)],
    ) -> ClientConfig {
        let ours = std::iter::once(("client.id", client_id)).chain(defaults.iter().copied());
        let mut cfg = self.client_config(role, ours);
        cfg.set_log_level(RDKafkaLogLevel::Warning);
        cfg
    }

    /// A client config for `role` with nothing of ours beyond `defaults`: `bootstrap.servers`,
    /// then `defaults` in order (a later one wins; a `client.id` goes here), then the
    /// operator's properties for `role` ([`properties_for`](Self::properties_for)). Which
    /// librdkafka log lines reach the `log` crate is left to rdkafka (the `log` crate's
    /// level); [`config`](Self::config) is this with a client id and that level fixed.
    pub fn client_config<K, V>(
        &self,
        role: ClientRole,
        defaults: impl IntoIterator<Item = (K, V)>,
    ) -> ClientConfig
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in defaults {
            cfg.set(k, v);
        }
        for (k, v) in self.properties_for(role) {
            cfg.set(k, v);
        }
        cfg
    }
}

/// What librdkafka's own property table says of one `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyCheck {
    /// librdkafka has the key and takes the value.
    Known,
    /// librdkafka has no such key (a Java-client-only key, say).
    Unknown,
    /// librdkafka has the key but refuses the value; its reason.
    Invalid(String),
}

/// Asks librdkafka's configuration table (`rd_kafka_conf_set`, no client is created)
/// whether it has `key` and takes `value`.
pub fn check_property(key: &str, value: &str) -> PropertyCheck {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaConfRes;
    match ClientConfig::new().set(key, value).create_native_config() {
        Ok(_) => PropertyCheck::Known,
        Err(KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, ..)) => {
            PropertyCheck::Unknown
        }
        Err(KafkaError::ClientConfig(_, why, ..)) => PropertyCheck::Invalid(why),
        Err(e) => PropertyCheck::Invalid(e.to_string()),
    }
}

/// A `KEY=VALUE` pair that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected KEY=VALUE, e.g. -X linger.ms=10; got {0:?}")]
pub struct PropertyError(pub String);

/// Parses one `-X KEY=VALUE` flag; the key is trimmed, the value kept as given.
pub fn parse_property(s: &str) -> Result<(String, String), PropertyError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(PropertyError(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(cfg: &ClientConfig, k: &str) -> Option<String> {
        cfg.get(k).map(str::to_string)
    }

    #[test]
    fn operator_properties_beat_defaults_and_later_layers_win() {
        let s = ClientSettings::new("b:9092")
            .layer([("linger.ms", "5"), ("acks", "1")])
            .layer([("linger.ms", "7")]);
        let cfg = s.config(ClientRole::Producer, "app-producer", &[("linger.ms", "20")]);
        assert_eq!(get(&cfg, "linger.ms").as_deref(), Some("7"));
        assert_eq!(get(&cfg, "acks").as_deref(), Some("1"));
        assert_eq!(get(&cfg, "bootstrap.servers").as_deref(), Some("b:9092"));
        assert_eq!(get(&cfg, "client.id").as_deref(), Some("app-producer"));
    }

    #[test]
    fn a_prefixed_property_goes_to_its_role_only_and_beats_an_unprefixed_one() {
        let s = ClientSettings::new("b")
            .layer([("consumer.fetch.max.bytes", "1")])
            .layer([("fetch.max.bytes", "2"), ("producer.linger.ms", "3")]);
        let c = s.config(ClientRole::Consumer, "c", &[]);
        assert_eq!(get(&c, "fetch.max.bytes").as_deref(), Some("1"));
        assert_eq!(get(&c, "linger.ms"), None);
        assert_eq!(get(&c, "producer.linger.ms"), None);
        let p = s.config(ClientRole::Producer, "p", &[]);
        assert_eq!(get(&p, "linger.ms").as_deref(), Some("3"));
        assert_eq!(get(&p, "fetch.max.bytes").as_deref(), Some("2"));
        assert_eq!(
            s.shared_properties(),
            vec![("fetch.max.bytes".to_string(), "2".to_string())]
        );
    }

    #[test]
    fn client_config_is_brokers_then_defaults_then_the_operators_properties() {
        let s = ClientSettings::new("b:9092")
            .layer([("log_level", "7"), ("consumer.group.id", "theirs")])
            .layer([("producer.acks", "1")]);
        let cfg = s.client_config(
            ClientRole::Consumer,
            [
                ("group.id", "ours"),
                ("log_level", "3"),
                ("fetch.wait.max.ms", "10"),
            ],
        );
        let mut got: Vec<(&str, &str)> = cfg
            .config_map()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("bootstrap.servers", "b:9092"),
                ("fetch.wait.max.ms", "10"),
                ("group.id", "theirs"),
                ("log_level", "7"),
            ]
        );
        // `config` is the same with a client id and a fixed log level.
        let named = s.config(ClientRole::Consumer, "c", &[("group.id", "ours")]);
        assert_eq!(get(&named, "client.id").as_deref(), Some("c"));
        assert_eq!(get(&named, "group.id").as_deref(), Some("theirs"));
        assert!(matches!(named.log_level, RDKafkaLogLevel::Warning));
    }

    #[test]
    fn check_property_asks_librdkafkas_table() {
        assert_eq!(check_property("linger.ms", "5"), PropertyCheck::Known);
        assert_eq!(
            check_property("max.poll.records", "5"),
            PropertyCheck::Unknown
        );
        assert!(matches!(
            check_property("linger.ms", "soon"),
            PropertyCheck::Invalid(_)
        ));
    }

    #[test]
    fn parse_property_names_the_bad_input() {
        assert_eq!(
            parse_property(" linger.ms =5=6"),
            Ok(("linger.ms".into(), "5=6".into()))
        );
        let e = parse_property("linger.ms").unwrap_err();
        assert!(e.to_string().contains("KEY=VALUE"), "{e}");
        assert!(parse_property("=1").is_err());
    }
}

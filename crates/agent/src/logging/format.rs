//! Metricbeat 8's log line: one ECS JSON object per line, as logp's zap encoder with
//! `ecszap` writes it: `@timestamp` (UTC, milliseconds), `log.level` (lower case),
//! `log.logger`, `log.origin.{file.name,file.line}`, `message`, the event's own fields,
//! `service.name` and `ecs.version`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The ECS JSON event format.
pub struct EcsJson;

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(key(field), Value::from(format!("{value:?}")));
    }
}

fn key(field: &Field) -> String {
    field.name().to_string()
}

fn level(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        // zap has no trace level.
        Level::DEBUG | Level::TRACE => "debug",
    }
}

/// The object for one event (fields and metadata), without the time.
pub fn ecs_object(event: &Event<'_>) -> Map<String, Value> {
    let meta = event.metadata();
    let mut fields = Fields(Map::new());
    event.record(&mut fields);
    let mut obj = fields.0;
    obj.insert("log.level".into(), level(meta.level()).into());
    obj.insert("log.logger".into(), meta.target().into());
    if let (Some(file), Some(line)) = (meta.file(), meta.line()) {
        let mut origin = Map::new();
        origin.insert("file.name".into(), file.into());
        origin.insert("file.line".into(), line.into());
        obj.insert("log.origin".into(), Value::Object(origin));
    }
    obj.insert("service.name".into(), "metricbeat".into());
    obj.insert("ecs.version".into(), "1.6.0".into());
    obj
}

impl<S, N> FormatEvent<S, N> for EcsJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut obj = ecs_object(event);
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        obj.insert("@timestamp".into(), now.to_string().into());
        writeln!(writer, "{}", Value::Object(obj))
    }
}

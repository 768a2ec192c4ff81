//! `--debug` and `TSW_LOG`: each AWS call (service, operation, region, endpoint, duration) and
//! each run of another program, such as the Temporal CLI (program, arguments with secrets
//! masked, duration, exit status), one line each on stderr, through `safe-text`.
//!
//! What is printed is chosen here, not by levels: the SDK's operation spans (the ones with
//! `rpc.service` and `rpc.method`, which hold no request or credentials) and this tool's own
//! debug events. The SDK's other events (which at trace level hold requests with their
//! `Authorization` headers) are never printed: the only ones read are the endpoint resolver's,
//! and only for the endpoint's URL and the region.

use std::fmt::{self, Write as _};
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The variable that turns tracing on without `--debug`: `debug` (or `trace`, `1`, `true`);
/// `off`, `0`, `false` or empty leave it off.
pub const VARIABLE: &str = "TSW_LOG";

/// Whether calls are traced: `--debug`, or [`VARIABLE`] set to a level.
pub fn wanted(flag: bool) -> bool {
    flag || std::env::var(VARIABLE).is_ok_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "off" | "0" | "false" | "error" | "warn" | "info"
        )
    })
}

/// Starts tracing calls to stderr for the rest of the run, when [`wanted`].
pub fn init(flag: bool) {
    if wanted(flag) {
        let subscriber = tracing_subscriber::registry().with(Calls);
        // Only fails when one is already set: nothing to do then.
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

/// The layer that prints the calls.
struct Calls;

/// Targets of this workspace's own debug events.
const OWN: [&str; 4] = ["tsw", "child_process", "worker_deployments", "aws"];
/// The SDK's endpoint resolver: read for the endpoint and region, never printed.
const ENDPOINTS: &str = "aws_smithy_runtime::client::orchestrator::endpoints";

fn own(target: &str) -> bool {
    OWN.iter()
        .any(|own| target == *own || target.starts_with(&format!("{own}::")))
}

fn is_call(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.fields().field("rpc.method").is_some()
}

/// One AWS call in progress.
struct Call {
    service: String,
    method: String,
    start: Instant,
    region: Option<String>,
    endpoint: Option<String>,
    /// The request ID of each answer (one per attempt).
    request_ids: Vec<String>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Calls {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        is_call(metadata)
            || metadata.is_event()
                && (own(metadata.target()) || metadata.target() == ENDPOINTS)
                && *metadata.level() <= tracing::Level::DEBUG
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !is_call(attrs.metadata()) {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Call {
                service: fields.get("rpc.service"),
                method: fields.get("rpc.method"),
                start: Instant::now(),
                region: None,
                endpoint: None,
                request_ids: Vec::new(),
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = event.metadata().target();
        if target == ENDPOINTS || target == aws::REQUEST_ID_TARGET {
            let text = fields.all();
            let call = ctx.event_scope(event).and_then(|scope| {
                scope
                    .into_iter()
                    .find(|s| s.extensions().get::<Call>().is_some())
            });
            if target == aws::REQUEST_ID_TARGET {
                // Given with its call's line; an answer outside a call is not printed.
                if let Some(span) = call
                    && let Some(call) = span.extensions_mut().get_mut::<Call>()
                {
                    call.request_ids.push(fields.get("request_id"));
                }
                return;
            }
            if let Some(span) = call {
                let mut ext = span.extensions_mut();
                if let Some(call) = ext.get_mut::<Call>() {
                    if let Some(region) = between(&text, "region: Some(\"", "\")") {
                        call.region = Some(region);
                    }
                    if let Some(url) = between(&text, "url: \"", "\"") {
                        call.endpoint = Some(url);
                    }
                }
            }
            return;
        }
        safe_text::eprintln!("debug: {}: {}", event.metadata().target(), fields.all());
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let ext = span.extensions();
        let Some(call) = ext.get::<Call>() else {
            return;
        };
        let request_ids = if call.request_ids.is_empty() {
            "-".to_owned()
        } else {
            call.request_ids.join(",")
        };
        safe_text::eprintln!(
            "debug: aws: {}.{} region={} endpoint={} duration_ms={} request_id={}",
            call.service,
            call.method,
            call.region.as_deref().unwrap_or("-"),
            call.endpoint.as_deref().unwrap_or("-"),
            call.start.elapsed().as_millis(),
            request_ids
        );
    }
}

/// The text between `start` and the next `end` in `text`.
fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_owned())
}

/// An event's or span's fields, as `name=value`, the message first.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn all(&self) -> String {
        let mut out = self.get("message");
        for (name, value) in self.0.iter().filter(|(n, _)| n != "message") {
            let _ = write!(out, " {name}={value}");
        }
        out.trim_start().to_owned()
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_and_region_are_read_from_the_resolvers_text() {
        let params = r#"Params { region: Some("eu-west-1"), use_fips: false, endpoint: None }"#;
        assert_eq!(
            between(params, "region: Some(\"", "\")").as_deref(),
            Some("eu-west-1")
        );
        let endpoint =
            r#"will apply endpoint Endpoint { url: "http://127.0.0.1:5000", headers: {} }"#;
        assert_eq!(
            between(endpoint, "url: \"", "\"").as_deref(),
            Some("http://127.0.0.1:5000")
        );
    }

    #[test]
    fn tsw_log_turns_tracing_on_only_for_a_debug_level() {
        assert!(wanted(true));
        assert!(own("child_process"));
        assert!(own("tsw::connect"));
        assert!(!own("aws_smithy_runtime::client::orchestrator"));
        assert!(!own("awsome"));
    }
}

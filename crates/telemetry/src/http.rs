//! The operator endpoints' HTTP/1.1 responder: one blocking thread, GET routes only.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{
    install_recorder, process_collector, PrometheusHandle, Readiness, Result, TelemetryError,
};

/// The running HTTP server. Dropping it stops the server.
pub struct Server {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A connection ends the thread's wait in accept at once, rather than at its timeout.
        let _ = TcpStream::connect_timeout(&self.local_addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A JSON route a command adds (the agent's Metricbeat-style `/` and `/stats`): called per
/// request with whether `?pretty` was asked for; returns the JSON body.
pub type JsonRoute = Arc<dyn Fn(bool) -> String + Send + Sync>;

/// Install the recorder (if not yet), bind `addr` and serve `/metrics`, `/healthz` and
/// `/readyz` on a background thread.
pub fn serve(addr: &str, readiness: Readiness) -> Result<Server> {
    serve_with(addr, readiness, Vec::new())
}

/// [`serve`] plus `extra` JSON routes (exact paths), which win over the built-in ones.
pub fn serve_with(
    addr: &str,
    readiness: Readiness,
    extra: Vec<(&'static str, JsonRoute)>,
) -> Result<Server> {
    let handle = install_recorder()?;
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| TelemetryError::BadAddr {
            addr: addr.into(),
            detail: e.to_string(),
        })?
        .next()
        .ok_or_else(|| TelemetryError::BadAddr {
            addr: addr.into(),
            detail: "it resolves to no address".into(),
        })?;
    let listener = TcpListener::bind(sock).map_err(|source| TelemetryError::Bind {
        addr: addr.into(),
        source,
    })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| TelemetryError::Bind {
            addr: addr.into(),
            source,
        })?;
    // accept() waits at most ACCEPT_WAIT (SO_RCVTIMEO applies to accept on Linux), so the
    // one thread also notices shutdown and runs the recorder's upkeep (which drains
    // histogram buckets even when nobody scrapes), waking once a second rather than
    // polling a non-blocking socket.
    socket2::SockRef::from(&listener)
        .set_read_timeout(Some(ACCEPT_WAIT))
        .map_err(|source| TelemetryError::Bind {
            addr: addr.into(),
            source,
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || accept_loop(listener, handle, readiness, stop2, extra))
        .map_err(|source| TelemetryError::Thread {
            what: "metrics server",
            source,
        })?;
    tracing::info!(addr = %local_addr, "serving /metrics, /healthz and /readyz");
    Ok(Server {
        local_addr,
        stop,
        thread: Some(thread),
    })
}

/// The longest wait in accept: how late the upkeep and a shutdown are noticed at most.
const ACCEPT_WAIT: Duration = Duration::from_secs(1);

fn accept_loop(
    listener: TcpListener,
    handle: PrometheusHandle,
    readiness: Readiness,
    stop: Arc<AtomicBool>,
    extra: Vec<(&'static str, JsonRoute)>,
) {
    let mut last_upkeep = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, &handle, &readiness, &extra) {
                    tracing::debug!(error = %e, "metrics request failed");
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if last_upkeep.elapsed() >= Duration::from_secs(5) {
            handle.run_upkeep();
            last_upkeep = Instant::now();
        }
    }
}

/// A response: status line, content type, body.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Route one request line's method and path. Pure, so the routes are testable without sockets.
pub fn route(
    method: &str,
    path: &str,
    handle: &PrometheusHandle,
    readiness: &Readiness,
) -> Response {
    let path = path.split('?').next().unwrap_or(path);
    let text = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return Response {
            status: 405,
            content_type: text,
            body: "only GET is supported\n".into(),
        };
    }
    match path {
        "/metrics" => {
            process_collector().collect();
            let ready = if readiness.is_ready() { 1.0 } else { 0.0 };
            metrics::gauge!(crate::catalog::READY).set(ready);
            Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: handle.render(),
            }
        }
        "/healthz" => Response {
            status: 200,
            content_type: text,
            body: "ok\n".into(),
        },
        "/readyz" => {
            let (ready, reason) = readiness.status();
            Response {
                status: if ready { 200 } else { 503 },
                content_type: text,
                body: format!("{reason}\n"),
            }
        }
        "/" => Response {
            status: 200,
            content_type: text,
            body: "metricpipe: /metrics /healthz /readyz\n".into(),
        },
        _ => Response {
            status: 404,
            content_type: text,
            body: "not found: try /metrics, /healthz or /readyz\n".into(),
        },
    }
}

/// An added JSON route for a GET/HEAD of its exact path (`?pretty` indents).
fn extra_route(method: &str, path: &str, extra: &[(&'static str, JsonRoute)]) -> Option<Response> {
    if method != "GET" && method != "HEAD" {
        return None;
    }
    let (bare, query) = path.split_once('?').unwrap_or((path, ""));
    let (_, f) = extra.iter().find(|(p, _)| *p == bare)?;
    let pretty = query
        .split('&')
        .any(|q| q == "pretty" || q.starts_with("pretty="));
    Some(Response {
        status: 200,
        content_type: "application/json; charset=utf-8",
        body: f(pretty),
    })
}

fn answer(
    stream: TcpStream,
    handle: &PrometheusHandle,
    readiness: &Readiness,
    extra: &[(&'static str, JsonRoute)],
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers; the routes need none of them.
    let mut header = String::new();
    for _ in 0..100 {
        header.clear();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("/");
    let resp = match extra_route(method, path, extra) {
        Some(r) => r,
        None => route(method, path, handle, readiness),
    };
    let reason = match resp.status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        resp.status,
        reason,
        resp.content_type,
        resp.body.len()
    )?;
    if method != "HEAD" {
        out.write_all(resp.body.as_bytes())?;
    }
    out.flush()
}

/// A blocking `GET` for tests and `metricpipe demo`: returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no status line"))?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod extra_route_tests {
    use super::*;

    #[test]
    fn added_json_routes_match_exact_paths_and_take_pretty() {
        let route: JsonRoute = Arc::new(|pretty| format!("{{\"pretty\":{pretty}}}"));
        let extra = vec![("/stats", route)];
        let r = extra_route("GET", "/stats?pretty", &extra).unwrap();
        assert_eq!(r.body, "{\"pretty\":true}");
        assert_eq!(r.content_type, "application/json; charset=utf-8");
        assert_eq!(
            extra_route("GET", "/stats", &extra).unwrap().body,
            "{\"pretty\":false}"
        );
        assert!(extra_route("GET", "/stats/x", &extra).is_none());
        assert!(extra_route("POST", "/stats", &extra).is_none());
    }
}

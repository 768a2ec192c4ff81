//! A loopback HTTP proxy in front of the test emulator that injects faults by AWS action (the
//! `Action=` field of the query protocol's form body): throttling, 5xx answers, delays, dropped
//! connections, and rewritten answers (e.g. a stack that still looks in progress). Plain std
//! threads, one request per connection (every answer says `Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do to a matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 400 with the query protocol's `Throttling` error, as CloudFormation sends it.
    Throttle,
    /// This HTTP status (500, 503, ...) with an `InternalFailure` error body.
    Status(u16),
    /// Wait this long, then forward.
    Delay(Duration),
    /// Read the request, then close the connection without an answer.
    Drop,
    /// Forward the request, then close the connection without passing the answer on: the
    /// request took effect, its caller never hears of it.
    Lose,
    /// Forward, then replace `from` with `to` in the answer's body.
    Rewrite(&'static str, &'static str),
}

/// Applies `fault` to requests of `action` (`*`: every action), optionally only once `after`
/// was seen, and at most `times` times (`None`: forever).
#[derive(Debug, Clone)]
pub struct Rule {
    action: &'static str,
    fault: Fault,
    after: Option<&'static str>,
    times: Option<usize>,
    applied: usize,
    /// Only for this share (in percent) of the requests, picked by a seeded hash of the action,
    /// the stack it names and how many such requests came before: the same requests of each
    /// stack every run, however the stacks' requests interleave.
    share: Option<(u64, u64)>,
}

impl Rule {
    pub fn new(action: &'static str, fault: Fault) -> Self {
        Rule {
            action,
            fault,
            after: None,
            times: None,
            applied: 0,
            share: None,
        }
    }

    /// Only for `percent` % of the matching requests, a deterministic choice by `seed`.
    pub fn share(mut self, percent: u64, seed: u64) -> Self {
        self.share = Some((percent, seed));
        self
    }

    /// Only for requests after the first `action` request.
    pub fn after(mut self, action: &'static str) -> Self {
        self.after = Some(action);
        self
    }

    /// At most `n` times (per rule, over all matching requests).
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, action: &str, seen: &[String], nth: u64, stack: &str) -> bool {
        (self.action == "*" || self.action == action)
            && self.times.is_none_or(|n| self.applied < n)
            && self.after.is_none_or(|a| seen.iter().any(|s| s == a))
            && self.share.is_none_or(|(percent, seed)| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (seed, action, stack, nth).hash(&mut h);
                h.finish() % 100 < percent
            })
    }
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    /// Every request's action, in arrival order.
    seen: Vec<String>,
    /// How many requests of each (action, stack name) came so far.
    counts: std::collections::HashMap<(String, String), u64>,
}

/// The proxy; it runs until the test process exits.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Makes a created stack look as if CloudFormation were still creating it, to every watcher
    /// (DescribeStacks, DescribeStackEvents) after ExecuteChangeSet: the emulator finishes at
    /// once, CloudFormation does not.
    pub fn hold_creation_in_progress(&self) {
        for action in ["DescribeStacks", "DescribeStackEvents"] {
            self.add(
                Rule::new(
                    action,
                    Fault::Rewrite("CREATE_COMPLETE", "CREATE_IN_PROGRESS"),
                )
                .after("ExecuteChangeSet"),
            );
        }
    }

    /// Starts a proxy on a free loopback port in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("a loopback emulator address");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = FaultProxy {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
        };
        let state = proxy.state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, upstream, &state);
                });
            }
        });
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add(&self, rule: Rule) -> &Self {
        self.state.lock().unwrap().rules.push(rule);
        self
    }

    /// Removes every rule: from now on, requests pass unchanged.
    pub fn clear(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// The actions of every request so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many requests came so far: a mark for [`FaultProxy::wait_for`].
    pub fn mark(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }

    pub fn count(&self, action: &str) -> usize {
        self.seen().iter().filter(|a| *a == action).count()
    }

    /// Waits until a request of `action` arrived since [`FaultProxy::mark`] returned `mark`;
    /// panics after `limit`.
    pub fn wait_for(&self, action: &str, mark: usize, limit: Duration) {
        let start = Instant::now();
        while !self.seen()[mark..].iter().any(|a| a == action) {
            assert!(
                start.elapsed() < limit,
                "no {action} request within {limit:?}; seen: {:?}",
                self.seen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Records the request and picks the fault of the first matching rule.
fn fault_for(state: &Mutex<State>, action: &str, stack: &str) -> Option<Fault> {
    let mut state = state.lock().unwrap();
    let State {
        rules,
        seen,
        counts,
    } = &mut *state;
    let count = counts
        .entry((action.to_owned(), stack.to_owned()))
        .or_default();
    let nth = *count;
    *count += 1;
    let fault = rules
        .iter_mut()
        .find(|r| r.matches(action, seen, nth, stack))
        .map(|r| {
            r.applied += 1;
            r.fault.clone()
        });
    seen.push(action.to_owned());
    fault
}

fn serve(client: TcpStream, upstream: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let (head, body) = read_request(&mut reader)?;
    let action = field_of(&body, "Action").unwrap_or_default();
    let stack = stack_of(&body);
    let mut client = client;
    match fault_for(state, &action, &stack) {
        None => client.write_all(&forward(upstream, &head, &body)?),
        Some(Fault::Throttle) => client.write_all(&error_response(
            400,
            "Sender",
            "Throttling",
            "Rate exceeded",
        )),
        Some(Fault::Status(code)) => client.write_all(&error_response(
            code,
            "Receiver",
            "InternalFailure",
            "injected server error",
        )),
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            client.write_all(&forward(upstream, &head, &body)?)
        }
        Some(Fault::Drop) => Ok(()),
        Some(Fault::Lose) => forward(upstream, &head, &body).map(drop),
        Some(Fault::Rewrite(from, to)) => {
            let answer = forward(upstream, &head, &body)?;
            client.write_all(&rewrite(&answer, from, to))
        }
    }
}

/// The request's head (request line and headers, without the blank line) and its body.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((head, body))
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The name of the stack a request names, by name or by ID (an ARN: `...:stack/NAME/UUID`).
fn stack_of(body: &[u8]) -> String {
    let value = field_of(body, "StackName")
        .unwrap_or_default()
        .replace("%3A", ":")
        .replace("%2F", "/");
    match value.strip_prefix("arn:") {
        Some(arn) => arn.split('/').nth(1).unwrap_or_default().to_owned(),
        None => value,
    }
}

/// A field of the query protocol's form body, as sent (`Action`, `StackName`).
fn field_of(body: &[u8], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|kv| kv.strip_prefix(&prefix).map(str::to_owned))
}

/// Sends the request upstream with `Connection: close` and returns the whole answer.
fn forward(upstream: SocketAddr, head: &[String], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = TcpStream::connect(upstream)?;
    let mut request = String::new();
    for line in head {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            request.push_str(line);
            request.push_str("\r\n");
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    out.write_all(request.as_bytes())?;
    out.write_all(body)?;
    let mut answer = Vec::new();
    out.read_to_end(&mut answer)?;
    Ok(with_body(&answer, None))
}

/// The answer with `Connection: close` and a `Content-Length` that fits its (new) body.
fn with_body(answer: &[u8], new_body: Option<Vec<u8>>) -> Vec<u8> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]);
    let body = new_body.unwrap_or_else(|| answer.get(split + 4..).unwrap_or_default().to_vec());
    let mut out = String::new();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if !["connection:", "content-length:", "transfer-encoding:"]
            .iter()
            .any(|h| lower.starts_with(h))
        {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

fn rewrite(answer: &[u8], from: &str, to: &str) -> Vec<u8> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |p| p + 4);
    let body = String::from_utf8_lossy(&answer[split..]).replace(from, to);
    with_body(answer, Some(body.into_bytes()))
}

/// An AWS query-protocol error answer.
fn error_response(status: u16, kind: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 {status} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A port that accepts connections and never answers.
#[derive(Debug)]
pub struct BlackHole {
    addr: SocketAddr,
}

impl BlackHole {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            // Keep every connection open, unanswered.
            let held: Vec<TcpStream> = listener.incoming().flatten().collect();
            drop(held);
        });
        BlackHole { addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

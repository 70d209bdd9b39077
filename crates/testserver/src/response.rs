//! Building and writing one response: validators, content coding, ranges,
//! framing, pacing, and the injected faults of a [`Route`].
//!
//! [`Route`]: crate::Route

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::http_date::{format_http_date, parse_http_date};
use crate::range::{evaluate_range, RangeOutcome};
use crate::request::{RecordedRequest, RequestHead};
use crate::route::{Body, LastModified, Route, DEFAULT_LAST_MODIFIED};
use crate::server::{End, RouteEntry, State};
use crate::stream::Stream;
use crate::throttle::{effective_rate, Pacer};

/// What `garbage_headers` sends instead of a status line.
const GARBAGE: &[u8] = b"\x00\xffSSH-2.0-not-http\r\n\x16\x03\x01 garbage <html>\r\n\r\n";

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn status_has_body(code: u16) -> bool {
    !(code == 204 || code == 304 || (100..200).contains(&code))
}

/// Status line plus headers, ending with the blank line.
fn head_block(code: u16, headers: &[(String, String)], closing: bool) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {code} {}\r\nServer: arietta-testserver\r\nDate: {}\r\n",
        reason(code),
        format_http_date(now_secs())
    );
    for (n, v) in headers {
        h.push_str(n);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str(if closing {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    h.into_bytes()
}

/// A small generated response (errors, redirects, 304) with exact framing.
pub(crate) fn write_simple(
    stream: &mut Stream,
    code: u16,
    headers: &[(String, String)],
    body: &[u8],
    closing: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut all = headers.to_vec();
    let body = if status_has_body(code) { body } else { &[][..] };
    if status_has_body(code) {
        if !all
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            all.push(("Content-Type".into(), "text/plain".into()));
        }
        all.push(("Content-Length".into(), body.len().to_string()));
    }
    let mut out = head_block(code, &all, closing);
    if !head_only {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

fn accepts_encoding(head: &RequestHead, coding: &str) -> bool {
    let Some(v) = head.header("accept-encoding") else {
        return false;
    };
    v.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let q_zero = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case(coding) && !q_zero
    })
}

fn basic_auth_ok(head: &RequestHead, user: &str, pass: &str) -> bool {
    let Some(v) = head.header("authorization") else {
        return false;
    };
    let Some((scheme, cred)) = v.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .is_ok_and(|d| d == format!("{user}:{pass}").as_bytes())
}

fn has_cookie(head: &RequestHead, pair: &str) -> bool {
    head.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .any(|c| c.trim() == pair)
}

/// A body ready to be written: either shared memory or an open file.
enum Source {
    Mem(Arc<Vec<u8>>),
    File(File),
}

impl Source {
    /// Copies `len` bytes at `offset` into `scratch` (file) or borrows them (memory).
    fn slice<'a>(
        &'a self,
        offset: u64,
        len: usize,
        scratch: &'a mut Vec<u8>,
    ) -> io::Result<&'a [u8]> {
        match self {
            Source::Mem(v) => {
                let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
                v.get(start..start.saturating_add(len))
                    .ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
            }
            Source::File(f) => {
                scratch.resize(len, 0);
                f.read_exact_at(scratch, offset)?;
                Ok(scratch)
            }
        }
    }
}

fn encode(data: &[u8], gzip: bool) -> Vec<u8> {
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;
    if gzip {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    } else {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::fast());
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    }
}

/// How the body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length,
    Chunked,
    Close,
}

/// Answers one request. `Ok(None)` keeps the connection open.
pub(crate) fn respond(
    state: &State,
    stream: &mut Stream,
    conn: u64,
    head: &RequestHead,
    body: Vec<u8>,
    pipelined: bool,
) -> io::Result<Option<End>> {
    let path = head.path().to_owned();
    let (hit, counter) = state.record(
        &path,
        RecordedRequest {
            connection: conn,
            method: head.method.clone(),
            target: head.target.clone(),
            version: head.version,
            headers: head.headers.clone(),
            body,
            pipelined,
        },
    );
    let head_only = head.method.eq_ignore_ascii_case("HEAD");
    let client_close = !head.wants_keep_alive();
    let Some(entry) = state.resolve(head) else {
        write_simple(stream, 404, &[], b"not found\n", client_close, head_only)?;
        return Ok(None);
    };
    let r = &entry.route;
    if let Some(d) = r.first_byte_delay {
        std::thread::sleep(d);
    }
    if r.garbage_headers {
        stream.write_all(GARBAGE)?;
        stream.flush()?;
        return Ok(Some(End::Graceful));
    }
    let closing = r.close_after_each_response || client_close;
    let keep = |c: bool| if c { Some(End::Graceful) } else { None };

    let mut headers: Vec<(String, String)> = Vec::new();
    for c in &r.set_cookies {
        headers.push(("Set-Cookie".into(), c.clone()));
    }
    headers.extend(r.headers.iter().cloned());

    if let Some(refusal) = refusal(r, head, hit, &headers) {
        let Refusal {
            code,
            headers: h,
            body,
        } = refusal;
        write_simple(stream, code, &h, body, closing, head_only)?;
        return Ok(keep(closing));
    }
    let Some((source, mut total, mtime)) = open_body(&r.body) else {
        write_simple(stream, 404, &headers, b"not found\n", closing, head_only)?;
        return Ok(keep(closing));
    };
    if let Some(len) = r.shrink_after_first.filter(|_| hit > 0) {
        total = total.min(len);
    }
    let (last_modified, etag) = validators(r, entry.id, total, mtime);
    if let Some(lm) = last_modified {
        headers.push(("Last-Modified".into(), format_http_date(lm)));
    }
    if let Some(e) = &etag {
        headers.push(("ETag".into(), e.clone()));
    }
    if let Some(cd) = &r.content_disposition {
        headers.push(("Content-Disposition".into(), cd.clone()));
    }
    headers.push(("Content-Type".into(), r.content_type.clone()));

    let success = r.status == 200;
    if success && not_modified(head, etag.as_deref(), last_modified) {
        write_simple(stream, 304, &headers, b"", closing, head_only)?;
        return Ok(keep(closing));
    }

    // Content coding replaces the body and disables ranges.
    let coding = success.then(|| content_coding(r, head)).flatten();
    let (source, total) = match coding {
        None => (source, total),
        Some(c) => {
            let encoded = encoded_body(&entry, &source, c == "gzip")?;
            headers.push(("Content-Encoding".into(), c.into()));
            headers.push(("Vary".into(), "Accept-Encoding".into()));
            let n = encoded.len() as u64;
            (Source::Mem(encoded), n)
        }
    };

    let served = if success && !r.no_range {
        let validators = (etag.as_deref(), last_modified);
        serve_range(r, head, coding.is_some(), validators, total, &mut headers)
    } else {
        Served::Whole
    };
    let (code, start, len) = match served {
        Served::Whole => (r.status, 0, total),
        Served::Part { start, len } => (206, start, len),
        Served::Unsatisfiable => {
            write_simple(stream, 416, &headers, b"", closing, head_only)?;
            return Ok(keep(closing));
        }
    };
    if code >= 400 {
        push_retry_after(r, &mut headers);
    }

    let framing = framing(r);
    let lied = push_framing_headers(r, framing, len, &mut headers);
    let cut = cut(r, len);
    let end_after = closing || framing == Framing::Close || lied || cut.is_some();
    stream.write_all(&head_block(code, &headers, end_after))?;
    if head_only || !status_has_body(code) {
        stream.flush()?;
        return Ok(keep(end_after));
    }
    let plan = BodyPlan {
        start,
        len,
        chunked: framing == Framing::Chunked,
        cut,
        route_rate: r.throttle,
        seed: conn.wrapping_mul(0x9E37_79B9).wrapping_add(hit),
    };
    if let Some(end) = write_body(state, stream, &source, &plan, &counter)? {
        return Ok(Some(end));
    }
    Ok(keep(end_after))
}

/// A generated answer that replaces the route body: an injected failure, a
/// missing credential or cookie, or a redirect.
struct Refusal {
    code: u16,
    headers: Vec<(String, String)>,
    body: &'static [u8],
}

/// The first of the route's gates that refuses this request, in the order
/// injected failure, basic auth, required cookie, redirect.
fn refusal(
    r: &Route,
    head: &RequestHead,
    hit: u64,
    headers: &[(String, String)],
) -> Option<Refusal> {
    let mut h = headers.to_vec();
    if let Some((n, code)) = r.fail_first_n {
        if hit < n {
            push_retry_after(r, &mut h);
            return Some(Refusal {
                code,
                headers: h,
                body: b"injected failure\n",
            });
        }
    }
    if let Some((user, pass)) = &r.basic_auth {
        if !basic_auth_ok(head, user, pass) {
            h.push((
                "WWW-Authenticate".into(),
                "Basic realm=\"arietta-test\"".into(),
            ));
            return Some(Refusal {
                code: 401,
                headers: h,
                body: b"unauthorized\n",
            });
        }
    }
    if let Some(pair) = &r.require_cookie {
        if !has_cookie(head, pair) {
            return Some(Refusal {
                code: 403,
                headers: h,
                body: b"cookie required\n",
            });
        }
    }
    if let Some((location, code)) = &r.redirect {
        h.push(("Location".into(), location.clone()));
        return Some(Refusal {
            code: *code,
            headers: h,
            body: b"redirect\n",
        });
    }
    None
}

fn push_retry_after(r: &Route, headers: &mut Vec<(String, String)>) {
    if let Some(s) = r.retry_after {
        headers.push(("Retry-After".into(), s.to_string()));
    }
}

/// The route body with its length and, for a file, its modification time;
/// `None` when the file cannot be opened (answered 404).
fn open_body(body: &Body) -> Option<(Source, u64, Option<u64>)> {
    match body {
        Body::Bytes(b) => Some((Source::Mem(b.clone()), b.len() as u64, None)),
        Body::File(p) => {
            let (f, m) = File::open(p)
                .and_then(|f| f.metadata().map(|m| (f, m)))
                .ok()?;
            let mt = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            Some((Source::File(f), m.len(), mt))
        }
    }
}

/// `Last-Modified` (seconds) and `ETag` as the route configures them.
fn validators(
    r: &Route,
    entry_id: u64,
    total: u64,
    mtime: Option<u64>,
) -> (Option<u64>, Option<String>) {
    let last_modified = match r.last_modified {
        LastModified::Default => Some(mtime.unwrap_or(DEFAULT_LAST_MODIFIED)),
        LastModified::At(t) => Some(t),
        LastModified::Omitted => None,
    };
    let etag = r.etag.then(|| {
        format!(
            "\"{:x}-{:x}-{:x}\"",
            entry_id,
            total,
            last_modified.unwrap_or(0)
        )
    });
    (last_modified, etag)
}

/// The coding the route offers and the client accepts, gzip first.
fn content_coding(r: &Route, head: &RequestHead) -> Option<&'static str> {
    if r.gzip && accepts_encoding(head, "gzip") {
        Some("gzip")
    } else if r.deflate && accepts_encoding(head, "deflate") {
        Some("deflate")
    } else {
        None
    }
}

/// The encoded body: cached per route for in-memory bodies, re-read for files.
fn encoded_body(entry: &RouteEntry, source: &Source, gz: bool) -> io::Result<Arc<Vec<u8>>> {
    let cell = if gz { &entry.gzip } else { &entry.deflate };
    Ok(match source {
        Source::Mem(b) => cell.get_or_init(|| Arc::new(encode(b, gz))).clone(),
        Source::File(f) => {
            let mut raw = Vec::new();
            let mut f = f;
            f.read_to_end(&mut raw)?;
            Arc::new(encode(&raw, gz))
        }
    })
}

/// What a request's `Range` makes of a body that accepts ranges.
enum Served {
    Whole,
    Part { start: u64, len: u64 },
    Unsatisfiable,
}

/// Evaluates `Range` (ignored under a content coding or a stale `If-Range`)
/// and adds `Accept-Ranges` and any `Content-Range` to `headers`.
fn serve_range(
    r: &Route,
    head: &RequestHead,
    coded: bool,
    (etag, last_modified): (Option<&str>, Option<u64>),
    total: u64,
    headers: &mut Vec<(String, String)>,
) -> Served {
    headers.push(("Accept-Ranges".into(), "bytes".into()));
    let range = head
        .header("range")
        .filter(|_| !coded)
        .filter(|_| if_range_holds(head, etag, last_modified));
    match range.map(|h| evaluate_range(h, total)) {
        None | Some(RangeOutcome::Full) => Served::Whole,
        Some(RangeOutcome::Unsatisfiable) => {
            headers.push(("Content-Range".into(), format!("bytes */{total}")));
            Served::Unsatisfiable
        }
        Some(RangeOutcome::Partial { start: s, end: e }) => {
            let (s, e, claimed_total) = served_range(r, s, e, total);
            headers.push((
                "Content-Range".into(),
                format!("bytes {s}-{e}/{claimed_total}"),
            ));
            Served::Part {
                start: s,
                len: e - s + 1,
            }
        }
    }
}

/// The range actually served for a satisfiable request `s..=e`, and the
/// total claimed in `Content-Range`: `wrong_content_range` shifts the range
/// (or, when it cannot, claims one byte too many).
fn served_range(r: &Route, s: u64, e: u64, total: u64) -> (u64, u64, u64) {
    if !r.wrong_content_range {
        return (s, e, total);
    }
    let span = e - s;
    let ns = if s > 0 { 0 } else { 1 };
    if ns < total {
        (ns, (ns + span).min(total - 1), total)
    } else {
        (s, e, total + 1)
    }
}

fn framing(r: &Route) -> Framing {
    if r.no_content_length {
        Framing::Close
    } else if r.chunked {
        Framing::Chunked
    } else {
        Framing::Length
    }
}

/// Adds `Content-Length` or `Transfer-Encoding`; true when the length is a
/// lie, after which the connection must end.
fn push_framing_headers(
    r: &Route,
    framing: Framing,
    len: u64,
    headers: &mut Vec<(String, String)>,
) -> bool {
    match framing {
        Framing::Length => {
            let (claimed, lied) = match r.lie_content_length {
                Some(d) => (len.saturating_add_signed(d), true),
                None => (len, false),
            };
            headers.push(("Content-Length".into(), claimed.to_string()));
            lied
        }
        Framing::Chunked => {
            headers.push(("Transfer-Encoding".into(), "chunked".into()));
            false
        }
        Framing::Close => false,
    }
}

/// The earliest injected cut (FIN or RST) that falls inside the body.
fn cut(r: &Route, len: u64) -> Option<(u64, End)> {
    [
        r.truncate_after.map(|n| (n, End::Fin)),
        r.reset_after.map(|n| (n, End::Reset)),
    ]
    .into_iter()
    .flatten()
    .filter(|(n, _)| *n < len)
    .min_by_key(|(n, _)| *n)
}

/// RFC 9110 §13.2.2 order: `If-None-Match` wins over `If-Modified-Since`.
fn not_modified(head: &RequestHead, etag: Option<&str>, lm: Option<u64>) -> bool {
    if let Some(inm) = head.header("if-none-match") {
        return etag.is_some_and(|e| {
            inm.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == e)
        });
    }
    match (
        head.header("if-modified-since").and_then(parse_http_date),
        lm,
    ) {
        (Some(ims), Some(lm)) => lm <= ims,
        _ => false,
    }
}

/// `If-Range` keeps the Range only if the validator still matches exactly.
fn if_range_holds(head: &RequestHead, etag: Option<&str>, lm: Option<u64>) -> bool {
    let Some(v) = head.header("if-range").map(str::trim) else {
        return true;
    };
    if v.starts_with('"') {
        return etag == Some(v);
    }
    matches!((parse_http_date(v), lm), (Some(d), Some(l)) if d == l)
}

struct BodyPlan {
    start: u64,
    len: u64,
    chunked: bool,
    cut: Option<(u64, End)>,
    route_rate: Option<u64>,
    seed: u64,
}

/// Writes `plan.len` bytes from `source` (or up to the cut), paced, counted.
fn write_body(
    state: &State,
    stream: &mut Stream,
    source: &Source,
    plan: &BodyPlan,
    counter: &AtomicU64,
) -> io::Result<Option<End>> {
    let limit = plan.cut.map_or(plan.len, |(n, _)| n.min(plan.len));
    let mut pacer = Pacer::new();
    let mut rng = plan.seed | 1;
    let mut scratch = Vec::new();
    let mut sent = 0u64;
    while sent < limit {
        if state.stop.load(Ordering::Relaxed) {
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
        let rate = effective_rate(state.throttle.load(Ordering::Relaxed), plan.route_rate);
        let mut piece = pacer.piece(rate);
        if plan.chunked {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let size = if rng & 3 == 0 {
                1 + rng % 16
            } else {
                1 + rng % 32_768
            };
            piece = piece.min(size as usize);
        }
        let n = usize::try_from(limit - sent).map_or(piece, |left| left.min(piece));
        let data = source.slice(plan.start + sent, n, &mut scratch)?;
        if plan.chunked {
            let mut framed = Vec::with_capacity(n + 16);
            framed.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            framed.extend_from_slice(data);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed)?;
        } else {
            stream.write_all(data)?;
        }
        if rate != 0 {
            stream.flush()?;
        }
        sent += n as u64;
        counter.fetch_add(n as u64, Ordering::Relaxed);
        state.total_bytes.fetch_add(n as u64, Ordering::Relaxed);
        pacer.wrote(n);
    }
    stream.flush()?;
    if let Some((_, end)) = plan.cut {
        if end == End::Reset {
            // Let the bytes reach the peer's receive queue before the RST discards our send queue.
            std::thread::sleep(Duration::from_millis(100));
        }
        return Ok(Some(end));
    }
    if plan.chunked {
        stream.write_all(b"0\r\n\r\n")?;
        stream.flush()?;
    }
    Ok(None)
}

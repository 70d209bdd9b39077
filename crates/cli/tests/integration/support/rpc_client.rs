//! Talking to the daemon from tests: starting it on a free port, raw
//! WebSocket frames, and a small aria2 RPC client that speaks each of the
//! three transports (JSON over HTTP POST, JSON over WebSocket, XML-RPC) with
//! the same call signature, so one test can run every method on each.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{s, wait_listening, wait_until};

pub use super::free_port;

/// An `arietta --enable-rpc` process, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
}

impl Daemon {
    pub fn start(dir: &std::path::Path, extra: &[&str]) -> Daemon {
        Daemon::start_with(dir, extra, |_| {})
    }

    /// [`start`](Self::start) with the command adjusted first (the abuse
    /// tests' short request timeout, a lowered descriptor limit).
    pub fn start_with(
        dir: &std::path::Path,
        extra: &[&str],
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Daemon {
        let port = free_port();
        let mut args = vec![
            "--enable-rpc".to_string(),
            format!("--rpc-listen-port={port}"),
            format!("--dir={}", s(dir)),
            "-q".to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = super::command(dir);
        cmd.arg("--no-conf").args(&argv);
        adjust(&mut cmd);
        let child = cmd.spawn().expect("spawn arietta");
        assert!(
            wait_listening(port, Duration::from_secs(10)),
            "daemon did not listen on {port}"
        );
        Daemon { child, port }
    }

    /// POSTs `body` to /jsonrpc; returns (status, body).
    pub fn post(&self, body: &str) -> (u16, String) {
        http_post(self.port, "/jsonrpc", "application/json", body)
    }

    pub fn call(&self, method: &str, params: &str) -> String {
        let (_, body) = self.post(&format!(
            r#"{{"jsonrpc":"2.0","id":"t","method":"{method}","params":{params}}}"#
        ));
        body
    }

    /// Polls `tellStatus` until the download's status is `want` (panics
    /// after 15 s); returns the last answer.
    #[track_caller]
    pub fn wait_status(&self, gid: &str, want: &str) -> String {
        let mut st = String::new();
        let reached = wait_until(Duration::from_secs(15), || {
            st = self.call("aria2.tellStatus", &format!(r#"["{gid}",["status"]]"#));
            st.contains(&format!(r#""status":"{want}""#))
        });
        assert!(reached, "{gid} never became {want}: {st}");
        st
    }

    pub fn wait_exit(mut self, limit: Duration) -> Option<i32> {
        let mut status = None;
        if !wait_until(limit, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        }) {
            let _ = self.child.kill();
            panic!("daemon did not exit");
        }
        status.and_then(|st| st.code())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The string value of `"key":"value"` in a flat JSON answer (a GID in
/// `"result"`, a status).
pub fn field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    json[at..].split('"').next()
}

/// One HTTP/1.1 POST on a fresh connection; returns (status, body).
pub fn http_post(port: u16, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("http response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// A masked client text frame.
pub fn ws_text_frame(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut f = vec![0x81];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else if payload.len() < 65536 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Opens a WebSocket on /jsonrpc; returns it and the response head.
pub fn ws_connect(port: u16) -> (TcpStream, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET /jsonrpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    (c, String::from_utf8(head).unwrap())
}

/// Reads one server frame's payload as text.
pub fn ws_read_text(c: &mut TcpStream) -> String {
    let mut h = [0u8; 2];
    c.read_exact(&mut h).unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            c.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            c.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    c.read_exact(&mut p).unwrap();
    String::from_utf8(p).unwrap()
}

/// Which way a [`RpcClient`] talks to the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// JSON-RPC in HTTP POST bodies to /jsonrpc.
    Http,
    /// JSON-RPC in WebSocket text frames on /jsonrpc.
    WebSocket,
    /// XML-RPC in HTTP POST bodies to /rpc.
    Xml,
}

/// An RPC error answer: aria2 uses code 1 for every method failure.
#[derive(Debug)]
pub struct Fault {
    pub code: i64,
    pub message: String,
}

/// A client with aria2p's view of the API: `call(method, params)`, the
/// `token:` secret prepended for `aria2.*` methods as aria2 clients do.
pub struct RpcClient {
    port: u16,
    pub transport: Transport,
    secret: Option<String>,
    ws: Option<TcpStream>,
    next_id: u64,
}

impl RpcClient {
    pub fn new(port: u16, transport: Transport, secret: Option<&str>) -> RpcClient {
        let ws = (transport == Transport::WebSocket).then(|| {
            let (c, head) = ws_connect(port);
            assert!(head.starts_with("HTTP/1.1 101"), "{head}");
            c
        });
        RpcClient {
            port,
            transport,
            secret: secret.map(str::to_owned),
            ws,
            next_id: 0,
        }
    }

    /// Calls `method` with `params` (the secret goes first for `aria2.*`).
    pub fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        let mut all = Vec::new();
        if let (Some(t), true) = (&self.secret, method.starts_with("aria2.")) {
            all.push(Value::String(format!("token:{t}")));
        }
        all.extend(params);
        match self.transport {
            Transport::Http | Transport::WebSocket => self.call_json(method, all),
            Transport::Xml => {
                let (status, body) =
                    http_post(self.port, "/rpc", "text/xml", &xml_call(method, &all));
                assert_eq!(status, 200, "{body}");
                xml_response(&body)
            }
        }
    }

    /// Like [`call`](Self::call), panicking with the transport on a fault.
    #[track_caller]
    pub fn ok(&mut self, method: &str, params: Vec<Value>) -> Value {
        match self.call(method, params) {
            Ok(v) => v,
            Err(f) => panic!("{:?} {method}: fault {f:?}", self.transport),
        }
    }

    fn call_json(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        self.next_id += 1;
        let id = format!("q{}", self.next_id);
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let text = match self.ws.as_mut() {
            Some(c) => {
                c.write_all(&ws_text_frame(&req.to_string())).unwrap();
                // Skip notifications until our answer arrives.
                loop {
                    let t = ws_read_text(c);
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v.get("id") == Some(&Value::String(id.clone())) {
                        break t;
                    }
                }
            }
            None => self.post_json(&req.to_string()),
        };
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(v["id"], Value::String(id), "{text}");
        match v.get("error") {
            Some(e) => Err(Fault {
                code: e["code"].as_i64().unwrap_or(0),
                message: e["message"].as_str().unwrap_or("").to_owned(),
            }),
            None => Ok(v["result"].clone()),
        }
    }

    fn post_json(&self, body: &str) -> String {
        http_post(self.port, "/jsonrpc", "application/json", body).1
    }
}

/// An XML-RPC `<methodCall>` for `params`.
pub fn xml_call(method: &str, params: &[Value]) -> String {
    let mut out =
        format!("<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>");
    for p in params {
        out.push_str("<param>");
        xml_value(&mut out, p);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>");
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn xml_value(out: &mut String, v: &Value) {
    out.push_str("<value>");
    match v {
        Value::String(s) => out.push_str(&format!("<string>{}</string>", xml_escape(s))),
        Value::Number(n) if n.is_i64() => out.push_str(&format!("<int>{n}</int>")),
        Value::Number(n) => out.push_str(&format!("<double>{n}</double>")),
        Value::Bool(b) => out.push_str(&format!("<boolean>{}</boolean>", u8::from(*b))),
        Value::Array(items) => {
            out.push_str("<array><data>");
            for i in items {
                xml_value(out, i);
            }
            out.push_str("</data></array>");
        }
        Value::Object(members) => {
            out.push_str("<struct>");
            for (k, v) in members {
                out.push_str(&format!("<member><name>{}</name>", xml_escape(k)));
                xml_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Null => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

/// Parses a `<methodResponse>` into JSON's shape (a fault into [`Fault`]).
pub fn xml_response(body: &str) -> Result<Value, Fault> {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "methodResponse", "{body}");
    let first = root
        .children()
        .find(|n| n.is_element())
        .expect("params or fault");
    let value = first
        .descendants()
        .find(|n| n.has_tag_name("value"))
        .expect("a value");
    let v = from_xml_value(value);
    if first.has_tag_name("fault") {
        return Err(Fault {
            code: v["faultCode"].as_i64().unwrap_or(0),
            message: v["faultString"].as_str().unwrap_or("").to_owned(),
        });
    }
    Ok(v)
}

fn from_xml_value(node: roxmltree::Node) -> Value {
    let Some(inner) = node.children().find(|n| n.is_element()) else {
        return Value::String(node.text().unwrap_or("").to_owned());
    };
    let text = || inner.text().unwrap_or("").to_owned();
    match inner.tag_name().name() {
        "string" | "base64" | "dateTime.iso8601" => Value::String(text()),
        "int" | "i4" | "i8" => Value::from(text().trim().parse::<i64>().unwrap()),
        "double" => Value::from(text().trim().parse::<f64>().unwrap()),
        "boolean" => Value::Bool(text().trim() == "1"),
        "nil" => Value::Null,
        "array" => Value::Array(
            inner
                .descendants()
                .find(|n| n.has_tag_name("data"))
                .map(|d| {
                    d.children()
                        .filter(|n| n.has_tag_name("value"))
                        .map(from_xml_value)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "struct" => {
            let mut m = Map::new();
            for member in inner.children().filter(|n| n.has_tag_name("member")) {
                let name = member
                    .children()
                    .find(|n| n.has_tag_name("name"))
                    .and_then(|n| n.text())
                    .unwrap_or("")
                    .to_owned();
                if let Some(v) = member.children().find(|n| n.has_tag_name("value")) {
                    m.insert(name, from_xml_value(v));
                }
            }
            Value::Object(m)
        }
        other => panic!("unexpected XML-RPC type {other}"),
    }
}

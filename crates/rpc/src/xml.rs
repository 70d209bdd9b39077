//! XML-RPC as aria2 speaks it.
//!
//! Requests are parsed with roxmltree, which refuses DTDs, so entity
//! expansion bombs and external entities are rejected before anything is
//! built. Responses are written byte-for-byte like aria2c 1.36's:
//! `<?xml version="1.0"?><methodResponse><params><param><value>...`, no
//! whitespace between elements, strings always inside `<string>`.
//!
//! aria2 answers an unparsable XML-RPC body with a bare HTTP 400 and no
//! body; the daemon should do the same when [`decode_call`] fails with
//! [`Error::Xml`] (faults are reserved for method-level errors and sent
//! with HTTP 200).

use std::fmt::Write as _;

use base64::Engine as _;
use roxmltree::{Document, Node, ParsingOptions};

use crate::error::Error;
use crate::request::{Dialect, Id, Limits, Param, RpcCall};

/// Upper bound on XML nodes, so a 2 MiB body of `<a/>` cannot build
/// millions of tree nodes.
const NODES_LIMIT: u32 = 200_000;

/// Decodes a `methodCall` document into a call (with [`Id::Null`]).
pub fn decode_call(body: &[u8], limits: &Limits) -> Result<RpcCall, Error> {
    if body.len() > limits.max_request_size {
        return Err(Error::RequestTooLarge {
            size: body.len(),
            limit: limits.max_request_size,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| xml_err("body is not UTF-8"))?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| Error::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "methodCall" {
        return Err(xml_err("root element is not methodCall"));
    }
    let mut method = None;
    let mut params = Vec::new();
    for child in elements(root) {
        match child.tag_name().name() {
            "methodName" => method = Some(text_of(child).trim().to_owned()),
            "params" => {
                for param in elements(child) {
                    if param.tag_name().name() != "param" {
                        return Err(xml_err("unexpected element in params"));
                    }
                    let value = elements(param)
                        .find(|n| n.tag_name().name() == "value")
                        .ok_or_else(|| xml_err("param without value"))?;
                    params.push(decode_value(value, 1, limits.max_depth)?);
                }
            }
            _ => return Err(xml_err("unexpected element in methodCall")),
        }
    }
    let method = method
        .filter(|m| !m.is_empty())
        .ok_or_else(|| xml_err("missing methodName"))?;
    Ok(RpcCall {
        method,
        params,
        id: Id::Null,
        dialect: Dialect::Xml,
    })
}

fn xml_err(what: &str) -> Error {
    Error::Xml(what.to_owned())
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// The text directly inside `node` (text and CDATA children, entity
/// references already expanded by roxmltree).
fn text_of(node: Node) -> String {
    node.children()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect()
}

fn decode_value(value: Node, depth: usize, max_depth: usize) -> Result<Param, Error> {
    if depth > max_depth {
        return Err(xml_err("values nest too deeply"));
    }
    let mut children = elements(value);
    let Some(typed) = children.next() else {
        // A bare `<value>text</value>` is a string, whitespace and all.
        return Ok(Param::String(text_of(value)));
    };
    if children.next().is_some() {
        return Err(xml_err("value holds more than one element"));
    }
    let text = || text_of(typed);
    Ok(match typed.tag_name().name() {
        "string" => Param::String(text()),
        "int" | "i4" | "i8" => Param::Int(
            text()
                .trim()
                .parse()
                .map_err(|_| xml_err("invalid integer"))?,
        ),
        "boolean" => match text().trim() {
            "1" | "true" => Param::Bool(true),
            "0" | "false" => Param::Bool(false),
            _ => return Err(xml_err("invalid boolean")),
        },
        "double" => Param::Double(
            text()
                .trim()
                .parse()
                .map_err(|_| xml_err("invalid double"))?,
        ),
        "base64" => {
            let clean: Vec<u8> = text()
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            Param::Base64(
                base64::engine::general_purpose::STANDARD
                    .decode(&clean)
                    .map_err(|_| xml_err("invalid base64"))?,
            )
        }
        "dateTime.iso8601" => Param::String(text().trim().to_owned()),
        "nil" => Param::Nil,
        "array" => {
            let mut items = Vec::new();
            for data in elements(typed) {
                if data.tag_name().name() != "data" {
                    return Err(xml_err("array without data"));
                }
                for v in elements(data) {
                    if v.tag_name().name() != "value" {
                        return Err(xml_err("unexpected element in array"));
                    }
                    items.push(decode_value(v, depth + 1, max_depth)?);
                }
            }
            Param::Array(items)
        }
        "struct" => {
            let mut members = Vec::new();
            for member in elements(typed) {
                if member.tag_name().name() != "member" {
                    return Err(xml_err("unexpected element in struct"));
                }
                let mut name = None;
                let mut val = None;
                for part in elements(member) {
                    match part.tag_name().name() {
                        "name" => name = Some(text_of(part)),
                        "value" => val = Some(decode_value(part, depth + 1, max_depth)?),
                        _ => return Err(xml_err("unexpected element in member")),
                    }
                }
                match (name, val) {
                    (Some(n), Some(v)) => members.push((n.into(), v)),
                    _ => return Err(xml_err("member without name or value")),
                }
            }
            Param::Struct(members)
        }
        _ => return Err(xml_err("unknown value type")),
    })
}

/// Encodes a `methodResponse`: `params` with the result, or a `fault` with
/// `faultCode` and `faultString`.
pub fn encode_response(outcome: &Result<Param, Error>) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?><methodResponse>");
    match outcome {
        Ok(result) => {
            out.push_str("<params><param>");
            encode_value(&mut out, result);
            out.push_str("</param></params>");
        }
        Err(error) => {
            out.push_str("<fault>");
            encode_value(
                &mut out,
                &crate::methods::multicall_failure(error, Dialect::Xml),
            );
            out.push_str("</fault>");
        }
    }
    out.push_str("</methodResponse>");
    out
}

/// Appends `<value>...</value>` for `value`.
pub fn encode_value(out: &mut String, value: &Param) {
    out.push_str("<value>");
    match value {
        Param::String(s) => {
            out.push_str("<string>");
            escape(out, s);
            out.push_str("</string>");
        }
        Param::Int(i) => {
            let _ = write!(out, "<int>{i}</int>");
        }
        Param::Double(d) if d.is_finite() => {
            let _ = write!(out, "<double>{d}</double>");
        }
        Param::Double(_) | Param::Nil => out.push_str("<nil/>"),
        Param::Bool(b) => {
            let _ = write!(out, "<boolean>{}</boolean>", u8::from(*b));
        }
        Param::Base64(bytes) => {
            out.push_str("<base64>");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            out.push_str("</base64>");
        }
        Param::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                encode_value(out, item);
            }
            out.push_str("</data></array>");
        }
        Param::Struct(members) => {
            out.push_str("<struct>");
            for (k, v) in members {
                out.push_str("<member><name>");
                escape(out, k);
                out.push_str("</name>");
                encode_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

/// aria2's `htmlEscape`. Control characters that XML 1.0 cannot carry at
/// all (not even as references) become U+FFFD so the document stays
/// parsable.
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // A raw CR would be normalized away by the reader's parser.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<RpcCall, Error> {
        decode_call(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn decodes_all_value_types() {
        let c = decode(
            r#"<?xml version="1.0"?>
            <methodCall>
              <methodName>aria2.addUri</methodName>
              <params>
                <param><value><string>token:s&amp;x</string></value></param>
                <param><value> bare text </value></param>
                <param><value><int> 42 </int></value></param>
                <param><value><i4>-7</i4></value></param>
                <param><value><boolean>1</boolean></value></param>
                <param><value><double>2.5</double></value></param>
                <param><value><base64>aGVs
                  bG8=</base64></value></param>
                <param><value><nil/></value></param>
                <param><value><array><data>
                  <value>a</value><value><int>1</int></value>
                </data></array></value></param>
                <param><value><struct>
                  <member><name>dir</name><value>/tmp</value></member>
                  <member><name>split</name><value><string>4</string></value></member>
                </struct></value></param>
                <param><value><string><![CDATA[<raw>]]></string></value></param>
                <param><value></value></param>
              </params>
            </methodCall>"#,
        )
        .unwrap();
        assert_eq!(c.method, "aria2.addUri");
        assert_eq!(c.id, Id::Null);
        assert_eq!(c.dialect, Dialect::Xml);
        assert_eq!(
            c.params,
            vec![
                Param::from("token:s&x"),
                Param::from(" bare text "),
                Param::Int(42),
                Param::Int(-7),
                Param::Bool(true),
                Param::Double(2.5),
                Param::Base64(b"hello".to_vec()),
                Param::Nil,
                Param::Array(vec!["a".into(), Param::Int(1)]),
                Param::structure([("dir", "/tmp".into()), ("split", "4".into())]),
                Param::from("<raw>"),
                Param::from(""),
            ]
        );
    }

    #[test]
    fn no_params_is_fine() {
        let c =
            decode("<methodCall><methodName>system.listMethods</methodName></methodCall>").unwrap();
        assert!(c.params.is_empty());
    }

    #[test]
    fn rejects_malformed_and_hostile_input() {
        for bad in [
            "",
            "<methodCall><bad",
            "<methodResponse/>",
            "<methodCall><params/></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><int>x</int></value></param></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><foo/></value></param></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param/></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><base64>!!</base64></value></param></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><struct><member><name>x</name></member></struct></value></param></params></methodCall>",
            r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><methodCall><methodName>&lol2;</methodName></methodCall>"#,
        ] {
            assert!(matches!(decode(bad), Err(Error::Xml(_))), "{bad}");
        }
        assert!(matches!(
            decode_call(b"\xff\xfe", &Limits::default()),
            Err(Error::Xml(_))
        ));
    }

    #[test]
    fn limits() {
        let deep = format!(
            "<methodCall><methodName>m</methodName><params><param>{}{}</param></params></methodCall>",
            "<value><array><data>".repeat(40),
            "</data></array></value>".repeat(40)
        );
        assert!(matches!(decode(&deep), Err(Error::Xml(_))));
        let small = Limits {
            max_request_size: 10,
            max_depth: 32,
        };
        assert!(matches!(
            decode_call(&[b' '; 11], &small),
            Err(Error::RequestTooLarge { .. })
        ));
    }

    #[test]
    fn encodes_like_aria2() {
        // Byte-for-byte what aria2c 1.36 answered for these.
        assert_eq!(
            encode_response(&Err(Error::Fault("Invalid GID <\"&'".into()))),
            "<?xml version=\"1.0\"?><methodResponse><fault><value><struct><member><name>faultCode</name>\
             <value><int>1</int></value></member><member><name>faultString</name><value><string>\
             Invalid GID &lt;&quot;&amp;&#39;</string></value></member></struct></value></fault></methodResponse>"
        );
        assert_eq!(
            encode_response(&Ok(Param::structure([
                ("enabledFeatures", Param::Array(vec!["GZip".into()])),
                ("version", "1.36.0".into())
            ]))),
            "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>enabledFeatures\
             </name><value><array><data><value><string>GZip</string></value></data></array></value></member>\
             <member><name>version</name><value><string>1.36.0</string></value></member></struct></value>\
             </param></params></methodResponse>"
        );
        let mut out = String::new();
        encode_value(
            &mut out,
            &Param::Array(vec![
                Param::Bool(true),
                Param::Int(-3),
                Param::Nil,
                Param::Base64(b"hi".to_vec()),
                Param::Double(0.5),
                Param::String("a\u{1}b\r".into()),
            ]),
        );
        assert_eq!(
            out,
            "<value><array><data><value><boolean>1</boolean></value><value><int>-3</int></value>\
             <value><nil/></value><value><base64>aGk=</base64></value><value><double>0.5</double></value>\
             <value><string>a\u{fffd}b&#13;</string></value></data></array></value>"
        );
    }

    #[test]
    fn round_trip() {
        let v = Param::structure([
            (
                "a",
                Param::Array(vec![Param::Int(1), "x<y\r\n".into(), Param::Bool(false)]),
            ),
            ("b", Param::Base64(vec![0, 255])),
            ("c", Param::Nil),
        ]);
        let mut body = String::from("<methodCall><methodName>m</methodName><params><param>");
        encode_value(&mut body, &v);
        body.push_str("</param></params></methodCall>");
        assert_eq!(decode(&body).unwrap().params, vec![v]);
    }
}

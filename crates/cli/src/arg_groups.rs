//! How aria2c turns command-line arguments into downloads
//! (`createRequestGroupForUri`): the HTTP(S)/FTP/SFTP URIs together are one
//! download (mirrors of one file), and every magnet, local `.torrent` and
//! local metalink is a download of its own, after them, in argument order.
//! With `-Z` each argument is its own download, in argument order.

/// One download's worth of command-line arguments.
#[derive(Debug, PartialEq, Eq)]
pub enum ArgGroup {
    /// URIs the engine classifies (mirrors, a magnet, a torrent file).
    Uris(Vec<String>),
    /// A local metalink document, planned into its own downloads.
    Metalink(String),
}

/// An argument aria2c refuses before anything starts ("Unrecognized URI
/// or unsupported protocol", exit 1).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unrecognized URI or unsupported protocol: {0}")]
pub struct Unrecognized(pub String);

/// What one argument is, told apart as aria2's `ProtocolDetector` does.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Stream,
    Magnet,
    Torrent,
    Metalink,
}

/// Groups `args` (already `-P`-expanded). `local` tells a local path's
/// kind: `Some(true)` a torrent, `Some(false)` a metalink, `None` neither
/// (kept a parameter so the grouping is testable without files).
pub fn group(
    args: &[String],
    force_sequential: bool,
    local: &dyn Fn(&str) -> Option<bool>,
) -> Result<Vec<ArgGroup>, Unrecognized> {
    let kinds = args
        .iter()
        .map(|a| kind_of(a, local).ok_or_else(|| Unrecognized(a.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let one = |a: &String, k: &Kind| match k {
        Kind::Metalink => ArgGroup::Metalink(a.clone()),
        _ => ArgGroup::Uris(vec![a.clone()]),
    };
    if force_sequential {
        return Ok(args.iter().zip(&kinds).map(|(a, k)| one(a, k)).collect());
    }
    let streams: Vec<String> = args
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| **k == Kind::Stream)
        .map(|(a, _)| a.clone())
        .collect();
    let mut out = Vec::new();
    if !streams.is_empty() {
        out.push(ArgGroup::Uris(streams));
    }
    out.extend(
        args.iter()
            .zip(&kinds)
            .filter(|(_, k)| **k != Kind::Stream)
            .map(|(a, k)| one(a, k)),
    );
    Ok(out)
}

fn kind_of(arg: &str, local: &dyn Fn(&str) -> Option<bool>) -> Option<Kind> {
    // A magnet's `tr=` parameter holds a `://` of its own. One without a
    // usable info-hash is no magnet to aria2 but an unrecognized argument
    // (exit 1), not a magnet parse error (27).
    if arg.starts_with("magnet:") {
        return arietta_metainfo::Magnet::parse(arg)
            .is_ok()
            .then_some(Kind::Magnet);
    }
    // Any `scheme://` URI is a mirror to aria2 (`uri_split`), even one of
    // a scheme it cannot fetch: that mirror fails when tried (exit 1), and
    // its neighbours may still finish the download.
    if let Some((scheme, rest)) = arg.split_once("://") {
        let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty();
        return valid.then_some(Kind::Stream);
    }
    match local(arg)? {
        true => Some(Kind::Torrent),
        false => Some(Kind::Metalink),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn local(p: &str) -> Option<bool> {
        if p.ends_with(".torrent") {
            Some(true)
        } else if p.ends_with(".meta4") {
            Some(false)
        } else {
            None
        }
    }

    fn uris(a: &[&str]) -> ArgGroup {
        ArgGroup::Uris(args(a))
    }

    #[test]
    fn streams_first_as_one_then_each_torrent_and_metalink() {
        let got = group(
            &args(&[
                "a.torrent",
                "http://h/x",
                "m.meta4",
                "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=http://t/announce",
                "ftp://h/x",
                "b.torrent",
            ]),
            false,
            &local,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                uris(&["http://h/x", "ftp://h/x"]),
                uris(&["a.torrent"]),
                ArgGroup::Metalink("m.meta4".into()),
                uris(&["magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=http://t/announce"]),
                uris(&["b.torrent"]),
            ]
        );
    }

    #[test]
    fn force_sequential_keeps_argument_order() {
        let got = group(
            &args(&["a.torrent", "http://h/x", "http://h/y"]),
            true,
            &local,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                uris(&["a.torrent"]),
                uris(&["http://h/x"]),
                uris(&["http://h/y"])
            ]
        );
    }

    #[test]
    fn unknown_schemes_are_mirrors() {
        assert_eq!(
            group(&args(&["gopher://h/x", "http://h/x"]), false, &local),
            Ok(vec![uris(&["gopher://h/x", "http://h/x"])])
        );
    }

    #[test]
    fn unknown_paths_and_bad_magnets_are_refused() {
        for bad in ["nonexist", "://h", "magnet:?dn=x", "magnet:?xt=urn:btih:zz"] {
            assert_eq!(
                group(&args(&["http://h/x", bad]), false, &local),
                Err(Unrecognized(bad.into()))
            );
        }
    }
}

//! Parses arbitrary bytes as a metalink document and exercises everything a
//! download would do with the result; also feeds the same bytes to the
//! Metalink/HTTP header parsers. None of it may panic.
#![no_main]

use arietta_metalink::{http_link, parse, sanitize_file_name, SelectionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut m) = parse(data) {
        let base = arietta_metalink::Url::parse("http://fuzz.example/dir/x.meta4").ok();
        m.resolve(base.as_ref());
        let opts = SelectionOptions {
            locations: vec!["de".into()],
            unique_protocol: true,
            ..Default::default()
        };
        for f in m.select_files(&opts) {
            assert!(sanitize_file_name(&f.name).is_some());
            let _ = f.ordered_uris(&opts);
            let _ = f.ordered_uris(&SelectionOptions::default());
            let _ = f.ordered_torrents();
            let _ = f.strongest_hash();
            if let (Some(p), Some(size)) = (f.strongest_pieces(), f.size) {
                assert!(p.fits_size(size));
            }
        }
        let _ = m.torrent_groups();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let links = http_link::parse_link_header(s);
        let _ = http_link::duplicate_mirrors(&links);
        for d in http_link::parse_digest_header(s) {
            assert_eq!(d.digest.len(), d.algo.digest_len());
        }
    }
});

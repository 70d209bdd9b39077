//! Parses arbitrary bytes as a torrent, a magnet link and a tracker reply.
//! Every accepted torrent's file paths must stay inside the download dir.
#![no_main]

use std::path::Component;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = arietta_metainfo::Metainfo::parse(data) {
        for f in &m.files {
            assert!(f.path.is_relative(), "{:?}", f.path);
            assert!(
                f.path
                    .components()
                    .all(|c| matches!(c, Component::Normal(_))),
                "{:?}",
                f.path
            );
            assert!(f
                .offset
                .checked_add(f.length)
                .is_some_and(|end| end <= m.total_length));
        }
        for i in 0..m.piece_count.min(4) {
            let _ = m.piece_size(i);
        }
        let _ = m.show_files();
        let _ = arietta_metainfo::Magnet::parse(&m.magnet_uri()).expect("own magnet parses");
    }
    let _ = arietta_metainfo::parse_announce_response(data);
    let _ = arietta_metainfo::parse_scrape_response(data);
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = arietta_metainfo::Magnet::parse(&text) {
        assert_eq!(
            arietta_metainfo::Magnet::parse(&m.to_uri()).as_ref(),
            Ok(&m)
        );
    }
    let _ = arietta_metainfo::select_files(&text, 100);
});

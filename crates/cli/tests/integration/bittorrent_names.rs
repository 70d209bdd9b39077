//! Where a torrent's files land when its name or path elements hold a `/`
//! or other reserved characters: aria2c 1.36 takes a `/` inside an element
//! as a directory separator and keeps `\ : ? *` as they are; arietta
//! leeches the same torrent into the same tree.

use crate::bt_support::{assert_same_tree, pattern, require_tracker_and_aria2c, Swarm};
use crate::support::exit;

#[test]
fn reserved_characters_land_where_aria2c_puts_them() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let files = vec![
        (vec!["sub/x", "f?.bin"], pattern(70_000, 1)),
        (vec!["a\\b:c*"], pattern(5_000, 2)),
    ];
    let sw = Swarm::new("d/ir x", files)
        .tracker()
        .build()
        .aria2c_seeder();
    let theirs = sw.dir().join("theirs");
    assert!(sw.aria2c_leech_in(&theirs, &[]), "aria2c leech failed");
    sw.leech(&[]).expect_code(exit::OK);
    sw.assert_leeched();
    assert_same_tree(&theirs, &sw.leech_dir());
    assert!(sw.leech_dir().join("d/ir x/sub/x/f?.bin").is_file());
    assert!(sw.leech_dir().join("d/ir x/a\\b:c*").is_file());
}

//! `--stream-piece-selector=inorder` and `--bt-prioritize-piece`: arietta
//! leeches from an aria2c seeder at a limited rate (so pieces finish one
//! at a time) and its log's `we got new piece. index=N` lines, aria2's
//! own, give the order pieces completed in (near enough: pieces are
//! hashed in parallel, so neighbours may swap).

use crate::bt_support::*;
use crate::support::{exit, s, wait_with_timeout};

/// The piece indices in `log`'s completion lines, in order.
fn completed(log: &str) -> Vec<u32> {
    log.lines()
        .filter_map(|l| l.split("we got new piece. index=").nth(1))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

#[test]
fn inorder_with_a_prioritized_tail_completes_the_last_piece_then_the_rest_in_order() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = Swarm::new(
        "ordered",
        vec![(vec!["movie.bin"], pattern(24 * PIECE + 100, 5))],
    )
    .tracker()
    .build()
    .aria2c_seeder();
    let log = sw.dir().join("leech.log");
    let child = sw.spawn_leech(&[
        "--stream-piece-selector=inorder",
        "--bt-prioritize-piece=tail=100",
        "--max-download-limit=1M",
        "-l",
        s(&log),
        "--log-level=info",
    ]);
    wait_with_timeout(child, LEECH_LIMIT).expect_code(exit::OK);
    sw.assert_leeched();
    let order = completed(&std::fs::read_to_string(&log).unwrap());
    let last = 24;
    // The tail goes out in the first batch of requests, next to piece 0's
    // blocks; either may finish first.
    let tail_at = order.iter().position(|&i| i == last);
    assert!(tail_at.is_some_and(|p| p <= 1), "the tail first: {order:?}");
    let rest: Vec<u32> = order.iter().copied().filter(|&i| i != last).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..=last).collect::<Vec<_>>(), "{order:?}");
    // Requests go out in order, but pieces that arrive together are
    // hashed in parallel and may finish swapped with a neighbour; rarest
    // first (random among equals here) would scatter them across the file.
    for (pos, &i) in rest.iter().enumerate() {
        assert!(
            (i as i64 - pos as i64).abs() <= 3,
            "piece {i} completed at position {pos}: {order:?}"
        );
    }
}

//! Segment planning: run when a download starts, whenever a connection
//! asks for work, and on every write the coordinator records.

use std::hint::black_box;

use arietta_core::segment_map::SegmentMap;
use arietta_storage::RangeSet;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn bench_segment_map(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment_map");
    g.bench_function("plan_1GiB_s16", |b| {
        b.iter(|| black_box(SegmentMap::new(GIB, RangeSet::new(), 16, 20 * MIB)))
    });
    // Sixteen connections claim the planned pieces, then keep stealing the
    // back half of the largest running segment (aria2's split of a slow
    // segment) until pieces reach the minimum size.
    g.bench_function("claim16_then_split_until_min", |b| {
        b.iter(|| {
            let mut m = SegmentMap::new(GIB, RangeSet::new(), 16, 1024 * 1024);
            let mut claims = Vec::with_capacity(1024);
            while let Some(cl) = m.claim(None) {
                claims.push(cl);
                if claims.len() >= 1024 {
                    break;
                }
            }
            black_box(claims.len())
        })
    });
    // The coordinator's per-chunk bookkeeping: one `written` per 16 KiB
    // write for the whole 1 GiB file, from 16 interleaved streams.
    const WRITE: u64 = 16 << 10;
    let per_seg = GIB / 16 / WRITE;
    g.throughput(Throughput::Elements(16 * per_seg));
    g.bench_function("written_1GiB_16KiB_writes", |b| {
        b.iter(|| {
            let mut m = SegmentMap::new(GIB, RangeSet::new(), 16, 20 * MIB);
            for w in 0..per_seg {
                for seg in 0..16 {
                    let at = seg * (GIB / 16) + w * WRITE;
                    m.written(at, at + WRITE);
                }
            }
            assert!(m.is_complete());
            black_box(m.completed_length())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_segment_map);
criterion_main!(benches);

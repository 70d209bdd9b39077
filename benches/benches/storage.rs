//! The done-range bookkeeping written on every disk write, and the control
//! file encoded on every periodic save.

use std::hint::black_box;

use arietta_benches::scattered_ranges;
use arietta_storage::{ControlFile, RangeSet};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn bench_range_set(c: &mut Criterion) {
    let mut g = c.benchmark_group("range_set");
    // 16 connections each appending 16 KiB writes to their own segment: the
    // common case, every insert merges with the range before it.
    const SEGS: u64 = 16;
    const SEG_LEN: u64 = 64 << 20;
    const WRITE: u64 = 16 << 10;
    let writes_per_seg = 256u64;
    g.throughput(Throughput::Elements(SEGS * writes_per_seg));
    g.bench_function("insert_16_streams_4096_writes", |b| {
        b.iter(|| {
            let mut s = RangeSet::new();
            for w in 0..writes_per_seg {
                for seg in 0..SEGS {
                    let at = seg * SEG_LEN + w * WRITE;
                    s.insert(at, at + WRITE);
                }
            }
            black_box(s.ranges().len())
        })
    });
    // Worst case for the Vec-backed set: 1000 disjoint ranges in scrambled
    // order, each insert shifting the tail.
    let scattered = scattered_ranges(1000, 1 << 20);
    g.throughput(Throughput::Elements(scattered.len() as u64));
    g.bench_function("insert_1000_scattered", |b| {
        b.iter(|| {
            let mut s = RangeSet::new();
            for &(a, e) in &scattered {
                s.insert(a, e);
            }
            black_box(s.ranges().len())
        })
    });
    let full = RangeSet::from_ranges(scattered.iter().copied());
    g.throughput(Throughput::Elements(1));
    g.bench_function("gaps_of_1000", |b| {
        b.iter(|| black_box(full.gaps(black_box(1000 << 20)).len()))
    });
    g.bench_function("fill_one_gap_of_1000", |b| {
        b.iter_batched_ref(
            || full.clone(),
            |s| s.insert(500 << 20, (501 << 20) + 1),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_control_file(c: &mut Criterion) {
    // aria2's layout keeps whole 16 KiB blocks: one round trip first gives
    // the record as it is stored.
    let cf = ControlFile::new(
        1000 << 20,
        RangeSet::from_ranges(scattered_ranges(1000, 1 << 20)),
        Some("\"6926930c-40000000\"".to_string()),
    );
    let cf = ControlFile::decode(&cf.encode()).expect("valid");
    let bytes = cf.encode();
    assert_eq!(ControlFile::decode(&bytes).as_ref(), Ok(&cf));
    let mut g = c.benchmark_group("control_file_1000_ranges");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(black_box(&cf).encode())));
    g.bench_function("decode", |b| {
        b.iter(|| black_box(ControlFile::decode(black_box(&bytes)).expect("valid")))
    });
    g.finish();
}

criterion_group!(benches, bench_range_set, bench_control_file);
criterion_main!(benches);

//! Response-head parsing and body de-framing: run once per segment request
//! and once per socket read respectively.

use std::hint::black_box;

use arietta_benches::{chunked_body, pseudo_random_bytes, NGINX_206_HEAD};
use arietta_http::{parse_head, BodyDecoder, BodyKind};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench_parse_head(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_head");
    g.throughput(Throughput::Bytes(NGINX_206_HEAD.len() as u64));
    g.bench_function("nginx_206", |b| {
        b.iter(|| {
            let (head, used) = parse_head(black_box(NGINX_206_HEAD))
                .expect("valid")
                .expect("complete");
            black_box((head.content_range().ok(), used))
        })
    });
    // A head split across reads: the incomplete prefix is re-parsed.
    let partial = &NGINX_206_HEAD[..NGINX_206_HEAD.len() - 30];
    g.bench_function("nginx_206_incomplete", |b| {
        b.iter(|| black_box(parse_head(black_box(partial)).expect("valid").is_none()))
    });
    g.finish();
}

fn bench_chunked(c: &mut Criterion) {
    const MIB: usize = 1 << 20;
    let payload = pseudo_random_bytes(MIB, 42);
    let mut g = c.benchmark_group("body_chunked_1MiB");
    g.throughput(Throughput::Bytes(MIB as u64));
    for chunk in [4 << 10, 64 << 10] {
        let framed = chunked_body(&payload, chunk);
        // The download path: framing removed in place, fed one 16 KiB socket
        // read at a time, body bytes located but not copied.
        g.bench_function(format!("next_span/chunk{}k", chunk >> 10), |b| {
            b.iter(|| {
                let mut dec = BodyDecoder::new(BodyKind::Chunked);
                let mut body = 0usize;
                for read in framed.chunks(16 << 10) {
                    let mut pos = 0;
                    while pos < read.len() {
                        let span = dec
                            .next_span(&read[pos..], usize::MAX)
                            .expect("valid framing");
                        body += span.body.len();
                        pos += span.consumed;
                        if span.finished {
                            break;
                        }
                    }
                }
                assert!(dec.is_finished());
                black_box(body)
            })
        });
        // The copying form used for small bodies.
        g.bench_function(format!("decode_copy/chunk{}k", chunk >> 10), |b| {
            let mut out = Vec::with_capacity(MIB);
            b.iter(|| {
                out.clear();
                let mut dec = BodyDecoder::new(BodyKind::Chunked);
                let (used, done) = dec.decode(black_box(&framed), &mut out).expect("valid");
                black_box((used, done, out.len()))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parse_head, bench_chunked);
criterion_main!(benches);

//! Which mirror gets the next connection, and which mirror is let go:
//! `--uri-selector` ranking by measured speed (this download's own
//! measurements first, the server stats of `--server-stat-if` and earlier
//! downloads before that), per-mirror `--lowest-speed-limit`, and the
//! server stats recorded as downloads end (`--server-stat-of`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Action, Ctx, SegmentedDownload};
use crate::config::UriSelector;
use crate::download::LogLevel;
use crate::messages::ConnId;
use crate::segment_map::SegId;
use crate::server_stat::{self, ServerStatTable};

/// aria2's feedback selector only trusts speeds above this; slower or
/// unknown servers keep their place in the list.
const FAST_ENOUGH: u64 = 20 << 10;
/// A mirror is measured (its speed trusted over the stats file) after it
/// has been writing this long.
const MEASURED_AFTER: Duration = Duration::from_secs(1);
/// A measured mirror this many times slower than the best one gets no
/// share of other connections' running segments and no new connections
/// while there is no free work for it.
const SLOW_FACTOR: u64 = 4;

/// One URI of a download (a mirror of its file).
pub(crate) struct UriState {
    pub url: String,
    /// Where redirects led; later connections go straight there.
    pub resolved: Option<String>,
    pub tries: u32,
    pub not_found: u32,
    /// How many connections were opened on it: aria2 takes a URI off its
    /// list when a connection uses it and puts the spent ones back only
    /// once every URI has been used (`--reuse-uri`), so new connections
    /// go round the mirrors instead of piling onto the best one.
    pub picks: u32,
    /// How often it stands in aria2's URI list: with fewer URIs than
    /// `-s`, aria2 repeats the list (up to `-x` times) before the first
    /// connection, so even `--reuse-uri=false` opens several connections
    /// to a lone URI.
    pub copies: u32,
    pub dead: bool,
    /// Dropped because it cannot continue the recorded progress (no
    /// ranges); revived when the download starts over from scratch.
    pub cannot_resume: bool,
    pub speed: MirrorSpeed,
}

impl UriState {
    /// A fresh mirror; schemes this engine cannot fetch start out dead.
    pub fn new(url: &str) -> Self {
        UriState {
            url: url.to_owned(),
            resolved: None,
            tries: 0,
            not_found: 0,
            cannot_resume: false,
            picks: 0,
            copies: 1,
            speed: MirrorSpeed::default(),
            dead: !["http://", "https://", "ftp://", "sftp://"]
                .iter()
                .any(|s| {
                    url.get(..s.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(s))
                }),
        }
    }

    pub fn target(&self) -> &str {
        self.resolved.as_deref().unwrap_or(&self.url)
    }

    /// The host `-x` counts connections against: aria2 caps connections
    /// per host name, whatever the port or scheme.
    pub fn host(&self) -> String {
        server_stat::key_of(self.target()).map_or_else(|| self.target().to_owned(), |(h, _)| h)
    }
}

/// This run's view of one mirror's throughput.
#[derive(Debug, Default)]
pub(crate) struct MirrorSpeed {
    /// Bytes its connections wrote.
    pub bytes: u64,
    /// `bytes` at the previous tick.
    pub tick_bytes: u64,
    /// Smoothed bytes/s over the last ticks.
    pub speed: u64,
    pub first_write: Option<Instant>,
    pub last_write: Option<Instant>,
    /// The most connections it ran at once (single or multi-connection
    /// average in the stats).
    pub max_conns: usize,
    /// Since when it has been below `--lowest-speed-limit`.
    pub slow_since: Option<Instant>,
    /// Dropped for `--lowest-speed-limit`: `status=error` in the stats.
    pub dropped_slow: bool,
}

impl MirrorSpeed {
    fn measured(&self) -> bool {
        self.first_write
            .is_some_and(|t| t.elapsed() >= MEASURED_AFTER)
    }

    /// Average over its active time, for the stats file.
    fn average(&self) -> Option<u64> {
        let (a, b) = (self.first_write?, self.last_write?);
        let secs = b.duration_since(a).as_secs_f64().max(0.05);
        Some((self.bytes as f64 / secs) as u64)
    }
}

impl SegmentedDownload {
    pub(super) fn live_uris(&self) -> impl Iterator<Item = usize> + '_ {
        self.uris
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.dead)
            .map(|(i, _)| i)
    }

    /// The best known speed of mirror `u`: measured in this download, or
    /// from the server stats; `None` when unknown or known to fail.
    fn known_speed(&self, u: usize, stats: &ServerStatTable) -> Option<u64> {
        let m = &self.uris[u].speed;
        if m.measured() {
            return Some(m.speed);
        }
        let (host, proto) = server_stat::key_of(self.uris[u].target())?;
        let s = stats.get(&host, &proto)?;
        let adaptive = self.cfg.uri_selector == UriSelector::Adaptive;
        match (s.ok, adaptive) {
            (false, _) => None,
            (true, true) => Some(s.sc_avg_speed.max(s.mc_avg_speed).max(s.dl_speed)),
            (true, false) => Some(s.speed()),
        }
    }

    fn failed_before(&self, u: usize, stats: &ServerStatTable) -> bool {
        server_stat::key_of(self.uris[u].target())
            .and_then(|(h, p)| stats.get(&h, &p).map(|s| !s.ok))
            .unwrap_or(false)
    }

    /// Live mirrors, best first, as `--uri-selector` ranks them.
    pub(super) fn ranked(&self, stats: &ServerStatTable) -> Vec<usize> {
        let mut live: Vec<usize> = self.live_uris().collect();
        match self.cfg.uri_selector {
            UriSelector::InOrder => {}
            UriSelector::Feedback => {
                // Fast known servers by speed, then the rest in list
                // order, then those that failed before (stable sort).
                live.sort_by_key(|&u| {
                    let fast = self
                        .known_speed(u, stats)
                        .filter(|&s| s > FAST_ENOUGH)
                        .unwrap_or(0);
                    (self.failed_before(u, stats), std::cmp::Reverse(fast))
                });
            }
            UriSelector::Adaptive => {
                live.sort_by_key(|&u| {
                    let known = self.known_speed(u, stats);
                    (
                        self.failed_before(u, stats),
                        std::cmp::Reverse(known.unwrap_or(0)),
                    )
                });
                if !self.conns.is_empty() {
                    // Supplementary connections explore mirrors not
                    // measured yet before going back to the best.
                    let (untested, tested): (Vec<usize>, Vec<usize>) = live
                        .iter()
                        .partition(|&&u| self.known_speed(u, stats).is_none());
                    live = untested.into_iter().chain(tested).collect();
                }
            }
        }
        live
    }

    /// Each running segment's connection speed (its mirror's measured
    /// speed shared by the mirror's connections), for splitting the one
    /// that would finish last; with unmeasured mirrors assumed as fast as
    /// the best measured one. `None` with `inorder` or nothing measured:
    /// then the largest segment is split.
    pub(super) fn segment_speeds(&self) -> Option<(HashMap<SegId, f64>, f64)> {
        if self.cfg.uri_selector == UriSelector::InOrder {
            return None;
        }
        let counts = self.conns_per_uri();
        let mut speeds = HashMap::new();
        for (conn, &seg) in &self.held {
            let Some(&u) = self.conns.get(conn) else {
                continue;
            };
            let m = &self.uris[u].speed;
            if m.measured() {
                let n = counts.get(&u).copied().unwrap_or(1).max(1);
                speeds.insert(seg, m.speed as f64 / n as f64);
            }
        }
        let best = speeds.values().copied().fold(0.0, f64::max);
        (best > 0.0).then_some((speeds, best))
    }

    fn conns_per_uri(&self) -> HashMap<usize, usize> {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &u in self.conns.values() {
            *counts.entry(u).or_default() += 1;
        }
        counts
    }

    /// Whether mirror `u` is measured and far slower than the best
    /// measured live mirror (never with `inorder`).
    pub(super) fn is_slow_mirror(&self, u: usize) -> bool {
        if self.cfg.uri_selector == UriSelector::InOrder || !self.uris[u].speed.measured() {
            return false;
        }
        let best = self
            .live_uris()
            .filter(|&v| self.uris[v].speed.measured())
            .map(|v| self.uris[v].speed.speed)
            .max()
            .unwrap_or(0);
        self.uris[u].speed.speed.saturating_mul(SLOW_FACTOR) < best
    }

    /// Counts bytes written by `conn` toward its mirror's speed.
    pub(super) fn mirror_written(&mut self, conn: ConnId, n: u64, now: Instant) {
        let Some(&u) = self.conns.get(&conn) else {
            return;
        };
        let m = &mut self.uris[u].speed;
        m.bytes += n;
        m.first_write.get_or_insert(now);
        m.last_write = Some(now);
    }

    /// Per tick: every mirror's smoothed speed, and a mirror slower than
    /// `--lowest-speed-limit` for the grace period dropped while another
    /// mirror is left (its unfetched bytes go to the others). A download
    /// with one mirror left is judged as a whole by the caller.
    pub(super) fn mirror_tick(&mut self, grace: Duration, ctx: &Ctx, out: &mut Vec<Action>) {
        let counts = self.conns_per_uri();
        let limit = self.cfg.lowest_speed_limit;
        let live = self.live_uris().count();
        let no_map = self.map.is_none();
        let mut drop = None;
        for (i, u) in self.uris.iter_mut().enumerate() {
            let m = &mut u.speed;
            let inst = m.bytes.saturating_sub(m.tick_bytes) as f64 / ctx.tick.as_secs_f64();
            m.tick_bytes = m.bytes;
            m.speed = if m.speed == 0 {
                inst as u64
            } else {
                (m.speed as f64 * 0.7 + inst * 0.3) as u64
            };
            let running = counts.get(&i).copied().unwrap_or(0);
            m.max_conns = m.max_conns.max(running);
            if limit == 0 || u.dead || running == 0 || no_map || m.speed >= limit {
                m.slow_since = None;
                continue;
            }
            let since = *m.slow_since.get_or_insert(ctx.now);
            if ctx.now.saturating_duration_since(since) > grace && live > 1 && drop.is_none() {
                drop = Some(i);
            }
        }
        if let Some(u) = drop {
            self.drop_slow_mirror(u, ctx, out);
        }
    }

    fn drop_slow_mirror(&mut self, u: usize, ctx: &Ctx, out: &mut Vec<Action>) {
        let st = &mut self.uris[u];
        st.dead = true;
        let line = format!(
            "{} stayed below --lowest-speed-limit={} ({} B/s); dropping this mirror",
            st.url, self.cfg.lowest_speed_limit, st.speed.speed
        );
        st.speed.dropped_slow = true;
        // The download as a whole is judged afresh without it.
        self.slow_since = None;
        if let Some(map) = self.map.as_mut() {
            for (c, &v) in &self.conns {
                if v != u {
                    continue;
                }
                if let Some(&seg) = self.held.get(c) {
                    map.reclaim(seg);
                }
            }
        }
        out.push(Action::Notice(LogLevel::Warn, line));
        self.add_connections(ctx, out);
    }

    /// The download ended: what its mirrors did goes into the server
    /// stats.
    pub fn record_server_stats(&self, stats: &mut ServerStatTable) {
        for u in &self.uris {
            let Some((h, p)) = server_stat::key_of(u.target()) else {
                continue;
            };
            if let Some(speed) = u.speed.average().filter(|_| u.speed.bytes > 0) {
                stats.record_speed(&h, &p, speed, u.speed.max_conns > 1);
            }
            if u.dead && (u.tries > 0 || u.speed.dropped_slow) {
                stats.record_error(&h, &p);
            }
        }
    }
}

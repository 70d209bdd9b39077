//! Which mirror gets the next connection, and which mirror is let go:
//! `--uri-selector` ranking by measured speed (this download's own
//! measurements first, the server stats of `--server-stat-if` and earlier
//! downloads before that), per-mirror `--lowest-speed-limit`, and the
//! server stats recorded as downloads end (`--server-stat-of`).

use super::*;
use crate::config::UriSelector;
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

/// This run's view of one mirror's throughput.
#[derive(Debug, Default)]
pub(super) struct MirrorSpeed {
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

impl Active {
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
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &u in self.conns.values() {
            *counts.entry(u).or_default() += 1;
        }
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
}

impl Coordinator {
    /// Counts bytes written by `conn` toward its mirror's speed.
    pub(super) fn mirror_written(&mut self, gid: Gid, conn: ConnId, n: u64) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let Some(&u) = a.conns.get(&conn) else { return };
        let now = Instant::now();
        let m = &mut a.uris[u].speed;
        m.bytes += n;
        m.first_write.get_or_insert(now);
        m.last_write = Some(now);
    }

    /// Per tick: every mirror's smoothed speed, and a mirror slower than
    /// `--lowest-speed-limit` for the grace period dropped while another
    /// mirror is left (its unfetched bytes go to the others). A download
    /// with one mirror left is judged as a whole by the caller.
    pub(super) fn mirror_tick(&mut self, gid: Gid, grace: Duration) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &u in a.conns.values() {
            *counts.entry(u).or_default() += 1;
        }
        let limit = a.cfg.lowest_speed_limit;
        let live = a.live_uris().count();
        let mut drop = None;
        for (i, u) in a.uris.iter_mut().enumerate() {
            let m = &mut u.speed;
            let inst = m.bytes.saturating_sub(m.tick_bytes) as f64 / TICK.as_secs_f64();
            m.tick_bytes = m.bytes;
            m.speed = if m.speed == 0 {
                inst as u64
            } else {
                (m.speed as f64 * 0.7 + inst * 0.3) as u64
            };
            let running = counts.get(&i).copied().unwrap_or(0);
            m.max_conns = m.max_conns.max(running);
            if limit == 0 || u.dead || running == 0 || a.map.is_none() {
                m.slow_since = None;
                continue;
            }
            if m.speed >= limit {
                m.slow_since = None;
                continue;
            }
            let since = *m.slow_since.get_or_insert_with(Instant::now);
            if since.elapsed() > grace && live > 1 && drop.is_none() {
                drop = Some(i);
            }
        }
        if let Some(u) = drop {
            self.drop_slow_mirror(gid, u);
        }
    }

    fn drop_slow_mirror(&mut self, gid: Gid, u: usize) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let st = &mut a.uris[u];
        st.dead = true;
        let line = format!(
            "{} stayed below --lowest-speed-limit={} ({} B/s); dropping this mirror",
            st.url, a.cfg.lowest_speed_limit, st.speed.speed
        );
        st.speed.dropped_slow = true;
        // The download as a whole is judged afresh without it.
        a.slow_since = None;
        let conns: Vec<ConnId> = a
            .conns
            .iter()
            .filter(|(_, &v)| v == u)
            .map(|(&c, _)| c)
            .collect();
        if let Some(map) = a.map.as_mut() {
            for c in conns {
                if let Some(&seg) = a.held.get(&c) {
                    map.reclaim(seg);
                }
            }
        }
        self.reporter.notice(LogLevel::Warn, &line);
        self.add_connections(gid);
    }

    /// A download ended: what its mirrors did goes into the server stats.
    pub(super) fn record_server_stats(&mut self, a: &Active) {
        for u in &a.uris {
            let Some((h, p)) = server_stat::key_of(u.target()) else {
                continue;
            };
            if let Some(speed) = u.speed.average().filter(|_| u.speed.bytes > 0) {
                self.stats
                    .record_speed(&h, &p, speed, u.speed.max_conns > 1);
            }
            if u.dead && (u.tries > 0 || u.speed.dropped_slow) {
                self.stats.record_error(&h, &p);
            }
        }
    }

    /// Writes `--server-stat-of` (a no-op without it).
    pub(super) fn save_server_stats(&mut self) {
        let Some(path) = self.stat_out.clone() else {
            return;
        };
        if let Err(e) = self.stats.save(&path) {
            self.reporter.notice(
                LogLevel::Error,
                &format!("Failed to save the server stats to {}: {e}", path.display()),
            );
        }
    }
}

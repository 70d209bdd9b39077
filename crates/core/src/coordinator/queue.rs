//! The download queue as aria2 keeps it: waiting downloads in order (the
//! paused ones keep their place), the `-j` limit, and the stopped results
//! with `--max-download-result`. Pure bookkeeping, unit-tested below; the
//! coordinator decides when to start what it hands out.

use std::collections::HashSet;

use crate::control::{ControlError, Whence};
use crate::download::{DownloadRequest, DownloadResult, Status};
use crate::exit_code::ExitCode;
use crate::gid::Gid;
use crate::session_file::SessionEntry;
use crate::waiting_queue::WaitingQueue;

/// `--deferred-input`: the rest of the `-i` file, read one download at a
/// time as the queue needs one (aria2's `UriListParser` behind
/// `RequestGroupMan`), so a list of millions of lines costs one entry's
/// memory instead of one queued download per line.
pub type DeferredRequests = Box<dyn Iterator<Item = DownloadRequest> + Send>;

pub(super) struct Queue {
    waiting: WaitingQueue,
    /// Downloads not read yet; `None` once the source is exhausted.
    deferred: Option<DeferredRequests>,
    /// Queued downloads that are paused (they keep their queue position).
    paused: HashSet<Gid>,
    results: Vec<DownloadResult>,
    /// Stopped downloads dropped by `--max-download-result` or removed by
    /// RPC (for `numStoppedTotal`).
    purged_total: usize,
    /// `-j`.
    max_concurrent: usize,
    /// `--max-download-result` (daemon mode only).
    max_results: Option<usize>,
    /// `--keep-unfinished-download-result`: never drop unfinished results
    /// to honour `--max-download-result` (the session must list them).
    keep_unfinished: bool,
    /// Bytes of the kept results (`getGlobalStat` for `/metrics`), so the
    /// global numbers need no pass over 20,000 results per message.
    results_completed: u64,
    /// Downloads whose status RPC shows differently since the last
    /// [`Queue::take_touched`] (queued, paused, moved out, stopped, gone).
    touched: Vec<Gid>,
}

impl Queue {
    /// `max_results`: `Some` in daemon mode, where stopped results are
    /// trimmed; a plain run keeps every result for its table.
    pub fn new(
        requests: Vec<DownloadRequest>,
        max_concurrent: usize,
        max_results: Option<usize>,
        keep_unfinished: bool,
    ) -> Self {
        let waiting = WaitingQueue::from(requests);
        let paused = waiting
            .iter()
            .filter(|r| r.options.get_bool("pause"))
            .filter_map(|r| r.gid)
            .collect();
        let touched = waiting.iter().filter_map(|r| r.gid).collect();
        Queue {
            waiting,
            deferred: None,
            paused,
            results: Vec::new(),
            purged_total: 0,
            max_concurrent: max_concurrent.max(1),
            max_results,
            keep_unfinished,
            results_completed: 0,
            touched,
        }
    }

    /// Whether anything was touched since the last
    /// [`Queue::take_touched`]: then the lists' order may have moved.
    pub fn was_touched(&self) -> bool {
        !self.touched.is_empty()
    }

    /// The downloads touched since the last call (duplicates possible).
    pub fn take_touched(&mut self) -> Vec<Gid> {
        std::mem::take(&mut self.touched)
    }

    /// Bytes completed by the kept results.
    pub fn results_completed(&self) -> u64 {
        self.results_completed
    }

    /// `-j`.
    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// `--max-download-result` changed at run time (daemon mode). As in
    /// aria2, the results past it go when the next one is added.
    pub fn set_max_results(&mut self, n: usize) {
        if self.max_results.is_some() {
            self.max_results = Some(n);
        }
    }

    pub fn set_max_concurrent(&mut self, n: usize) {
        self.max_concurrent = n.max(1);
    }

    /// Downloads to read later, after the ones queued now.
    pub fn set_deferred(&mut self, source: DeferredRequests) {
        self.deferred = Some(source);
    }

    /// Whether every waiting download is paused and nothing is left to
    /// read (nothing more will start by itself).
    pub fn only_paused_left(&self) -> bool {
        self.waiting.len() == self.paused.len() && self.deferred.is_none()
    }

    /// Queues the next deferred download, if any is left; a paused one
    /// (`pause=true` in its option lines) is queued paused and the next
    /// one read.
    fn read_deferred(&mut self) {
        while let Some(source) = self.deferred.as_mut() {
            let Some(mut req) = source.next() else {
                self.deferred = None;
                return;
            };
            let paused = req.options.get_bool("pause");
            let gid = *req.gid.get_or_insert_with(Gid::new);
            self.waiting.insert(usize::MAX, req);
            if !paused {
                return;
            }
            self.paused.insert(gid);
        }
    }

    /// `next_to_start_within` under `-j`.
    #[cfg(test)]
    pub fn next_to_start(&mut self, active: usize) -> Option<DownloadRequest> {
        self.next_to_start_within(active, self.max_concurrent)
    }

    /// The next download to start when `active` run now, or `None` when
    /// `limit` (`-j`, or what `--optimize-concurrent-downloads` allows) is
    /// reached or only paused ones wait.
    pub fn next_to_start_within(&mut self, active: usize, limit: usize) -> Option<DownloadRequest> {
        if active >= limit || !self.has_startable() {
            return None;
        }
        let i = self
            .waiting
            .iter()
            .position(|r| !r.gid.is_some_and(|g| self.paused.contains(&g)))?;
        let r = self.waiting.remove(i)?;
        self.touched.extend(r.gid);
        Some(r)
    }

    /// Whether a waiting download could start (one not paused, or a
    /// deferred `-i` line still unread, which this reads in).
    pub fn has_startable(&mut self) -> bool {
        if self.waiting.len() == self.paused.len() {
            self.read_deferred();
        }
        // When every waiting one is paused there is nothing to start (and
        // no reason to scan a daemon's 10,000-entry queue on every addUri).
        !(self.only_paused_left() || self.waiting.len() == self.paused.len())
    }

    /// Queues a request at `position` (the end when `None`); returns its
    /// GID.
    pub fn add(&mut self, mut request: DownloadRequest, position: Option<usize>) -> Gid {
        let gid = *request.gid.get_or_insert_with(Gid::new);
        if request.options.get_bool("pause") {
            self.paused.insert(gid);
        }
        let at = position.unwrap_or(usize::MAX).min(self.waiting.len());
        self.waiting.insert(at, request);
        self.touched.push(gid);
        gid
    }

    /// Puts `k`-th of a batch (a followed metalink's files) near the front;
    /// returns its GID (given now, as aria2 does, so RPC can name it while
    /// it waits).
    pub fn insert_at(&mut self, at: usize, mut request: DownloadRequest) -> Gid {
        let gid = *request.gid.get_or_insert_with(Gid::new);
        self.waiting.insert(at.min(self.waiting.len()), request);
        self.touched.push(gid);
        gid
    }

    /// A stopped active download goes back to the front, paused.
    pub fn requeue_paused(&mut self, gid: Gid, request: DownloadRequest) {
        self.waiting.push_front(request);
        self.paused.insert(gid);
        self.touched.push(gid);
    }

    pub fn contains(&self, gid: Gid) -> bool {
        self.waiting.contains(gid)
    }

    pub fn get(&self, gid: Gid) -> Option<&DownloadRequest> {
        self.waiting.get(gid)
    }

    /// A queued request to change in place (its status may change with
    /// it).
    pub fn get_mut(&mut self, gid: Gid) -> Option<&mut DownloadRequest> {
        let r = self.waiting.get_mut(gid)?;
        self.touched.push(gid);
        Some(r)
    }

    pub fn is_paused(&self, gid: Gid) -> bool {
        self.paused.contains(&gid)
    }

    /// Pauses a waiting download in place; `false` if it already was.
    pub fn pause(&mut self, gid: Gid) -> bool {
        self.touched.push(gid);
        self.paused.insert(gid)
    }

    /// `false` if it was not paused.
    pub fn unpause(&mut self, gid: Gid) -> bool {
        self.touched.push(gid);
        self.paused.remove(&gid)
    }

    pub fn unpause_all(&mut self) {
        self.touched.extend(self.paused.drain());
    }

    /// Takes a waiting download out of the queue.
    pub fn remove_waiting(&mut self, gid: Gid) -> Option<DownloadRequest> {
        let i = self.waiting.position(gid)?;
        self.paused.remove(&gid);
        self.touched.push(gid);
        self.waiting.remove(i)
    }

    pub fn waiting(&self) -> impl Iterator<Item = &DownloadRequest> + '_ {
        self.waiting.iter()
    }

    /// The waiting GIDs in queue order.
    pub fn waiting_gids(&self) -> impl ExactSizeIterator<Item = Gid> + '_ {
        self.waiting.gids()
    }

    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// `aria2.changePosition`: the new position, clamped to the queue.
    pub fn change_position(
        &mut self,
        gid: Gid,
        pos: i64,
        whence: Whence,
    ) -> Result<usize, ControlError> {
        // aria2's words for any GID not queued (an active one included).
        let i = self
            .waiting
            .position(gid)
            .ok_or_else(|| ControlError(format!("GID#{gid} not found in the waiting queue.")))?;
        let len = self.waiting.len() as i64;
        let target = match whence {
            Whence::Set => pos,
            Whence::Cur => i as i64 + pos,
            Whence::End => len - 1 + pos,
        }
        .clamp(0, len - 1) as usize;
        let req = self.waiting.remove(i).expect("index from position");
        self.waiting.insert(target, req);
        Ok(target)
    }

    pub fn results(&self) -> &[DownloadResult] {
        &self.results
    }

    pub fn into_results(self) -> Vec<DownloadResult> {
        self.results
    }

    pub fn stopped_total(&self) -> usize {
        self.results.len() + self.purged_total
    }

    /// Records a stopped download; in daemon mode the oldest results go
    /// past `--max-download-result` (unfinished ones survive when asked
    /// to).
    pub fn push_result(&mut self, r: DownloadResult) {
        self.touched.push(r.gid);
        self.results_completed += r.completed;
        self.results.push(r);
        let Some(max) = self.max_results else { return };
        while self.results.len() > max {
            let victim = self
                .results
                .iter()
                .position(|r| !(self.keep_unfinished && unfinished(r)));
            let Some(i) = victim else { break };
            let gone = self.results.remove(i);
            self.forget_result(&gone);
            self.purged_total += 1;
        }
    }

    fn forget_result(&mut self, r: &DownloadResult) {
        self.touched.push(r.gid);
        self.results_completed -= r.completed;
    }

    /// `aria2.removeDownloadResult`.
    pub fn remove_result(&mut self, gid: Gid) -> Result<(), ControlError> {
        let before = self.results.len();
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.results)
            .into_iter()
            .partition(|r| r.gid == gid);
        self.results = kept;
        for r in &gone {
            self.forget_result(r);
        }
        // aria2's numStoppedTotal counts results removed by RPC too.
        self.purged_total += before - self.results.len();
        if self.results.len() < before {
            Ok(())
        } else {
            Err(ControlError(format!(
                "Could not remove download result of GID#{gid}"
            )))
        }
    }

    /// `aria2.purgeDownloadResult`.
    pub fn purge_results(&mut self) {
        self.purged_total += self.results.len();
        self.touched.extend(self.results.iter().map(|r| r.gid));
        self.results.clear();
        self.results_completed = 0;
    }

    /// The session file's entries after the active ones: waiting (paused
    /// marked) in queue order, then the results that stopped unfinished
    /// (interrupted, errors), as aria2 keeps them so a restart retries.
    pub fn session_entries(&self) -> impl Iterator<Item = SessionEntry> + '_ {
        let waiting = self.waiting.iter().map(|r| SessionEntry {
            request: r.clone(),
            paused: r.gid.is_some_and(|g| self.paused.contains(&g)),
        });
        let stopped = self
            .results
            .iter()
            .filter(|r| unfinished(r) && (!not_found(r) || r.options.get_bool("save-not-found")))
            .map(|r| SessionEntry {
                request: DownloadRequest {
                    gid: Some(r.gid),
                    uris: r.uris.clone(),
                    options: r.options.clone(),
                    metalink: None,
                    snapshot: None,
                    torrent: None,
                },
                paused: false,
            });
        waiting.chain(stopped)
    }
}

fn unfinished(r: &DownloadResult) -> bool {
    r.status == Status::Error || r.code == ExitCode::Unfinished
}

/// Failed because the server had no such file: saved in the session only
/// with `--save-not-found` (the default), as aria2's `SessionSerializer`.
fn not_found(r: &DownloadResult) -> bool {
    matches!(r.code, ExitCode::NotFound | ExitCode::MaxFileNotFound)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use arietta_options::OptionSet;

    use super::*;

    fn req(gid: u64, pause: bool) -> DownloadRequest {
        let mut o = OptionSet::default();
        if pause {
            o.set("pause", "true").unwrap();
        }
        DownloadRequest {
            gid: Some(Gid(gid)),
            uris: vec![format!("http://h/{gid}")],
            options: Arc::new(o),
            metalink: None,
            snapshot: None,
            torrent: None,
        }
    }

    fn result(gid: u64, status: Status, code: ExitCode) -> DownloadResult {
        DownloadResult {
            gid: Gid(gid),
            status,
            code,
            message: None,
            path: None,
            uri: String::new(),
            uris: vec![],
            options: Arc::new(OptionSet::default()),
            completed: 0,
            session_bytes: 0,
            total: 0,
            elapsed: Duration::ZERO,
            snapshot: None,
        }
    }

    #[test]
    fn starts_in_order_skipping_paused_up_to_j() {
        let mut q = Queue::new(
            vec![req(1, true), req(2, false), req(3, false)],
            1,
            None,
            false,
        );
        assert_eq!(q.next_to_start(0).and_then(|r| r.gid), Some(Gid(2)));
        assert!(q.next_to_start(1).is_none(), "-j1 is full");
        assert_eq!(q.next_to_start(0).and_then(|r| r.gid), Some(Gid(3)));
        assert!(q.only_paused_left());
        assert!(q.next_to_start(0).is_none());
        assert!(q.unpause(Gid(1)));
        assert_eq!(q.next_to_start(0).and_then(|r| r.gid), Some(Gid(1)));
    }

    #[test]
    fn pause_twice_is_refused_and_requeue_goes_first() {
        let mut q = Queue::new(vec![req(1, false)], 5, None, false);
        assert!(q.pause(Gid(1)));
        assert!(!q.pause(Gid(1)));
        q.requeue_paused(Gid(9), req(9, false));
        let order: Vec<_> = q.waiting().filter_map(|r| r.gid).collect();
        assert_eq!(order, vec![Gid(9), Gid(1)]);
        assert!(q.is_paused(Gid(9)));
    }

    #[test]
    fn change_position_clamps_like_aria2() {
        let mut q = Queue::new((1..=4).map(|g| req(g, false)).collect(), 1, None, false);
        assert_eq!(q.change_position(Gid(1), 10, Whence::Set).unwrap(), 3);
        assert_eq!(q.change_position(Gid(1), -2, Whence::Cur).unwrap(), 1);
        assert_eq!(q.change_position(Gid(4), 0, Whence::End).unwrap(), 3);
        assert!(q.change_position(Gid(77), 0, Whence::Set).is_err());
    }

    #[test]
    fn results_trimmed_in_daemon_mode_keeping_unfinished() {
        let mut q = Queue::new(vec![], 1, Some(2), true);
        q.push_result(result(1, Status::Error, ExitCode::Unknown));
        q.push_result(result(2, Status::Complete, ExitCode::Success));
        q.push_result(result(3, Status::Complete, ExitCode::Success));
        let gids: Vec<_> = q.results().iter().map(|r| r.gid).collect();
        assert_eq!(gids, vec![Gid(1), Gid(3)]);
        assert_eq!(q.stopped_total(), 3);
        assert!(q.remove_result(Gid(3)).is_ok());
        assert!(q.remove_result(Gid(3)).is_err());
        assert_eq!(q.stopped_total(), 3);
        let session: Vec<_> = q.session_entries().map(|e| e.request.gid).collect();
        assert_eq!(session, vec![Some(Gid(1))]);
    }

    #[test]
    fn not_found_results_are_saved_unless_save_not_found_is_off() {
        let mut q = Queue::new(vec![], 1, None, true);
        q.push_result(result(1, Status::Error, ExitCode::NotFound));
        let mut off = result(2, Status::Error, ExitCode::MaxFileNotFound);
        off.options = Arc::new(OptionSet::from_pairs([("save-not-found", "false")]).unwrap());
        q.push_result(off);
        let mut other = result(3, Status::Error, ExitCode::Unknown);
        other.options = Arc::new(OptionSet::from_pairs([("save-not-found", "false")]).unwrap());
        q.push_result(other);
        let session: Vec<_> = q.session_entries().map(|e| e.request.gid).collect();
        assert_eq!(session, vec![Some(Gid(1)), Some(Gid(3))]);
    }

    #[test]
    fn deferred_requests_are_read_only_when_a_slot_needs_one() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let read = Arc::new(AtomicUsize::new(0));
        let counter = read.clone();
        let source = (10..14).map(move |g| {
            counter.fetch_add(1, Ordering::Relaxed);
            req(g, g == 11)
        });
        let mut q = Queue::new(vec![req(1, false)], 1, None, false);
        q.set_deferred(Box::new(source));
        assert!(!q.only_paused_left());
        assert_eq!(q.next_to_start(0).unwrap().gid, Some(Gid(1)));
        assert_eq!(
            read.load(Ordering::Relaxed),
            0,
            "nothing read while the queue had one"
        );
        assert!(q.next_to_start(1).is_none(), "-j1 is full");
        assert_eq!(read.load(Ordering::Relaxed), 0);
        assert_eq!(q.next_to_start(0).unwrap().gid, Some(Gid(10)));
        // 11 is paused: queued in place, and 12 read to start.
        assert_eq!(q.next_to_start(0).unwrap().gid, Some(Gid(12)));
        assert!(q.is_paused(Gid(11)));
        assert_eq!(q.next_to_start(0).unwrap().gid, Some(Gid(13)));
        assert!(q.next_to_start(0).is_none());
        assert!(q.only_paused_left(), "the source is exhausted");
    }
}

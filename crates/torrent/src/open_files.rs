//! `--bt-max-open-files`: the file handles of one torrent on one core, kept
//! in a least-recently-used set so a torrent with thousands of files never
//! holds more than the cap open (aria2 closes the oldest the same way).
//!
//! Every peer task of the torrent on a core shares one [`OpenFiles`]: a
//! per-connection table would multiply the cap by the number of peers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use glommio::io::{BufferedFile, OpenOptions};
use glommio::sync::{Semaphore, StaticPermit};

use crate::layout::Layout;

/// A bounded map that forgets its least recently used entry; pure, so the
/// eviction order is unit-tested without a runtime.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    cap: usize,
    tick: u64,
    entries: HashMap<K, (u64, V)>,
}

impl<K: std::hash::Hash + Eq + Copy, V: Clone> Lru<K, V> {
    /// `cap` of 0 is taken as 1: a write always needs its own file open.
    pub(crate) fn new(cap: usize) -> Self {
        Lru {
            cap: cap.max(1),
            tick: 0,
            entries: HashMap::new(),
        }
    }

    /// The value for `k`, marked as just used.
    pub(crate) fn get(&mut self, k: &K) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(k).map(|e| {
            e.0 = tick;
            e.1.clone()
        })
    }

    /// Adds `k`, returning the entry pushed out to stay within the cap.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<(K, V)> {
        self.tick += 1;
        let mut evicted = None;
        if !self.entries.contains_key(&k) && self.entries.len() >= self.cap {
            // Linear scan: the cap is small (aria2's default is 100) and an
            // open costs far more than this.
            evicted = self.pop_oldest();
        }
        self.entries.insert(k, (self.tick, v));
        evicted
    }

    /// Forgets the least recently used entry.
    pub(crate) fn pop_oldest(&mut self) -> Option<(K, V)> {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, (t, _))| *t)
            .map(|(k, _)| *k)?;
        self.entries.remove(&oldest).map(|(_, v)| (oldest, v))
    }

    pub(crate) fn contains(&self, k: &K) -> bool {
        self.entries.contains_key(k)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// An open file of the torrent; the descriptor counts against the cap
/// until the last user drops it (an evicted handle still in use by a read
/// or write keeps its place until that finishes).
pub(crate) struct Handle {
    // Dropped first: the descriptor goes before the permit returns.
    file: BufferedFile,
    _permit: StaticPermit,
}

impl std::ops::Deref for Handle {
    type Target = BufferedFile;
    fn deref(&self) -> &BufferedFile {
        &self.file
    }
}

/// One torrent's open files on this core.
pub(crate) struct OpenFiles {
    layout: Arc<Layout>,
    open: RefCell<Lru<usize, Rc<Handle>>>,
    /// One unit per descriptor (cached, evicted but in use, or opening):
    /// what makes the cap hold even with many writes in flight.
    permits: Rc<Semaphore>,
}

thread_local! {
    /// Per core: the live [`OpenFiles`] of each torrent, keyed by its
    /// layout's address (alive while any peer task holds the cache, which
    /// holds the layout, so the address cannot be reused meanwhile).
    static CACHES: RefCell<HashMap<usize, Weak<OpenFiles>>> = RefCell::new(HashMap::new());
}

impl OpenFiles {
    /// This core's cache for `layout`'s torrent, made on first use; `cap` is
    /// `--bt-max-open-files` (the first peer task on the core sets it).
    pub(crate) fn for_torrent(layout: &Arc<Layout>, cap: usize) -> Rc<OpenFiles> {
        let key = Arc::as_ptr(layout) as usize;
        CACHES.with(|c| {
            let mut c = c.borrow_mut();
            c.retain(|_, w| w.strong_count() > 0);
            if let Some(f) = c.get(&key).and_then(Weak::upgrade) {
                return f;
            }
            let cap = cap.max(1);
            let f = Rc::new(OpenFiles {
                layout: layout.clone(),
                open: RefCell::new(Lru::new(cap)),
                permits: Rc::new(Semaphore::new(cap as u64)),
            });
            c.insert(key, Rc::downgrade(&f));
            f
        })
    }

    pub(crate) fn is_open(&self, i: usize) -> bool {
        self.open.borrow().contains(&i)
    }

    /// File `i` of the stream, opened (and created) if needed. Callers hold
    /// one handle at a time, so every permit in use comes back.
    pub(crate) async fn get(&self, i: usize) -> std::io::Result<Rc<Handle>> {
        if let Some(f) = self.open.borrow_mut().get(&i) {
            return Ok(f);
        }
        let permit = loop {
            if let Ok(p) = self.permits.try_acquire_static_permit(1) {
                break p;
            }
            // Drop the least recently used from the cache: its permit
            // returns now, or when its last in-flight use ends. With the
            // cache empty every permit is in a read, write or open that
            // ends soon; waiting on the semaphore itself could sleep
            // forever once those land in the cache idle.
            if self.open.borrow_mut().pop_oldest().is_none() {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        };
        if let Some(f) = self.open.borrow_mut().get(&i) {
            return Ok(f);
        }
        let path = &self.layout.files[i].path;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .buffered_open(path)
            .await
            .map_err(std::io::Error::from)?;
        let f = Rc::new(Handle {
            file,
            _permit: permit,
        });
        // Another task may have opened it while this one waited: keep one.
        if let Some(existing) = self.open.borrow_mut().get(&i) {
            return Ok(existing);
        }
        // Cannot evict: the cache never holds more entries than permits.
        let _ = self.open.borrow_mut().insert(i, f.clone());
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_the_least_recently_used_and_stays_within_the_cap() {
        let mut l: Lru<usize, &str> = Lru::new(2);
        assert_eq!(l.insert(1, "a"), None);
        assert_eq!(l.insert(2, "b"), None);
        // Touching 1 makes 2 the oldest.
        assert_eq!(l.get(&1), Some("a"));
        assert_eq!(l.insert(3, "c"), Some((2, "b")));
        assert_eq!(l.len(), 2);
        assert!(l.contains(&1) && l.contains(&3) && !l.contains(&2));
        assert_eq!(l.insert(4, "d"), Some((1, "a")));
        // Re-inserting a present key evicts nothing.
        assert_eq!(l.insert(4, "e"), None);
        assert_eq!(l.get(&4), Some("e"));
        assert_eq!(l.pop_oldest(), Some((3, "c")));
        for k in 10..300 {
            l.insert(k, "x");
            assert!(l.len() <= 2);
        }
    }

    #[test]
    fn a_zero_cap_still_holds_one() {
        let mut l: Lru<u8, u8> = Lru::new(0);
        assert_eq!(l.insert(1, 1), None);
        assert_eq!(l.insert(2, 2), Some((1, 1)));
        assert_eq!(l.len(), 1);
    }
}

//! A small time-bounded cache of API answers keyed by URL, so paging back and forth or
//! reopening a repository does not ask the Hub again (and spends less of its rate limit).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Answers kept for `ttl`, at most `capacity` of them (the oldest go first).
#[derive(Debug)]
pub struct Cache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, serde_json::Value)>>,
}

impl Cache {
    /// An empty cache; a zero `ttl` keeps nothing.
    pub fn new(ttl: Duration, capacity: usize) -> Cache {
        Cache {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The answer stored for `key`, if still fresh.
    pub fn get(&self, key: &str) -> Option<serde_json::Value> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Stores an answer, dropping stale entries and, when full, the oldest.
    pub fn put(&self, key: String, value: serde_json::Value) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let ttl = self.ttl;
        entries.retain(|_, (at, _)| at.elapsed() < ttl);
        while entries.len() >= self.capacity {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_oldest_make_room() {
        let cache = Cache::new(Duration::from_millis(200), 2);
        cache.put("a".into(), 1.into());
        cache.put("b".into(), 2.into());
        cache.put("c".into(), 3.into());
        assert_eq!(cache.get("a"), None, "the oldest made room");
        assert_eq!(cache.get("c"), Some(3.into()));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(cache.get("c"), None, "expired");
        let off = Cache::new(Duration::ZERO, 4);
        off.put("a".into(), 1.into());
        assert_eq!(off.get("a"), None);
    }
}

//! A small memo for values that are costly to build and asked for again
//! and again with the same key — parsed queries (a dashboard repeats its
//! queries every refresh) and compiled regular expressions. Bounded: when
//! full it starts over, which keeps it simple and its memory fixed.

use pharos_agent::sync::LockExt;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

pub struct Memo<K, V> {
    map: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Memo<K, V> {
        Memo {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value for `key`, made by `make` (outside the lock) when absent.
    /// Errors are not remembered.
    pub fn get_or_try<Q, E>(&self, key: &Q, make: impl FnOnce() -> Result<V, E>) -> Result<V, E>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(v) = self.lock().get(key) {
            return Ok(v.clone());
        }
        let v = make()?;
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key.to_owned(), v.clone());
        Ok(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        self.map.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;

    #[test]
    fn remembers_values_not_errors_and_stays_bounded() {
        let m: Memo<String, u32> = Memo::new(2);
        let mut calls = 0;
        let mut get = |k: &str, v: Result<u32, ()>| {
            m.get_or_try(k, || {
                calls += 1;
                v
            })
        };
        assert_eq!(get("a", Ok(1)), Ok(1));
        assert_eq!(get("a", Ok(9)), Ok(1), "remembered");
        assert_eq!(get("b", Err(())), Err(()));
        assert_eq!(get("b", Ok(2)), Ok(2), "errors are not remembered");
        assert_eq!(get("c", Ok(3)), Ok(3), "full: starts over");
        assert_eq!(get("a", Ok(4)), Ok(4));
        assert_eq!(calls, 5);
    }
}

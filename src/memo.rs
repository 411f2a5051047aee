//! A map of results already computed, shared between threads and clones: the caches that
//! let the benchmark's four methods, and `--k tested`'s rounds, measure each thing once
//! ([`crate::audit::Holdout`], [`crate::method::causal::EffectCache`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

/// Values by the key of everything they were computed from. Clones share one map. A hit
/// returns exactly what computing again would, so a cache changes only how long a run takes.
#[derive(Clone)]
pub(crate) struct Memo<K, V>(Arc<Mutex<HashMap<K, V>>>);

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo(Arc::default())
    }
}

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    /// The map, locked. A poisoned lock still holds whole values (each is inserted at once).
    fn map(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value stored under `key`, if any.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.map().get(key).cloned()
    }

    /// Stores `value` under `key`.
    pub(crate) fn insert(&self, key: K, value: V) {
        self.map().insert(key, value);
    }

    /// The value under `key`, computed with `compute` (outside the lock) the first time.
    pub(crate) fn get_or_try_insert<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        let value = compute()?;
        self.insert(key, value.clone());
        Ok(value)
    }

    /// The value under `key`, a default one stored the first time.
    pub(crate) fn get_or_default(&self, key: K) -> V
    where
        V: Default,
    {
        self.map().entry(key).or_default().clone()
    }

    /// How many values are stored.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_computed_once_per_key_and_clones_share_it() {
        let memo: Memo<u32, String> = Memo::default();
        let shared = memo.clone();
        let mut computed = 0;
        let mut get = |m: &Memo<u32, String>, k: u32| {
            m.get_or_try_insert(k, || {
                computed += 1;
                Ok::<_, ()>(format!("value {k}"))
            })
            .unwrap()
        };
        assert_eq!(get(&memo, 1), "value 1");
        assert_eq!(get(&shared, 1), "value 1");
        assert_eq!(get(&shared, 2), "value 2");
        assert_eq!(computed, 2);
        assert_eq!(memo.len(), 2);
    }

    #[test]
    fn a_default_is_stored_once_and_shared() {
        let memo: Memo<u32, Memo<u32, u32>> = Memo::default();
        memo.get_or_default(1).insert(7, 8);
        assert_eq!(memo.get_or_default(1).get(&7), Some(8));
        assert_eq!(memo.get_or_default(2).get(&7), None);
    }

    #[test]
    fn a_failed_computation_stores_nothing() {
        let memo: Memo<u32, u32> = Memo::default();
        assert_eq!(memo.get_or_try_insert(1, || Err("no")), Err("no"));
        assert_eq!(memo.get(&1), None);
        assert_eq!(memo.get_or_try_insert(1, || Ok::<_, &str>(7)), Ok(7));
    }
}

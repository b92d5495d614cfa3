//! The store's metrics on `/metrics`: samples appended and refused, head
//! series and chunks, database and WAL sizes, and the exemplar store's
//! `prometheus_tsdb_exemplar_*`.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::Storage;
use crate::metrics::{counter, gauge};

/// A collector of `storage`'s statistics, for [`crate::metrics::Registry`].
pub fn collector(storage: &Arc<Storage>) -> Box<dyn Collector> {
    Box::new(StorageCollector {
        storage: Arc::clone(storage),
    })
}

/// Reads storage statistics at scrape time.
pub struct StorageCollector {
    storage: Arc<Storage>,
}

impl fmt::Debug for StorageCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageCollector")
    }
}

impl Collector for StorageCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let st = &self.storage.stats;
        let c = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        // Counter names get `_total` from the encoder.
        counter(
            &mut e,
            "pharos_storage_samples_appended",
            "Samples appended to the head.",
            c(&st.samples_appended),
        )?;
        counter(
            &mut e,
            "pharos_storage_out_of_order_samples",
            "Samples refused as out of order.",
            c(&st.samples_out_of_order),
        )?;
        counter(
            &mut e,
            "pharos_storage_duplicate_samples",
            "Samples refused as duplicates with a different value.",
            c(&st.samples_duplicate),
        )?;
        counter(
            &mut e,
            "pharos_storage_out_of_bounds_samples",
            "Samples refused as too far in the future or older than retention.",
            c(&st.samples_out_of_bounds),
        )?;
        counter(
            &mut e,
            "pharos_storage_chunks_sealed",
            "Head chunks persisted by the sealer.",
            c(&st.chunks_sealed),
        )?;
        counter(
            &mut e,
            "pharos_storage_chunks_deleted",
            "Chunks deleted by retention.",
            c(&st.chunks_deleted),
        )?;
        counter(
            &mut e,
            "pharos_storage_series_deleted",
            "Series deleted by retention.",
            c(&st.series_deleted),
        )?;
        gauge(
            &mut e,
            "pharos_storage_wal_records_replayed",
            "Write-ahead records replayed at the last start.",
            c(&st.wal_records_replayed),
        )?;
        gauge(
            &mut e,
            "pharos_storage_head_series",
            "Series in the index.",
            self.storage.series_count() as f64,
        )?;
        gauge(
            &mut e,
            "pharos_storage_head_memory_bytes",
            "Approximate heap bytes of the head and index.",
            self.storage.head_mem_bytes() as f64,
        )?;
        let db = std::fs::metadata(self.storage.dir().join(crate::storage::DB_FILE))
            .map_or(0, |m| m.len());
        gauge(
            &mut e,
            "pharos_storage_database_bytes",
            "Size of the database file.",
            db as f64,
        )?;
        gauge(
            &mut e,
            "pharos_storage_sqlite_wal_bytes",
            "Size of SQLite's write-ahead file beside the database.",
            self.storage.sqlite_wal_bytes() as f64,
        )?;
        // The exemplar store, under Prometheus's names and help texts.
        let ex = self.storage.exemplars.stats();
        counter(
            &mut e,
            "prometheus_tsdb_exemplar_exemplars_appended",
            "Total number of appended exemplars.",
            ex.appended as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_exemplars_in_storage",
            "Number of exemplars currently in circular storage.",
            ex.in_storage as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
            "Number of series with exemplars currently in circular storage.",
            ex.series as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_max_exemplars",
            "Total number of exemplars the exemplar storage can store, resizeable.",
            ex.max as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds",
            "The timestamp of the oldest exemplar stored in circular storage. Useful to check for what time range the current exemplar buffer limit allows.",
            ex.oldest_seconds,
        )?;
        counter(
            &mut e,
            "prometheus_tsdb_exemplar_out_of_order_exemplars",
            "Total number of out of order exemplar ingestion failed attempts.",
            ex.out_of_order as f64,
        )?;
        Ok(())
    }
}

//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod fakes;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use kav_server::Store;
use sqlx::Connection as _;

/// A folder under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).unwrap();
        let path = std::env::temp_dir().join(format!(
            "kav-server-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            hex::encode(random)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh SQLite store in its own folder.
pub async fn sqlite_store() -> (Store, TempDir) {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("kav.db").display());
    let store = Store::connect(&url, dir.path()).await.unwrap();
    (store, dir)
}

/// A PostgreSQL store in a fresh schema, when `KAV_TEST_POSTGRES_URL` is set.
pub struct PgSchema {
    pub store: Store,
    pub url: String,
    pub schema: String,
    _dir: TempDir,
}

impl PgSchema {
    pub async fn new() -> Option<Self> {
        let Ok(base) = std::env::var("KAV_TEST_POSTGRES_URL") else {
            eprintln!("KAV_TEST_POSTGRES_URL is not set: PostgreSQL cases skipped");
            return None;
        };
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let schema = format!("kav_test_{}", hex::encode(random));
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let dir = TempDir::new();
        let store = Store::connect(&url, dir.path()).await.unwrap();
        Some(Self {
            store,
            url,
            schema,
            _dir: dir,
        })
    }

    /// Drops the schema (call at the end of the test).
    pub async fn drop_schema(self) {
        self.store.close().await;
        let base = std::env::var("KAV_TEST_POSTGRES_URL").unwrap();
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

use super::*;

const V2: Migration = Migration {
    version: 2,
    name: "alert_rules",
    sql: "CREATE TABLE alert_rules (name TEXT PRIMARY KEY) STRICT;",
};

fn applied(db: &StateDb) -> Vec<(u32, String)> {
    let connection = db.connection.lock().unwrap();
    let mut statement = connection
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap();
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test]
async fn fresh_file_gets_every_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).await.unwrap();
    assert_eq!(db.path(), dir.path().join("sightline.db"));
    assert_eq!(db.schema_version().await.unwrap(), 3);
    let all = [
        (1, "health_checks".to_string()),
        (2, "alerting".to_string()),
        (3, "api_tokens".to_string()),
    ];
    assert_eq!(applied(&db), all);
    drop(db);
    let again = StateDb::open(dir.path()).await.unwrap();
    assert_eq!(applied(&again), all);
}

#[test]
fn later_migrations_apply_on_top_and_keep_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join("sightline.db");
    let db = StateDb::open_blocking(&path, &MIGRATIONS[..1]).unwrap();
    db.connection
        .lock()
        .unwrap()
        .execute(
            "INSERT INTO health_checks VALUES ('default', 'web', '{}', 1, 1)",
            [],
        )
        .unwrap();
    drop(db);
    let upgraded = StateDb::open_blocking(&path, &[MIGRATIONS[0], V2]).unwrap();
    assert_eq!(
        applied(&upgraded),
        [
            (1, "health_checks".to_string()),
            (2, "alert_rules".to_string())
        ]
    );
    let connection = upgraded.connection.lock().unwrap();
    let kept: i64 = connection
        .query_row("SELECT count(*) FROM health_checks", [], |row| row.get(0))
        .unwrap();
    assert_eq!(kept, 1);
    assert_eq!(user_version(&connection).unwrap(), 2);
}

#[test]
fn a_newer_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sightline.db");
    drop(StateDb::open_blocking(&path, &[MIGRATIONS[0], V2]).unwrap());
    let error = StateDb::open_blocking(&path, &MIGRATIONS[..1]).unwrap_err();
    assert!(
        matches!(
            error,
            StateDbError::NewerSchema {
                found: 2,
                known: 1,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_failed_migration_leaves_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sightline.db");
    drop(StateDb::open_blocking(&path, &MIGRATIONS[..1]).unwrap());
    let broken = Migration {
        version: 2,
        name: "broken",
        sql: "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;",
    };
    let error = StateDb::open_blocking(&path, &[MIGRATIONS[0], broken]).unwrap_err();
    assert!(
        error.to_string().contains("apply migration 2 (broken)"),
        "{error}"
    );
    let db = StateDb::open_blocking(&path, &MIGRATIONS[..1]).unwrap();
    let connection = db.connection.lock().unwrap();
    assert_eq!(user_version(&connection).unwrap(), 1);
    let half: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'half'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(
        half, 0,
        "the failed migration's first statement was rolled back"
    );
}

#[test]
fn misnumbered_migrations_are_a_bug() {
    let dir = tempfile::tempdir().unwrap();
    let skipped = Migration { version: 3, ..V2 };
    let error =
        StateDb::open_blocking(&dir.path().join("x.db"), &[MIGRATIONS[0], skipped]).unwrap_err();
    assert!(
        matches!(error, StateDbError::BadMigrationList(_)),
        "{error}"
    );
}

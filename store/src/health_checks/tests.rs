use sightline_model::ProbeKind;

use super::*;

fn tcp(name: &str, address: &str) -> HealthCheckDefinition {
    HealthCheckDefinition {
        name: name.to_string(),
        service: "orders".to_string(),
        probe: ProbeKind::Tcp,
        url: None,
        expected_status: None,
        address: Some(address.to_string()),
        grpc_service: None,
        interval: Some("10s".to_string()),
        timeout: None,
        enabled: true,
    }
}

fn spec(name: &str) -> HealthCheckSpec {
    tcp(name, "config-host:1").validate().unwrap()
}

async fn open(dir: &std::path::Path, config: Vec<HealthCheckSpec>) -> HealthCheckRegistry {
    let db = StateDb::open(dir).await.unwrap();
    HealthCheckRegistry::open(db, config).await.unwrap()
}

fn names(entries: &[HealthCheckEntry]) -> Vec<(&str, HealthCheckSource)> {
    entries
        .iter()
        .map(|entry| (entry.spec.name.as_str(), entry.source))
        .collect()
}

#[tokio::test]
async fn crud_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let registry = open(dir.path(), vec![spec("from-config")]).await;
    let mut changes = registry.subscribe();
    let created = registry
        .create(&tenant, &tcp("db", "db:5432"))
        .await
        .unwrap();
    assert_eq!(created.source, HealthCheckSource::Api);
    assert!(changes.has_changed().unwrap());
    changes.mark_unchanged();
    registry.create(&tenant, &tcp("gone", "x:1")).await.unwrap();
    registry.delete(&tenant, "gone").await.unwrap();
    assert!(changes.has_changed().unwrap());
    let replaced = registry
        .replace(&tenant, "db", &tcp("db", "db:6432"))
        .await
        .unwrap();
    assert_eq!(replaced.spec.target.instance(), "db:6432");
    assert_eq!(
        names(&registry.list(&tenant)),
        [
            ("db", HealthCheckSource::Api),
            ("from-config", HealthCheckSource::Config)
        ]
    );
    drop(registry);

    let reopened = open(dir.path(), vec![spec("from-config")]).await;
    assert_eq!(
        names(&reopened.list(&tenant)),
        [
            ("db", HealthCheckSource::Api),
            ("from-config", HealthCheckSource::Config)
        ]
    );
    assert_eq!(
        reopened.get(&tenant, "db").unwrap().spec.target.instance(),
        "db:6432"
    );
    assert!(matches!(
        reopened.get(&tenant, "gone"),
        Err(RegistryError::NotFound { .. })
    ));
    let row = stored_row(&reopened.inner.db, "default", "db")
        .await
        .unwrap();
    assert!(row.contains("\"interval\":\"10s\""), "{row}");
}

#[tokio::test]
async fn errors_have_the_right_class() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let registry = open(dir.path(), vec![spec("from-config")]).await;
    registry
        .create(&tenant, &tcp("db", "db:5432"))
        .await
        .unwrap();

    let duplicate = registry
        .create(&tenant, &tcp("db", "x:1"))
        .await
        .unwrap_err();
    assert_eq!(duplicate.class(), ErrorClass::Conflict);
    let shadow = registry
        .create(&tenant, &tcp("from-config", "x:1"))
        .await
        .unwrap_err();
    assert_eq!(shadow.class(), ErrorClass::Conflict);
    let read_only = registry
        .replace(&tenant, "from-config", &tcp("from-config", "x:1"))
        .await
        .unwrap_err();
    assert!(
        matches!(read_only, RegistryError::ReadOnly { .. }),
        "{read_only}"
    );
    assert_eq!(read_only.class(), ErrorClass::InvalidInput);
    let delete_config = registry.delete(&tenant, "from-config").await.unwrap_err();
    assert!(matches!(delete_config, RegistryError::ReadOnly { .. }));
    let missing = registry.delete(&tenant, "nope").await.unwrap_err();
    assert_eq!(missing.class(), ErrorClass::NotFound);
    let rename = registry
        .replace(&tenant, "db", &tcp("db2", "x:1"))
        .await
        .unwrap_err();
    assert!(matches!(rename, RegistryError::Rename { .. }));
    let invalid = registry
        .create(&tenant, &tcp("bad", "no-port"))
        .await
        .unwrap_err();
    assert_eq!(invalid.class(), ErrorClass::InvalidInput);
    assert!(invalid.to_string().contains("address:"), "{invalid}");
}

#[tokio::test]
async fn tenants_are_apart() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path(), Vec::new()).await;
    let team_a = TenantId::new("team-a").unwrap();
    registry
        .create(&team_a, &tcp("db", "db:5432"))
        .await
        .unwrap();
    registry
        .create(&TenantId::default_tenant(), &tcp("db", "other:5432"))
        .await
        .unwrap();
    assert_eq!(registry.list(&team_a).len(), 1);
    assert_eq!(registry.snapshot().len(), 2);
    drop(registry);
    let reopened = open(dir.path(), Vec::new()).await;
    assert_eq!(reopened.get(&team_a, "db").unwrap().tenant, team_a);
}

#[tokio::test]
async fn config_wins_over_a_stored_target_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let registry = open(dir.path(), Vec::new()).await;
    registry
        .create(&tenant, &tcp("db", "api-host:1"))
        .await
        .unwrap();
    drop(registry);
    let reopened = open(dir.path(), vec![spec("db")]).await;
    let entry = reopened.get(&tenant, "db").unwrap();
    assert_eq!(entry.source, HealthCheckSource::Config);
    assert_eq!(entry.spec.target.instance(), "config-host:1");
    let duplicate_config = HealthCheckRegistry::open(
        StateDb::open(dir.path()).await.unwrap(),
        vec![spec("x"), spec("x")],
    )
    .await;
    assert!(duplicate_config.is_err());
}

#[tokio::test]
async fn results_of_a_replaced_target_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let registry = open(dir.path(), Vec::new()).await;
    let old = registry
        .create(&tenant, &tcp("db", "a:1"))
        .await
        .unwrap()
        .spec;
    let result = ProbeResult {
        success: false,
        duration: Duration::from_millis(3),
        error: Some("connection refused".to_string()),
        finished_unix_ms: 1,
    };
    registry.record_result(&tenant, &old, result.clone());
    assert_eq!(
        registry.get(&tenant, "db").unwrap().last_result,
        Some(result.clone())
    );
    let new = registry
        .replace(&tenant, "db", &tcp("db", "b:1"))
        .await
        .unwrap()
        .spec;
    registry.record_result(&tenant, &old, result.clone());
    assert_eq!(registry.get(&tenant, "db").unwrap().last_result, None);
    registry.record_result(&tenant, &new, result.clone());
    assert_eq!(
        registry.get(&tenant, "db").unwrap().last_result,
        Some(result)
    );
}

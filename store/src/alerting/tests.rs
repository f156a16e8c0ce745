use super::*;

async fn open() -> (tempfile::TempDir, AlertingDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).await.unwrap();
    (dir, AlertingDb::new(db))
}

#[tokio::test]
async fn definitions_are_named_per_tenant_and_table() {
    let (_dir, db) = open().await;
    let team = TenantId::new("team-a").unwrap();
    let rules = DefinitionTable::AlertRules;
    assert!(db
        .insert_definition(rules, &team, "HighErrors", "{\"a\":1}".into())
        .await
        .unwrap());
    assert!(!db
        .insert_definition(rules, &team, "HighErrors", "{}".into())
        .await
        .unwrap());
    assert!(db
        .insert_definition(
            rules,
            &TenantId::default_tenant(),
            "HighErrors",
            "{}".into()
        )
        .await
        .unwrap());
    assert!(db
        .insert_definition(
            DefinitionTable::AlertReceivers,
            &team,
            "HighErrors",
            "{}".into()
        )
        .await
        .unwrap());
    assert!(db
        .update_definition(rules, &team, "HighErrors", "{\"a\":2}".into())
        .await
        .unwrap());
    assert!(!db
        .update_definition(rules, &team, "Missing", "{}".into())
        .await
        .unwrap());
    let listed = db.list_definitions(rules).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].tenant, "team-a");
    assert_eq!(listed[1].definition, "{\"a\":2}");
    assert!(db
        .delete_definition(rules, &team, "HighErrors")
        .await
        .unwrap());
    assert!(!db
        .delete_definition(rules, &team, "HighErrors")
        .await
        .unwrap());
    assert_eq!(db.list_definitions(rules).await.unwrap().len(), 1);
}

fn entry(tenant: &TenantId, rule: &str, state: &str, at_ms: i64) -> HistoryEntry {
    HistoryEntry {
        tenant: tenant.clone(),
        rule_key: rule.to_string(),
        alertname: rule.to_string(),
        labels_json: "{}".to_string(),
        state: state.to_string(),
        value: Some(1.5),
        at_ms,
    }
}

#[tokio::test]
async fn states_and_history_are_saved_together_and_filtered() {
    let (_dir, db) = open().await;
    let tenant = TenantId::default_tenant();
    let other = TenantId::new("other").unwrap();
    db.save_state(
        &tenant,
        "api:A",
        Some("{\"alerts\":[]}".into()),
        vec![
            entry(&tenant, "A", "pending", 10),
            entry(&tenant, "A", "firing", 20),
        ],
    )
    .await
    .unwrap();
    db.save_state(
        &other,
        "api:B",
        Some("{}".into()),
        vec![entry(&other, "B", "firing", 15)],
    )
    .await
    .unwrap();
    assert_eq!(db.load_states().await.unwrap().len(), 2);
    assert_eq!(
        db.load_state(&tenant, "api:A").await.unwrap().as_deref(),
        Some("{\"alerts\":[]}")
    );
    let all = HistoryFilter {
        start_ms: 0,
        end_ms: 100,
        limit: 10,
        ..HistoryFilter::default()
    };
    let history = db.history(&tenant, all.clone()).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|entry| entry.state.as_str())
            .collect::<Vec<_>>(),
        ["firing", "pending"],
        "newest first, this tenant only"
    );
    let firing = HistoryFilter {
        state: Some("firing".into()),
        ..all.clone()
    };
    assert_eq!(db.history(&tenant, firing).await.unwrap().len(), 1);
    db.save_state(
        &tenant,
        "api:A",
        None,
        vec![entry(&tenant, "A", "inactive", 30)],
    )
    .await
    .unwrap();
    assert_eq!(db.load_state(&tenant, "api:A").await.unwrap(), None);
    assert_eq!(db.prune_history(20).await.unwrap(), 2);
    assert_eq!(db.history(&tenant, all).await.unwrap().len(), 2);
}

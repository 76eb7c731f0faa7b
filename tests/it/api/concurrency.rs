//! Concurrent clients: every valid record inserted exactly once, ids unique and
//! contiguous, counts exact.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::{Api, JsonBody};

const CLIENTS: usize = 16;
const BATCHES: usize = 50;
const RECORDS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_fifty_batches_each() {
    let api = Api::start().await;
    let token = api.token().await;
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, token) = (api.http.clone(), api.base.clone(), token.clone());
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for batch in 0..BATCHES {
                let records: Vec<Value> = (0..RECORDS)
                    .map(|i| {
                        // Every tenth record names a department that does not exist.
                        let department = if i % 10 == 9 { 999 } else { 1 + (client + i) % 12 };
                        json!({"name": format!("c{client}-b{batch}-r{i}"), "department_id": department, "job_id": 1 + i % 20})
                    })
                    .collect();
                let response = http
                    .post(format!("{base}/api/v1/hired_employees"))
                    .bearer_auth(&token)
                    .json_body(&json!({ "records": records }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                answers.push((client, batch, serde_json::from_str::<Value>(&response.text().await.unwrap()).unwrap()));
            }
            answers
        }));
    }
    let mut assigned: BTreeMap<i64, String> = BTreeMap::new();
    let mut rejected = 0;
    for client in clients {
        for (c, b, answer) in client.await.unwrap() {
            let ids: Vec<i64> = answer["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(ids.len(), RECORDS - RECORDS / 10);
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ids follow record order: {ids:?}"
            );
            let valid = (0..RECORDS).filter(|i| i % 10 != 9);
            for (id, i) in ids.iter().zip(valid) {
                let previous = assigned.insert(*id, format!("c{c}-b{b}-r{i}"));
                assert!(previous.is_none(), "id {id} assigned twice");
            }
            rejected += answer["rejected"].as_array().unwrap().len();
        }
    }
    let valid = CLIENTS * BATCHES * (RECORDS - RECORDS / 10);
    assert_eq!(assigned.len(), valid);
    assert_eq!(rejected, CLIENTS * BATCHES * RECORDS / 10);
    // Contiguous from 1, and each id holds the record it was reported for.
    assert_eq!(
        assigned.keys().copied().collect::<Vec<_>>(),
        (1..=valid as i64).collect::<Vec<_>>()
    );
    let client = api.db.client().await;
    let rows = client
        .query("SELECT id, name FROM hired_employees", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), valid);
    let mut names = HashSet::new();
    for row in rows {
        let (id, name): (i32, String) = (row.get(0), row.get(1));
        assert_eq!(assigned[&i64::from(id)], name);
        assert!(names.insert(name), "a record was inserted twice");
    }
    assert_eq!(
        api.db.count("lakeshift_ingest_rejects").await as usize,
        rejected
    );
    api.stop().await;
}

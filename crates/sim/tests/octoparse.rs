//! The Octoparse simulator through plain HTTP: both API flavors, every documented error
//! case, the destructive and acknowledged unexported reads with their ledger, and each
//! fault kind firing as configured.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dredge_sim::octoparse::{Config, Faults, ROW_KEY_FIELD, Sim};
use serde_json::{Value, json};

const USER: &str = "test-user";
const PASSWORD: &str = "test-pass";

fn small() -> Config {
    Config {
        rows_per_task: 25,
        ..Config::default()
    }
}

async fn start(config: Config) -> Sim {
    Sim::start(config, 7, "127.0.0.1", 0)
        .await
        .expect("simulator starts")
}

/// `POST /token` with a form body; returns status and JSON body.
async fn token_form(sim: &Sim, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/token", sim.base_url()))
        .form(form)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

async fn login(sim: &Sim) -> String {
    let form = [
        ("username", USER),
        ("password", PASSWORD),
        ("grant_type", "password"),
    ];
    let (status, body) = token_form(sim, &form).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

/// GET `path_and_query` with `authorization: bearer <token>`.
async fn get(sim: &Sim, token: &str, path_and_query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .header("authorization", format!("bearer {token}"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn first_task(sim: &Sim) -> String {
    sim.tasks()[0].task_id.clone()
}

fn keys(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r[ROW_KEY_FIELD].as_str().expect("row key").to_string())
        .collect()
}

fn data_list(body: &Value) -> Vec<Value> {
    body["data"]["dataList"]
        .as_array()
        .expect("dataList")
        .clone()
}

#[tokio::test]
async fn password_grant_returns_a_bearer_token() {
    let sim = start(small()).await;
    let form = [
        ("username", USER),
        ("password", PASSWORD),
        ("grant_type", "password"),
    ];
    let (status, body) = token_form(&sim, &form).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86_399);
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    let logged = &sim.log.entries()[0];
    assert_eq!(
        (logged.path.as_str(), logged.outcome.as_str()),
        ("/token", "token_issued")
    );
    assert_eq!(logged.account.as_deref(), Some(USER));
}

#[tokio::test]
async fn wrong_password_gets_invalid_grant() {
    let sim = start(small()).await;
    let form = [
        ("username", USER),
        ("password", "nope"),
        ("grant_type", "password"),
    ];
    let (status, body) = token_form(&sim, &form).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "The user name or password is incorrect."})
    );
}

#[tokio::test]
async fn badly_formed_token_request_gets_unsupported_grant_type() {
    let sim = start(small()).await;
    let (status, body) = token_form(&sim, &[("username", USER), ("password", PASSWORD)]).await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"error": "unsupported_grant_type"}));
}

#[tokio::test]
async fn refresh_grant_rotates_the_refresh_token() {
    let sim = start(small()).await;
    let form = [
        ("username", USER),
        ("password", PASSWORD),
        ("grant_type", "password"),
    ];
    let (_, first) = token_form(&sim, &form).await;
    let refresh = first["refresh_token"].as_str().expect("refresh token");
    let grant = [("refresh_token", refresh), ("grant_type", "refresh_token")];
    let (status, second) = token_form(&sim, &grant).await;
    assert_eq!(status, 200);
    let token = second["access_token"].as_str().expect("new token");
    assert_eq!(get(&sim, token, "/api/taskgroup").await.0, 200);
    let (again, body) = token_form(&sim, &grant).await;
    assert_eq!(
        (again, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn task_groups_and_tasks_are_listed() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let (status, groups) = get(&sim, &token, "/api/taskgroup").await;
    assert_eq!(status, 200);
    assert_eq!(groups["error"], "success");
    assert_eq!(groups["error_Description"], "Action Success");
    let group = &groups["data"][0];
    let group_id = group["taskGroupId"].as_i64().expect("integer group id");
    assert!(group["taskGroupName"].is_string());
    let (_, tasks) = get(&sim, &token, &format!("/api/task?taskgroupid={group_id}")).await;
    let listed: Vec<&str> = tasks["data"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["taskId"].as_str().expect("string task id"))
        .collect();
    let expected: Vec<String> = sim
        .tasks()
        .into_iter()
        .filter(|t| t.group_id == group_id)
        .map(|t| t.task_id)
        .collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn all_data_pages_cover_every_row_in_order() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let task = first_task(&sim);
    let mut rows = Vec::new();
    for page in 1..=3 {
        let (_, body) = get(
            &sim,
            &token,
            &format!("/api/alldata?taskid={task}&pageindex={page}&pagesize=10"),
        )
        .await;
        assert_eq!(body["data"]["total"], 25);
        assert_eq!(body["data"]["currentTotal"], data_list(&body).len());
        rows.extend(data_list(&body));
    }
    assert_eq!(rows, sim.rows(&task).expect("task rows"));
    assert!(rows[0]["City"].is_string() && rows[0]["Humidity"].is_string());
}

#[tokio::test]
async fn page_size_outside_1_to_1000_gets_export_pagesize_error_with_200() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let task = first_task(&sim);
    for size in ["0", "1001", "x"] {
        let path = format!("/api/alldata?taskid={task}&pageindex=1&pagesize={size}");
        let (status, body) = get(&sim, &token, &path).await;
        assert_eq!(status, 200);
        assert_eq!(body["error"], "export_pagesize_error");
        assert_eq!(body["error_Description"], "Size range from 1 to 1000");
    }
    let (_, body) = get(
        &sim,
        &token,
        &format!("/api/notexportdata?taskid={task}&size=1001"),
    )
    .await;
    assert_eq!(body["error"], "export_pagesize_error");
}

#[tokio::test]
async fn unknown_task_gets_taskid_error_with_200() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    for path in [
        "/api/alldata?taskid=nope&pageindex=1&pagesize=10",
        "/api/notexportdata?taskid=nope&size=10",
        "/api/notExportData/getTop?taskId=nope&size=10",
        "/api/allData/getDataOfTaskByOffset?taskId=nope&offset=0&size=10",
    ] {
        let (status, body) = get(&sim, &token, path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["error"], "taskid_error", "{path}");
    }
}

#[tokio::test]
async fn unexported_data_hands_out_each_row_once_and_records_it() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let task = first_task(&sim);
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    loop {
        let (_, body) = get(
            &sim,
            &token,
            &format!("/api/notexportdata?taskid={task}&size=10"),
        )
        .await;
        totals.push(body["data"]["total"].as_u64().expect("total"));
        let rows = data_list(&body);
        if rows.is_empty() {
            break;
        }
        seen.extend(keys(&rows));
    }
    assert_eq!(totals, vec![25, 15, 5, 0]);
    assert_eq!(seen, keys(&sim.rows(&task).expect("rows")));
    let ledger: Vec<String> = sim.ledger().into_iter().map(|e| e.row_key).collect();
    assert_eq!(ledger, seen);
    assert_eq!(sim.unexported(&task), Some(0));
}

#[tokio::test]
async fn get_top_repeats_until_update_acknowledges() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let task = first_task(&sim);
    let top = format!("/api/notExportData/getTop?taskId={task}&size=10");
    let (_, first) = get(&sim, &token, &top).await;
    let (_, repeat) = get(&sim, &token, &top).await;
    assert_eq!(data_list(&first), data_list(&repeat));
    assert!(
        sim.ledger().is_empty(),
        "nothing is exported before the ack"
    );
    let ack = reqwest::Client::new()
        .post(format!(
            "{}/api/notExportData/update?taskId={task}",
            sim.base_url()
        ))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ack.status().as_u16(), 200);
    let ack: Value = ack.json().await.expect("JSON");
    assert_eq!(ack["error"], "success");
    let (_, next) = get(&sim, &token, &top).await;
    let all = keys(&sim.rows(&task).expect("rows"));
    assert_eq!(keys(&data_list(&next)), all[10..20].to_vec());
    assert_eq!(next["data"]["total"], 15);
    let ledger: Vec<String> = sim.ledger().into_iter().map(|e| e.row_key).collect();
    assert_eq!(ledger, all[..10].to_vec());
}

#[tokio::test]
async fn offset_paging_uses_opaque_offsets() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let task = first_task(&sim);
    let mut offset = 0_u64;
    let mut rows = Vec::new();
    let mut offsets = Vec::new();
    loop {
        let path =
            format!("/api/allData/getDataOfTaskByOffset?taskId={task}&offset={offset}&size=10");
        let (_, body) = get(&sim, &token, &path).await;
        let page = data_list(&body);
        let next = body["data"]["offset"].as_u64().expect("offset");
        if page.is_empty() {
            assert_eq!(next, offset, "offset does not advance at the end");
            assert_eq!(body["data"]["restTotal"], 0);
            break;
        }
        assert_eq!(body["data"]["restTotal"], 25 - rows.len() - page.len());
        offsets.push((offset, next));
        rows.extend(page);
        offset = next;
    }
    assert_eq!(rows, sim.rows(&task).expect("rows"));
    assert!(offsets.iter().skip(1).all(|(from, to)| *to != from + 10));
}

#[tokio::test]
async fn wrong_method_gets_405_message() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/alldata?taskid=x&pageindex=1&pagesize=1",
            sim.base_url()
        ))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"message": "Requested Resource Does Not Support HTTP Method 'POST'"})
    );
}

#[tokio::test]
async fn missing_or_unknown_token_gets_unauthorized() {
    let sim = start(small()).await;
    let (status, body) = get(&sim, "not-a-token", "/api/taskgroup").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": "unauthorized", "error_Description": "access_token invalid"})
    );
    let response = reqwest::get(format!("{}/api/taskgroup", sim.base_url()))
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/taskgroup", sim.base_url()))
        .header("authorization", format!("BEARER {token}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn token_expires_after_expires_in() {
    let sim = start(Config {
        expires_in: 1,
        ..small()
    })
    .await;
    let token = login(&sim).await;
    assert_eq!(get(&sim, &token, "/api/taskgroup").await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 200;
    while status == 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = get(&sim, &token, "/api/taskgroup").await.0;
    }
    assert_eq!(status, 401);
    assert_eq!(
        sim.log
            .entries()
            .last()
            .map(|e| e.outcome.clone())
            .as_deref(),
        Some("token_expired")
    );
}

#[tokio::test]
async fn admin_can_expire_every_token() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    sim.expire_tokens();
    assert_eq!(get(&sim, &token, "/api/taskgroup").await.0, 401);
}

#[tokio::test]
async fn unknown_path_gets_404() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    assert_eq!(get(&sim, &token, "/api/nothing").await.0, 404);
}

#[tokio::test]
async fn token_invalid_fault_fires_every_nth_request_with_200() {
    let sim = start(Config {
        faults: Faults {
            token_invalid_every: 3,
            ..Faults::default()
        },
        ..small()
    })
    .await;
    let token = login(&sim).await;
    assert_eq!(get(&sim, &token, "/api/taskgroup").await.0, 200);
    assert_eq!(get(&sim, &token, "/api/taskgroup").await.0, 200);
    let (status, body) = get(&sim, &token, "/api/taskgroup").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (200, Some("unauthorized"))
    );
    assert_eq!(
        get(&sim, &token, "/api/taskgroup").await.0,
        401,
        "the token stays invalid"
    );
    let fresh = login(&sim).await;
    assert_eq!(get(&sim, &fresh, "/api/taskgroup").await.0, 200);
}

#[tokio::test]
async fn server_error_fault_answers_200_with_server_error() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    sim.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let (status, body) = get(&sim, &token, "/api/taskgroup").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"error": "server_error", "error_Description": "Server Error. Please try again later!"})
    );
}

#[tokio::test]
async fn server_error_http_fault_answers_500() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    sim.set_faults(Faults {
        server_error_http_rate: 1.0,
        ..Faults::default()
    });
    let (status, body) = get(&sim, &token, "/api/taskgroup").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("server_error"))
    );
}

#[tokio::test]
async fn quota_fault_answers_429_for_the_next_k_requests() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    sim.set_faults(Faults {
        quota_exceeded_next: 2,
        ..Faults::default()
    });
    for _ in 0..2 {
        let (status, body) = get(&sim, &token, "/api/taskgroup").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (429, Some("quota_exceeded"))
        );
    }
    assert_eq!(get(&sim, &token, "/api/taskgroup").await.0, 200);
}

#[tokio::test]
async fn slow_fault_delays_the_answer() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    sim.set_faults(Faults {
        slow_rate: 1.0,
        slow_ms: 3_000,
        ..Faults::default()
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let result = impatient
        .get(format!("{}/api/taskgroup", sim.base_url()))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await;
    assert!(result.is_err_and(|e| e.is_timeout()));
}

#[tokio::test]
async fn tokens_never_appear_in_the_request_log() {
    let sim = start(small()).await;
    let token = login(&sim).await;
    get(&sim, &token, "/api/taskgroup").await;
    for entry in sim.log.entries() {
        assert!(!entry.path.contains(&token) && !entry.outcome.contains(&token));
    }
}

// --- OpenAPI flavor ---

async fn openapi_post(sim: &Sim, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .json(body);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

async fn openapi_login(sim: &Sim) -> Value {
    let body = json!({"username": USER, "password": PASSWORD, "grant_type": "password"});
    let (status, answer) = openapi_post(sim, "/token", None, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn openapi_token_and_refresh() {
    let sim = start(small()).await;
    let answer = openapi_login(&sim).await;
    assert!(answer["requestId"].is_string());
    let data = &answer["data"];
    assert_eq!(data["expires_in"], "86399");
    let refresh = json!({"refresh_token": data["refresh_token"], "grant_type": "refresh_token"});
    // docs/vendors/octoparse.md §"OpenAPI": the official sample refreshes at `/token`.
    let (status, refreshed) = openapi_post(&sim, "/token", None, &refresh).await;
    assert_eq!(status, 200);
    assert!(refreshed["data"]["access_token"].is_string());
    let (status, _) = openapi_post(&sim, "/token/refresh", None, &refresh).await;
    assert_eq!(status, 404, "the unconfirmed path is not served");
    let wrong = json!({"username": USER, "password": "x", "grant_type": "password"});
    let (status, error) = openapi_post(&sim, "/token", None, &wrong).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "Invalid.Grant");
    assert!(error["error"]["message"].is_string() && error["requestId"].is_string());
}

#[tokio::test]
async fn openapi_all_data_pages_with_rows_under_data_data() {
    let sim = start(small()).await;
    let token = openapi_login(&sim).await["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let task = first_task(&sim);
    let mut offset = 0_u64;
    let mut rows = Vec::new();
    loop {
        let (status, body) = get(
            &sim,
            &token,
            &format!("/data/all?taskId={task}&offset={offset}&size=10"),
        )
        .await;
        assert_eq!(status, 200);
        let page = body["data"]["data"].as_array().expect("rows").clone();
        if page.is_empty() {
            break;
        }
        rows.extend(page);
        offset = body["data"]["offset"].as_u64().expect("offset");
    }
    assert_eq!(rows, sim.rows(&task).expect("rows"));
}

#[tokio::test]
async fn openapi_not_exported_repeats_until_marked_exported() {
    let sim = start(small()).await;
    let token = openapi_login(&sim).await["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let task = first_task(&sim);
    let path = format!("/data/notexported?taskId={task}&size=10");
    let (_, first) = get(&sim, &token, &path).await;
    let (_, repeat) = get(&sim, &token, &path).await;
    assert_eq!(first["data"]["data"], repeat["data"]["data"]);
    assert_eq!(first["data"]["total"], 25);
    assert_eq!(first["data"]["current"], 10);
    let (status, _) = openapi_post(
        &sim,
        "/data/markexported",
        Some(&token),
        &json!({"taskId": task}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, next) = get(&sim, &token, &path).await;
    assert_eq!(next["data"]["total"], 15);
    let ledger: HashSet<String> = sim.ledger().into_iter().map(|e| e.row_key).collect();
    let first_keys: HashSet<String> = keys(first["data"]["data"].as_array().expect("rows"))
        .into_iter()
        .collect();
    assert_eq!(ledger, first_keys);
}

#[tokio::test]
async fn openapi_errors_use_code_and_message() {
    let sim = start(small()).await;
    let (status, body) = get(&sim, "bad", "/data/all?taskId=x&size=10").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("Unauthorized"))
    );
    let token = openapi_login(&sim).await["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let (status, body) = get(&sim, &token, "/data/all?taskId=nope&size=10").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("Invalid.TaskId"))
    );
    let task = first_task(&sim);
    let (status, body) = get(&sim, &token, &format!("/data/all?taskId={task}&size=5000")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("Invalid.Size"))
    );
    sim.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let (status, body) = get(&sim, &token, &format!("/data/all?taskId={task}&size=5")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("InternalServerError"))
    );
}

#[tokio::test]
async fn openapi_answers_429_above_its_rate() {
    let sim = start(Config {
        openapi_requests_per_second: 2,
        ..small()
    })
    .await;
    let token = openapi_login(&sim).await["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let task = first_task(&sim);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            get(&sim, &token, &format!("/data/all?taskId={task}&size=1"))
                .await
                .0,
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = sim
        .log
        .entries()
        .into_iter()
        .filter(|e| e.status == 429)
        .count();
    assert_eq!(limited, statuses.iter().filter(|s| **s == 429).count());
}

#[test]
fn scenario_toml_configures_accounts_and_faults_and_rejects_unknown_keys() {
    let text = "[octoparse]\nexpires_in = 60\nrows_per_task = 10\n[[octoparse.accounts]]\nusername = \"u\"\npassword = \"p\"\n[octoparse.faults]\ntoken_invalid_every = 5\n";
    let scenario = dredge_sim::Scenario::from_toml(text).expect("valid scenario");
    let config = scenario.octoparse.expect("octoparse section");
    assert_eq!((config.expires_in, config.rows_per_task), (60, 10));
    assert_eq!(config.accounts[0].username, "u");
    assert_eq!(config.faults.token_invalid_every, 5);
    assert!(dredge_sim::Scenario::from_toml("[octoparse.faults]\nnope = 1\n").is_err());
}

/// The `pretty` option: answers indented over many lines, and every row carrying a
/// `Notes` value that holds newlines — still the same JSON.
#[tokio::test]
async fn pretty_answers_span_lines_and_rows_carry_multi_line_notes() {
    let sim = start(Config {
        pretty: true,
        ..small()
    })
    .await;
    let token = login(&sim).await;
    let task = first_task(&sim);
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/alldata?taskid={task}&pageindex=1&pagesize=3",
            sim.base_url()
        ))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("sent");
    let text = response.text().await.expect("a body");
    assert!(text.lines().count() > 10, "indented: {text}");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    let rows = data_list(&body);
    assert_eq!(rows, sim.rows(&task).unwrap()[..3].to_vec());
    assert!(rows[0]["Notes"].as_str().unwrap().contains('\n'));
}

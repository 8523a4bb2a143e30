//! The legacy Data Export API: form-encoded `/token` and the `/api/...` endpoints with
//! the `{"data","error","error_Description"}` envelope.

use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::auth::{Refusal, parse_form};
use super::data::Task;
use super::store::Store;
use super::{Faults, Params, Reply, Shared, json, lock};
use crate::common::auth_token;

const MAX_SIZE: u64 = 1000;

/// Dispatch a legacy request by lower-cased path.
pub(super) fn route(
    shared: &Shared,
    faults: &Faults,
    path: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    // docs/vendors/octoparse.md §"Reading all data (legacy)", §"Unexported data (legacy)",
    // §"Task groups and tasks (legacy)": the paths, matched case-insensitively.
    let expected = match path {
        "/token" | "/api/notexportdata/update" => Method::POST,
        "/api/taskgroup"
        | "/api/task"
        | "/api/alldata"
        | "/api/notexportdata"
        | "/api/notexportdata/gettop"
        | "/api/alldata/getdataoftaskbyoffset" => Method::GET,
        _ => return not_found(uri),
    };
    if method != expected {
        let message = format!(
            // docs/vendors/octoparse.md §"Envelope and errors (legacy)": the wrong-method shape.
            "Requested Resource Does Not Support HTTP Method '{}'",
            method.as_str()
        );
        let response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({ "message": message }),
        );
        return Reply::new(response, None, "method_not_allowed");
    }
    if path == "/token" {
        return token(shared, body);
    }
    let user = match authorise(shared, faults, headers) {
        Ok(user) => user,
        Err(reply) => return *reply,
    };
    let account = Some(user);
    let params = Params::of(uri);
    let (response, outcome) = match path {
        "/api/taskgroup" => (task_groups(shared), "ok"),
        "/api/task" => (tasks(shared, &params), "ok"),
        _ => with_task(shared, path, &params),
    };
    Reply::new(response, account, outcome)
}

// The shape of docs/vendors/octoparse.md §"Envelope and errors (legacy)" (ASP.NET
// `Message`); the text is ASP.NET Web API's default, unconfirmed for Octoparse.
/// The ASP.NET-style 404 of an unknown path.
fn not_found(uri: &Uri) -> Reply {
    let message = format!("No HTTP resource was found that matches the request URI '{uri}'.");
    let response = json(StatusCode::NOT_FOUND, &json!({ "Message": message }));
    Reply::new(response, None, "not_found")
}

// docs/vendors/octoparse.md §"Envelope and errors (legacy)".
/// `{"data": …, "error": "success", "error_Description": "Action Success"}`.
fn success(data: Value) -> axum::response::Response {
    let body = json!({"data": data, "error": "success", "error_Description": "Action Success"});
    json(StatusCode::OK, &body)
}

/// `{"error": code, "error_Description": description}` with `status`.
fn failure(status: StatusCode, code: &str, description: &str) -> axum::response::Response {
    json(
        status,
        &json!({"error": code, "error_Description": description}),
    )
}

/// `POST /token`: a password or refresh-token grant, form-encoded.
fn token(shared: &Shared, body: &[u8]) -> Reply {
    let form = parse_form(body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let user = match field("grant_type") {
        Some("password") => match (field("username"), field("password")) {
            (Some(user), Some(password)) if shared.password_ok(user, password) => {
                Ok(user.to_string())
            }
            (user, _) => Err((
                user.map(str::to_string),
                "The user name or password is incorrect.",
            )),
        },
        Some("refresh_token") => {
            let redeemed =
                field("refresh_token").and_then(|t| lock(&shared.tokens).redeem_refresh(t));
            redeemed.ok_or((None, "The refresh token is invalid or has expired."))
        }
        _ => {
            // docs/vendors/octoparse.md §"Tokens (legacy)": the two documented token errors.
            let body = json!({"error": "unsupported_grant_type"});
            let response = json(StatusCode::BAD_REQUEST, &body);
            return Reply::new(response, None, "unsupported_grant_type");
        }
    };
    match user {
        Ok(user) => {
            let expires_in = shared.config.expires_in;
            let issued = lock(&shared.tokens).issue(&user, expires_in, &shared.dice);
            let body = json!({
                "access_token": issued.access_token,
                "token_type": "bearer",
                "expires_in": expires_in,
                "refresh_token": issued.refresh_token,
            });
            Reply::new(json(StatusCode::OK, &body), Some(user), "token_issued")
        }
        Err((user, description)) => {
            let body = json!({"error": "invalid_grant", "error_description": description});
            Reply::new(json(StatusCode::BAD_REQUEST, &body), user, "invalid_grant")
        }
    }
}

/// Check the bearer token and roll the request-level faults.
fn authorise(shared: &Shared, faults: &Faults, headers: &HeaderMap) -> Result<String, Box<Reply>> {
    let token = auth_token(headers, "bearer");
    let checked = lock(&shared.tokens).authorise(token, faults.token_invalid_every);
    let user = match checked {
        Ok(user) => user,
        Err(refusal) => {
            // docs/vendors/octoparse.md §"Tokens (legacy)" (200 + `unauthorized`, documented) and
            // §"Envelope and errors (legacy)" (401 `unauthorized`, the official sample's mapping).
            // A revoked token is reported the quirky way (HTTP 200 with an error field),
            // an unknown or expired one with 401: clients must handle both.
            let status = match refusal {
                Refusal::Revoked => StatusCode::OK,
                Refusal::Unknown | Refusal::Expired => StatusCode::UNAUTHORIZED,
            };
            let response = failure(status, "unauthorized", "access_token invalid");
            let outcome = match refusal {
                Refusal::Revoked => "token_revoked",
                Refusal::Expired => "token_expired",
                Refusal::Unknown => "unauthorized",
            };
            return Err(Box::new(Reply::new(response, None, outcome)));
        }
    };
    let account = Some(user.clone());
    if shared.take_quota_fault() || shared.dice.chance(faults.quota_exceeded_rate) {
        let response = failure(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            // docs/vendors/octoparse.md §"Envelope and errors (legacy)": 429 `quota_exceeded` (the
            // description is the simulator's own).
            "Request quota exceeded. Please try again later!",
        );
        return Err(Box::new(Reply::new(response, account, "quota_exceeded")));
    }
    // docs/vendors/octoparse.md §"Envelope and errors (legacy)": `server_error` as HTTP 200
    // (documented) and as 500 (the official sample's mapping).
    let server_error = "Server Error. Please try again later!";
    if shared.dice.chance(faults.server_error_rate) {
        let response = failure(StatusCode::OK, "server_error", server_error);
        return Err(Box::new(Reply::new(
            response,
            account,
            "fault:server_error",
        )));
    }
    if shared.dice.chance(faults.server_error_http_rate) {
        let response = failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            server_error,
        );
        return Err(Box::new(Reply::new(response, account, "fault:500")));
    }
    Ok(user)
}

// docs/vendors/octoparse.md §"Task groups and tasks (legacy)": integer group ids, string
// task ids.
fn task_groups(shared: &Shared) -> axum::response::Response {
    let groups: Vec<Value> = shared
        .store
        .groups
        .iter()
        .map(|g| json!({"taskGroupId": g.id, "taskGroupName": g.name}))
        .collect();
    success(Value::Array(groups))
}

fn tasks(shared: &Shared, params: &Params) -> axum::response::Response {
    let wanted = params
        .get("taskgroupid")
        .and_then(|v| v.trim().parse::<i64>().ok());
    let tasks: Vec<Value> = shared
        .store
        .groups
        .iter()
        .filter(|g| Some(g.id) == wanted)
        .flat_map(|g| &g.tasks)
        .map(|t| json!({"taskId": t.id, "taskName": t.name}))
        .collect();
    success(Value::Array(tasks))
}

/// The endpoints that read one task's rows.
fn with_task(
    shared: &Shared,
    path: &str,
    params: &Params,
) -> (axum::response::Response, &'static str) {
    let Some(task) = params.get("taskid").and_then(|id| shared.store.task(id)) else {
        // docs/vendors/octoparse.md §"Envelope and errors (legacy)".
        let description = "TaskID is invalid or the task does not belong to you.";
        return (
            failure(StatusCode::OK, "taskid_error", description),
            "taskid_error",
        );
    };
    // docs/vendors/octoparse.md §"Unexported data (legacy)": the acknowledgement names no
    // batch, it marks what the last `getTop` handed out.
    if path == "/api/notexportdata/update" {
        let acked = shared.store.ack(task, "update");
        let outcome = if acked > 0 { "ok" } else { "ok:nothing_staged" };
        return (success(Value::Null), outcome);
    }
    let size_param = if path == "/api/alldata" {
        "pagesize"
    } else {
        "size"
    };
    let Some(size) = params
        .number(size_param)
        .filter(|s| (1..=MAX_SIZE).contains(s))
        .map(|s| s as usize)
    else {
        let response = failure(
            StatusCode::OK,
            // docs/vendors/octoparse.md §"Envelope and errors (legacy)".
            "export_pagesize_error",
            "Size range from 1 to 1000",
        );
        return (response, "export_pagesize_error");
    };
    match path {
        "/api/alldata" => all_data(task, params, size),
        // docs/vendors/octoparse.md §"Unexported data (legacy)": a destructive read, and the
        // read with an acknowledgement.
        "/api/notexportdata" => (unexported(shared.store.take(task, size)), "ok"),
        "/api/notexportdata/gettop" => (unexported(shared.store.stage(task, size)), "ok"),
        _ => (by_offset(task, params, size), "ok"),
    }
}

fn all_data(task: &Task, params: &Params, size: usize) -> (axum::response::Response, &'static str) {
    let Some(index) = params.number("pageindex").filter(|i| *i >= 1) else {
        let response = failure(
            StatusCode::BAD_REQUEST,
            // The official sample's 400 `client_error`
            // (docs/vendors/octoparse.md §"Envelope and errors (legacy)"); the description
            // is the simulator's own.
            "client_error",
            "pageindex must be 1 or more",
        );
        return (response, "client_error");
    };
    let rows = Store::page(task, index as usize, size);
    // docs/vendors/octoparse.md §"Reading all data (legacy)": page by index.
    let data = json!({"total": task.rows.len(), "currentTotal": rows.len(), "dataList": rows});
    (success(data), "ok")
}

fn unexported(read: super::store::Unexported) -> axum::response::Response {
    success(json!({
        "total": read.left_before,
        "currentTotal": read.rows.len(),
        "dataList": read.rows,
    }))
}

// docs/vendors/octoparse.md §"Reading all data (legacy)": an opaque offset, `restTotal`.
fn by_offset(task: &Task, params: &Params, size: usize) -> axum::response::Response {
    let offset = params.number("offset").unwrap_or(0);
    let page = Store::by_offset(task, offset, size);
    success(json!({
        "offset": page.next_offset,
        "total": page.total,
        "restTotal": page.rest_total,
        "dataList": page.rows,
    }))
}

//! The current OpenAPI flavor: JSON `/token` (password and refresh grants, as the
//! official sample sends them; a `/token/refresh` path is unconfirmed), `/data/all`,
//! `/data/notexported`, `/data/markexported`, `{"data", "requestId"}` answers and
//! `{"error":{"code","message"},"requestId"}` errors, 20 requests per second.

use std::time::Instant;

use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::auth::Refusal;
use super::data::Task;
use super::store::Store;
use super::{Faults, Params, Reply, Shared, json, lock};
use crate::common::auth_token;

const MAX_SIZE: u64 = 1000;

/// Dispatch an OpenAPI request by lower-cased path.
pub(super) fn route(
    shared: &Shared,
    faults: &Faults,
    path: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let expected = match path {
        "/token" | "/data/markexported" => Method::POST,
        "/data/all" | "/data/notexported" => Method::GET,
        _ => {
            return failure(
                shared,
                StatusCode::NOT_FOUND,
                "NotFound",
                "Resource not found",
                None,
            );
        }
    };
    if method != expected {
        let message = format!("{method} is not supported on {path}");
        return failure(
            shared,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &message,
            None,
        );
    }
    // docs/vendors/octoparse.md §"OpenAPI": 20 requests per second, then 429. Error codes
    // here (`TooManyRequests`, `Unauthorized`, …) are unconfirmed spellings.
    if !shared.openapi_admit(Instant::now()) {
        let message = "Too many requests, please slow down";
        return failure(
            shared,
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            message,
            None,
        );
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match path {
        // docs/vendors/octoparse.md §"OpenAPI": refresh at `/token`, as the official sample.
        "/token" if field(&body, "grant_type") == Some("refresh_token") => {
            refresh_grant(shared, &body)
        }
        "/token" => password_grant(shared, &body),
        _ => match authorise(shared, faults, headers) {
            Err(reply) => *reply,
            Ok(user) => data(shared, path, &Params::of(uri), &body, user),
        },
    }
}

fn request_id(shared: &Shared) -> String {
    format!("{:016x}", shared.dice.next_u64())
}

fn success(shared: &Shared, data: Value, account: Option<String>, outcome: &str) -> Reply {
    let body = json!({"data": data, "requestId": request_id(shared)});
    Reply::new(json(StatusCode::OK, &body), account, outcome)
}

fn failure(
    shared: &Shared,
    status: StatusCode,
    code: &str,
    message: &str,
    account: Option<String>,
) -> Reply {
    let body = json!({
        // docs/vendors/octoparse.md §"OpenAPI": the error shape.
        "error": {"code": code, "message": message},
        "requestId": request_id(shared),
    });
    Reply::new(json(status, &body), account, code)
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

/// `POST /token` with `{"username","password","grant_type":"password"}`.
fn password_grant(shared: &Shared, body: &Value) -> Reply {
    if field(body, "grant_type") != Some("password") {
        let message = "grant_type must be password";
        return failure(
            shared,
            StatusCode::BAD_REQUEST,
            "Unsupported.GrantType",
            message,
            None,
        );
    }
    match (field(body, "username"), field(body, "password")) {
        (Some(user), Some(password)) if shared.password_ok(user, password) => issue(shared, user),
        (user, _) => failure(
            shared,
            StatusCode::BAD_REQUEST,
            "Invalid.Grant",
            "The user name or password is incorrect.",
            user.map(str::to_string),
        ),
    }
}

/// `POST /token` with `{"refresh_token","grant_type":"refresh_token"}` (the official
/// OpenAPI sample's `refresh_Token`).
fn refresh_grant(shared: &Shared, body: &Value) -> Reply {
    let redeemed = match (field(body, "grant_type"), field(body, "refresh_token")) {
        (Some("refresh_token"), Some(token)) => lock(&shared.tokens).redeem_refresh(token),
        _ => None,
    };
    match redeemed {
        Some(user) => issue(shared, &user),
        None => failure(
            shared,
            StatusCode::BAD_REQUEST,
            "Invalid.Grant",
            "The refresh token is invalid or has expired.",
            None,
        ),
    }
}

fn issue(shared: &Shared, user: &str) -> Reply {
    let expires_in = shared.config.expires_in;
    let issued = lock(&shared.tokens).issue(user, expires_in, &shared.dice);
    // Some docs give `expires_in` as a string: clients must accept both.
    let data = json!({
        "access_token": issued.access_token,
        "expires_in": expires_in.to_string(),
        "token_type": "Bearer",
        "refresh_token": issued.refresh_token,
    });
    success(shared, data, Some(user.to_string()), "token_issued")
}

/// Check the bearer token and roll the request-level faults.
// docs/vendors/octoparse.md §"OpenAPI": `Authorization: Bearer`; 401, 429 and 500 by
// HTTP status (the OpenAPI has no 200 errors).
fn authorise(shared: &Shared, faults: &Faults, headers: &HeaderMap) -> Result<String, Box<Reply>> {
    let token = auth_token(headers, "bearer");
    let checked = lock(&shared.tokens).authorise(token, faults.token_invalid_every);
    let user = checked.map_err(|refusal| {
        let message = match refusal {
            Refusal::Expired => "The access token has expired.",
            Refusal::Unknown | Refusal::Revoked => "The access token is invalid.",
        };
        Box::new(failure(
            shared,
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            message,
            None,
        ))
    })?;
    let account = Some(user.clone());
    if shared.take_quota_fault() || shared.dice.chance(faults.quota_exceeded_rate) {
        let message = "Request quota exceeded";
        let status = StatusCode::TOO_MANY_REQUESTS;
        return Err(Box::new(failure(
            shared,
            status,
            "TooManyRequests",
            message,
            account,
        )));
    }
    let rolled_500 = shared.dice.chance(faults.server_error_rate)
        || shared.dice.chance(faults.server_error_http_rate);
    if rolled_500 {
        let message = "Server Error. Please try again later!";
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        return Err(Box::new(failure(
            shared,
            status,
            "InternalServerError",
            message,
            account,
        )));
    }
    Ok(user)
}

/// The data endpoints, for an authorised `user`.
fn data(shared: &Shared, path: &str, params: &Params, body: &Value, user: String) -> Reply {
    let account = Some(user);
    let task_id = params.get("taskid").or_else(|| field(body, "taskId"));
    let Some(task) = task_id.and_then(|id| shared.store.task(id)) else {
        let message = "taskId is invalid or the task does not belong to you";
        return failure(
            shared,
            StatusCode::BAD_REQUEST,
            "Invalid.TaskId",
            message,
            account,
        );
    };
    // docs/vendors/octoparse.md §"OpenAPI": `markexported` acknowledges what `notexported`
    // handed out (mirrors the legacy pair; unconfirmed).
    if path == "/data/markexported" {
        let acked = shared.store.ack(task, "markexported");
        let outcome = if acked > 0 { "ok" } else { "ok:nothing_staged" };
        return success(shared, Value::Null, account, outcome);
    }
    let Some(size) = params.number("size").filter(|s| (1..=MAX_SIZE).contains(s)) else {
        let message = "size must be between 1 and 1000";
        return failure(
            shared,
            StatusCode::BAD_REQUEST,
            "Invalid.Size",
            message,
            account,
        );
    };
    let data = if path == "/data/all" {
        all(task, params, size as usize)
    } else {
        let read = shared.store.stage(task, size as usize);
        json!({"total": read.left_before, "current": read.rows.len(), "data": read.rows})
    };
    success(shared, data, account, "ok")
}

// docs/vendors/octoparse.md §"OpenAPI": `/data/all` by opaque offset, rows under
// `data.data`.
fn all(task: &Task, params: &Params, size: usize) -> Value {
    let page = Store::by_offset(task, params.number("offset").unwrap_or(0), size);
    json!({
        "offset": page.next_offset,
        "total": page.total,
        "restTotal": page.rest_total,
        "data": page.rows,
    })
}

//! An account's access token, shared by every item of that account: fetched once,
//! renewed shortly before it expires, and refreshed once ("single flight") when the
//! vendor calls it invalid — however many items are waiting at that moment.
//!
//! Vendor-neutral: a vendor crate says how to log in and how to use a refresh token
//! ([`Authenticator`]); this module decides *when*. It exists so that 20 concurrent
//! items whose token expired cause one token request, not 20, and so that credentials
//! the vendor rejects stop the account instead of being retried in a loop.
//!
//! Generations: every token installed gets the next generation number, and a caller
//! holds the generation of the token it used ([`Lease`]). When that caller reports the
//! token as rejected, the cache refreshes only if the rejected token is still the
//! current one — a caller that saw an old token fail after someone else refreshed does
//! not refresh again.
//!
//! The token lives in memory only: after a restart the first item logs in again.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::outcome::{Failure, Outcome};
use crate::secret::Secret;

/// A token the vendor issued.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access_token: Secret,
    /// For the refresh grant; the cache keeps the previous one when none comes back.
    pub refresh_token: Option<Secret>,
    /// The token's lifetime as the vendor stated it; `None` = unknown (never renewed
    /// ahead of time, only when rejected).
    pub expires_in: Option<Duration>,
}

/// Why the vendor gave no token.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantError {
    /// The credentials (or the refresh token) were refused, e.g. OAuth `invalid_grant`.
    Rejected(String),
    /// The token endpoint failed transiently (network, timeout, 5xx, 429).
    Transient(Failure),
    /// The request was malformed (e.g. `unsupported_grant_type`): a bug in dredge.
    Bug(String),
}

/// How a vendor issues tokens. Both calls go through the account's HTTP client (and
/// its rate gate); neither may put a secret into an error message.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Log in with the account's credentials (the password grant).
    async fn login(&self) -> Result<Grant, GrantError>;
    /// Exchange a refresh token for a new token.
    async fn refresh(&self, refresh_token: &Secret) -> Result<Grant, GrantError>;
}

/// A token handed to one caller, with the generation it belongs to.
#[derive(Debug, Clone)]
pub struct Lease {
    access_token: Secret,
    generation: u64,
}

impl Lease {
    /// The access token, for building a request. Never format it into text.
    pub fn access_token(&self) -> &Secret {
        &self.access_token
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// Why no usable token could be had.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    /// The vendor refused the account's credentials: stop the account. Sticky: every
    /// later call answers this without a request (the executor is rebuilt when the
    /// account's configuration changes).
    AuthFailed(String),
    /// The token endpoint failed transiently: a counted retry of the item.
    Transient(Failure),
    /// The token request itself is wrong: the item is dead, it is a bug to report.
    Bug(String),
}

impl TokenError {
    /// The item outcome this error means.
    pub fn into_outcome(self) -> Outcome {
        match self {
            TokenError::AuthFailed(message) => Outcome::AuthFailed { message },
            TokenError::Transient(failure) => Outcome::Retry(failure),
            TokenError::Bug(message) => Outcome::fatal(format!(
                "the token request was refused as malformed ({message}): a bug in dredge, please report it"
            )),
        }
    }
}

/// Counts of token requests made, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenStats {
    pub logins: u64,
    pub refreshes: u64,
}

/// Tokens issued one after another and rejected before any request succeeded with
/// them: at this many in a row the account's credentials count as rejected. A token
/// the vendor revokes now and then is refreshed; one refused every time is not.
pub const MAX_UNCONFIRMED_REJECTIONS: u32 = 3;

/// Longest lead time for renewing a token before it expires.
const MAX_RENEW_LEAD: Duration = Duration::from_secs(300);

/// One account's token. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct TokenCache {
    state: Mutex<State>,
    /// Held by whoever is fetching a token; others wait on it and then re-check.
    flight: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    held: Option<Held>,
    /// Survives a rejected access token: the next renewal tries it first.
    refresh_token: Option<Secret>,
    generation: u64,
    unconfirmed_rejections: u32,
    stopped: Option<String>,
    stats: TokenStats,
}

#[derive(Debug)]
struct Held {
    access_token: Secret,
    /// Renew once this passes; `None` = only when rejected.
    renew_at: Option<Instant>,
    /// A request succeeded with this token.
    confirmed: bool,
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// A token to use now: the current one while it is fresh, else one fetched (once
    /// for all callers that ask meanwhile).
    pub async fn lease(&self, auth: &dyn Authenticator) -> Result<Lease, TokenError> {
        if let Some(lease) = self.usable()? {
            return Ok(lease);
        }
        let _flight = self.flight.lock().await;
        // Whoever held the flight before us may have fetched one already.
        if let Some(lease) = self.usable()? {
            return Ok(lease);
        }
        self.renew(auth).await
    }

    /// The vendor rejected `lease`'s token (expired, revoked). Refreshes it unless a
    /// newer token is already in place; `Ok` means: try again at once with a new lease.
    pub async fn rejected(
        &self,
        auth: &dyn Authenticator,
        lease: &Lease,
    ) -> Result<(), TokenError> {
        let _flight = self.flight.lock().await;
        {
            let mut state = self.state();
            if let Some(reason) = &state.stopped {
                return Err(TokenError::AuthFailed(reason.clone()));
            }
            if state.generation != lease.generation {
                return Ok(());
            }
            let confirmed = state.held.as_ref().is_some_and(|h| h.confirmed);
            state.held = None;
            if !confirmed {
                state.unconfirmed_rejections += 1;
                if state.unconfirmed_rejections >= MAX_UNCONFIRMED_REJECTIONS {
                    let reason = format!(
                        "the vendor rejected {} fresh access tokens in a row before any request succeeded",
                        state.unconfirmed_rejections
                    );
                    return Err(stop(&mut state, reason));
                }
            }
        }
        self.renew(auth).await.map(|_| ())
    }

    /// A request succeeded with `lease`'s token: it and the credentials work.
    pub fn confirm(&self, lease: &Lease) {
        let mut state = self.state();
        if state.generation != lease.generation {
            return;
        }
        if let Some(held) = state.held.as_mut() {
            held.confirmed = true;
            state.unconfirmed_rejections = 0;
        }
    }

    pub fn stats(&self) -> TokenStats {
        self.state().stats
    }

    /// The reason the account stopped, if its credentials were rejected.
    pub fn stopped(&self) -> Option<String> {
        self.state().stopped.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usable(&self) -> Result<Option<Lease>, TokenError> {
        let state = self.state();
        if let Some(reason) = &state.stopped {
            return Err(TokenError::AuthFailed(reason.clone()));
        }
        let fresh = state
            .held
            .as_ref()
            .filter(|h| h.renew_at.is_none_or(|at| Instant::now() < at));
        Ok(fresh.map(|h| Lease {
            access_token: h.access_token.clone(),
            generation: state.generation,
        }))
    }

    /// Fetch a new token: the refresh grant when there is a refresh token, the
    /// password when there is none or the vendor refused it. Called with the flight held.
    async fn renew(&self, auth: &dyn Authenticator) -> Result<Lease, TokenError> {
        let refresh_token = self.state().refresh_token.take();
        if let Some(refresh_token) = refresh_token {
            self.state().stats.refreshes += 1;
            match auth.refresh(&refresh_token).await {
                Ok(grant) => return Ok(self.install(grant)),
                // Keep the refresh token: the vendor may not have seen the request.
                Err(GrantError::Transient(failure)) => {
                    self.state().refresh_token = Some(refresh_token);
                    return Err(TokenError::Transient(failure));
                }
                // Refused or malformed: the password still works for a fresh login.
                Err(GrantError::Rejected(_) | GrantError::Bug(_)) => {}
            }
        }
        self.state().stats.logins += 1;
        match auth.login().await {
            Ok(grant) => Ok(self.install(grant)),
            Err(GrantError::Rejected(message)) => Err(stop(&mut self.state(), message)),
            Err(GrantError::Transient(failure)) => Err(TokenError::Transient(failure)),
            Err(GrantError::Bug(message)) => Err(TokenError::Bug(message)),
        }
    }

    fn install(&self, grant: Grant) -> Lease {
        let mut state = self.state();
        state.generation += 1;
        if grant.refresh_token.is_some() {
            state.refresh_token = grant.refresh_token;
        }
        let renew_at = grant
            .expires_in
            .map(|life| Instant::now() + life - renew_lead(life));
        state.held = Some(Held {
            access_token: grant.access_token.clone(),
            renew_at,
            confirmed: false,
        });
        Lease {
            access_token: grant.access_token,
            generation: state.generation,
        }
    }
}

/// How long before expiry a token is renewed: a tenth of its life, at most 5 minutes.
fn renew_lead(life: Duration) -> Duration {
    (life / 10).min(MAX_RENEW_LEAD)
}

fn stop(state: &mut State, reason: String) -> TokenError {
    state.held = None;
    state.stopped = Some(reason.clone());
    TokenError::AuthFailed(reason)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::outcome::FailureClass;

    /// An authenticator answering from scripts (default: a token for one hour), slow
    /// enough that concurrent callers really do overlap.
    #[derive(Default)]
    struct Scripted {
        logins: AtomicU32,
        refreshes: AtomicU32,
        login_answers: Mutex<VecDeque<Result<Grant, GrantError>>>,
        refresh_answers: Mutex<VecDeque<Result<Grant, GrantError>>>,
        life: Option<Duration>,
    }

    fn grant(n: u32, life: Option<Duration>) -> Grant {
        Grant {
            access_token: Secret::new(format!("access-{n}")),
            refresh_token: Some(Secret::new(format!("refresh-{n}"))),
            expires_in: life,
        }
    }

    impl Scripted {
        fn living(life: Duration) -> Self {
            Scripted {
                life: Some(life),
                ..Scripted::default()
            }
        }

        fn next(
            &self,
            answers: &Mutex<VecDeque<Result<Grant, GrantError>>>,
            n: u32,
        ) -> Result<Grant, GrantError> {
            let scripted = answers.lock().unwrap().pop_front();
            scripted.unwrap_or_else(|| Ok(grant(n, self.life.or(Some(Duration::from_secs(3600))))))
        }
    }

    #[async_trait]
    impl Authenticator for Scripted {
        async fn login(&self) -> Result<Grant, GrantError> {
            let n = self.logins.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.next(&self.login_answers, n)
        }

        async fn refresh(&self, _refresh_token: &Secret) -> Result<Grant, GrantError> {
            let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 101;
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.next(&self.refresh_answers, n)
        }
    }

    fn calls(auth: &Scripted) -> (u32, u32) {
        (
            auth.logins.load(Ordering::SeqCst),
            auth.refreshes.load(Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn twenty_concurrent_callers_cause_one_login() {
        let cache = Arc::new(TokenCache::new());
        let auth = Arc::new(Scripted::default());
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (cache, auth) = (cache.clone(), auth.clone());
            tasks.spawn(async move { cache.lease(auth.as_ref()).await.map(|l| l.generation()) });
        }
        while let Some(joined) = tasks.join_next().await {
            assert_eq!(joined.expect("no panic"), Ok(1));
        }
        assert_eq!(calls(&auth), (1, 0));
    }

    #[tokio::test]
    async fn twenty_callers_rejecting_the_same_token_cause_one_refresh() {
        let cache = Arc::new(TokenCache::new());
        let auth = Arc::new(Scripted::default());
        let first = cache.lease(auth.as_ref()).await.expect("a token");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (cache, auth, first) = (cache.clone(), auth.clone(), first.clone());
            tasks.spawn(async move { cache.rejected(auth.as_ref(), &first).await });
        }
        while let Some(joined) = tasks.join_next().await {
            assert_eq!(joined.expect("no panic"), Ok(()));
        }
        assert_eq!(calls(&auth), (1, 1), "one login, then one refresh");
        let now = cache.lease(auth.as_ref()).await.expect("a token");
        assert_eq!(now.generation(), 2);
        assert_eq!(now.access_token().expose(), "access-101");
    }

    #[tokio::test]
    async fn a_caller_that_saw_an_old_token_fail_does_not_refresh_again() {
        let cache = TokenCache::new();
        let auth = Scripted::default();
        let old = cache.lease(&auth).await.expect("a token");
        cache.rejected(&auth, &old).await.expect("refreshed");
        cache.rejected(&auth, &old).await.expect("nothing to do");
        assert_eq!(calls(&auth), (1, 1));
    }

    #[tokio::test]
    async fn a_refused_refresh_token_falls_back_to_the_password() {
        let cache = TokenCache::new();
        let auth = Scripted::default();
        auth.refresh_answers
            .lock()
            .unwrap()
            .push_back(Err(GrantError::Rejected("invalid_grant".into())));
        let old = cache.lease(&auth).await.expect("a token");
        cache.rejected(&auth, &old).await.expect("logged in again");
        assert_eq!(calls(&auth), (2, 1));
        let now = cache.lease(&auth).await.expect("a token");
        assert_eq!(now.access_token().expose(), "access-2");
    }

    #[tokio::test]
    async fn rejected_credentials_stop_the_account_after_one_request() {
        let cache = TokenCache::new();
        let auth = Scripted::default();
        let refused = GrantError::Rejected("The user name or password is incorrect.".into());
        auth.login_answers.lock().unwrap().push_back(Err(refused));
        for _ in 0..5 {
            let err = cache.lease(&auth).await.expect_err("no token");
            assert!(matches!(err, TokenError::AuthFailed(ref m) if m.contains("incorrect")));
        }
        assert_eq!(calls(&auth), (1, 0), "one login, no hammering");
        assert!(cache.stopped().is_some());
    }

    #[tokio::test]
    async fn a_token_near_its_expiry_is_renewed_with_the_refresh_grant() {
        let cache = TokenCache::new();
        // A zero lifetime is already inside the renewal lead.
        let auth = Scripted::living(Duration::ZERO);
        let first = cache.lease(&auth).await.expect("a token");
        let second = cache.lease(&auth).await.expect("a token");
        assert_eq!(calls(&auth), (1, 1));
        assert_eq!(second.generation(), first.generation() + 1);
    }

    #[tokio::test]
    async fn a_token_far_from_expiry_is_reused() {
        let cache = TokenCache::new();
        let auth = Scripted::living(Duration::from_secs(86_399));
        for _ in 0..10 {
            cache.lease(&auth).await.expect("a token");
        }
        assert_eq!(calls(&auth), (1, 0));
    }

    #[tokio::test]
    async fn fresh_tokens_refused_every_time_stop_the_account() {
        let cache = TokenCache::new();
        let auth = Scripted::default();
        let mut last = Ok(());
        for _ in 0..10 {
            let lease = cache.lease(&auth).await;
            let Ok(lease) = lease else { break };
            last = cache.rejected(&auth, &lease).await;
            if last.is_err() {
                break;
            }
        }
        assert!(matches!(last, Err(TokenError::AuthFailed(_))), "{last:?}");
        let (logins, refreshes) = calls(&auth);
        assert_eq!(logins + refreshes, MAX_UNCONFIRMED_REJECTIONS);
    }

    #[tokio::test]
    async fn a_confirmed_token_may_be_revoked_any_number_of_times() {
        let cache = TokenCache::new();
        let auth = Scripted::default();
        for _ in 0..10 {
            let lease = cache.lease(&auth).await.expect("a token");
            cache.confirm(&lease);
            cache.rejected(&auth, &lease).await.expect("refreshed");
        }
        assert!(cache.stopped().is_none());
        assert_eq!(calls(&auth), (1, 10));
    }

    #[tokio::test]
    async fn a_transient_refresh_failure_keeps_the_refresh_token_for_next_time() {
        let cache = TokenCache::new();
        let auth = Scripted::default();
        let failure = Failure {
            class: FailureClass::Server,
            message: "HTTP 503".into(),
            retry_after: None,
            budget: None,
        };
        auth.refresh_answers
            .lock()
            .unwrap()
            .push_back(Err(GrantError::Transient(failure)));
        let old = cache.lease(&auth).await.expect("a token");
        let err = cache.rejected(&auth, &old).await.expect_err("transient");
        assert!(matches!(err, TokenError::Transient(_)));
        let now = cache.lease(&auth).await.expect("a token");
        assert_eq!(
            calls(&auth),
            (1, 2),
            "the second try used the refresh grant again"
        );
        assert_eq!(now.access_token().expose(), "access-102");
    }

    #[tokio::test]
    async fn a_malformed_login_is_a_bug_not_a_stop() {
        let cache = TokenCache::new();
        let auth = Scripted::default();
        let bug = GrantError::Bug("unsupported_grant_type".into());
        auth.login_answers.lock().unwrap().push_back(Err(bug));
        let err = cache.lease(&auth).await.expect_err("a bug");
        assert!(matches!(err.clone().into_outcome(), Outcome::Fatal { .. }));
        assert!(cache.stopped().is_none());
    }
}

//! Property-based contract tests of every operation of the committed `openapi.yaml`.
//!
//! Strategies generate valid and invalid inputs for each operation (bodies, query
//! parameters, path ids, `If-Match`, tokens of every kind, `X-Request-ID`); each request
//! goes to a live server, and every answer must
//! (a) have a status the spec declares for that operation (read from openapi.yaml here),
//! (b) have a body valid against the declared schema (OpenAPI 3.0 converted to JSON
//!     Schema: `nullable` becomes a null type, objects are closed) and the declared
//!     required headers,
//! (c) if it is an error, carry a documented `error_code` whose catalog status (API.md)
//!     is the HTTP status, `details.field` for `VALIDATION_*`, `request_id` = `X-Request-ID`,
//! (d) never be a 5xx.
//! A ledger records every observed (operationId, status, error_code); at the end every
//! pair of a hand-written table (API.md and the spec) must have been reached.
//!
//! Per operation, two phases: a sweep (the all-valid request, then every class of every
//! input dimension once with the other dimensions valid, its one expected outcome
//! asserted), then proptest fuzzing (random combinations; the expected outcome is
//! asserted whenever at most one dimension is invalid). Deterministic (ChaCha, fixed
//! seed); `PROPTEST_CASES` sets the fuzz cases per operation (default 32).
//! SERVER_001/SERVER_002 are left to the fault-injection tests (tests/api/operations*).
//!
//! The parts: [`catalog`] (the codes and the pairs to reach), [`spec`] and [`schema`]
//! (what openapi.yaml declares), [`strategies`] (value strategies, shared with
//! `tests/api/properties.rs`), [`input`] and [`classes`] (each operation's input
//! dimensions), [`world`] (the server, its users, and the one sender), [`call`] and
//! [`checks`] (a request and the rules its answer keeps), [`routes`] (outside the
//! spec's routes), [`ledger`] (what was reached, and the report).

mod call;
mod catalog;
mod checks;
mod classes;
mod input;
mod ledger;
mod routes;
mod schema;
mod spec;
pub mod strategies;
mod world;

use std::cell::RefCell;
use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use reqwest::Method;

use crate::helpers::*;
use call::Call;
use catalog::{BEARER_OPS, CATALOG};
use classes::op_defs;
use input::OpDef;
use ledger::{report, Ledger, Phase, Totals, Violation};
use spec::Spec;
use world::World;

/// Fuzz cases per operation unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 32;

fn cases() -> u32 {
    strategies::cases(DEFAULT_CASES)
}

/// A failure is reported as drawn: shrinking would resend requests to a server whose
/// state the earlier ones changed.
fn runner() -> TestRunner {
    strategies::runner(cases(), false)
}

/// The spec's error codes are the catalog's, and each operation has one definition.
fn check_definitions(spec: &Spec, defs: &[OpDef]) {
    let catalog: BTreeSet<&str> = CATALOG.iter().map(|(c, _)| *c).collect();
    let declared: BTreeSet<&str> = spec.error_codes.iter().map(String::as_str).collect();
    assert_eq!(
        catalog, declared,
        "the spec's ErrorCode enum is API.md's catalog"
    );
    let defined: BTreeSet<&str> = defs.iter().map(|d| d.op).collect();
    let operations: BTreeSet<&str> = spec.operation_ids().into_iter().collect();
    assert_eq!(
        defined, operations,
        "one definition per operation of openapi.yaml"
    );
    for d in defs {
        let bearer = BEARER_OPS.contains(&d.op);
        assert_eq!(!d.tokens.is_empty(), bearer, "{}: tokens iff bearer", d.op);
    }
}

/// Every class of every dimension once, the rest valid; then unknown routes and every
/// undeclared method of every path.
fn sweep(rt: &tokio::runtime::Runtime, world: &World, defs: &[OpDef], spec: &Spec) {
    world.phase.set(Phase::Sweep);
    let mut sampler = runner();
    for def in defs {
        for input in def.sweep(&mut sampler) {
            rt.block_on(world.execute(def, &input, None));
        }
    }
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    rt.block_on(async {
        for path in [
            "/zz-nope",
            "/api/v1/zz-nope",
            "/api/v1/auth/zz-nope",
            "/api/v2/todos",
        ] {
            world.unknown_route(Method::GET, path.to_owned()).await;
        }
        for (path, declared) in &spec.paths_and_methods() {
            let path = path.replace("{id}", &world.a_todo);
            for m in methods.iter().filter(|m| !declared.contains(m)) {
                world
                    .wrong_method(m.clone(), path.clone(), declared, true)
                    .await;
            }
        }
    });
}

/// Random combinations, `cases()` per operation, unknown routes and wrong methods.
fn fuzz(rt: &tokio::runtime::Runtime, world: &World, defs: &[OpDef], spec: &Spec) {
    world.phase.set(Phase::Fuzz);
    for def in defs {
        runner()
            .run(&def.strategy(), |input| {
                rt.block_on(world.execute(def, &input, None));
                Ok(())
            })
            .unwrap();
    }
    runner()
        .run(&routes::unknown_route(), |(m, path)| {
            rt.block_on(world.unknown_route(m, path));
            Ok(())
        })
        .unwrap();
    runner()
        .run(&routes::wrong_method(spec), |(m, path, declared, token)| {
            rt.block_on(world.wrong_method(m, path, &declared, token));
            Ok(())
        })
        .unwrap();
}

/// The auth operations whose requests the rate limit counts.
fn limited_defs() -> Vec<OpDef> {
    op_defs()
        .into_iter()
        .filter(|d| {
            matches!(
                d.op,
                "register" | "login" | "issue_token" | "refresh_token" | "request_password_reset"
            )
        })
        .map(|mut d| {
            // A rotated refresh token needs unlimited logins to make.
            d.body.retain(|c| !c.label.contains("reused"));
            d
        })
        .collect()
}

/// The auth operations share one rate-limit bucket: on a server allowing 2 requests a
/// minute, every one of them answers 429 RATE_LIMIT_001 once the bucket is empty, while
/// other routes are not limited. Returns the number of requests sent.
fn rate_limit_phase(
    rt: &tokio::runtime::Runtime,
    backend: Backend,
    spec: &Spec,
    ledger: &RefCell<Ledger>,
    violations: &RefCell<Vec<Violation>>,
) -> u64 {
    let vars = [("AUTH_RATE_LIMIT_PER_MINUTE", "2")];
    let app = rt.block_on(TestApp::spawn_with(backend, &vars));
    let w = World::bare(&app, spec, ledger, violations, true);
    let limited = limited_defs();
    let limit = Some((429, Some("RATE_LIMIT_001"), None, "bucket empty".to_owned()));
    w.phase.set(Phase::Sweep);
    rt.block_on(limited_sweep(&w, &limited, &limit, spec));
    w.phase.set(Phase::Fuzz);
    // The bucket refills one request every 30 s: stay well inside that.
    let mut fuzz = strategies::runner(cases().min(64), false);
    let strategy = (0..limited.len())
        .prop_flat_map(|i| limited[i].strategy().prop_map(move |input| (i, input)));
    fuzz.run(&strategy, |(i, input)| {
        // Whether the body limit or content type is checked first is not pinned.
        let pinned = match input.body.label {
            "over 1 MiB" | "unsupported content type" | "JSON instead of a form" => None,
            _ => limit.clone(),
        };
        rt.block_on(w.execute(&limited[i], &input, Some(pinned)));
        Ok(())
    })
    .unwrap();
    w.requests.get()
}

/// Empties the bucket, then expects 429 from every limited operation and no limit on
/// the other auth routes.
async fn limited_sweep(
    w: &World<'_>,
    limited: &[OpDef],
    limit: &Option<world::Expected>,
    spec: &Spec,
) {
    let mut sampler = runner();
    // Empty the bucket: two requests pass (whatever they answer).
    for def in &limited[..2] {
        let input = def.sweep(&mut sampler).remove(0);
        w.execute(def, &input, Some(None)).await;
    }
    for def in limited {
        let input = def.sweep(&mut sampler).remove(0);
        w.execute(def, &input, Some(limit.clone())).await;
    }
    // Not limited: the other auth routes and everything else.
    for (op, path) in [
        ("get_me", "/api/v1/auth/me"),
        ("logout", "/api/v1/auth/logout"),
    ] {
        let call = Call::new(op, spec.op(op).method.clone(), path.to_owned());
        let out = w.send_call(&call).await;
        if (out.status, out.code.as_deref()) != (401, Some("AUTH_005")) {
            let what = format!(
                "not rate limited: expected 401 AUTH_005, got {} {:?}",
                out.status, out.code
            );
            w.violation(op, what, &call, &out.body.to_string());
        }
    }
}

/// A phase on a server of its own, configured for one sweep of checks.
#[derive(Clone, Copy)]
enum ConfiguredSweep {
    /// With `REQUIRE_VERIFIED_EMAIL=true`, login and token refuse an unverified
    /// account (403 AUTHZ_002).
    Verification,
    /// With local accounts off and an external issuer (shared secret), the
    /// local-account and password operations answer 403 AUTHZ_003.
    Identity,
}

impl ConfiguredSweep {
    fn vars(self) -> Vec<(&'static str, &'static str)> {
        match self {
            ConfiguredSweep::Verification => vec![("REQUIRE_VERIFIED_EMAIL", "true")],
            ConfiguredSweep::Identity => vec![
                ("LOCAL_AUTH", "disabled"),
                ("EXTERNAL_ISSUER", crate::external::issuer::ISSUER),
                ("EXTERNAL_JWT_SECRET", world::SHARED_SECRET),
            ],
        }
    }
}

/// Runs `sweep` on a server configured for it. Returns the number of requests sent.
fn configured_phase(
    rt: &tokio::runtime::Runtime,
    backend: Backend,
    spec: &Spec,
    ledger: &RefCell<Ledger>,
    violations: &RefCell<Vec<Violation>>,
    sweep: ConfiguredSweep,
) -> u64 {
    let app = rt.block_on(TestApp::spawn_with(backend, &sweep.vars()));
    let w = World::bare(&app, spec, ledger, violations, false);
    w.phase.set(Phase::Sweep);
    match sweep {
        ConfiguredSweep::Verification => rt.block_on(w.unverified_logins()),
        ConfiguredSweep::Identity => rt.block_on(w.not_available()),
    }
    w.requests.get()
}

fn run(backend: Backend) {
    let started = std::time::Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let spec = Spec::load();
    let defs = op_defs();
    check_definitions(&spec, &defs);

    let ledger = RefCell::new(Ledger::default());
    let violations = RefCell::new(Vec::new());
    let app = rt.block_on(TestApp::spawn(backend));
    let world = rt.block_on(World::setup(&app, &spec, &ledger, &violations));
    sweep(&rt, &world, &defs, &spec);
    let sweep_requests = world.requests.get();
    fuzz(&rt, &world, &defs, &spec);
    let fuzz_requests = world.requests.get() - sweep_requests;
    if std::env::var("CONTRACT_VERBOSE").is_ok_and(|v| v == "1") {
        for (class, answers) in world.answers.borrow().iter() {
            let answers: Vec<&str> = answers.iter().map(String::as_str).collect();
            eprintln!("  {class} -> {}", answers.join(", "));
        }
    }
    drop(world);
    drop(app);

    let limited = rate_limit_phase(&rt, backend, &spec, &ledger, &violations)
        + [ConfiguredSweep::Verification, ConfiguredSweep::Identity]
            .into_iter()
            .map(|sweep| configured_phase(&rt, backend, &spec, &ledger, &violations, sweep))
            .sum::<u64>();
    let totals = Totals {
        sweep: sweep_requests,
        fuzz: fuzz_requests,
        limited,
        cases: cases(),
        elapsed: started.elapsed(),
    };
    report(
        backend,
        &spec,
        &ledger.borrow(),
        &violations.borrow(),
        totals,
    );
}

#[test]
fn contract_sqlite() {
    run(Backend::Sqlite);
}

#[test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
fn contract_postgres() {
    if skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping contract_postgres");
        return;
    }
    run(Backend::Postgres);
}

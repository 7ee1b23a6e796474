//! Todos: lifecycle, isolation, pagination, filters, sorting, ETags (`/api/v1/todos`).

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// A user's view of the todo API.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl<'a> Client<'a> {
    pub async fn new(app: &'a TestApp) -> Client<'a> {
        let (_, _, tokens) = app.register_and_login().await;
        Client {
            app,
            token: tokens.access,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        req.send().await.expect("request sent")
    }

    /// Creates a todo, asserting 201 with `Location` and `ETag`.
    pub async fn create(&self, body: Value) -> Value {
        let resp = self
            .send(Method::POST, "/api/v1/todos", Some(body), None)
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        let todo: Value = resp.json().await.unwrap();
        assert_eq!(
            location,
            format!("/api/v1/todos/{}", todo["id"].as_str().unwrap())
        );
        assert_eq!(etag, format!("\"{}\"", todo["version"]));
        todo
    }

    /// Sends and expects 200 with an ETag equal to the version; returns the todo.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Value {
        let resp = self.send(method, path, body, if_match).await;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let todo: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{todo}");
        assert_eq!(etag, Some(format!("\"{}\"", todo["version"])), "{todo}");
        todo
    }

    pub async fn list(&self, query: &str) -> Value {
        let resp = self
            .send(Method::GET, &format!("/api/v1/todos?{query}"), None, None)
            .await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        body
    }

    pub async fn titles(&self, query: &str) -> Vec<String> {
        let page = self.list(query).await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect()
    }
}

const PRIORITIES: [&str; 3] = ["low", "medium", "high"];

fn path(todo: &Value) -> String {
    format!("/api/v1/todos/{}", todo["id"].as_str().unwrap())
}

both_backends! {
    async fn todo_lifecycle(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let todo = c.create(json!({"title": "  Write tests  ", "description": "both backends",
            "priority": "high", "due_date": "2030-01-02T03:04:05+02:00", "tags": ["work"]})).await;
        assert_eq!(todo["title"], "Write tests", "title is trimmed");
        assert_eq!(todo["version"], 1);
        assert_eq!(todo["is_completed"], false);
        assert!(todo["completed_at"].is_null());
        assert_eq!(todo["due_date"], "2030-01-02T01:04:05Z");
        assert_eq!(todo["tags"][0]["name"], "work");
        let p = path(&todo);

        let got = c.ok(Method::GET, &p, None, None).await;
        assert_eq!(got, todo);
        let page = c.list("").await;
        assert_eq!(page["total"], 1);
        assert_eq!(page["items"][0], todo);

        let put = c.ok(Method::PUT, &p, Some(json!({"title": "Replaced"})), None).await;
        assert_eq!((put["title"].as_str(), put["version"].as_i64()), (Some("Replaced"), Some(2)));
        assert!(put["description"].is_null() && put["due_date"].is_null(), "PUT resets absent fields: {put}");
        assert_eq!(put["priority"], "medium");
        assert_eq!(put["tags"], json!([]));

        let patched = c.ok(Method::PATCH, &p, Some(json!({"description": "patched", "priority": "low"})), None).await;
        assert_eq!(patched["title"], "Replaced", "absent fields stay");
        assert_eq!((patched["description"].as_str(), patched["priority"].as_str()), (Some("patched"), Some("low")));
        assert_eq!(patched["version"], 3);
        let cleared = c.ok(Method::PATCH, &p, Some(json!({"description": null})), None).await;
        assert!(cleared["description"].is_null(), "null clears: {cleared}");

        let done = c.ok(Method::PATCH, &format!("{p}/complete"), None, None).await;
        assert_eq!(done["is_completed"], true);
        assert!(done["completed_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{done}");
        let reopened = c.ok(Method::PATCH, &format!("{p}/complete"), None, None).await;
        assert_eq!(reopened["is_completed"], false);
        assert!(reopened["completed_at"].is_null());
        assert_eq!(reopened["version"], 6);

        let resp = c.send(Method::DELETE, &p, None, None).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(resp.text().await.unwrap(), "");
        assert_error(c.send(Method::GET, &p, None, None).await, StatusCode::NOT_FOUND, "RESOURCE_001").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM todo_tags").await, 0);
    }

    async fn completion_via_patch_and_put(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let todo = c.create(json!({"title": "t", "is_completed": true})).await;
        let since = todo["completed_at"].as_str().expect("completed on create").to_owned();
        let p = path(&todo);
        let same = c.ok(Method::PUT, &p, Some(json!({"title": "t2", "is_completed": true})), None).await;
        assert_eq!(same["completed_at"], since.as_str(), "staying completed keeps completed_at");
        let open = c.ok(Method::PATCH, &p, Some(json!({"is_completed": false})), None).await;
        assert!(open["completed_at"].is_null());
    }

    async fn users_are_isolated(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let a = Client::new(&app).await;
        let b = Client::new(&app).await;
        let todo = a.create(json!({"title": "A original", "tags": ["a-tag"]})).await;
        let tag_id = todo["tags"][0]["id"].as_str().unwrap().to_owned();
        let p = path(&todo);
        let tp = format!("/api/v1/tags/{tag_id}");
        for (method, url, body) in [
            (Method::GET, p.clone(), None),
            (Method::PUT, p.clone(), Some(json!({"title": "B was here"}))),
            (Method::PATCH, p.clone(), Some(json!({"title": "B was here"}))),
            (Method::PATCH, format!("{p}/complete"), None),
            (Method::DELETE, p.clone(), None),
            (Method::GET, tp.clone(), None),
            (Method::PATCH, tp.clone(), Some(json!({"name": "B was here"}))),
            (Method::DELETE, tp.clone(), None),
        ] {
            let resp = b.send(method.clone(), &url, body, None).await;
            assert_error(resp, StatusCode::FORBIDDEN, "AUTHZ_001").await;
        }
        assert_eq!(b.list("").await["total"], 0);
        assert_eq!(b.list("tag=a-tag").await["items"], json!([]));
        let tags: Value = b.send(Method::GET, "/api/v1/tags", None, None).await.json().await.unwrap();
        assert_eq!(tags["total"], 0);
        // A's data is untouched, in the database itself.
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE title = 'A original' AND version = 1 AND is_completed = FALSE").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM tags WHERE name = 'a-tag'").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE title = 'B was here'").await, 0);
        assert_eq!(a.ok(Method::GET, &p, None, None).await, todo);
    }

    async fn body_ids_are_never_trusted(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let a = Client::new(&app).await;
        let b = Client::new(&app).await;
        let a_todo = a.create(json!({"title": "mine"})).await;
        let forged = json!({"title": "forged", "user_id": a_todo["user_id"], "id": a_todo["id"], "version": 99});
        let b_todo = b.create(forged).await;
        assert_ne!(b_todo["user_id"], a_todo["user_id"]);
        assert_ne!(b_todo["id"], a_todo["id"]);
        assert_eq!(b_todo["version"], 1);
        assert_eq!(a.list("").await["total"], 1);
    }

    async fn pagination_never_repeats_or_skips(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        for i in 0..45 {
            let mut body = json!({"title": format!("Todo {}", i % 7), "priority": PRIORITIES[i % 3]});
            if i % 2 == 0 {
                body["due_date"] = json!(format!("2030-01-{:02}T00:00:00Z", 1 + i % 5));
            }
            if i % 4 == 0 {
                body["is_completed"] = json!(true);
            }
            c.create(body).await;
        }
        let first = c.list("").await;
        assert_eq!((first["total"].as_i64(), first["limit"].as_i64(), first["has_more"].as_bool()), (Some(45), Some(20), Some(true)));
        for sort in ["created_at", "updated_at", "completed_at", "title", "due_date", "priority"] {
            for order in ["asc", "desc"] {
                let mut seen = HashSet::new();
                let mut sizes = vec![];
                for skip in [0, 20, 40] {
                    let page = c.list(&format!("sort_by={sort}&sort_order={order}&skip={skip}&limit=20")).await;
                    assert_eq!(page["total"], 45);
                    assert_eq!(page["skip"], skip);
                    assert_eq!(page["has_more"], skip < 40, "{sort} {order} {skip}");
                    let items = page["items"].as_array().unwrap();
                    sizes.push(items.len());
                    for t in items {
                        assert!(seen.insert(t["id"].as_str().unwrap().to_owned()), "repeated item in {sort} {order}");
                    }
                }
                assert_eq!(sizes, [20, 20, 5], "{sort} {order}");
                assert_eq!(seen.len(), 45, "{sort} {order}");
            }
        }
        let beyond = c.list("skip=100").await;
        assert_eq!((beyond["total"].as_i64(), beyond["has_more"].as_bool()), (Some(45), Some(false)));
        assert_eq!(beyond["items"], json!([]));
    }

    async fn filters_and_search(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        c.create(json!({"title": "café au lait", "tags": ["Drinks"], "priority": "low"})).await;
        c.create(json!({"title": "Привет мир", "description": "greeting", "priority": "high", "is_completed": true})).await;
        c.create(json!({"title": "100% done", "due_date": "2030-06-01T00:00:00Z"})).await;
        c.create(json!({"title": "snake_case name", "due_date": "2030-01-01T00:00:00Z", "tags": ["drinks", "code"]})).await;
        c.create(json!({"title": "plain", "description": "1000 items"})).await;

        let q = |s: &str| format!("q={}", urlencode(s));
        assert_eq!(c.titles(&q("CAFÉ")).await, ["café au lait"]);
        assert_eq!(c.titles(&q("привет")).await, ["Привет мир"]);
        assert_eq!(c.titles(&q("GREET")).await, ["Привет мир"], "description matches");
        assert_eq!(c.titles(&q("%")).await, ["100% done"], "% is literal");
        assert_eq!(c.titles(&q("_")).await, ["snake_case name"], "_ is literal");
        assert_eq!(c.titles(&q("0%")).await, ["100% done"]);
        assert!(c.titles(&q("nothing-like-this")).await.is_empty());
        assert_eq!(c.titles("is_completed=true").await, ["Привет мир"]);
        assert_eq!(c.list("is_completed=false").await["total"], 4);
        assert_eq!(c.titles("priority=high").await, ["Привет мир"]);
        assert_eq!(c.titles("tag=DRINKS&sort_by=title&sort_order=asc").await, ["café au lait", "snake_case name"]);
        assert_eq!(c.titles("tag=code").await, ["snake_case name"]);
        assert!(c.titles("tag=unknown").await.is_empty());
        assert_eq!(c.titles("due_after=2030-01-01T00:00:00Z").await, ["100% done"], "due_after is exclusive");
        assert_eq!(c.titles("due_before=2030-06-01T00:00:00Z").await, ["snake_case name"], "due_before is exclusive");
        assert_eq!(c.list("due_before=2031-01-01T00:00:00Z&due_after=2029-01-01T00:00:00Z").await["total"], 2);
        assert_eq!(c.titles("q=a&priority=low&tag=drinks").await, ["café au lait"], "filters combine");
    }

    async fn sorting_rules(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        c.create(json!({"title": "banana", "priority": "high", "due_date": "2030-01-02T00:00:00Z"})).await;
        c.create(json!({"title": "Apple", "priority": "low"})).await;
        c.create(json!({"title": "cherry", "priority": "medium", "due_date": "2030-01-01T00:00:00Z"})).await;
        assert_eq!(c.titles("sort_by=title&sort_order=asc").await, ["Apple", "banana", "cherry"], "title ignores case");
        assert_eq!(c.titles("sort_by=title&sort_order=desc").await, ["cherry", "banana", "Apple"]);
        assert_eq!(c.titles("sort_by=priority&sort_order=asc").await, ["Apple", "cherry", "banana"], "by rank");
        assert_eq!(c.titles("sort_by=priority&sort_order=desc").await, ["banana", "cherry", "Apple"]);
        assert_eq!(c.titles("sort_by=due_date&sort_order=asc").await, ["cherry", "banana", "Apple"], "nulls last");
        assert_eq!(c.titles("sort_by=due_date&sort_order=desc").await, ["banana", "cherry", "Apple"], "nulls last");
        assert_eq!(c.titles("sort_by=created_at&sort_order=asc").await, ["banana", "Apple", "cherry"]);
        assert_eq!(c.titles("").await, ["cherry", "Apple", "banana"], "default: created_at desc");
    }

    async fn etags_and_if_match(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let todo = c.create(json!({"title": "versioned"})).await;
        let p = path(&todo);
        for (method, url, body) in [
            (Method::PUT, p.clone(), Some(json!({"title": "stale put"}))),
            (Method::PATCH, p.clone(), Some(json!({"title": "stale patch"}))),
            (Method::PATCH, format!("{p}/complete"), None),
            (Method::DELETE, p.clone(), None),
        ] {
            let resp = c.send(method, &url, body, Some("\"7\"")).await;
            assert_error(resp, StatusCode::PRECONDITION_FAILED, "PRECONDITION_001").await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE title = 'versioned' AND version = 1 AND is_completed = FALSE").await, 1);
        let v2 = c.ok(Method::PATCH, &p, Some(json!({"title": "fresh"})), Some("\"1\"")).await;
        assert_eq!(v2["version"], 2);
        // If-Match compares strongly: a weak ETag never matches.
        let weak = c.send(Method::PATCH, &p, Some(json!({"title": "weak"})), Some("W/\"2\"")).await;
        assert_error(weak, StatusCode::PRECONDITION_FAILED, "PRECONDITION_001").await;
        let v3 = c.ok(Method::PATCH, &p, Some(json!({"title": "strong"})), Some("\"3\", \"2\"")).await;
        assert_eq!(v3["version"], 3);
        let v4 = c.ok(Method::PUT, &p, Some(json!({"title": "any"})), Some("*")).await;
        assert_eq!(v4["version"], 4);
        assert_eq!(c.send(Method::DELETE, &p, None, Some("\"4\"")).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 0);
    }

    async fn concurrent_patches_with_one_if_match_have_one_winner(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let todo = c.create(json!({"title": "race"})).await;
        let url = app.url(&path(&todo));
        let mut handles = vec![];
        for i in 0..8 {
            let req = app.client.patch(&url).bearer_auth(&c.token).header("If-Match", "\"1\"")
                .json(&json!({"title": format!("writer {i}")}));
            handles.push(tokio::spawn(async move { req.send().await.unwrap().status() }));
        }
        let mut statuses = vec![];
        for h in handles {
            statuses.push(h.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED), "{statuses:?}");
        let now = c.ok(Method::GET, &path(&todo), None, None).await;
        assert_eq!(now["version"], 2);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE version = 2 AND title LIKE 'writer %'").await, 1);
    }

    async fn todo_validation_errors(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let post = |body: Value| c.send(Method::POST, "/api/v1/todos", Some(body), None);
        let u = StatusCode::UNPROCESSABLE_ENTITY;
        assert_field_error(post(json!({})).await, u, "VALIDATION_004", "title").await;
        assert_field_error(post(json!({"title": "   "})).await, u, "VALIDATION_004", "title").await;
        assert_field_error(post(json!({"title": 42})).await, u, "VALIDATION_004", "title").await;
        assert_field_error(post(json!({"title": "x", "is_completed": "yes"})).await, u, "VALIDATION_004", "is_completed").await;
        assert_field_error(post(json!({"title": "x".repeat(256)})).await, u, "VALIDATION_005", "title").await;
        let unicode = post(json!({"title": "é".repeat(255)})).await;
        assert_eq!(unicode.status(), StatusCode::CREATED, "lengths count characters, not bytes");
        assert_field_error(post(json!({"title": "x", "description": "d".repeat(10_001)})).await, u, "VALIDATION_005", "description").await;
        assert_field_error(post(json!({"title": "x", "tags": ["t".repeat(51)]})).await, u, "VALIDATION_005", "tags[0]").await;
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert_field_error(post(json!({"title": "x", "tags": many})).await, u, "VALIDATION_005", "tags").await;
        assert_field_error(post(json!({"title": "x", "priority": "urgent"})).await, u, "VALIDATION_006", "priority").await;
        assert_field_error(post(json!({"title": "x", "due_date": "tomorrow"})).await, u, "VALIDATION_009", "due_date").await;
        let resp = c.app.client.post(c.app.url("/api/v1/todos")).bearer_auth(&c.token)
            .header("content-type", "application/json").body("{not json").send().await.unwrap();
        assert_field_error(resp, u, "VALIDATION_004", "body").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 1, "only the valid 255-character title was stored");

        let bad_query = |q: &'static str| c.send(Method::GET, q, None, None);
        assert_field_error(bad_query("/api/v1/todos?limit=0").await, u, "VALIDATION_009", "limit").await;
        assert_field_error(bad_query("/api/v1/todos?limit=101").await, u, "VALIDATION_009", "limit").await;
        assert_field_error(bad_query("/api/v1/todos?skip=-1").await, u, "VALIDATION_009", "skip").await;
        assert_field_error(bad_query("/api/v1/todos?sort_by=size").await, u, "VALIDATION_006", "sort_by").await;
        assert_field_error(bad_query("/api/v1/todos?sort_order=up").await, u, "VALIDATION_006", "sort_order").await;
        assert_field_error(bad_query("/api/v1/todos?priority=urgent").await, u, "VALIDATION_006", "priority").await;
        assert_field_error(bad_query("/api/v1/todos?due_before=soon").await, u, "VALIDATION_009", "due_before").await;
        assert_field_error(bad_query("/api/v1/todos/not-a-uuid").await, u, "VALIDATION_009", "id").await;
        let missing = format!("/api/v1/todos/{}", uuid::Uuid::new_v4());
        assert_error(c.send(Method::GET, &missing, None, None).await, StatusCode::NOT_FOUND, "RESOURCE_001").await;
        assert_error(c.send(Method::DELETE, &missing, None, None).await, StatusCode::NOT_FOUND, "RESOURCE_001").await;
        let todo = c.create(json!({"title": "keep"})).await;
        for body in [json!({"title": null}), json!({"priority": null}), json!({"tags": null}), json!({"is_completed": null})] {
            let resp = c.send(Method::PATCH, &path(&todo), Some(body.clone()), None).await;
            assert_error(resp, u, "VALIDATION_004").await;
        }
        assert_eq!(c.ok(Method::GET, &path(&todo), None, None).await["version"], 1, "failed patches change nothing");
        let resp = c.app.client.get(c.app.url("/api/v1/todos")).send().await.unwrap();
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
    }

    async fn deleting_a_user_cascades(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let todo = c.create(json!({"title": "gone soon", "tags": ["x", "y"]})).await;
        let user_id = uuid::Uuid::parse_str(todo["user_id"].as_str().unwrap()).unwrap();
        assert_eq!(app.delete_user(user_id).await, 1);
        for table in ["todos", "tags", "todo_tags", "sessions"] {
            assert_eq!(app.count(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
        }
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

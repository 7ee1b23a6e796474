//! Todos: lifecycle, isolation, pagination, filters, sorting, ETags (`/api/v1/todos`).
//!
//! Every request the generated SDK can express goes through it (`client_sdk`); the
//! [`RawClient`] sends only what the SDK cannot (explicit JSON `null`, unknown fields,
//! values its types refuse, malformed JSON) and reads wire formats its types hide.

use std::collections::HashSet;

use client_sdk::types::{self, ErrorCode, Priority, SortBy, SortOrder};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::sdk_helpers::*;

/// A raw todo body as the SDK's `Todo`.
fn typed(todo: Value) -> types::Todo {
    serde_json::from_value(todo).expect("a Todo")
}

fn path(id: Uuid) -> String {
    format!("/api/v1/todos/{id}")
}

fn titled(title: &str) -> types::builder::TodoInput {
    types::TodoInput::builder().title(title)
}

const PRIORITIES: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

both_backends! {
    async fn todo_lifecycle(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, raw) = user(&app).await;
        // Raw: a due date with a UTC offset, normalised on the wire (the SDK's
        // DateTime<Utc> always sends `Z`, and reads any offset).
        let todo = raw.create(json!({"title": "  Write tests  ", "description": "both backends",
            "priority": "high", "due_date": "2030-01-02T03:04:05+02:00", "tags": ["work"]})).await;
        assert_eq!(todo["due_date"], "2030-01-02T01:04:05Z");
        let todo = typed(todo);
        assert_eq!(todo.title, "Write tests", "title is trimmed");
        assert_eq!(todo.version, 1);
        assert!(!todo.is_completed);
        assert!(todo.completed_at.is_none());
        assert_eq!(todo.tags[0].name, "work");
        let id = todo.id;

        let got = expect_todo(c.get_todo().id(id).send().await, StatusCode::OK);
        assert_eq!(as_json(&got), as_json(&todo));
        let page = expect_page(c.list_todos().send().await);
        assert_eq!(page.total, 1);
        assert_eq!(as_json(&page.items[0]), as_json(&todo));

        let put = c.replace_todo().id(id).body(titled("Replaced")).send().await;
        let put = expect_todo(put, StatusCode::OK);
        assert_eq!((put.title.as_str(), put.version), ("Replaced", 2));
        assert!(put.description.is_none() && put.due_date.is_none(), "PUT resets: {put:?}");
        assert_eq!(put.priority, Priority::Medium);
        assert!(put.tags.is_empty());

        let patch = types::TodoPatch::builder()
            .description(Some("patched".parse().unwrap()))
            .priority(Some(Priority::Low));
        let patched = expect_todo(c.update_todo().id(id).body(patch).send().await, StatusCode::OK);
        assert_eq!(patched.title, "Replaced", "absent fields stay");
        assert_eq!(patched.description.as_deref(), Some("patched"));
        assert_eq!(patched.priority, Priority::Low);
        assert_eq!(patched.version, 3);
        // Raw: an explicit JSON null, which TodoPatch cannot send.
        let null = Some(json!({"description": null}));
        let cleared = raw.ok(Method::PATCH, &path(id), null, None).await;
        assert!(cleared["description"].is_null(), "null clears: {cleared}");

        let done = expect_todo(c.toggle_todo().id(id).send().await, StatusCode::OK);
        assert!(done.is_completed);
        assert!(done.completed_at.is_some(), "{done:?}");
        // Raw: the wire text of completed_at (UTC, `Z`), which the typed DateTime hides.
        let wire = raw.ok(Method::GET, &path(id), None, None).await;
        assert!(wire["completed_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{wire}");
        let reopened = expect_todo(c.toggle_todo().id(id).send().await, StatusCode::OK);
        assert!(!reopened.is_completed);
        assert!(reopened.completed_at.is_none());
        assert_eq!(reopened.version, 6);

        let deleted = expect_ok(c.delete_todo().id(id).send().await, StatusCode::NO_CONTENT);
        let length = deleted.headers().get("content-length");
        assert!(length.is_none_or(|l| l == "0"), "an empty body: {length:?}");
        let gone = c.get_todo().id(id).send().await;
        expect_error(gone, StatusCode::NOT_FOUND, ErrorCode::Resource001);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM todo_tags").await, 0);
    }

    async fn completion_via_patch_and_put(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        let todo = create_todo(&c, titled("t").is_completed(Some(true))).await;
        let since = todo.completed_at.expect("completed on create");
        let put = titled("t2").is_completed(Some(true));
        let same = expect_todo(c.replace_todo().id(todo.id).body(put).send().await, StatusCode::OK);
        assert_eq!(same.completed_at, Some(since), "staying completed keeps completed_at");
        let patch = types::TodoPatch::builder().is_completed(Some(false));
        let open = c.update_todo().id(todo.id).body(patch).send().await;
        let open = expect_todo(open, StatusCode::OK);
        assert!(open.completed_at.is_none());
    }

    async fn users_are_isolated(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (a, _) = user(&app).await;
        let (b, _) = user(&app).await;
        let todo = create_todo(&a, titled("A original").tags(vec![tag_item("a-tag")])).await;
        let (id, tag_id) = (todo.id, todo.tags[0].id);
        let (forbidden, authz) = (StatusCode::FORBIDDEN, ErrorCode::Authz001);
        expect_error(b.get_todo().id(id).send().await, forbidden, authz);
        let put = b.replace_todo().id(id).body(titled("B was here")).send().await;
        expect_error(put, forbidden, authz);
        let patch = b.update_todo().id(id).body(patch_title("B was here")).send().await;
        expect_error(patch, forbidden, authz);
        expect_error(b.toggle_todo().id(id).send().await, forbidden, authz);
        expect_error(b.delete_todo().id(id).send().await, forbidden, authz);
        expect_error(b.get_tag().id(tag_id).send().await, forbidden, authz);
        let rename = types::TagPatch::builder().name(Some("B was here".parse().unwrap()));
        expect_error(b.update_tag().id(tag_id).body(rename).send().await, forbidden, authz);
        expect_error(b.delete_tag().id(tag_id).send().await, forbidden, authz);
        assert_eq!(expect_page(b.list_todos().send().await).total, 0);
        assert!(expect_page(b.list_todos().tag("a-tag").send().await).items.is_empty());
        let tags = expect_ok(b.list_tags().send().await, StatusCode::OK).into_inner();
        assert_eq!(tags.total, 0);
        // A's data is untouched, in the database itself.
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE title = 'A original' AND version = 1 AND is_completed = FALSE").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM tags WHERE name = 'a-tag'").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE title = 'B was here'").await, 0);
        let now = expect_todo(a.get_todo().id(id).send().await, StatusCode::OK);
        assert_eq!(as_json(&now), as_json(&todo));
    }

    async fn body_ids_are_never_trusted(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (a, _) = user(&app).await;
        let (_, b) = user(&app).await;
        let a_todo = create_todo(&a, titled("mine")).await;
        // Raw: `user_id`, `id` and `version` are not fields of TodoInput.
        let forged = json!({"title": "forged", "user_id": a_todo.user_id, "id": a_todo.id,
            "version": 99});
        let b_todo = typed(b.create(forged).await);
        assert_ne!(b_todo.user_id, a_todo.user_id);
        assert_ne!(b_todo.id, a_todo.id);
        assert_eq!(b_todo.version, 1);
        assert_eq!(expect_page(a.list_todos().send().await).total, 1);
    }

    async fn pagination_never_repeats_or_skips(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        for i in 0..45 {
            let mut input = titled(&format!("Todo {}", i % 7)).priority(Some(PRIORITIES[i % 3]));
            if i % 2 == 0 {
                input = input.due_date(Some(utc(&format!("2030-01-{:02}T00:00:00Z", 1 + i % 5))));
            }
            if i % 4 == 0 {
                input = input.is_completed(Some(true));
            }
            create_todo(&c, input).await;
        }
        let first = expect_page(c.list_todos().send().await);
        assert_eq!((first.total, first.limit, first.has_more), (45, 20, true));
        let sorts = [SortBy::CreatedAt, SortBy::UpdatedAt, SortBy::CompletedAt, SortBy::Title,
            SortBy::DueDate, SortBy::Priority];
        for sort in sorts {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                let mut seen = HashSet::new();
                let mut sizes = vec![];
                for skip in [0, 20, 40] {
                    let list = c.list_todos().sort_by(sort).sort_order(order).skip(skip).limit(20);
                    let page = expect_page(list.send().await);
                    assert_eq!(page.total, 45);
                    assert_eq!(page.skip, skip);
                    assert_eq!(page.has_more, skip < 40, "{sort} {order} {skip}");
                    sizes.push(page.items.len());
                    for t in &page.items {
                        assert!(seen.insert(t.id), "repeated item in {sort} {order}");
                    }
                }
                assert_eq!(sizes, [20, 20, 5], "{sort} {order}");
                assert_eq!(seen.len(), 45, "{sort} {order}");
            }
        }
        let beyond = expect_page(c.list_todos().skip(100).send().await);
        assert_eq!((beyond.total, beyond.has_more), (45, false));
        assert!(beyond.items.is_empty());
    }

    async fn filters_and_search(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        let greeting = Some("greeting".parse().unwrap());
        let items = Some("1000 items".parse().unwrap());
        create_todo(&c, titled("café au lait").tags(vec![tag_item("Drinks")])
            .priority(Some(Priority::Low))).await;
        create_todo(&c, titled("Привет мир").description(greeting).priority(Some(Priority::High))
            .is_completed(Some(true))).await;
        create_todo(&c, titled("100% done").due_date(Some(utc("2030-06-01T00:00:00Z")))).await;
        create_todo(&c, titled("snake_case name").due_date(Some(utc("2030-01-01T00:00:00Z")))
            .tags(vec![tag_item("drinks"), tag_item("code")])).await;
        create_todo(&c, titled("plain").description(items)).await;

        let list = || c.list_todos();
        let q = |s: &str| list().q(s);
        assert_eq!(titles(q("CAFÉ")).await, ["café au lait"]);
        assert_eq!(titles(q("привет")).await, ["Привет мир"]);
        assert_eq!(titles(q("GREET")).await, ["Привет мир"], "description matches");
        assert_eq!(titles(q("%")).await, ["100% done"], "% is literal");
        assert_eq!(titles(q("_")).await, ["snake_case name"], "_ is literal");
        assert_eq!(titles(q("0%")).await, ["100% done"]);
        assert!(titles(q("nothing-like-this")).await.is_empty());
        assert_eq!(titles(list().is_completed(true)).await, ["Привет мир"]);
        assert_eq!(expect_page(list().is_completed(false).send().await).total, 4);
        assert_eq!(titles(list().priority(Priority::High)).await, ["Привет мир"]);
        let by_title = list().tag("DRINKS").sort_by(SortBy::Title).sort_order(SortOrder::Asc);
        assert_eq!(titles(by_title).await, ["café au lait", "snake_case name"]);
        assert_eq!(titles(list().tag("code")).await, ["snake_case name"]);
        assert!(titles(list().tag("unknown")).await.is_empty());
        let after = list().due_after(utc("2030-01-01T00:00:00Z"));
        assert_eq!(titles(after).await, ["100% done"], "due_after is exclusive");
        let before = list().due_before(utc("2030-06-01T00:00:00Z"));
        assert_eq!(titles(before).await, ["snake_case name"], "due_before is exclusive");
        let between = list().due_before(utc("2031-01-01T00:00:00Z"))
            .due_after(utc("2029-01-01T00:00:00Z"));
        assert_eq!(expect_page(between.send().await).total, 2);
        let combined = q("a").priority(Priority::Low).tag("drinks");
        assert_eq!(titles(combined).await, ["café au lait"], "filters combine");
    }

    async fn sorting_rules(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        create_todo(&c, titled("banana").priority(Some(Priority::High))
            .due_date(Some(utc("2030-01-02T00:00:00Z")))).await;
        create_todo(&c, titled("Apple").priority(Some(Priority::Low))).await;
        create_todo(&c, titled("cherry").priority(Some(Priority::Medium))
            .due_date(Some(utc("2030-01-01T00:00:00Z")))).await;
        let sorted = |by, order| titles(c.list_todos().sort_by(by).sort_order(order));
        let (asc, desc) = (SortOrder::Asc, SortOrder::Desc);
        let (title, priority, due) = (SortBy::Title, SortBy::Priority, SortBy::DueDate);
        assert_eq!(sorted(title, asc).await, ["Apple", "banana", "cherry"], "title ignores case");
        assert_eq!(sorted(title, desc).await, ["cherry", "banana", "Apple"]);
        assert_eq!(sorted(priority, asc).await, ["Apple", "cherry", "banana"], "by rank");
        assert_eq!(sorted(priority, desc).await, ["banana", "cherry", "Apple"]);
        assert_eq!(sorted(due, asc).await, ["cherry", "banana", "Apple"], "nulls last");
        assert_eq!(sorted(due, desc).await, ["banana", "cherry", "Apple"], "nulls last");
        assert_eq!(sorted(SortBy::CreatedAt, asc).await, ["banana", "Apple", "cherry"]);
        let default = titles(c.list_todos()).await;
        assert_eq!(default, ["cherry", "Apple", "banana"], "default: created_at desc");
    }

    async fn etags_and_if_match(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        let id = create_todo(&c, titled("versioned")).await.id;
        let (failed, precondition) = (StatusCode::PRECONDITION_FAILED, ErrorCode::Precondition001);
        let stale = "\"7\"";
        let put = c.replace_todo().id(id).if_match(stale).body(titled("stale put")).send().await;
        expect_error(put, failed, precondition);
        let patch = c.update_todo().id(id).if_match(stale).body(patch_title("stale patch"));
        expect_error(patch.send().await, failed, precondition);
        expect_error(c.toggle_todo().id(id).if_match(stale).send().await, failed, precondition);
        expect_error(c.delete_todo().id(id).if_match(stale).send().await, failed, precondition);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE title = 'versioned' AND version = 1 AND is_completed = FALSE").await, 1);
        let v2 = c.update_todo().id(id).if_match("\"1\"").body(patch_title("fresh")).send().await;
        assert_eq!(expect_todo(v2, StatusCode::OK).version, 2);
        // If-Match compares strongly: a weak ETag never matches.
        let weak = c.update_todo().id(id).if_match("W/\"2\"").body(patch_title("weak"));
        expect_error(weak.send().await, failed, precondition);
        let v3 = c.update_todo().id(id).if_match("\"3\", \"2\"").body(patch_title("strong"));
        assert_eq!(expect_todo(v3.send().await, StatusCode::OK).version, 3);
        let v4 = c.replace_todo().id(id).if_match("*").body(titled("any")).send().await;
        assert_eq!(expect_todo(v4, StatusCode::OK).version, 4);
        expect_ok(c.delete_todo().id(id).if_match("\"4\"").send().await, StatusCode::NO_CONTENT);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 0);
    }

    async fn conditional_get_answers_304_while_the_etag_is_current(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, raw) = user(&app).await;
        let id = create_todo(&c, titled("cached")).await.id;
        let get = |tag: &str| {
            let req = app.client.get(app.url(&path(id))).bearer_auth(&raw.token);
            req.header("If-None-Match", tag).send()
        };
        // If-None-Match compares weakly; `*` matches any current version.
        for tag in ["\"1\"", "W/\"1\"", "\"7\", W/\"1\"", "*"] {
            let resp = get(tag).await.expect("request sent");
            assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{tag}");
            assert_eq!(resp.headers()["etag"], "\"1\"", "{tag}");
            assert!(resp.headers().contains_key("x-request-id"), "{tag}");
            assert!(resp.bytes().await.expect("body read").is_empty(), "{tag}: a body");
        }
        // Once the todo changed, the old ETag gets the new todo and its ETag.
        let patched = c.update_todo().id(id).body(types::TodoPatch::builder().is_completed(true));
        assert_eq!(expect_todo(patched.send().await, StatusCode::OK).version, 2);
        let resp = get("\"1\"").await.expect("request sent");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["etag"], "\"2\"");
        let body: Value = resp.json().await.expect("a JSON todo");
        assert_eq!((body["version"].clone(), body["is_completed"].clone()), (json!(2), json!(true)));
        // A value that is not an entity-tag list is refused, naming the header.
        for bad in ["", "1", "\"x\"", "W/1"] {
            let resp = get(bad).await.expect("request sent");
            assert_field_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_009", "If-None-Match").await;
        }
        // Another user's todo is still 403, whatever the header.
        let (other, _) = user(&app).await;
        let theirs = create_todo(&other, titled("theirs")).await.id;
        let req = app.client.get(app.url(&path(theirs))).bearer_auth(&raw.token);
        let resp = req.header("If-None-Match", "*").send().await.expect("request sent");
        assert_error(resp, StatusCode::FORBIDDEN, "AUTHZ_001").await;
    }

    async fn concurrent_patches_with_one_if_match_have_one_winner(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        let id = create_todo(&c, titled("race")).await.id;
        let mut handles = vec![];
        for i in 0..8 {
            let c = c.clone();
            handles.push(tokio::spawn(async move {
                let patch = patch_title(&format!("writer {i}"));
                match c.update_todo().id(id).if_match("\"1\"").body(patch).send().await {
                    Ok(resp) => resp.status(),
                    Err(client_sdk::Error::ErrorResponse(resp)) => resp.status(),
                    Err(e) => panic!("writer {i}: {e:?}"),
                }
            }));
        }
        let mut statuses = vec![];
        for h in handles {
            statuses.push(h.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED), "{statuses:?}");
        let now = expect_todo(c.get_todo().id(id).send().await, StatusCode::OK);
        assert_eq!(now.version, 2);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE version = 2 AND title LIKE 'writer %'").await, 1);
    }

    async fn todo_validation_errors(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, raw) = user(&app).await;
        let u = StatusCode::UNPROCESSABLE_ENTITY;
        // Raw: bodies TodoInput cannot hold (a missing, blank, mistyped or over-long value,
        // an unknown priority, a date that is no date, malformed JSON).
        let post = |body: Value| raw.send(Method::POST, "/api/v1/todos", Some(body), None);
        assert_field_error(post(json!({})).await, u, "VALIDATION_004", "title").await;
        assert_field_error(post(json!({"title": "   "})).await, u, "VALIDATION_004", "title").await;
        assert_field_error(post(json!({"title": 42})).await, u, "VALIDATION_004", "title").await;
        assert_field_error(post(json!({"title": "x", "is_completed": "yes"})).await, u, "VALIDATION_004", "is_completed").await;
        assert_field_error(post(json!({"title": "x".repeat(256)})).await, u, "VALIDATION_005", "title").await;
        // Lengths count characters, not bytes: 255 two-byte characters are a valid title.
        create_todo(&c, titled(&"é".repeat(255))).await;
        assert_field_error(post(json!({"title": "x", "description": "d".repeat(10_001)})).await, u, "VALIDATION_005", "description").await;
        assert_field_error(post(json!({"title": "x", "tags": ["t".repeat(51)]})).await, u, "VALIDATION_005", "tags[0]").await;
        // The SDK does not enforce maxItems: 51 tags reach the server.
        let many: Vec<_> = (0..51).map(|i| tag_item(&format!("t{i}"))).collect();
        let resp = c.create_todo().body(titled("x").tags(many)).send().await;
        expect_field_error(resp, u, ErrorCode::Validation005, "tags");
        assert_field_error(post(json!({"title": "x", "priority": "urgent"})).await, u, "VALIDATION_006", "priority").await;
        assert_field_error(post(json!({"title": "x", "due_date": "tomorrow"})).await, u, "VALIDATION_009", "due_date").await;
        let resp = app.client.post(app.url("/api/v1/todos")).bearer_auth(&raw.token)
            .header("content-type", "application/json").body("{not json").send().await.unwrap();
        assert_field_error(resp, u, "VALIDATION_004", "body").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 1, "only the valid 255-character title was stored");

        // Raw: query and path values outside their SDK types (limit is a NonZeroU64, the
        // sorts and priority are enums, the dates DateTimes, the id a UUID).
        let bad_query = |q: &'static str| raw.send(Method::GET, q, None, None);
        assert_field_error(bad_query("/api/v1/todos?limit=0").await, u, "VALIDATION_009", "limit").await;
        let invalid = ErrorCode::Validation009;
        expect_field_error(c.list_todos().limit(101).send().await, u, invalid, "limit");
        expect_field_error(c.list_todos().skip(-1).send().await, u, invalid, "skip");
        assert_field_error(bad_query("/api/v1/todos?sort_by=size").await, u, "VALIDATION_006", "sort_by").await;
        assert_field_error(bad_query("/api/v1/todos?sort_order=up").await, u, "VALIDATION_006", "sort_order").await;
        assert_field_error(bad_query("/api/v1/todos?priority=urgent").await, u, "VALIDATION_006", "priority").await;
        assert_field_error(bad_query("/api/v1/todos?due_before=soon").await, u, "VALIDATION_009", "due_before").await;
        assert_field_error(bad_query("/api/v1/todos/not-a-uuid").await, u, "VALIDATION_009", "id").await;
        let missing = Uuid::new_v4();
        let not_found = (StatusCode::NOT_FOUND, ErrorCode::Resource001);
        expect_error(c.get_todo().id(missing).send().await, not_found.0, not_found.1);
        expect_error(c.delete_todo().id(missing).send().await, not_found.0, not_found.1);
        let todo = create_todo(&c, titled("keep")).await;
        // Raw: explicit JSON nulls, which TodoPatch cannot send.
        for body in [json!({"title": null}), json!({"priority": null}), json!({"tags": null}), json!({"is_completed": null})] {
            let resp = raw.send(Method::PATCH, &path(todo.id), Some(body.clone()), None).await;
            assert_error(resp, u, "VALIDATION_004").await;
        }
        let now = expect_todo(c.get_todo().id(todo.id).send().await, StatusCode::OK);
        assert_eq!(now.version, 1, "failed patches change nothing");
        let anonymous = anonymous(&app).list_todos().send().await;
        expect_error(anonymous, StatusCode::UNAUTHORIZED, ErrorCode::Auth005);
    }

    async fn deleting_a_user_cascades(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        let tags = vec![tag_item("x"), tag_item("y")];
        let todo = create_todo(&c, titled("gone soon").tags(tags)).await;
        assert_eq!(app.delete_user(todo.user_id).await, 1);
        for table in ["todos", "tags", "todo_tags", "sessions"] {
            assert_eq!(app.count(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
        }
    }
}

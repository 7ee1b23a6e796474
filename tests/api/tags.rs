//! Tags: uniqueness, colors, renames, detaching, and tag names on todos (`/api/v1/tags`).

use client_sdk::types::{self, ErrorCode};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::sdk_helpers::*;

fn new_tag(name: &str) -> types::builder::NewTag {
    types::NewTag::builder().name(name)
}

fn rename(name: &str) -> types::builder::TagPatch {
    types::TagPatch::builder().name(Some(name.parse().expect("a valid tag name")))
}

both_backends! {
    async fn tag_crud_and_uniqueness(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, raw) = user(&app).await;
        let work = new_tag("  Work ").color(Some("#A1b2C3".parse().unwrap()));
        let created = expect_ok(c.create_tag().body(work).send().await, StatusCode::CREATED);
        let location = header(&created, "location");
        let tag = created.into_inner();
        assert_eq!((tag.name.as_str(), tag.color.as_deref()), ("Work", Some("#A1b2C3")));
        assert_eq!(location, format!("/api/v1/tags/{}", tag.id));

        let (conflict, code) = (StatusCode::CONFLICT, ErrorCode::Conflict001);
        expect_error(c.create_tag().body(new_tag("WORK")).send().await, conflict, code);
        expect_error(c.create_tag().body(new_tag("work  ")).send().await, conflict, code);
        let (other, _) = user(&app).await;
        let theirs = other.create_tag().body(new_tag("work")).send().await;
        expect_ok(theirs, StatusCode::CREATED); // unique per user only

        let home = c.create_tag().body(new_tag("home")).send().await;
        let home = expect_ok(home, StatusCode::CREATED).into_inner();
        assert!(home.color.is_none());
        expect_error(c.update_tag().id(home.id).body(rename("WORK")).send().await, conflict, code);
        let house = rename("House").color(Some("#000000".parse().unwrap()));
        let renamed = c.update_tag().id(home.id).body(house).send().await;
        let renamed = expect_ok(renamed, StatusCode::OK).into_inner();
        assert_eq!((renamed.name.as_str(), renamed.color.as_deref()), ("House", Some("#000000")));
        // Raw: `color: null` clears the color; TagPatch cannot send an explicit null.
        let hp = format!("/api/v1/tags/{}", home.id);
        let cleared = raw.send(Method::PATCH, &hp, Some(json!({"color": null})), None).await;
        assert_eq!(cleared.status(), StatusCode::OK);
        let cleared: types::Tag = cleared.json().await.unwrap();
        assert!(cleared.color.is_none());
        assert_eq!(cleared.name, "House");

        let list = expect_ok(c.list_tags().send().await, StatusCode::OK).into_inner();
        let names: Vec<&str> = list.items.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["House", "Work"], "sorted by name ignoring case");
        assert_eq!((list.total, list.has_more), (2, false));
        let page = expect_ok(c.list_tags().limit(1).skip(1).send().await, StatusCode::OK);
        assert_eq!(page.items[0].name, "Work");

        let got = expect_ok(c.get_tag().id(home.id).send().await, StatusCode::OK).into_inner();
        assert_eq!(as_json(&got), as_json(&cleared));
        expect_ok(c.delete_tag().id(home.id).send().await, StatusCode::NO_CONTENT);
        let not_found = (StatusCode::NOT_FOUND, ErrorCode::Resource002);
        expect_error(c.get_tag().id(home.id).send().await, not_found.0, not_found.1);
        expect_error(c.delete_tag().id(home.id).send().await, not_found.0, not_found.1);
        assert_eq!(app.count("SELECT COUNT(*) FROM tags WHERE name = 'House'").await, 0);
    }

    async fn tag_validation_errors(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, raw) = user(&app).await;
        let u = StatusCode::UNPROCESSABLE_ENTITY;
        // Raw: names and colors NewTag refuses before sending (missing, blank, mistyped,
        // too long, not `#RRGGBB`), an id that is no UUID, a limit outside NonZeroU64.
        let create_tag = |body: Value| raw.send(Method::POST, "/api/v1/tags", Some(body), None);
        assert_field_error(create_tag(json!({})).await, u, "VALIDATION_004", "name").await;
        assert_field_error(create_tag(json!({"name": " "})).await, u, "VALIDATION_004", "name").await;
        assert_field_error(create_tag(json!({"name": 7})).await, u, "VALIDATION_004", "name").await;
        assert_field_error(create_tag(json!({"name": "n".repeat(51)})).await, u, "VALIDATION_005", "name").await;
        for color in ["red", "#12345", "#1234567", "#GGGGGG"] {
            assert_field_error(create_tag(json!({"name": "ok", "color": color})).await, u, "VALIDATION_009", "color").await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM tags").await, 0);
        assert_field_error(raw.send(Method::GET, "/api/v1/tags/123", None, None).await, u, "VALIDATION_009", "id").await;
        assert_field_error(raw.send(Method::GET, "/api/v1/tags?limit=0", None, None).await, u, "VALIDATION_009", "limit").await;
        let missing = c.update_tag().id(Uuid::new_v4()).body(rename("x")).send().await;
        expect_error(missing, StatusCode::NOT_FOUND, ErrorCode::Resource002);
    }

    async fn tag_names_on_todos(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (c, _) = user(&app).await;
        let urgent = new_tag("Urgent").color(Some("#ff0000".parse().unwrap()));
        let existing = c.create_tag().body(urgent).send().await;
        let existing = expect_ok(existing, StatusCode::CREATED).into_inner();
        let tags = [" urgent ", "URGENT", "zeta", "alpha", "Alpha"].map(tag_item).to_vec();
        let todo = create_todo(&c, types::TodoInput::builder().title("t").tags(tags)).await;
        let names: Vec<&str> = todo.tags.iter().map(|t| t.name.as_str()).collect();
        let expected = ["alpha", "Urgent", "zeta"];
        assert_eq!(names, expected, "trimmed, collapsed, existing reused, sorted by name");
        assert_eq!(todo.tags[1].id, existing.id, "existing tag reused whatever the case");
        assert_eq!(todo.tags[1].color.as_deref(), Some("#ff0000"));
        assert_eq!(app.count("SELECT COUNT(*) FROM tags").await, 3);

        let zeta: types::TodoPatchTagsItem = "zeta".parse().unwrap();
        let retag = types::TodoPatch::builder().tags(vec![zeta]);
        let patched = c.update_todo().id(todo.id).body(retag).send().await;
        let patched = expect_todo(patched, StatusCode::OK);
        assert_eq!(patched.tags.len(), 1);
        assert_eq!(patched.version, 2);
        let same = c.update_todo().id(todo.id).body(patch_title("t2")).send().await;
        let same = expect_todo(same, StatusCode::OK);
        assert_eq!(same.tags[0].name, "zeta", "absent tags stay");

        // Deleting a tag detaches it without bumping the todo's version.
        let zeta = same.tags[0].id;
        expect_ok(c.delete_tag().id(zeta).send().await, StatusCode::NO_CONTENT);
        let after = expect_todo(c.get_todo().id(todo.id).send().await, StatusCode::OK);
        assert!(after.tags.is_empty());
        assert_eq!(after.version, same.version);
        assert_eq!(app.count("SELECT COUNT(*) FROM todo_tags").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 1);
    }
}

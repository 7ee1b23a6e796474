//! Tags: uniqueness, colors, renames, detaching, and tag names on todos (`/api/v1/tags`).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::todos::Client;

async fn create_tag(c: &Client<'_>, body: Value) -> reqwest::Response {
    c.send(Method::POST, "/api/v1/tags", Some(body), None).await
}

both_backends! {
    async fn tag_crud_and_uniqueness(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let resp = create_tag(&c, json!({"name": "  Work ", "color": "#A1b2C3"})).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let tag: Value = resp.json().await.unwrap();
        assert_eq!((tag["name"].as_str(), tag["color"].as_str()), (Some("Work"), Some("#A1b2C3")));
        assert_eq!(location, format!("/api/v1/tags/{}", tag["id"].as_str().unwrap()));

        assert_error(create_tag(&c, json!({"name": "WORK"})).await, StatusCode::CONFLICT, "CONFLICT_001").await;
        assert_error(create_tag(&c, json!({"name": "work  "})).await, StatusCode::CONFLICT, "CONFLICT_001").await;
        let other = Client::new(&app).await;
        assert_eq!(create_tag(&other, json!({"name": "work"})).await.status(), StatusCode::CREATED, "unique per user only");

        let home: Value = create_tag(&c, json!({"name": "home"})).await.json().await.unwrap();
        assert!(home["color"].is_null());
        let hp = format!("/api/v1/tags/{}", home["id"].as_str().unwrap());
        let rename = c.send(Method::PATCH, &hp, Some(json!({"name": "WORK"})), None).await;
        assert_error(rename, StatusCode::CONFLICT, "CONFLICT_001").await;
        let renamed: Value = c.send(Method::PATCH, &hp, Some(json!({"name": "House", "color": "#000000"})), None).await.json().await.unwrap();
        assert_eq!((renamed["name"].as_str(), renamed["color"].as_str()), (Some("House"), Some("#000000")));
        let cleared: Value = c.send(Method::PATCH, &hp, Some(json!({"color": null})), None).await.json().await.unwrap();
        assert!(cleared["color"].is_null());
        assert_eq!(cleared["name"], "House");

        let list: Value = c.send(Method::GET, "/api/v1/tags", None, None).await.json().await.unwrap();
        let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["House", "Work"], "sorted by name ignoring case");
        assert_eq!((list["total"].as_i64(), list["has_more"].as_bool()), (Some(2), Some(false)));
        let page: Value = c.send(Method::GET, "/api/v1/tags?limit=1&skip=1", None, None).await.json().await.unwrap();
        assert_eq!(page["items"][0]["name"], "Work");

        let got: Value = c.send(Method::GET, &hp, None, None).await.json().await.unwrap();
        assert_eq!(got, cleared);
        assert_eq!(c.send(Method::DELETE, &hp, None, None).await.status(), StatusCode::NO_CONTENT);
        assert_error(c.send(Method::GET, &hp, None, None).await, StatusCode::NOT_FOUND, "RESOURCE_002").await;
        assert_error(c.send(Method::DELETE, &hp, None, None).await, StatusCode::NOT_FOUND, "RESOURCE_002").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM tags WHERE name = 'House'").await, 0);
    }

    async fn tag_validation_errors(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let u = StatusCode::UNPROCESSABLE_ENTITY;
        assert_field_error(create_tag(&c, json!({})).await, u, "VALIDATION_004", "name").await;
        assert_field_error(create_tag(&c, json!({"name": " "})).await, u, "VALIDATION_004", "name").await;
        assert_field_error(create_tag(&c, json!({"name": 7})).await, u, "VALIDATION_004", "name").await;
        assert_field_error(create_tag(&c, json!({"name": "n".repeat(51)})).await, u, "VALIDATION_005", "name").await;
        for color in ["red", "#12345", "#1234567", "#GGGGGG"] {
            assert_field_error(create_tag(&c, json!({"name": "ok", "color": color})).await, u, "VALIDATION_009", "color").await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM tags").await, 0);
        assert_field_error(c.send(Method::GET, "/api/v1/tags/123", None, None).await, u, "VALIDATION_009", "id").await;
        assert_field_error(c.send(Method::GET, "/api/v1/tags?limit=0", None, None).await, u, "VALIDATION_009", "limit").await;
        let missing = format!("/api/v1/tags/{}", uuid::Uuid::new_v4());
        assert_error(c.send(Method::PATCH, &missing, Some(json!({"name": "x"})), None).await, StatusCode::NOT_FOUND, "RESOURCE_002").await;
    }

    async fn tag_names_on_todos(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = Client::new(&app).await;
        let existing: Value = create_tag(&c, json!({"name": "Urgent", "color": "#ff0000"})).await.json().await.unwrap();
        let todo = c.create(json!({"title": "t", "tags": [" urgent ", "URGENT", "zeta", "alpha", "Alpha"]})).await;
        let tags = todo["tags"].as_array().unwrap();
        let names: Vec<&str> = tags.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["alpha", "Urgent", "zeta"], "trimmed, collapsed, existing reused, sorted by name");
        assert_eq!(tags[1]["id"], existing["id"], "existing tag reused whatever the case");
        assert_eq!(tags[1]["color"], "#ff0000");
        assert_eq!(app.count("SELECT COUNT(*) FROM tags").await, 3);

        let p = format!("/api/v1/todos/{}", todo["id"].as_str().unwrap());
        let patched = c.ok(Method::PATCH, &p, Some(json!({"tags": ["zeta"]})), None).await;
        assert_eq!(patched["tags"].as_array().unwrap().len(), 1);
        assert_eq!(patched["version"], 2);
        let same = c.ok(Method::PATCH, &p, Some(json!({"title": "t2"})), None).await;
        assert_eq!(same["tags"][0]["name"], "zeta", "absent tags stay");

        // Deleting a tag detaches it without bumping the todo's version.
        let zeta = same["tags"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(c.send(Method::DELETE, &format!("/api/v1/tags/{zeta}"), None, None).await.status(), StatusCode::NO_CONTENT);
        let after = c.ok(Method::GET, &p, None, None).await;
        assert_eq!(after["tags"], json!([]));
        assert_eq!(after["version"], same["version"]);
        assert_eq!(app.count("SELECT COUNT(*) FROM todo_tags").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 1);
    }
}

//! Every operation of the spec, called through the generated Rust SDK (`client_sdk`).
//!
//! The SDK is generated from the committed `openapi.yaml` at build time, so a breaking
//! change of the spec (a renamed operation, parameter or field, a changed type) breaks
//! the build of these tests. The assertions check typed success bodies, typed error
//! bodies (`error_code`) and the `Location`/`ETag` headers.

use client_sdk::types::{self, ErrorCode};
use client_sdk::Error;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::*;
use crate::sdk_helpers::*;

both_backends! {
    /// register, login, issue_token, refresh_token, logout, change_password, get_me.
    async fn sdk_auth_operations(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let anon = anonymous(&app);
        let local = format!("Ada.{}", Uuid::new_v4().simple());
        let typed_email = format!("{local}@Example.COM");
        let email = typed_email.to_lowercase();

        // register: 201 User, Location, the email lower-cased, no hash.
        let created = expect_ok(
            anon.register()
                .body(
                    types::RegisterRequest::builder()
                        .email(typed_email.as_str())
                        .password(STRONG_PASSWORD)
                        .name(Some("Ada Lovelace".parse().unwrap())),
                )
                .send()
                .await,
            StatusCode::CREATED,
        );
        assert!(header(&created, "location").starts_with("/api/v1/"));
        let user = created.into_inner();
        assert_eq!(user.email.as_str(), email);
        assert_eq!(user.name.as_deref().map(String::as_str), Some("Ada Lovelace"));
        assert!(user.last_login_at.is_none());
        assert_eq!(user.created_at, user.updated_at);

        // register again, in another case: 409 VALIDATION_003 on `email`.
        let err = expect_error(
            anon.register()
                .body(
                    types::RegisterRequest::builder()
                        .email(email.to_uppercase().as_str())
                        .password(STRONG_PASSWORD),
                )
                .send()
                .await,
            StatusCode::CONFLICT,
            ErrorCode::Validation003,
        );
        assert_eq!(err.details.field.as_deref(), Some("email"));

        // A weak password breaks the schema's pattern: the SDK refuses it before sending
        // (the server's own refusal, VALIDATION_002, is tested raw in errors.rs).
        let weak = anon
            .register()
            .body(types::RegisterRequest::builder().email(unique_email().as_str()).password("alllowercase"))
            .send()
            .await;
        assert!(matches!(weak, Err(Error::InvalidRequest(_))), "{weak:?}");

        // login: wrong password is 401 AUTH_001; the right one a bearer TokenPair.
        expect_error(
            anon.login()
                .body(
                    types::LoginRequest::builder()
                        .email(email.as_str())
                        .password("Wrong#Horse9"),
                )
                .send()
                .await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth001,
        );
        let login = expect_ok(
            anon.login()
                .body(
                    types::LoginRequest::builder()
                        .email(typed_email.as_str())
                        .password(STRONG_PASSWORD),
                )
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!(login.token_type, types::TokenType::Bearer);
        assert_eq!(login.expires_in, 3600);
        assert_eq!(claims(&login.access_token)["type"], "access");
        assert_eq!(claims(&login.refresh_token)["type"], "refresh");

        // issue_token: the OAuth2 password grant, form-encoded.
        let granted = expect_ok(
            anon.issue_token()
                .body(types::TokenRequest {
                    grant_type: types::TokenRequestGrantType::Password,
                    username: email.parse().unwrap(),
                    password: STRONG_PASSWORD.parse().unwrap(),
                    scope: Some("todos".parse().unwrap()),
                })
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!(granted.token_type, types::TokenType::Bearer);
        assert_ne!(claims(&granted.access_token)["sid"], claims(&login.access_token)["sid"]);
        expect_error(
            anon.issue_token()
                .body(types::TokenRequest {
                    grant_type: types::TokenRequestGrantType::Password,
                    username: email.parse().unwrap(),
                    password: "Wrong#Horse9".parse().unwrap(),
                    scope: None,
                })
                .send()
                .await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth001,
        );

        // get_me: the same user, with last_login_at set by the logins.
        let me = expect_ok(bearer(&app, &login.access_token).get_me().send().await, StatusCode::OK)
            .into_inner();
        assert_eq!(me.id, user.id);
        assert_eq!(me.email.as_str(), email);
        assert!(me.last_login_at.is_some());
        expect_error(
            bearer(&app, "not-a-token").get_me().send().await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth005,
        );

        // refresh_token: a new pair in the same session; replaying the old refresh token
        // is 401 AUTH_004 and revokes the session.
        let rotated = expect_ok(
            anon.refresh_token()
                .body(types::RefreshRequest::builder().refresh_token(login.refresh_token.as_str()))
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert_ne!(rotated.refresh_token, login.refresh_token);
        assert_eq!(claims(&rotated.access_token)["sid"], claims(&login.access_token)["sid"]);
        expect_error(
            anon.refresh_token()
                .body(types::RefreshRequest::builder().refresh_token(login.refresh_token.as_str()))
                .send()
                .await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth004,
        );
        expect_error(
            bearer(&app, &rotated.access_token).get_me().send().await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth004,
        );

        // logout (with the session's refresh token): that session is gone, others stay.
        let second = expect_ok(
            anon.login()
                .body(types::LoginRequest::builder().email(email.as_str()).password(STRONG_PASSWORD))
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        let bye = expect_ok(
            bearer(&app, &granted.access_token)
                .logout()
                .body(types::LogoutRequest::builder().refresh_token(Some(granted.refresh_token.parse().unwrap())))
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert!(!bye.message.is_empty());
        expect_error(
            bearer(&app, &granted.access_token).get_me().send().await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth004,
        );
        expect_error(
            anon.refresh_token()
                .body(types::RefreshRequest::builder().refresh_token(granted.refresh_token.as_str()))
                .send()
                .await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth004,
        );
        let client = bearer(&app, &second.access_token);
        expect_ok(client.get_me().send().await, StatusCode::OK);

        // change_password: wrong current (422 VALIDATION_007), same (VALIDATION_008),
        // then a real change revokes every session.
        let err = expect_error(
            client
                .change_password()
                .body(
                    types::ChangePasswordRequest::builder()
                        .current_password("Wrong#Horse9")
                        .new_password("Battery#Staple7"),
                )
                .send()
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Validation007,
        );
        assert_eq!(err.details.field.as_deref(), Some("current_password"));
        expect_error(
            client
                .change_password()
                .body(
                    types::ChangePasswordRequest::builder()
                        .current_password(STRONG_PASSWORD)
                        .new_password(STRONG_PASSWORD),
                )
                .send()
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Validation008,
        );
        let changed = expect_ok(
            client
                .change_password()
                .body(
                    types::ChangePasswordRequest::builder()
                        .current_password(STRONG_PASSWORD)
                        .new_password("Battery#Staple7"),
                )
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert!(!changed.message.is_empty());
        expect_error(client.get_me().send().await, StatusCode::UNAUTHORIZED, ErrorCode::Auth004);
        expect_error(
            anon.login()
                .body(types::LoginRequest::builder().email(email.as_str()).password(STRONG_PASSWORD))
                .send()
                .await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth001,
        );
        expect_ok(
            anon.login()
                .body(types::LoginRequest::builder().email(email.as_str()).password("Battery#Staple7"))
                .send()
                .await,
            StatusCode::OK,
        );

        // The SDK refuses values that break the schema before sending anything.
        let refused = anon
            .register()
            .body(types::RegisterRequest::builder().email(unique_email().as_str()).password("short"))
            .send()
            .await;
        assert!(matches!(refused, Err(Error::InvalidRequest(_))), "{refused:?}");
    }

    /// list_todos (with filters), create_todo, get_todo, replace_todo, update_todo,
    /// delete_todo, toggle_todo.
    async fn sdk_todo_operations(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, tokens) = sdk_user(&app).await;
        let (_, intruder) = sdk_user(&app).await;
        let client = bearer(&app, &tokens.access_token);
        let intruder = bearer(&app, &intruder.access_token);
        let due: chrono::DateTime<chrono::Utc> = "2031-05-04T12:00:00Z".parse().unwrap();

        // create_todo: 201 Todo with Location and ETag "1".
        let created = expect_ok(
            client
                .create_todo()
                .body(
                    types::TodoInput::builder()
                        .title("  Buy milk  ")
                        .description(Some("Two litres".parse().unwrap()))
                        .priority(Some(types::Priority::High))
                        .due_date(Some(due))
                        .tags(vec![tag_item("home"), tag_item("Errands"), tag_item("errands")]),
                )
                .send()
                .await,
            StatusCode::CREATED,
        );
        let location = header(&created, "location");
        let etag = header(&created, "etag");
        let milk = created.into_inner();
        assert_eq!(location, format!("/api/v1/todos/{}", milk.id));
        assert_eq!(etag, "\"1\"");
        assert_eq!(milk.title, "Buy milk");
        assert_eq!(milk.description.as_deref(), Some("Two litres"));
        assert_eq!(milk.priority, types::Priority::High);
        assert_eq!(milk.due_date, Some(due));
        assert!(!milk.is_completed);
        assert!(milk.completed_at.is_none());
        assert_eq!(milk.version, 1);
        let names: Vec<&str> = milk.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Errands", "home"], "deduplicated ignoring case, sorted by name");
        assert_eq!(claims(&tokens.access_token)["sub"], milk.user_id.to_string());

        // Two more todos, for the filters.
        let bread = expect_ok(
            client
                .create_todo()
                .body(
                    types::TodoInput::builder()
                        .title("bake bread")
                        .priority(Some(types::Priority::Low))
                        .is_completed(Some(true)),
                )
                .send()
                .await,
            StatusCode::CREATED,
        )
        .into_inner();
        assert!(bread.is_completed && bread.completed_at.is_some());
        let call = expect_ok(
            client
                .create_todo()
                .body(
                    types::TodoInput::builder()
                        .title("Call Mum")
                        .due_date(Some("2030-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap())),
                )
                .send()
                .await,
            StatusCode::CREATED,
        )
        .into_inner();
        assert_eq!(call.priority, types::Priority::Medium);

        // list_todos: defaults, then each filter.
        let page = expect_ok(client.list_todos().send().await, StatusCode::OK).into_inner();
        assert_eq!((page.total, page.skip, page.limit, page.has_more), (3, 0, 20, false));
        assert_eq!(page.items.len(), 3);
        let ids = |p: &types::TodoPage| p.items.iter().map(|t| t.id).collect::<Vec<_>>();
        let page = expect_ok(
            client
                .list_todos()
                .sort_by(types::SortBy::Title)
                .sort_order(types::SortOrder::Asc)
                .limit(2)
                .skip(0)
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!(ids(&page), [bread.id, milk.id], "titles ignore case");
        assert_eq!((page.total, page.limit, page.has_more), (3, 2, true));
        let page = expect_ok(
            client.list_todos().sort_by(types::SortBy::Title).sort_order(types::SortOrder::Asc).limit(2).skip(2).send().await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!((ids(&page), page.has_more), (vec![call.id], false));
        let page = expect_ok(client.list_todos().is_completed(true).send().await, StatusCode::OK).into_inner();
        assert_eq!(ids(&page), [bread.id]);
        let page = expect_ok(client.list_todos().priority(types::Priority::High).send().await, StatusCode::OK).into_inner();
        assert_eq!(ids(&page), [milk.id]);
        let page = expect_ok(client.list_todos().tag("ERRANDS").send().await, StatusCode::OK).into_inner();
        assert_eq!(ids(&page), [milk.id]);
        let page = expect_ok(client.list_todos().q("MILK").send().await, StatusCode::OK).into_inner();
        assert_eq!(ids(&page), [milk.id]);
        let page = expect_ok(
            client
                .list_todos()
                .due_after("2030-06-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap())
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!(ids(&page), [milk.id]);
        let page = expect_ok(
            client
                .list_todos()
                .due_before("2031-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap())
                .sort_by(types::SortBy::DueDate)
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!(ids(&page), [call.id]);
        let page = expect_ok(
            client.list_todos().sort_by(types::SortBy::Priority).sort_order(types::SortOrder::Desc).send().await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!(ids(&page), [milk.id, call.id, bread.id]);
        // The intruder sees none of them.
        let page = expect_ok(intruder.list_todos().send().await, StatusCode::OK).into_inner();
        assert_eq!(page.total, 0);

        // get_todo: 200 with ETag; 404 RESOURCE_001 for an unknown id; 403 for another user.
        let got = expect_ok(client.get_todo().id(milk.id).send().await, StatusCode::OK);
        assert_eq!(header(&got, "etag"), "\"1\"");
        assert_eq!(got.into_inner().title, "Buy milk");
        expect_error(client.get_todo().id(Uuid::new_v4()).send().await, StatusCode::NOT_FOUND, ErrorCode::Resource001);
        expect_error(intruder.get_todo().id(milk.id).send().await, StatusCode::FORBIDDEN, ErrorCode::Authz001);

        // update_todo with If-Match: the current ETag works, a stale one is 412.
        let updated = expect_ok(
            client
                .update_todo()
                .id(milk.id)
                .if_match(etag.clone())
                .body(types::TodoPatch::builder().title(Some("Buy oat milk".parse().unwrap())).is_completed(Some(true)))
                .send()
                .await,
            StatusCode::OK,
        );
        assert_eq!(header(&updated, "etag"), "\"2\"");
        let updated = updated.into_inner();
        assert_eq!((updated.title.as_str(), updated.is_completed, updated.version), ("Buy oat milk", true, 2));
        assert!(updated.completed_at.is_some());
        assert_eq!(updated.description.as_deref(), Some("Two litres"), "absent fields stay");
        expect_error(
            client
                .update_todo()
                .id(milk.id)
                .if_match(etag.clone())
                .body(types::TodoPatch::builder().priority(Some(types::Priority::Low)))
                .send()
                .await,
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::Precondition001,
        );
        expect_error(
            intruder.update_todo().id(milk.id).body(types::TodoPatch::builder()).send().await,
            StatusCode::FORBIDDEN,
            ErrorCode::Authz001,
        );

        // replace_todo: a full replacement (absent fields take their defaults).
        let replaced = expect_ok(
            client
                .replace_todo()
                .id(milk.id)
                .if_match("\"2\"")
                .body(types::TodoInput::builder().title("Buy milk, really"))
                .send()
                .await,
            StatusCode::OK,
        );
        assert_eq!(header(&replaced, "etag"), "\"3\"");
        let replaced = replaced.into_inner();
        assert_eq!(replaced.title, "Buy milk, really");
        assert_eq!(replaced.description, None);
        assert_eq!(replaced.priority, types::Priority::Medium);
        assert_eq!(replaced.due_date, None);
        assert!(!replaced.is_completed && replaced.completed_at.is_none());
        assert!(replaced.tags.is_empty());
        assert_eq!(replaced.version, 3);
        expect_error(
            client
                .replace_todo()
                .id(milk.id)
                .if_match("\"2\"")
                .body(types::TodoInput::builder().title("stale"))
                .send()
                .await,
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::Precondition001,
        );
        expect_error(
            client.replace_todo().id(Uuid::new_v4()).body(types::TodoInput::builder().title("x")).send().await,
            StatusCode::NOT_FOUND,
            ErrorCode::Resource001,
        );

        // toggle_todo: completes, then reopens; a stale If-Match is 412.
        let toggled = expect_ok(client.toggle_todo().id(milk.id).if_match("\"3\"").send().await, StatusCode::OK);
        assert_eq!(header(&toggled, "etag"), "\"4\"");
        let toggled = toggled.into_inner();
        assert!(toggled.is_completed && toggled.completed_at.is_some());
        expect_error(
            client.toggle_todo().id(milk.id).if_match("\"3\"").send().await,
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::Precondition001,
        );
        let reopened = expect_ok(client.toggle_todo().id(milk.id).send().await, StatusCode::OK).into_inner();
        assert!(!reopened.is_completed && reopened.completed_at.is_none());
        assert_eq!(reopened.version, 5);

        // delete_todo: 412 on a stale ETag, 403 for another user, 204, then 404.
        expect_error(
            client.delete_todo().id(milk.id).if_match("\"4\"").send().await,
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::Precondition001,
        );
        expect_error(intruder.delete_todo().id(milk.id).send().await, StatusCode::FORBIDDEN, ErrorCode::Authz001);
        let deleted = expect_ok(client.delete_todo().id(milk.id).if_match("\"5\"").send().await, StatusCode::NO_CONTENT);
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        expect_error(client.get_todo().id(milk.id).send().await, StatusCode::NOT_FOUND, ErrorCode::Resource001);
        expect_error(client.delete_todo().id(milk.id).send().await, StatusCode::NOT_FOUND, ErrorCode::Resource001);
        expect_error(client.toggle_todo().id(milk.id).send().await, StatusCode::NOT_FOUND, ErrorCode::Resource001);

        // The SDK refuses a blank-free but over-long title before sending it.
        let refused = client.create_todo().body(types::TodoInput::builder().title("x".repeat(256))).send().await;
        assert!(matches!(refused, Err(Error::InvalidRequest(_))), "{refused:?}");

        // Without a valid token every todo operation is 401.
        let nobody = anonymous(&app);
        expect_error(nobody.list_todos().send().await, StatusCode::UNAUTHORIZED, ErrorCode::Auth005);
        expect_error(
            nobody.create_todo().body(types::TodoInput::builder().title("x")).send().await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth005,
        );
    }

    /// list_tags, create_tag, get_tag, update_tag, delete_tag.
    async fn sdk_tag_operations(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, tokens) = sdk_user(&app).await;
        let (_, intruder) = sdk_user(&app).await;
        let client = bearer(&app, &tokens.access_token);
        let intruder = bearer(&app, &intruder.access_token);

        // create_tag: 201 with Location; the name trimmed; a case-variant is 409 CONFLICT_001.
        let created = expect_ok(
            client
                .create_tag()
                .body(types::NewTag::builder().name("  Work ").color(Some("#00AA11".parse().unwrap())))
                .send()
                .await,
            StatusCode::CREATED,
        );
        let location = header(&created, "location");
        let work = created.into_inner();
        assert_eq!(location, format!("/api/v1/tags/{}", work.id));
        assert_eq!(work.name, "Work");
        assert_eq!(work.color.as_deref(), Some("#00AA11"));
        let err = expect_error(
            client.create_tag().body(types::NewTag::builder().name("WORK")).send().await,
            StatusCode::CONFLICT,
            ErrorCode::Conflict001,
        );
        assert_eq!(err.details.field.as_deref(), Some("name"));
        let home = expect_ok(client.create_tag().body(types::NewTag::builder().name("home")).send().await, StatusCode::CREATED)
            .into_inner();
        assert_eq!(home.color, None);
        // The intruder may use the same name: names are unique per user.
        expect_ok(intruder.create_tag().body(types::NewTag::builder().name("work")).send().await, StatusCode::CREATED);

        // list_tags: sorted by name (ignoring case), paged.
        let page = expect_ok(client.list_tags().send().await, StatusCode::OK).into_inner();
        assert_eq!((page.total, page.skip, page.limit, page.has_more), (2, 0, 20, false));
        let names: Vec<&str> = page.items.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["home", "Work"]);
        let page = expect_ok(client.list_tags().limit(1).skip(1).send().await, StatusCode::OK).into_inner();
        assert_eq!((page.items.len(), page.total, page.has_more), (1, 2, false));
        assert_eq!(page.items[0].id, work.id);

        // get_tag: 200; 404 RESOURCE_002 unknown; 403 AUTHZ_001 for another user.
        let got = expect_ok(client.get_tag().id(work.id).send().await, StatusCode::OK).into_inner();
        assert_eq!((got.id, got.name.as_str()), (work.id, "Work"));
        expect_error(client.get_tag().id(Uuid::new_v4()).send().await, StatusCode::NOT_FOUND, ErrorCode::Resource002);
        expect_error(intruder.get_tag().id(work.id).send().await, StatusCode::FORBIDDEN, ErrorCode::Authz001);

        // update_tag: rename and recolor; a name taken by another tag is 409.
        let renamed = expect_ok(
            client
                .update_tag()
                .id(work.id)
                .body(types::TagPatch::builder().name(Some("Office".parse().unwrap())).color(Some("#123456".parse().unwrap())))
                .send()
                .await,
            StatusCode::OK,
        )
        .into_inner();
        assert_eq!((renamed.name.as_str(), renamed.color.as_deref()), ("Office", Some("#123456")));
        assert!(renamed.updated_at >= work.updated_at);
        expect_error(
            client.update_tag().id(work.id).body(types::TagPatch::builder().name(Some("HOME".parse().unwrap()))).send().await,
            StatusCode::CONFLICT,
            ErrorCode::Conflict001,
        );
        expect_error(
            intruder.update_tag().id(work.id).body(types::TagPatch::builder()).send().await,
            StatusCode::FORBIDDEN,
            ErrorCode::Authz001,
        );
        expect_error(
            client.update_tag().id(Uuid::new_v4()).body(types::TagPatch::builder()).send().await,
            StatusCode::NOT_FOUND,
            ErrorCode::Resource002,
        );

        // A todo using the tag loses it when the tag is deleted (its version unchanged).
        let todo = expect_ok(
            client.create_todo().body(types::TodoInput::builder().title("tagged").tags(vec![tag_item("office")])).send().await,
            StatusCode::CREATED,
        )
        .into_inner();
        assert_eq!(todo.tags.len(), 1);
        assert_eq!(todo.tags[0].id, work.id, "the existing tag is reused whatever its case");

        // delete_tag: 403 for another user, 204, then 404.
        expect_error(intruder.delete_tag().id(work.id).send().await, StatusCode::FORBIDDEN, ErrorCode::Authz001);
        let deleted = expect_ok(client.delete_tag().id(work.id).send().await, StatusCode::NO_CONTENT);
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        expect_error(client.get_tag().id(work.id).send().await, StatusCode::NOT_FOUND, ErrorCode::Resource002);
        expect_error(client.delete_tag().id(work.id).send().await, StatusCode::NOT_FOUND, ErrorCode::Resource002);
        let todo = expect_ok(client.get_todo().id(todo.id).send().await, StatusCode::OK).into_inner();
        assert!(todo.tags.is_empty());
        assert_eq!(todo.version, 1);

        // An expired access token is 401 AUTH_002.
        let c = claims(&tokens.access_token);
        let expired = sign_valid(&make_claims(
            c["sub"].as_str().unwrap(),
            c["email"].as_str().unwrap(),
            c["sid"].as_str().unwrap(),
            "access",
            -3600,
        ));
        expect_error(bearer(&app, &expired).list_tags().send().await, StatusCode::UNAUTHORIZED, ErrorCode::Auth002);
    }

    /// get_health and get_liveness.
    async fn sdk_operations_endpoints(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let client = anonymous(&app);
        // Its 503 body is a `Health` report, not an `ErrorBody`, hence no `expect_ok`.
        let health = client.get_health().send().await.expect("healthy");
        assert_eq!(health.status(), StatusCode::OK);
        let health = health.into_inner();
        assert_eq!(health.status, types::HealthStatus::Healthy);
        assert!(health.checks.database && health.checks.token_revocation);
        assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
        let live = client.get_liveness().send().await.expect("liveness");
        assert_eq!(live.status(), StatusCode::OK);
        assert_eq!(live.into_inner().status, types::LiveStatus::Alive);
    }
}

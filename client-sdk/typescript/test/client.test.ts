// End-to-end check of the generated TypeScript client against a running server.
// BASE_URL (default http://127.0.0.1:8099) names it; the auth rate limit should be off
// (AUTH_RATE_LIMIT_PER_MINUTE=0) or above the handful of auth calls made here.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { ApiError, createTodoClient, etagOf, passwordGrant, unwrap } from "../src/client.js";
import type { components } from "../src/schema.js";

// The generated types are as strict as the server: always-sent fields are required
// (nullable where null is sent). Each line stops compiling if the spec loosens.
type Schemas = components["schemas"];
type IsRequired<T, K extends keyof T> = {} extends Pick<T, K> ? false : true;
const strictTypes: [
  IsRequired<Schemas["Todo"], "description">,
  IsRequired<Schemas["Todo"], "completed_at">,
  IsRequired<Schemas["Tag"], "color">,
  IsRequired<Schemas["User"], "last_login_at">,
  IsRequired<Schemas["Session"], "user_agent">,
] = [true, true, true, true, true];
void strictTypes;

const BASE_URL = process.env.BASE_URL ?? "http://127.0.0.1:8099";
const PASSWORD = "Correct#Horse9";

test("register, log in, create a todo and find it in the list", async () => {
  const anonymous = createTodoClient(BASE_URL);
  const email = `ts-sdk-${randomUUID()}@example.com`;

  const registered = await anonymous.POST("/api/v1/auth/register", {
    body: { email, password: PASSWORD, name: "TypeScript SDK" },
  });
  assert.equal(registered.response.status, 201);
  const user = unwrap(registered);
  assert.equal(user.email, email);
  assert.equal(user.name, "TypeScript SDK");
  assert.ok(registered.response.headers.get("location"));

  const tokens = unwrap(await anonymous.POST("/api/v1/auth/login", { body: { email, password: PASSWORD } }));
  assert.equal(tokens.token_type, "bearer");
  assert.ok(tokens.expires_in > 0);

  const client = createTodoClient(BASE_URL, { accessToken: tokens.access_token });
  const me = unwrap(await client.GET("/api/v1/auth/me"));
  assert.equal(me.id, user.id);

  const title = `Buy milk ${randomUUID()}`;
  const created = await client.POST("/api/v1/todos", {
    body: { title, priority: "high", tags: ["errands"] },
  });
  assert.equal(created.response.status, 201);
  const todo = unwrap(created);
  assert.equal(todo.title, title);
  assert.equal(todo.priority, "high");
  assert.equal(todo.version, 1);
  assert.deepEqual(
    todo.tags.map((t) => t.name),
    ["errands"],
  );
  assert.equal(etagOf(created.response), '"1"');
  assert.equal(created.response.headers.get("location"), `/api/v1/todos/${todo.id}`);

  const page = unwrap(
    await client.GET("/api/v1/todos", { params: { query: { q: title, limit: 10, sort_by: "created_at" } } }),
  );
  assert.equal(page.total, 1);
  assert.equal(page.items[0]?.id, todo.id);

  const all = unwrap(await client.GET("/api/v1/todos"));
  assert.ok(all.items.some((t) => t.id === todo.id));
});

test("errors arrive as typed ErrorBody values", async () => {
  const anonymous = createTodoClient(BASE_URL);
  const email = `ts-sdk-${randomUUID()}@example.com`;
  unwrap(await anonymous.POST("/api/v1/auth/register", { body: { email, password: PASSWORD } }));

  const wrong = await anonymous.POST("/api/v1/auth/login", { body: { email, password: "Wrong#Horse9" } });
  assert.equal(wrong.response.status, 401);
  assert.equal(wrong.error?.error_code, "AUTH_001");
  assert.throws(() => unwrap(wrong), (e: unknown) => e instanceof ApiError && e.errorCode === "AUTH_001");

  const tokens = unwrap(await anonymous.POST("/api/v1/auth/login", { body: { email, password: PASSWORD } }));
  const client = createTodoClient(BASE_URL, { accessToken: () => tokens.access_token });
  const created = await client.POST("/api/v1/todos", { body: { title: "conditional" } });
  const todo = unwrap(created);

  const stale = await client.PATCH("/api/v1/todos/{id}", {
    params: { path: { id: todo.id }, header: { "If-Match": '"41"' } },
    body: { is_completed: true },
  });
  assert.equal(stale.response.status, 412);
  assert.equal(stale.error?.error_code, "PRECONDITION_001");

  const updated = await client.PATCH("/api/v1/todos/{id}", {
    params: { path: { id: todo.id }, header: { "If-Match": etagOf(created.response) } },
    body: { is_completed: true },
  });
  const done = unwrap(updated);
  assert.equal(done.is_completed, true);
  assert.equal(done.version, 2);

  const missing = await client.GET("/api/v1/todos/{id}", { params: { path: { id: randomUUID() } } });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error?.error_code, "RESOURCE_001");

  unwrap(await client.POST("/api/v1/auth/logout", { body: {} }));
  const revoked = await client.GET("/api/v1/auth/me");
  assert.equal(revoked.response.status, 401);
  assert.equal(revoked.error?.error_code, "AUTH_004");
});

test("token grant, refresh rotation, tags, toggle, delete and change-password", async () => {
  const anonymous = createTodoClient(BASE_URL);
  const email = `ts-sdk-${randomUUID()}@example.com`;
  unwrap(await anonymous.POST("/api/v1/auth/register", { body: { email, password: PASSWORD } }));

  // The form-encoded OAuth2 password grant.
  const granted = unwrap(await passwordGrant(anonymous, email, PASSWORD));
  assert.equal(granted.token_type, "bearer");
  const badGrant = await passwordGrant(anonymous, email, "Wrong#Horse9");
  assert.equal(badGrant.response.status, 401);
  assert.equal(badGrant.error?.error_code, "AUTH_001");

  // Refresh rotates: the old refresh token is refused afterwards.
  const rotated = unwrap(
    await anonymous.POST("/api/v1/auth/refresh", { body: { refresh_token: granted.refresh_token } }),
  );
  assert.notEqual(rotated.refresh_token, granted.refresh_token);
  const reused = await anonymous.POST("/api/v1/auth/refresh", {
    body: { refresh_token: granted.refresh_token },
  });
  assert.equal(reused.response.status, 401);
  assert.equal(reused.error?.error_code, "AUTH_004");

  let access: string | undefined = unwrap(
    await anonymous.POST("/api/v1/auth/login", { body: { email, password: PASSWORD } }),
  ).access_token;
  const client = createTodoClient(BASE_URL, { accessToken: () => access });

  // Tags: create (Location), conflict ignoring case, rename, list, delete (204).
  const createdTag = await client.POST("/api/v1/tags", { body: { name: "Home", color: "#00aa11" } });
  assert.equal(createdTag.response.status, 201);
  const tag = unwrap(createdTag);
  assert.equal(createdTag.response.headers.get("location"), `/api/v1/tags/${tag.id}`);
  const duplicate = await client.POST("/api/v1/tags", { body: { name: "home" } });
  assert.equal(duplicate.response.status, 409);
  assert.equal(duplicate.error?.error_code, "CONFLICT_001");
  const renamed = unwrap(
    await client.PATCH("/api/v1/tags/{id}", { params: { path: { id: tag.id } }, body: { name: "House", color: null } }),
  );
  assert.equal(renamed.name, "House");
  assert.equal(renamed.color, null);
  const tags = unwrap(await client.GET("/api/v1/tags", { params: { query: { limit: 5 } } }));
  assert.deepEqual(
    tags.items.map((t) => t.name),
    ["House"],
  );

  // A todo with that tag: filter by tag, toggle with If-Match, delete with If-Match.
  const created = await client.POST("/api/v1/todos", { body: { title: "water plants", tags: ["house"] } });
  const todo = unwrap(created);
  assert.deepEqual(
    todo.tags.map((t) => t.id),
    [tag.id],
  );
  const byTag = unwrap(await client.GET("/api/v1/todos", { params: { query: { tag: "HOUSE" } } }));
  assert.deepEqual(
    byTag.items.map((t) => t.id),
    [todo.id],
  );
  const toggled = await client.PATCH("/api/v1/todos/{id}/complete", {
    params: { path: { id: todo.id }, header: { "If-Match": etagOf(created.response) } },
  });
  const done = unwrap(toggled);
  assert.equal(done.is_completed, true);
  assert.ok(done.completed_at);
  assert.equal(etagOf(toggled.response), '"2"');
  const staleDelete = await client.DELETE("/api/v1/todos/{id}", {
    params: { path: { id: todo.id }, header: { "If-Match": '"1"' } },
  });
  assert.equal(staleDelete.response.status, 412);
  assert.equal(staleDelete.error?.error_code, "PRECONDITION_001");
  const deleted = await client.DELETE("/api/v1/todos/{id}", {
    params: { path: { id: todo.id }, header: { "If-Match": etagOf(toggled.response) } },
  });
  assert.equal(deleted.response.status, 204);
  assert.equal(unwrap(deleted), undefined);
  const gone = await client.GET("/api/v1/todos/{id}", { params: { path: { id: todo.id } } });
  assert.equal(gone.error?.error_code, "RESOURCE_001");
  assert.equal(
    (await client.DELETE("/api/v1/tags/{id}", { params: { path: { id: tag.id } } })).response.status,
    204,
  );

  // Validation errors name the field.
  const invalid = await client.POST("/api/v1/todos", { body: { title: "x".repeat(256) } });
  assert.equal(invalid.response.status, 422);
  assert.equal(invalid.error?.error_code, "VALIDATION_005");
  assert.equal(invalid.error?.details.field, "title");

  // Change-password revokes every session, including the current one.
  const NEW_PASSWORD = "Battery#Staple7";
  const changed = unwrap(
    await client.POST("/api/v1/auth/change-password", {
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
    }),
  );
  assert.ok(changed.message);
  const revoked = await client.GET("/api/v1/auth/me");
  assert.equal(revoked.error?.error_code, "AUTH_004");
  access = unwrap(
    await anonymous.POST("/api/v1/auth/login", { body: { email, password: NEW_PASSWORD } }),
  ).access_token;
  assert.equal(unwrap(await client.GET("/api/v1/auth/me")).email, email);

  // Without a token: AUTH_005.
  access = undefined;
  const anonymousMe = await client.GET("/api/v1/auth/me");
  assert.equal(anonymousMe.response.status, 401);
  assert.equal(anonymousMe.error?.error_code, "AUTH_005");
});

test("health endpoints", async () => {
  const anonymous = createTodoClient(BASE_URL);
  const health = unwrap(await anonymous.GET("/health"));
  assert.equal(health.status, "healthy");
  // `mail` depends on the server's mail transport; it never makes the server unready.
  const { mail, ...ready } = health.checks;
  assert.deepEqual(ready, { database: true, token_revocation: true });
  assert.equal(typeof mail, "boolean");
  assert.equal(unwrap(await anonymous.GET("/health/live")).status, "alive");
});

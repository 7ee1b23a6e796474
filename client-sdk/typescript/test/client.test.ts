// End-to-end check of the generated TypeScript client against a running server.
// BASE_URL (default http://127.0.0.1:8099) names it; the auth rate limit should be off
// (AUTH_RATE_LIMIT_PER_MINUTE=0) or above the handful of auth calls made here.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { ApiError, createTodoClient, etagOf, unwrap } from "../src/client.js";

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

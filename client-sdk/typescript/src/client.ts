// A small wrapper around openapi-fetch for the Todo API.
//
// `schema.d.ts` is generated from ../../openapi.yaml (`npm run generate`); everything
// here is typed from it, so a breaking change of the spec breaks `npm run build`.

import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

/** The component schemas of the spec (`Schemas["Todo"]`, `Schemas["ErrorBody"]`, ...). */
export type Schemas = components["schemas"];
export type User = Schemas["User"];
export type TokenPair = Schemas["TokenPair"];
export type Todo = Schemas["Todo"];
export type TodoInput = Schemas["TodoInput"];
export type TodoPatch = Schemas["TodoPatch"];
export type TodoPage = Schemas["TodoPage"];
export type Tag = Schemas["Tag"];
export type ErrorBody = Schemas["ErrorBody"];
export type ErrorCode = Schemas["ErrorCode"];

/** An openapi-fetch client typed by the Todo API's paths. */
export type TodoApiClient = Client<paths>;

export interface ClientOptions {
  /**
   * The bearer access token to send, or a function returning the current one (so a
   * caller can rotate tokens without rebuilding the client). `undefined`: anonymous.
   */
  accessToken?: string | (() => string | undefined);
  /** A `fetch` implementation (defaults to the global one). */
  fetch?: typeof globalThis.fetch;
}

/**
 * Builds a client for the API at `baseUrl` (e.g. `http://127.0.0.1:8000`, no trailing
 * path). Paths are the spec's: `client.GET("/api/v1/todos/{id}", { params: { path: { id } } })`.
 */
export function createTodoClient(baseUrl: string, options: ClientOptions = {}): TodoApiClient {
  const client = createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { accessToken } = options;
  if (accessToken !== undefined) {
    const auth: Middleware = {
      onRequest({ request }) {
        const token = typeof accessToken === "function" ? accessToken() : accessToken;
        if (token) {
          request.headers.set("Authorization", `Bearer ${token}`);
        }
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}

/** A 4xx/5xx answer of the API, carrying its `ErrorBody`. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  readonly response: Response;

  constructor(response: Response, body: ErrorBody) {
    super(`${response.status} ${body.error_code}: ${body.message} (request ${body.request_id})`);
    this.name = "ApiError";
    this.status = response.status;
    this.body = body;
    this.response = response;
  }

  get errorCode(): ErrorCode {
    return this.body.error_code;
  }
}

/**
 * Returns `data` of an openapi-fetch result, or throws an {@link ApiError} for an error
 * answer. For a body-less success (204) it returns `undefined`.
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(result.response, result.error as ErrorBody);
  }
  return result.data as T;
}

/**
 * OAuth2 password grant (`POST /api/v1/auth/token`, form-encoded), the one operation whose
 * body is not JSON: openapi-fetch serialises a form only when told the content type.
 */
export function passwordGrant(client: TodoApiClient, username: string, password: string) {
  return client.POST("/api/v1/auth/token", {
    body: { grant_type: "password", username, password },
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
}

/** The `ETag` of a response (`"<version>"`), for `If-Match`. */
export function etagOf(response: Response): string {
  const tag = response.headers.get("etag");
  if (tag === null) {
    throw new Error(`no ETag on ${response.status} ${response.url}`);
  }
  return tag;
}

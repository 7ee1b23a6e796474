// Type-level assertions over the generated clients (compiled by tsc --strict in .ci/run
// step f.6; nothing runs): always-sent fields are required (nullable where the server
// sends null), enums are closed, and every error response is typed as ErrorBody.
import type * as Hey from "../../target/spec-tools/hey-api/types.gen";
import type * as Orval from "../../target/spec-tools/orval/api";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type AllRequired<T> = Equal<RequiredKeys<T>, keyof T>;

export type Checks = [
  // hey-api: response objects have no optional field.
  Assert<AllRequired<Hey.Todo>>,
  Assert<AllRequired<Hey.Tag>>,
  Assert<AllRequired<Hey.User>>,
  Assert<AllRequired<Hey.Session>>,
  Assert<AllRequired<Hey.TodoPage>>,
  Assert<AllRequired<Hey.TokenPair>>,
  Assert<AllRequired<Hey.ErrorBody>>,
  Assert<Equal<Hey.Todo["description"], string | null>>,
  Assert<Equal<Hey.Tag["color"], string | null>>,
  Assert<Equal<Hey.User["last_login_at"], string | null>>,
  Assert<Equal<Hey.Priority, "low" | "medium" | "high">>,
  Assert<Equal<Hey.TokenRequest["grant_type"], "password">>,
  Assert<Equal<Hey.GetTodoErrors[404], Hey.ErrorBody>>,
  Assert<Equal<Hey.CreateTodoErrors[422], Hey.ErrorBody>>,
  Assert<Equal<Hey.ErrorBody["error_code"], Hey.ErrorCode>>,
  // orval: the same.
  Assert<AllRequired<Orval.Todo>>,
  Assert<AllRequired<Orval.Tag>>,
  Assert<AllRequired<Orval.User>>,
  Assert<AllRequired<Orval.Session>>,
  Assert<AllRequired<Orval.ErrorBody>>,
  Assert<Equal<Orval.Todo["description"], string | null>>,
  Assert<Equal<Orval.getTodoResponse404["data"], Orval.ErrorBody>>,
  Assert<Equal<Orval.createTodoResponse422["data"], Orval.ErrorBody>>,
];

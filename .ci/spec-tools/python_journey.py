"""A user's whole journey through the client openapi-python-client generates from
openapi.yaml (.ci/run step f.6): every operation of the spec at least once, each step
asserting the status, the typed body and the effect.

    python python_journey.py BASE_URL MAIL_DIR

BASE_URL is a live todo-api with AUTH_RATE_LIMIT_PER_MINUTE=0 whose MAIL_OUTBOX_DIR is
MAIL_DIR (the reset and verification links are read from the .eml files there). The
generated package (`todo_api_client`) must be importable. Exit status 0 when every
step passed; the last line counts the steps and the operations they covered.
"""

import email
import email.policy
import importlib
import pathlib
import pkgutil
import re
import sys
import time
import uuid
from http import HTTPStatus

from todo_api_client import AuthenticatedClient, Client
from todo_api_client.api.auth import (
    change_password,
    confirm_password_reset,
    delete_me,
    delete_session,
    get_me,
    issue_token,
    list_sessions,
    login,
    logout,
    refresh_token,
    register,
    request_password_reset,
    resend_verification,
    verify_email,
)
from todo_api_client.api.operations import get_health, get_liveness
from todo_api_client.api.tags import create_tag, delete_tag, get_tag, list_tags, update_tag
from todo_api_client.api.todos import (
    create_todo,
    delete_todo,
    get_todo,
    list_todos,
    replace_todo,
    toggle_todo,
    update_todo,
)
from todo_api_client.models import (
    ChangePasswordRequest,
    DeleteAccountRequest,
    ErrorBody,
    ErrorCode,
    HealthStatus,
    LoginRequest,
    LogoutRequest,
    LogoutScope,
    Message,
    NewTag,
    PasswordResetConfirm,
    PasswordResetRequest,
    Priority,
    RefreshRequest,
    RegisterRequest,
    SessionPage,
    SortBy,
    SortOrder,
    Tag,
    TagPage,
    TagPatch,
    Todo,
    TodoInput,
    TodoPage,
    TodoPatch,
    TokenPair,
    TokenRequest,
    TokenRequestGrantType,
    TokenType,
    User,
    VerifyEmailRequest,
)

BASE, MAIL_DIR = sys.argv[1].rstrip("/"), pathlib.Path(sys.argv[2])
PASSWORD, NEW_PASSWORD, RESET_PASSWORD = "Journey#Pass1", "Journey#Pass2", "Journey#Pass3"
STEPS: list[str] = []
COVERED: set[str] = set()


def step(name: str, operation: str, resp, status: HTTPStatus, parsed_type=None):
    """Checks one call: its status and the type of its parsed body; returns the body."""
    label = f"{len(STEPS) + 1:2}. {operation}: {name}"
    if resp.status_code != status:
        raise AssertionError(f"{label}: expected {status}, got {resp.status_code}: {resp.content!r}")
    if parsed_type is not None and not isinstance(resp.parsed, parsed_type):
        raise AssertionError(f"{label}: expected a {parsed_type.__name__}, got {resp.parsed!r}")
    assert resp.headers.get("x-request-id"), f"{label}: no X-Request-ID"
    STEPS.append(label)
    COVERED.add(operation)
    print(f"ok {label}")
    return resp.parsed


def error(name, operation, resp, status, code: ErrorCode) -> ErrorBody:
    """A step answered with the typed ErrorBody carrying `code`."""
    body = step(name, operation, resp, status, ErrorBody)
    assert body.error_code == code, f"{operation}: {body.error_code} != {code}"
    return body


def link_token(address: str, path: str) -> str:
    """The token of the newest `{APP_URL}<path>?token=` link mailed to `address`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = []
        for f in MAIL_DIR.glob("*.eml"):
            msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            if address not in str(msg["To"]):
                continue
            text = msg.get_body(preferencelist=("plain",)).get_content()
            found += [(f.stat().st_mtime_ns, m) for m in re.findall(rf"{path}\?token=([A-Za-z0-9_-]+)", text)]
        if found:
            return max(found)[1]
        time.sleep(0.2)  # polls for the delivery worker's file; no ordering relies on it
    raise AssertionError(f"no {path} mail for {address} in {MAIL_DIR} within 30 s")


def authed(token: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=BASE, token=token, raise_on_unexpected_status=True)


def accounts(anon: Client, address: str) -> TokenPair:
    """register, login, token, refresh, me, verification."""
    user = step("new account", "register", register.sync_detailed(
        client=anon, body=RegisterRequest(email=address, password=PASSWORD, name="Journey")),
        HTTPStatus.CREATED, User)
    assert user.email == address and user.name == "Journey" and user.email_verified is False
    error("same address again", "register", register.sync_detailed(
        client=anon, body=RegisterRequest(email=address.upper(), password=PASSWORD)),
        HTTPStatus.CONFLICT, ErrorCode.VALIDATION_003)
    error("wrong password", "login", login.sync_detailed(
        client=anon, body=LoginRequest(email=address, password="Wrong#Pass1")),
        HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_001)
    pair = step("JSON login", "login", login.sync_detailed(
        client=anon, body=LoginRequest(email=address, password=PASSWORD)), HTTPStatus.OK, TokenPair)
    assert pair.token_type == TokenType.BEARER and pair.expires_in > 0
    granted = step("OAuth2 password grant", "issue_token", issue_token.sync_detailed(
        client=anon, body=TokenRequest(grant_type=TokenRequestGrantType.PASSWORD,
                                       username=address, password=PASSWORD)), HTTPStatus.OK, TokenPair)
    rotated = step("rotation", "refresh_token", refresh_token.sync_detailed(
        client=anon, body=RefreshRequest(refresh_token=granted.refresh_token)), HTTPStatus.OK, TokenPair)
    assert rotated.refresh_token != granted.refresh_token
    error("reuse of the rotated token", "refresh_token", refresh_token.sync_detailed(
        client=anon, body=RefreshRequest(refresh_token=granted.refresh_token)),
        HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_004)
    error("the family is revoked", "refresh_token", refresh_token.sync_detailed(
        client=anon, body=RefreshRequest(refresh_token=rotated.refresh_token)),
        HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_004)
    me = authed(pair.access_token)
    step("resend the link", "resend_verification", resend_verification.sync_detailed(client=me),
         HTTPStatus.ACCEPTED, Message)
    verified = step("follow the link", "verify_email", verify_email.sync_detailed(
        client=anon, body=VerifyEmailRequest(token=link_token(address, "/verify-email"))), HTTPStatus.OK, User)
    assert verified.email_verified is True
    who = step("who am I", "get_me", get_me.sync_detailed(client=me), HTTPStatus.OK, User)
    assert who.id == user.id and who.email_verified and who.last_login_at is not None
    return pair


def todos(me: AuthenticatedClient) -> None:
    """Every todo operation, with tags, filters, ETags and preconditions."""
    milk = step("with tags", "create_todo", create_todo.sync_detailed(client=me, body=TodoInput(
        title="Buy milk", priority=Priority.HIGH, tags=["errands", "Home"])), HTTPStatus.CREATED, Todo)
    assert [t.name for t in milk.tags] == ["errands", "Home"] and milk.version == 1
    assert milk.description is None and milk.completed_at is None and milk.due_date is None
    step("another", "create_todo", create_todo.sync_detailed(client=me, body=TodoInput(
        title="Read a book", description="Anything but code")), HTTPStatus.CREATED, Todo)
    page = step("filtered by tag, sorted", "list_todos", list_todos.sync_detailed(
        client=me, tag="ERRANDS", sort_by=SortBy.TITLE, sort_order=SortOrder.ASC), HTTPStatus.OK, TodoPage)
    assert [t.id for t in page.items] == [milk.id] and page.total == 1 and not page.has_more
    page = step("search", "list_todos", list_todos.sync_detailed(client=me, q="BOOK"), HTTPStatus.OK, TodoPage)
    assert [t.title for t in page.items] == ["Read a book"]
    resp = get_todo.sync_detailed(milk.id, client=me)
    assert step("by id", "get_todo", resp, HTTPStatus.OK, Todo).id == milk.id
    etag = resp.headers["etag"]
    assert etag == '"1"'
    step("conditional: not modified", "get_todo",
         get_todo.sync_detailed(milk.id, client=me, if_none_match=etag), HTTPStatus.NOT_MODIFIED)
    done = step("complete", "toggle_todo", toggle_todo.sync_detailed(milk.id, client=me, if_match=etag),
                HTTPStatus.OK, Todo)
    assert done.is_completed and done.completed_at is not None and done.version == 2
    error("stale If-Match", "update_todo", update_todo.sync_detailed(
        milk.id, client=me, if_match=etag, body=TodoPatch(title="Buy oat milk")),
        HTTPStatus.PRECONDITION_FAILED, ErrorCode.PRECONDITION_001)
    patched = step("partial update", "update_todo", update_todo.sync_detailed(
        milk.id, client=me, if_match='"2"', body=TodoPatch(title="Buy oat milk")), HTTPStatus.OK, Todo)
    assert patched.title == "Buy oat milk" and patched.is_completed and patched.version == 3
    replaced = step("full replace", "replace_todo", replace_todo.sync_detailed(
        milk.id, client=me, body=TodoInput(title="Buy bread")), HTTPStatus.OK, Todo)
    assert replaced.tags == [] and replaced.priority == Priority.MEDIUM and not replaced.is_completed
    step("delete", "delete_todo", delete_todo.sync_detailed(milk.id, client=me, if_match='"4"'),
         HTTPStatus.NO_CONTENT)
    error("gone", "get_todo", get_todo.sync_detailed(milk.id, client=me),
          HTTPStatus.NOT_FOUND, ErrorCode.RESOURCE_001)


def tags(me: AuthenticatedClient) -> None:
    """Every tag operation."""
    page = step("the todos' tags", "list_tags", list_tags.sync_detailed(client=me), HTTPStatus.OK, TagPage)
    assert [t.name for t in page.items] == ["errands", "Home"]
    work = step("new", "create_tag", create_tag.sync_detailed(
        client=me, body=NewTag(name="work", color="#336699")), HTTPStatus.CREATED, Tag)
    error("same name, other case", "create_tag", create_tag.sync_detailed(
        client=me, body=NewTag(name="WORK")), HTTPStatus.CONFLICT, ErrorCode.CONFLICT_001)
    assert step("by id", "get_tag", get_tag.sync_detailed(work.id, client=me), HTTPStatus.OK, Tag).color == "#336699"
    cleared = step("clear the color", "update_tag", update_tag.sync_detailed(
        work.id, client=me, body=TagPatch(color=None)), HTTPStatus.OK, Tag)
    assert cleared.color is None and cleared.name == "work"
    step("delete", "delete_tag", delete_tag.sync_detailed(work.id, client=me), HTTPStatus.NO_CONTENT)
    error("gone", "get_tag", get_tag.sync_detailed(work.id, client=me),
          HTTPStatus.NOT_FOUND, ErrorCode.RESOURCE_002)


def sessions_and_passwords(anon: Client, address: str, pair: TokenPair) -> None:
    """Sessions, logout, change-password, the reset link, account deletion."""
    me = authed(pair.access_token)
    other = step("a second session", "login", login.sync_detailed(
        client=anon, body=LoginRequest(email=address, password=PASSWORD)), HTTPStatus.OK, TokenPair)
    listed = step("live sessions", "list_sessions", list_sessions.sync_detailed(client=me), HTTPStatus.OK, SessionPage)
    current = [s for s in listed.items if s.current]
    assert len(current) == 1 and listed.total >= 2
    others = [s for s in listed.items if not s.current]
    step("end one", "delete_session", delete_session.sync_detailed(others[0].id, client=me), HTTPStatus.NO_CONTENT)
    error("its token is revoked", "get_me", get_me.sync_detailed(client=authed(other.access_token)),
          HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_004)
    step("new password", "change_password", change_password.sync_detailed(client=me, body=ChangePasswordRequest(
        current_password=PASSWORD, new_password=NEW_PASSWORD)), HTTPStatus.OK, Message)
    error("every old token is refused", "get_me", get_me.sync_detailed(client=me),
          HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_004)
    step("ask for a reset link", "request_password_reset", request_password_reset.sync_detailed(
        client=anon, body=PasswordResetRequest(email=address)), HTTPStatus.ACCEPTED, Message)
    token = link_token(address, "/reset-password")
    step("set a password with it", "confirm_password_reset", confirm_password_reset.sync_detailed(
        client=anon, body=PasswordResetConfirm(token=token, new_password=RESET_PASSWORD)), HTTPStatus.OK, Message)
    error("the link is used up", "confirm_password_reset", confirm_password_reset.sync_detailed(
        client=anon, body=PasswordResetConfirm(token=token, new_password=RESET_PASSWORD)),
        HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_008)
    fresh = step("with the reset password", "login", login.sync_detailed(
        client=anon, body=LoginRequest(email=address, password=RESET_PASSWORD)), HTTPStatus.OK, TokenPair)
    me = authed(fresh.access_token)
    step("log out", "logout", logout.sync_detailed(client=me, body=LogoutRequest(scope=LogoutScope.CURRENT)),
         HTTPStatus.OK, Message)
    error("logged out", "get_me", get_me.sync_detailed(client=me), HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_004)
    last = step("once more", "login", login.sync_detailed(
        client=anon, body=LoginRequest(email=address, password=RESET_PASSWORD)), HTTPStatus.OK, TokenPair)
    me = authed(last.access_token)
    error("wrong password", "delete_me", delete_me.sync_detailed(
        client=me, body=DeleteAccountRequest(password="Wrong#Pass1")), HTTPStatus.UNPROCESSABLE_ENTITY,
        ErrorCode.VALIDATION_007)
    step("delete the account", "delete_me", delete_me.sync_detailed(
        client=me, body=DeleteAccountRequest(password=RESET_PASSWORD)), HTTPStatus.NO_CONTENT)
    error("the account is gone", "get_me", get_me.sync_detailed(client=me), HTTPStatus.UNAUTHORIZED, ErrorCode.AUTH_007)


def main() -> None:
    anon = Client(base_url=BASE, raise_on_unexpected_status=True)
    health = step("ready", "get_health", get_health.sync_detailed(client=anon), HTTPStatus.OK)
    assert health.status == HealthStatus.HEALTHY and health.checks.database
    step("alive", "get_liveness", get_liveness.sync_detailed(client=anon), HTTPStatus.OK)
    address = f"journey-{uuid.uuid4().hex[:12]}@example.com"
    pair = accounts(anon, address)
    me = authed(pair.access_token)
    todos(me)
    tags(me)
    sessions_and_passwords(anon, address, pair)
    spec_ops = generated_operations()
    assert COVERED == spec_ops, f"operations not covered: {sorted(spec_ops - COVERED)}"
    print(f"python journey: {len(STEPS)}/{len(STEPS)} steps passed, {len(COVERED)}/{len(spec_ops)} operations")


def generated_operations() -> set[str]:
    """The operations of the generated client (one module per operationId)."""
    api = importlib.import_module("todo_api_client.api")
    ops = set()
    for group in pkgutil.iter_modules(api.__path__):
        package = importlib.import_module(f"todo_api_client.api.{group.name}")
        ops |= {m.name for m in pkgutil.iter_modules(package.__path__)}
    return ops


if __name__ == "__main__":
    main()

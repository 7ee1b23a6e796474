"""schemathesis hooks for .ci/run (loaded through SCHEMATHESIS_HOOKS).

`logout`, `change_password`, `delete_me` and `delete_session` end the caller's
sessions or account (one session, all of the user's, or the user). With the run's shared bearer token they would turn every later request into a
401, so each of their test cases gets a brand-new user and session instead, and (for
change_password and delete_me) that user's current password: credentials, not data.

Needs CI_BASE_URL (the live server) and CI_PASSWORD in the environment.
"""

import os
import uuid

import requests
import schemathesis

BASE_URL = os.environ["CI_BASE_URL"].rstrip("/")
PASSWORD = os.environ["CI_PASSWORD"]
# The body field holding the current password, per operation.
CURRENT_PASSWORD_FIELD = {"change_password": "current_password", "delete_me": "password"}


@schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(
    operation_id=["logout", "change_password", "delete_me", "delete_session"]
)
class FreshSession:
    """A token of a user created for this one test case."""

    def get(self, case, context):
        email = f"ci-{uuid.uuid4().hex[:16]}@example.com"
        r = requests.post(
            f"{BASE_URL}/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": "CI session"},
            timeout=30,
        )
        r.raise_for_status()
        r = requests.post(
            f"{BASE_URL}/api/v1/auth/login",
            json={"email": email, "password": PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
        # The current password is a credential like the token: a schema-valid request
        # carries the right one (a wrong one is VALIDATION_007, which no schema can
        # tell from a right one). Negative cases keep whatever was generated.
        field = CURRENT_PASSWORD_FIELD.get(case.operation.definition.raw.get("operationId"))
        positive = case.meta is None or case.meta.generation.mode.is_positive
        if field and positive and isinstance(case.body, dict) and field in case.body:
            case.body[field] = PASSWORD

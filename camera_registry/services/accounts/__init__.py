"""Staff accounts and their API tokens: users, passwords, login sessions and tokens, a module each.

Callers import them from here, as `accounts.create_user` and so on. The caller owns the transaction (and commits).
"""

from ...models import User  # what these functions return, as callers name it (accounts.User)
from .administration import (
    find_users,
    generated_password,
    last_sign_ins,
    rebind_user,
    reset_password,
    user_token,
)
from .credentials import session_actor, token_actor
from .login_sessions import end_sessions, record_login, session_user
from .passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    MIN_PASSWORD_SCORE,
    PASSWORD_SCORED_CHARACTERS,
    SERVICE_WORDS,
    authenticate_password,
    password_problems,
)
from .remembered import forget_credentials
from .tokens import (
    LAST_USED_RESOLUTION,
    TOKEN_MAX_DAYS,
    TOKEN_NAME_MAX,
    TOKEN_PREFIX,
    authenticate_token,
    create_own_token,
    create_token,
    list_own_tokens,
    list_tokens,
    revoke_token,
    token_state,
)
from .users import (
    DEMO_ACCOUNTS,
    FULL_NAME_MAX,
    UNIT_LEVEL_OF_ROLE,
    USERNAME_PATTERN,
    DemoAccount,
    active_user,
    change_password,
    create_demo_accounts,
    create_user,
    deactivate_user,
    get_user,
    list_users,
    own_account,
)

__all__ = [
    "DEMO_ACCOUNTS",
    "FULL_NAME_MAX",
    "LAST_USED_RESOLUTION",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "MIN_PASSWORD_SCORE",
    "PASSWORD_SCORED_CHARACTERS",
    "SERVICE_WORDS",
    "TOKEN_MAX_DAYS",
    "TOKEN_NAME_MAX",
    "TOKEN_PREFIX",
    "UNIT_LEVEL_OF_ROLE",
    "USERNAME_PATTERN",
    "DemoAccount",
    "User",
    "active_user",
    "authenticate_password",
    "authenticate_token",
    "change_password",
    "create_demo_accounts",
    "create_own_token",
    "create_token",
    "create_user",
    "deactivate_user",
    "end_sessions",
    "find_users",
    "forget_credentials",
    "generated_password",
    "get_user",
    "last_sign_ins",
    "list_own_tokens",
    "list_tokens",
    "list_users",
    "own_account",
    "password_problems",
    "rebind_user",
    "record_login",
    "reset_password",
    "revoke_token",
    "session_actor",
    "session_user",
    "token_actor",
    "token_state",
    "user_token",
]

"""The authenticated caller of the RPC being served (a context variable)."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from libs.errors import NotAllowed, Unauthenticated


@dataclass(frozen=True)
class Caller:
    user_id: str
    token: str
    claims: Mapping[str, Any] = field(default_factory=dict)
    # The service whose own identity this is ("notification"); empty for a user.
    service: str = ""
    # For a user: the service that relayed the user's call to an internal method.
    via: str = ""

    @property
    def user_name(self) -> str:
        return f"users/{self.user_id}"


_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("hisaab_caller", default=None)
_method: contextvars.ContextVar[str] = contextvars.ContextVar("hisaab_method", default="")


def current_method() -> str:
    """The full gRPC method being served (``/hisaab.expense.v1.ExpenseService/ListExpenses``)."""
    return _method.get()


def set_method(method: str) -> contextvars.Token[str]:
    return _method.set(method)


def reset_method(token: contextvars.Token[str]) -> None:
    _method.reset(token)


def current_caller() -> Caller | None:
    return _current.get()


def require_caller() -> Caller:
    caller = _current.get()
    if caller is None:
        raise Unauthenticated("sign in first")
    return caller


def set_caller(caller: Caller | None) -> contextvars.Token[Caller | None]:
    return _current.set(caller)


def reset_caller(token: contextvars.Token[Caller | None]) -> None:
    _current.reset(token)


INTERNAL_SCOPE = "hisaab/internal"


def has_internal_scope(claims: Mapping[str, Any]) -> bool:
    return INTERNAL_SCOPE in str(claims.get("scope", "")).split()


def subject(service: str) -> str:
    """The caller id of a service acting for itself (``service:notification``): never a user id."""
    return f"service:{service}"


def is_internal(caller: Caller | None) -> bool:
    """Whether the caller is one of our own services acting for itself (no user behind it)."""
    return caller is not None and bool(caller.service)


def require_internal() -> Caller:
    """The caller, who must be one of our own services; PERMISSION_DENIED for anyone else."""
    caller = require_caller()
    if not is_internal(caller):
        raise NotAllowed("this method is for Hisaab's own services")
    return caller

"""Roles a person can hold in a unit, and how admins write them.

A person may hold several roles. Roles widen what someone may do; they never
narrow it (a coordinator is also an officer).
"""

from __future__ import annotations

import re

from core.text import fold
from storage.models import ROLES, Officer

__all__ = [
    "MANAGER_ROLES",
    "ROLES",
    "ROLE_LABELS",
    "RoleError",
    "has_role",
    "is_manager",
    "parse_role",
    "parse_roles",
]

MANAGER_ROLES = frozenset({"coordinator", "leader", "admin"})

ROLE_LABELS = {
    "officer": "Cán bộ",
    "coordinator": "Đầu mối",
    "leader": "Lãnh đạo",
    "admin": "Quản trị",
}

# Folded words an admin may type, in a roster cell or a command.
_ROLE_WORDS = {
    "officer": ("officer", "can bo", "cong chuc", "can bo cong chuc", "cbcc"),
    "coordinator": ("coordinator", "dau moi", "dieu phoi"),
    "leader": ("leader", "lanh dao", "chu tich", "pho chu tich"),
    "admin": ("admin", "quan tri", "quan tri vien", "administrator"),
}
_BY_WORD = {word: role for role, words in _ROLE_WORDS.items() for word in words}
_SEPARATORS = re.compile(r"[;,]")


class RoleError(ValueError):
    """A role word we do not know; the message is Vietnamese."""


def has_role(officer: Officer, role: str) -> bool:
    return role in (officer.roles or ())


def is_manager(officer: Officer) -> bool:
    return bool(MANAGER_ROLES.intersection(officer.roles or ()))


def parse_role(text: str) -> str:
    role = _BY_WORD.get(fold(text))
    if role is None:
        raise RoleError(
            f"Vai trò «{text.strip()}» không hợp lệ. Dùng: cán bộ, đầu mối, lãnh đạo, quản trị."
        )
    return role


def parse_roles(text: str) -> list[str]:
    """Roles from a cell such as "Đầu mối; quản trị", in the canonical order, without repeats."""
    found = {parse_role(part) for part in _SEPARATORS.split(text) if part.strip()}
    return [role for role in ROLES if role in found]

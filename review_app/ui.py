"""Streamlit glue shared by the pages: configuration, session state, cached clients and reads, drafts.

Logic lives in :mod:`review_app.auth` and :mod:`review_app.services`; this module only binds
it to Streamlit's caches and session state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from aion_assets.core.auth import mint_token
from aion_assets.core.errors import AionError
from aion_assets.core.settings import Settings
from aion_assets.memory.client import MemoryApiError, MemoryClient
from aion_assets.memory.models import Interaction, SelfEditPage
from review_app.auth import Reviewer, SignInError, SignInThrottle, token_for
from review_app.services import QueueFilters, describe_error, fetch_page, make_client

#: Seconds a page of the queue is reused before it is read again (actions clear it at once).
PAGE_TTL_SECONDS = 15


@dataclass(frozen=True)
class ConsoleConfig:
    """Where the console finds the API and its users."""

    api_url: str
    users_file: Path
    settings: Settings


def config() -> ConsoleConfig:
    """The console's configuration from the AION_* settings (read on every run: it is cheap, and a
    changed environment, e.g. in tests, is seen at once)."""
    settings = Settings()
    users = settings.console_users or settings.resolved_home / "console_users.yaml"
    return ConsoleConfig(api_url=settings.api_url.rstrip("/"), users_file=users, settings=settings)


def init_state() -> None:
    """Every session key the pages use, with its initial value."""
    st.session_state.setdefault("reviewer", None)
    st.session_state.setdefault("flash", [])
    st.session_state.setdefault("drafts", {})
    st.session_state.setdefault("queue_cursors", [None])
    st.session_state.setdefault("queue_signature", None)
    st.session_state.setdefault("bulk_confirm", None)


def reviewer() -> Reviewer | None:
    """The signed-in reviewer of this session, if any."""
    value = st.session_state.get("reviewer")
    return value if isinstance(value, Reviewer) else None


def sign_out() -> None:
    """Forget everything of this session (reviewer, tokens, drafts)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    init_state()


def flash(kind: str, message: str) -> None:
    """Queue a message (``success``, ``info``, ``warning`` or ``error``) for the next render."""
    st.session_state.setdefault("flash", []).append((kind, message))


def show_flash() -> None:
    """Show and forget the queued messages."""
    for kind, message in st.session_state.get("flash", []):
        getattr(st, kind)(message)
    st.session_state["flash"] = []


def minter(settings: Settings) -> Callable[[str, list[str], int, str], str]:
    """Mint tokens for password users with the deployment's HS256 secret (read when first needed)."""

    cap = settings.jwt_max_ttl_seconds  # the API refuses longer-lived tokens; 0 = no cap

    def mint(tenant: str, roles: list[str], ttl: int, subject: str) -> str:
        return mint_token(settings.jwt_signing_secret(), tenant_id=tenant, roles=roles,
                          ttl_seconds=min(ttl, cap) if cap else ttl, subject=subject)

    return mint


def token(who: Reviewer, tenant: str, cfg: ConsoleConfig) -> str | None:
    """A live token of WHO for TENANT, or None after showing why there is none."""
    try:
        return token_for(who, tenant, minter(cfg.settings))
    except (SignInError, AionError) as exc:
        st.error(str(exc))
        return None


@st.cache_resource(show_spinner=False)
def throttle() -> SignInThrottle:
    """The console process's password sign-in throttle (shared by every session)."""
    return SignInThrottle()


@st.cache_resource(max_entries=64, ttl=3600, show_spinner=False)
def client(base_url: str, bearer: str) -> MemoryClient:
    """One memory API client per (API, token), shared across reruns."""
    return make_client(base_url, bearer)


@st.cache_data(ttl=PAGE_TTL_SECONDS, max_entries=256, show_spinner=False)
def load_page(base_url: str, bearer: str, filters: QueueFilters, cursor: str | None) -> SelfEditPage:
    """A page of the queue (cached for PAGE_TTL_SECONDS; keyed by token, so by tenant)."""
    return fetch_page(client(base_url, bearer), filters, cursor)


@st.cache_data(ttl=300, max_entries=512, show_spinner=False)
def load_interaction(base_url: str, bearer: str, interaction_id: str) -> Interaction:
    """The interaction an edit corrects (its question), cached: it never changes."""
    return client(base_url, bearer).get_interaction(interaction_id)


def reads_changed() -> None:
    """Forget cached pages after a decision, so the queue shows what is stored now."""
    load_page.clear()


def api_error(exc: MemoryApiError, cfg: ConsoleConfig) -> None:
    """Show EXC as a message a reviewer can act on."""
    st.error(describe_error(exc, cfg.api_url))


def draft(widget: Callable[..., Any], label: str, key: str, default: str = "", **kwargs: Any) -> Any:
    """A text widget whose value survives reruns, page changes and failed actions.

    Streamlit drops a widget's state when it is not drawn; the value is copied into
    ``st.session_state["drafts"]`` on every change and restored from there.
    """
    drafts: dict[str, str] = st.session_state.setdefault("drafts", {})
    widget_key = f"draft:{key}"
    # The draft wins: a widget whose parameters changed (e.g. disabled while a confirmation is asked)
    # is a new widget to Streamlit, which would start it empty.
    if key in drafts:
        st.session_state[widget_key] = drafts[key]
    elif widget_key not in st.session_state:
        st.session_state[widget_key] = default

    def keep() -> None:
        drafts[key] = st.session_state[widget_key]

    return widget(label, key=widget_key, on_change=keep, **kwargs)


def draft_value(key: str, default: str = "") -> str:
    """The current text of the draft KEY."""
    value = st.session_state.get(f"draft:{key}", st.session_state.get("drafts", {}).get(key, default))
    return str(value)


def drop_draft(key: str) -> None:
    """Forget the draft KEY (after its action succeeded)."""
    st.session_state.get("drafts", {}).pop(key, None)
    st.session_state.pop(f"draft:{key}", None)

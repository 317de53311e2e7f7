"""Sign in with a username and password, or with a token from `aion token`."""

from __future__ import annotations

import streamlit as st

from aion_assets.core.errors import AionError
from aion_assets.memory.client import MemoryApiError
from review_app import ui
from review_app.auth import SignInError, UserDirectory, reviewer_from_token, reviewer_from_user, token_for
from review_app.services import describe_error

cfg = ui.config()
st.title("AION reviewer console")
st.caption(f"API: {cfg.api_url}")
ui.show_flash()


def _with_password() -> None:
    username = st.session_state.get("signin_username", "").strip()
    password = st.session_state.get("signin_password", "")
    try:
        ui.throttle().check(username)
        try:
            user = UserDirectory.load(cfg.users_file).authenticate(username, password)
        except SignInError:
            ui.throttle().failed(username)
            raise
        ui.throttle().succeeded(username)
        who = reviewer_from_user(user)
        first = who.tenants[0]
        ui.client(cfg.api_url, token_for(who, first, ui.minter(cfg.settings))).list_self_edits(limit=1)
    except MemoryApiError as exc:  # first: it is also an AionError, caught below for everything else
        if exc.status == 401:
            # The console's secret is not the API's: every page would fail, so say it here.
            ui.flash("error", f"The API refuses the console's tokens ({_message(exc)}): the console and the API "
                     "must share AION_JWT_SECRET.")
            return
        # Unreachable or failing API: sign in anyway; the queue says what is wrong and retries.
    except (SignInError, AionError) as exc:
        ui.flash("error", str(exc))
        return
    st.session_state["reviewer"] = who
    st.session_state["signin_password"] = ""


def _message(exc: MemoryApiError) -> str:
    return str(exc.body.get("message")) if isinstance(exc.body, dict) else str(exc)


def _with_token() -> None:
    pasted = st.session_state.get("signin_token", "")
    try:
        who = reviewer_from_token(pasted)
        # The API is the judge of a token: a forged or foreign one is refused here, not later.
        ui.client(cfg.api_url, pasted.strip()).list_self_edits(limit=1)
    except SignInError as exc:
        ui.flash("error", str(exc))
        return
    except MemoryApiError as exc:
        refused = f"The API refuses this token: {_message(exc)}."
        ui.flash("error", refused if exc.status == 401 else describe_error(exc, cfg.api_url))
        return
    st.session_state["reviewer"] = who
    st.session_state["signin_token"] = ""


password_tab, token_tab = st.tabs(["Username and password", "Token"])
with password_tab, st.form("password_form"):
    st.text_input("Username", key="signin_username", autocomplete="username")
    st.text_input("Password", key="signin_password", type="password", autocomplete="current-password")
    st.form_submit_button("Sign in", type="primary", on_click=_with_password)
    st.caption(f"Users are listed in {cfg.users_file} (add one with `aion console-user add`).")
with token_tab, st.form("token_form"):
    st.text_area(
        "Token", key="signin_token", height=110, placeholder="eyJ...",
        help="The line printed by `aion token --tenant T --role reviewer --subject YOUR_NAME`.",
    )
    st.form_submit_button("Sign in with token", type="primary", on_click=_with_token)

"""The reviewer console: `streamlit run review_app/streamlit_app.py` (or `aion ui`, beside Dagster).

Signed out, the only page is the sign-in; signed in, the pages a reviewer may use (the audit log
only for an admin of some tenant). Every read and action goes through the memory or registry API
with a token of the chosen tenant.
"""

from __future__ import annotations

import streamlit as st

from aion_assets.core.auth import Role
from review_app import ui

st.set_page_config(page_title="AION reviewer console", page_icon=":material/rate_review:", layout="wide")
ui.init_state()
who = ui.reviewer()

if who is None:
    pages = [st.Page("app_pages/sign_in.py", title="Sign in", icon=":material/login:", default=True)]
else:
    pages = [
        st.Page("app_pages/review_queue.py", title="Edit review queue", icon=":material/rule:", default=True),
        st.Page("app_pages/promotions.py", title="Promotions", icon=":material/verified:"),
        st.Page("app_pages/models.py", title="Models and lineage", icon=":material/account_tree:"),
        st.Page("app_pages/routes.py", title="Routes", icon=":material/alt_route:"),
    ]
    if any(Role.admin in who.roles(t) for t in who.tenants):  # the audit log is an admin's (GET /audit)
        pages.append(st.Page("app_pages/audit_log.py", title="Audit log", icon=":material/history:"))
    with st.sidebar:
        st.markdown(f"Signed in as **{who.name}**")
        st.caption(", ".join(f"{t}: {'/'.join(sorted(r.value for r in who.roles(t)))}" for t in who.tenants))
        st.button("Sign out", on_click=ui.sign_out, icon=":material/logout:", key="sign_out")

st.navigation(pages).run()

"""Streamlit glue of the registry pages: the tenant picker, the cached registry client and reads.

Logic lives in :mod:`review_app.registry_services` and the page modules beside it
(``registry_promotions``, ``registry_models``, ``registry_routes``, ``registry_audit``); this module
binds it to Streamlit's caches and session state, as :mod:`review_app.ui` does for the edit queue.
"""

from __future__ import annotations

import streamlit as st

from aion_assets.core.auth import Role
from aion_assets.registry.evaluation import EvaluationDetails
from aion_assets.registry.http_client import RegistryApiError, RegistryClient
from aion_assets.registry.models import AuditEntry, ModelDetail, ModelVersion, Route
from review_app import ui
from review_app.auth import Reviewer
from review_app.registry_audit import AuditFilters, fetch_audit
from review_app.registry_promotions import pending_promotions
from review_app.registry_services import VERSIONS_LIMIT, describe_registry_error, make_registry_client

#: Seconds a registry read is reused before it is read again (actions clear it at once).
READ_TTL_SECONDS = 15


def signed_in() -> Reviewer:
    """The signed-in reviewer, or stop the page (navigation offers these pages only when signed in)."""
    who = ui.reviewer()
    if who is None:
        st.warning("Sign in first.")
        st.stop()
    assert who is not None
    return who


def pick_tenant(who: Reviewer, key: str, tenants: list[str] | None = None) -> str:
    """The tenant of this page, chosen in the sidebar among WHO's tenants (or TENANTS, a subset of them).

    A tenant named in the URL (``?tenant=``) is honoured only when granted; another one is refused
    with a message and dropped, so nothing of it is ever read.
    """
    offered = tenants if tenants is not None else who.tenants
    requested = st.query_params.get("tenant")
    if requested is not None and requested not in offered:
        st.error(f"You have no access to tenant {requested!r} here; showing your own tenants only.")
        del st.query_params["tenant"]
        requested = None
    if st.session_state.get(key) not in offered:
        st.session_state[key] = requested or offered[0]
    with st.sidebar:
        tenant: str = st.selectbox("Tenant", offered, key=key)
    st.query_params["tenant"] = tenant
    return tenant


def is_admin(who: Reviewer, tenant: str) -> bool:
    """Whether WHO is an admin of TENANT (the audit log is an admin's)."""
    return Role.admin in who.roles(tenant)


@st.cache_resource(max_entries=64, ttl=3600, show_spinner=False)
def registry_client(base_url: str, bearer: str) -> RegistryClient:
    """One registry API client per (API, token), shared across reruns."""
    return make_registry_client(base_url, bearer)


@st.cache_data(ttl=READ_TTL_SECONDS, max_entries=128, show_spinner=False)
def load_pending(base_url: str, bearer: str) -> list[ModelVersion]:
    """Versions waiting for approval (keyed by token, so by tenant)."""
    return pending_promotions(registry_client(base_url, bearer))


@st.cache_data(ttl=READ_TTL_SECONDS, max_entries=128, show_spinner=False)
def load_versions(base_url: str, bearer: str) -> list[ModelVersion]:
    """Every version of the token's tenant (up to the API's page of 500), newest first."""
    return registry_client(base_url, bearer).list_models(limit=VERSIONS_LIMIT)


@st.cache_data(ttl=READ_TTL_SECONDS, max_entries=256, show_spinner=False)
def load_detail(base_url: str, bearer: str, model_id: str) -> ModelDetail:
    """One version with its lineage (the first 200 source edit ids)."""
    return registry_client(base_url, bearer).get_model(model_id, edit_ids_limit=200)


@st.cache_data(ttl=READ_TTL_SECONDS, max_entries=128, show_spinner=False)
def load_evaluation(base_url: str, bearer: str, model_id: str) -> EvaluationDetails:
    """A version's scenario outcomes and the answers that differ most from its baseline."""
    return registry_client(base_url, bearer).get_evaluation(model_id, top=5)


@st.cache_data(ttl=READ_TTL_SECONDS, max_entries=128, show_spinner=False)
def load_routes(base_url: str, bearer: str) -> list[Route]:
    """Every route of the token's tenant."""
    return registry_client(base_url, bearer).list_routes()


@st.cache_data(ttl=READ_TTL_SECONDS, max_entries=128, show_spinner=False)
def load_audit(base_url: str, bearer: str, filters: AuditFilters) -> list[AuditEntry]:
    """The audit entries matching FILTERS (admin)."""
    return fetch_audit(registry_client(base_url, bearer), filters)


def registry_changed() -> None:
    """Forget cached registry reads after an action, so every page shows what is stored now."""
    for loader in (load_pending, load_versions, load_detail, load_routes, load_audit):
        loader.clear()


def registry_error(exc: RegistryApiError, thing: str = "version") -> None:
    """Show EXC as a message a reviewer can act on."""
    st.error(describe_registry_error(exc, ui.config().api_url, thing))

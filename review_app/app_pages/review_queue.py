"""The edit review queue: pending self-edits of one tenant, oldest first, 50 a page.

Keys: J / K next and previous edit, A approve, X reject (with the reason typed), M approve the
amended text. A bulk decision applies to every edit shown on the page (they match the filters)
except those left out, after a confirmation.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from aion_assets.memory.client import MemoryApiError
from aion_assets.memory.models import EditStatus, SelfEdit
from review_app import ui
from review_app.services import DIFF_CSS, QueueFilters, decide, decide_many, diff_html, edit_label, page_rows

EDITOR_CHOICES = ["any", "human", "model", "rule"]

cfg = ui.config()
who = ui.reviewer()
if who is None:  # navigation only offers this page when signed in; a stale session lands here
    st.warning("Sign in first.")
    st.stop()
assert who is not None

# -- tenant: only the reviewer's own; a tenant typed into the URL is honoured only if granted ---------------
tenants = who.tenants
requested = st.query_params.get("tenant")
if requested is not None and requested not in tenants:
    st.error(f"You have no access to tenant {requested!r}; showing your own tenants only.")
    del st.query_params["tenant"]
    requested = None
# The URL names the tenant when the page opens (a shared link); afterwards the selector decides.
if st.session_state.get("queue_tenant") not in tenants:
    st.session_state["queue_tenant"] = requested or tenants[0]

with st.sidebar:
    tenant: str = st.selectbox("Tenant", tenants, key="queue_tenant")
    with st.form("filters"):
        st.text_input("Agent", key="f_agent", placeholder="any agent")
        st.selectbox("Editor type", EDITOR_CHOICES, key="f_editor")
        st.text_input("Reason code", key="f_reason", placeholder="any reason")
        st.slider("Reward", 0.0, 1.0, (0.0, 1.0), step=0.05, key="f_reward")
        st.form_submit_button("Apply filters", icon=":material/filter_alt:")
st.query_params["tenant"] = tenant

low, high = st.session_state.get("f_reward", (0.0, 1.0))
filters = QueueFilters(
    agent_id=st.session_state.get("f_agent") or None,
    editor_type=None if st.session_state.get("f_editor", "any") == "any" else st.session_state["f_editor"],
    reason_code=st.session_state.get("f_reason") or None,
    min_reward=low if low > 0.0 else None,
    max_reward=high if high < 1.0 else None,
)
# A new tenant or new filters start again from the first page.
signature = (tenant, filters)
if st.session_state.get("queue_signature") != signature:
    st.session_state["queue_signature"] = signature
    st.session_state["queue_cursors"] = [None]
    st.session_state["queue_pos"] = 0
    st.session_state.pop("queue_pick", None)
    st.session_state["bulk_confirm"] = None

st.title("Edit review queue")
ui.show_flash()
bearer = ui.token(who, tenant, cfg)
if bearer is None:
    st.stop()
assert bearer is not None
# Narrowed names for the callbacks below (they run in a later script run, with these values).
token: str = bearer
reviewer_name: str = who.name
can_review = who.can_review(tenant)
cursors: list[str | None] = st.session_state["queue_cursors"]
try:
    page = ui.load_page(cfg.api_url, bearer, filters, cursors[-1])
except MemoryApiError as exc:
    ui.api_error(exc, cfg)
    st.stop()
items: list[SelfEdit] = page.items
st.caption(
    f"Tenant **{tenant}** · pending edits, oldest first · page {len(cursors)} · {len(items)} shown"
    + (" · more on the next page" if page.next_cursor else "")
)
if not can_review:
    roles = ", ".join(sorted(r.value for r in who.roles(tenant)))
    st.info(f"Your role on {tenant} ({roles}) lets you read this queue, not decide.")


def _next_page(cursor: str) -> None:
    st.session_state["queue_cursors"].append(cursor)
    st.session_state["queue_pos"] = 0
    st.session_state.pop("queue_pick", None)


def _previous_page() -> None:
    if len(st.session_state["queue_cursors"]) > 1:
        st.session_state["queue_cursors"].pop()
    st.session_state["queue_pos"] = 0
    st.session_state.pop("queue_pick", None)


def _move(step: int, ids: list[str]) -> None:
    current = st.session_state.get("queue_pick")
    position = ids.index(current) if current in ids else 0
    position = min(max(0, position + step), len(ids) - 1)
    st.session_state["queue_pick"], st.session_state["queue_pos"] = ids[position], position


def _decide(edit_id: str, decision: EditStatus, amend: bool = False) -> None:
    note = ui.draft_value(f"reason:{edit_id}").strip() if decision is EditStatus.rejected else None
    edited = ui.draft_value(f"amend:{edit_id}") if amend else None
    outcome = decide(ui.client(cfg.api_url, token), edit_id, decision, reviewer_name, note=note, edited_output=edited)
    kinds = {"done": "success", "already": "warning", "conflict": "warning", "failed": "error"}
    ui.flash(kinds[outcome.kind], outcome.message)
    if outcome.kind != "failed":
        # Typed text is kept until its action has gone through.
        ui.drop_draft(f"reason:{edit_id}")
        ui.drop_draft(f"amend:{edit_id}")
        ui.reads_changed()


def _ask_bulk(decision: EditStatus, shown: list[str]) -> None:
    left_out = set(st.session_state.get("bulk_exclude", []))
    chosen = [i for i in shown if i not in left_out]
    note = ui.draft_value("bulk_reason").strip()
    if not chosen:
        ui.flash("warning", "Every edit shown is left out: nothing to do.")
    elif decision is EditStatus.rejected and not note:
        ui.flash("error", "Give a reason to reject.")
    else:
        st.session_state["bulk_confirm"] = {"decision": decision.value, "ids": chosen, "note": note}


def _run_bulk() -> None:
    pending: dict[str, Any] | None = st.session_state.get("bulk_confirm")
    st.session_state["bulk_confirm"] = None
    if not pending:
        return
    decision = EditStatus(pending["decision"])
    result = decide_many(ui.client(cfg.api_url, token), pending["ids"], decision, reviewer_name, note=pending["note"])
    failed = result.count("failed")
    ui.flash("error" if failed else "success", f"Bulk: {result.summary(decision)}")
    if not failed:
        ui.drop_draft("bulk_reason")
    ui.reads_changed()


def _cancel_bulk() -> None:
    st.session_state["bulk_confirm"] = None


nav = st.columns([1, 1, 4])
nav[0].button("Previous page", disabled=len(cursors) == 1, on_click=_previous_page, icon=":material/chevron_left:",
              key="prev_page")
if page.next_cursor:
    nav[1].button("Next page", on_click=_next_page, args=(page.next_cursor,), icon=":material/chevron_right:",
                  key="next_page")

if not items:
    st.info("No pending edits match these filters." if len(cursors) == 1 else "No more pending edits on this page.")
    st.stop()

with st.expander(f"This page: {len(items)} edits", expanded=False):
    st.dataframe(page_rows(page), hide_index=True, width="stretch")

# The selection is the edit's id (an index would silently point at another edit once one is decided);
# when the selected edit leaves the queue, the one now at its position is shown.
ids = [str(e.id) for e in items]
if st.session_state.get("queue_pick") not in ids:
    st.session_state["queue_pick"] = ids[min(st.session_state.get("queue_pos", 0), len(ids) - 1)]
numbered = {i: f"{n + 1}. {edit_label(e)}" for n, (i, e) in enumerate(zip(ids, items, strict=True))}
pick: str = st.selectbox("Edit", ids, key="queue_pick", format_func=lambda i: numbered[i])
position = ids.index(pick)
st.session_state["queue_pos"] = position
edit = items[position]
step = st.columns([1, 1, 4])
step[0].button("Previous edit", key="prev_edit", shortcut="K", on_click=_move, args=(-1, ids),
               disabled=position == 0)
step[1].button("Next edit", key="next_edit", shortcut="J", on_click=_move, args=(1, ids),
               disabled=position == len(ids) - 1)

question: str | None
try:
    question = ui.load_interaction(cfg.api_url, bearer, str(edit.interaction_id)).input_text
except MemoryApiError:
    question = None  # the interaction may have been archived by retention; the edit still stands
if question:
    st.markdown("**User asked**")
    st.text(question)

left_html, right_html = diff_html(edit.original_output, edit.edited_output)
st.markdown(DIFF_CSS, unsafe_allow_html=True)
left, right = st.columns(2)
left.markdown("**Original output** (removed words struck through)")
left.markdown(f'<div class="aion-diff">{left_html}</div>', unsafe_allow_html=True)
right.markdown("**Edited output** (added words highlighted)")
right.markdown(f'<div class="aion-diff">{right_html}</div>', unsafe_allow_html=True)
st.caption(f"Edit {edit.id} · interaction {edit.interaction_id}")

edit_id = str(edit.id)
act = st.columns([1, 3])
act[0].button("Approve", key="approve", type="primary", shortcut="A", disabled=not can_review,
              on_click=_decide, args=(edit_id, EditStatus.approved), icon=":material/check:")
with act[1]:
    ui.draft(st.text_input, "Reason to reject", f"reason:{edit_id}", disabled=not can_review,
             placeholder="e.g. wrong facts, tone, leaks data")
    st.button("Reject", key="reject", shortcut="X", disabled=not can_review, on_click=_decide,
              args=(edit_id, EditStatus.rejected), icon=":material/close:")
with st.expander("Amend the edited output, then approve"):
    ui.draft(st.text_area, "Amended output", f"amend:{edit_id}", default=edit.edited_output, height=200,
             disabled=not can_review)
    st.button("Approve amended", key="approve_amended", shortcut="M", disabled=not can_review,
              on_click=_decide, args=(edit_id, EditStatus.approved, True), icon=":material/edit_note:")

st.divider()
st.subheader("Bulk decision")
confirm: dict[str, Any] | None = st.session_state.get("bulk_confirm")
# The inputs stay drawn (locked) while a confirmation is asked, so a Cancel loses nothing typed or picked.
locked = not can_review or bool(confirm)
labels = {str(e.id): edit_label(e) for e in items}
st.caption(f"Applies to the {len(items)} edit(s) on this page, which match the filters, except those left out.")
if not set(st.session_state.get("bulk_exclude", [])) <= set(labels):
    st.session_state["bulk_exclude"] = []  # the page changed: what was left out is gone
st.multiselect("Leave out", list(labels), key="bulk_exclude", format_func=lambda i: labels[i], disabled=locked,
               placeholder="none")
ui.draft(st.text_input, "Reason to reject (bulk)", "bulk_reason", disabled=locked)
bulk = st.columns([1, 1, 4])
bulk[0].button("Approve all shown", key="bulk_approve", disabled=locked, on_click=_ask_bulk,
               args=(EditStatus.approved, list(labels)))
bulk[1].button("Reject all shown", key="bulk_reject", disabled=locked, on_click=_ask_bulk,
               args=(EditStatus.rejected, list(labels)))
if confirm:
    verb = "Approve" if confirm["decision"] == EditStatus.approved.value else "Reject"
    st.warning(f"{verb} {len(confirm['ids'])} edit(s) of tenant {tenant}? A decision cannot be reversed.")
    yes, no = st.columns([1, 5])
    yes.button(f"Confirm: {verb.lower()} {len(confirm['ids'])}", key="bulk_yes", type="primary", on_click=_run_bulk)
    no.button("Cancel", key="bulk_no", on_click=_cancel_bulk)

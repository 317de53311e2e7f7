"""Promotions: versions waiting for approval, the candidate's metrics beside its baseline's, its scenario results
and the answers where it differs most from the baseline, approve or reject.

The baseline is the candidate's parent, else the newest promoted version of its domain. The four-eyes
rule is the API's: whoever registered a version or asked for its approval cannot decide on it, and
the page says so when the API refuses.
"""

from __future__ import annotations

import streamlit as st

from aion_assets.registry.evaluation import EvaluationDetails
from aion_assets.registry.http_client import RegistryApiError
from aion_assets.registry.models import ModelVersion
from review_app import registry_ui as rui
from review_app import ui
from review_app.registry_promotions import (
    baseline_of,
    compare_metrics,
    comparison_chart,
    comparison_points,
    decide_promotion,
    difference_label,
    scenario_rows,
)
from review_app.registry_services import version_label

cfg = ui.config()
who = rui.signed_in()
tenant = rui.pick_tenant(who, "promo_tenant")
st.title("Promotions")
ui.show_flash()
bearer = ui.token(who, tenant, cfg)
if bearer is None:
    st.stop()
assert bearer is not None
token: str = bearer
reviewer_name: str = who.name
can_review = who.can_review(tenant)
try:
    pending = rui.load_pending(cfg.api_url, bearer)
except RegistryApiError as exc:
    rui.registry_error(exc)
    st.stop()
st.caption(f"Tenant **{tenant}** · {len(pending)} version(s) waiting for approval, longest waiting first")
if not can_review:
    roles = ", ".join(sorted(r.value for r in who.roles(tenant)))
    st.info(f"Your role on {tenant} ({roles}) lets you read the promotions, not decide.")
if not pending:
    st.info("No version is waiting for approval.")
    st.stop()

ids = [str(v.id) for v in pending]
labels = {str(v.id): version_label(v) for v in pending}
if st.session_state.get("promo_pick") not in ids:
    st.session_state["promo_pick"] = ids[0]
pick: str = st.selectbox("Version waiting for approval", ids, key="promo_pick", format_func=lambda i: labels[i])
candidate: ModelVersion = pending[ids.index(pick)]
baseline: ModelVersion | None
baseline_missing = False
try:
    baseline = baseline_of(rui.registry_client(cfg.api_url, bearer), candidate, pending)
except RegistryApiError as exc:
    # The candidate and the decision do not depend on it: say why it is missing and keep the page (and
    # what was typed in it) on screen.
    rui.registry_error(exc)
    baseline, baseline_missing = None, True

left, right = st.columns(2)
with left:
    st.markdown(f"**Candidate** `{candidate.name}`")
    st.caption(f"Registered by {candidate.created_by} · approval asked by {candidate.status_changed_by} at "
               f"{candidate.status_changed_at:%Y-%m-%d %H:%M} UTC")
    if candidate.status_reason:
        st.caption(f"Note: {candidate.status_reason}")
with right:
    if baseline_missing:
        st.markdown("**Baseline**: could not be read (see the error above)")
    elif baseline is None:
        st.markdown("**Baseline**: none (no parent, and nothing promoted in this domain yet)")
    else:
        how = "parent" if baseline.id == candidate.parent_id else f"newest promoted of {candidate.domain}"
        st.markdown(f"**Baseline** ({how}) `{baseline.name}`")
        st.caption(f"Status {baseline.status.value} · created {baseline.created_at:%Y-%m-%d %H:%M} UTC")
st.caption(f"Dataset {candidate.dataset_version or '-'} · evaluation run {candidate.evaluation_run_id or '-'} · "
           f"{candidate.source_edit_count if candidate.source_edit_count is not None else '?'} source edit(s)")

rows = compare_metrics(candidate, baseline)
if rows:
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "candidate": st.column_config.NumberColumn(format="%.4f"),
        "baseline": st.column_config.NumberColumn(format="%.4f"),
        "difference": st.column_config.NumberColumn(format="%+.4f"),
    })
    st.altair_chart(comparison_chart(comparison_points(candidate, baseline)))
    st.caption("Per metric: the candidate (blue) and the baseline (grey); dots are the values, bars the bootstrap "
               "95% intervals where the evaluation computed them.")
else:
    st.warning("Neither version has metrics: nothing to compare.")

st.subheader("Scenarios and answers")
details: EvaluationDetails | None
try:
    details = rui.load_evaluation(cfg.api_url, bearer, str(candidate.id))
except RegistryApiError as exc:
    rui.registry_error(exc)
    details = None
if details is not None and details.error:
    st.info(f"The evaluation report could not be read: {details.error}")
elif details is not None:
    scen = scenario_rows(details)
    if scen:
        st.dataframe(scen, hide_index=True, width="stretch")
    else:
        st.caption("This evaluation ran no scenario prompts.")
    if details.differences:
        st.caption(f"The {len(details.differences)} held-out questions where the two answers scored furthest apart "
                   f"({details.metric} per example); the reference is the corrected answer.")
        for diff in details.differences:
            with st.expander(difference_label(diff, details.metric)):
                st.markdown("**Question**")
                st.text(diff.prompt)
                cols = st.columns(2)
                cols[0].markdown("**Baseline answer**")
                cols[0].text(diff.baseline_answer or "-")
                cols[1].markdown("**Candidate answer**")
                cols[1].text(diff.candidate_answer or "-")
                st.markdown("**Reference (the corrected answer)**")
                st.text(diff.reference or "-")

version_id = str(candidate.id)


def _decide(model_id: str, approve: bool) -> None:
    comment = ui.draft_value(f"promo_comment:{model_id}")
    outcome = decide_promotion(rui.registry_client(cfg.api_url, token), model_id, approve, reviewer_name, comment)
    kinds = {"done": "success", "already": "warning", "refused": "error", "failed": "error"}
    ui.flash(kinds[outcome.kind], outcome.message)
    if outcome.kind in ("done", "already"):
        ui.drop_draft(f"promo_comment:{model_id}")
    if outcome.kind != "failed":
        rui.registry_changed()


st.divider()
ui.draft(st.text_area, "Comment (stored with the decision; needed to reject)", f"promo_comment:{version_id}",
         height=90, disabled=not can_review, placeholder="e.g. win on refunds; no regression beyond the CI")
act = st.columns([2, 1, 5])
act[0].button("Approve and promote", key="promo_approve", type="primary", disabled=not can_review,
              on_click=_decide, args=(version_id, True), icon=":material/check:")
act[1].button("Reject", key="promo_reject", disabled=not can_review, on_click=_decide, args=(version_id, False),
              icon=":material/close:")

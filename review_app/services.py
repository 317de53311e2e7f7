"""What the review pages do, as plain functions over a MemoryClient (no Streamlit here).

Every read and decision goes through the memory API, so validation, tenant scoping and role
checks are the API's. Errors become messages a reviewer can act on; a decision that another
reviewer took first is reported as such, and nothing is overwritten (the API refuses to
reverse a decision and returns the stored one when the same decision is repeated).
"""

from __future__ import annotations

import difflib
import html
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aion_assets.memory.client import MemoryApiError, MemoryClient
from aion_assets.memory.models import EditorType, EditStatus, SelfEdit, SelfEditPage

PAGE_SIZE = 50
#: The console does not wait like a batch client: one quick retry, then the reviewer is told.
CLIENT_OPTIONS: dict[str, Any] = {"max_retries": 1, "backoff": 0.2, "max_delay": 1.0, "max_total_delay": 2.0,
                                  "timeout": 15.0}
# A repeated decision returns the stored edit; one reviewed this long before our call was not ours.
_CLOCK_SLACK = timedelta(seconds=2)


def make_client(base_url: str, token: str) -> MemoryClient:
    """A memory API client with the console's short retry budget."""
    return MemoryClient(base_url, token, **CLIENT_OPTIONS)


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the review queue (None or empty: not applied). Always pending edits, oldest first."""

    agent_id: str | None = None
    editor_type: str | None = None
    reason_code: str | None = None
    min_reward: float | None = None
    max_reward: float | None = None

    def params(self) -> dict[str, Any]:
        """The filters as MemoryClient.list_self_edits keyword arguments (status pending)."""
        values: dict[str, Any] = {
            "agent_id": (self.agent_id or "").strip() or None,
            "editor_type": EditorType(self.editor_type).value if self.editor_type else None,
            "reason_code": (self.reason_code or "").strip() or None,
            "min_reward": self.min_reward,
            "max_reward": self.max_reward,
        }
        return {"status": EditStatus.pending.value, **{k: v for k, v in values.items() if v is not None}}


def fetch_page(client: MemoryClient, filters: QueueFilters, cursor: str | None = None,
               limit: int = PAGE_SIZE) -> SelfEditPage:
    """One page of the tenant's pending edits matching FILTERS, oldest first.

    Raises:
        MemoryApiError: the API refused a filter (422 naming it), the token, or was unreachable.
    """
    return client.list_self_edits(limit=limit, cursor=cursor, **filters.params())


def describe_error(exc: MemoryApiError, base_url: str = "") -> str:
    """A message a reviewer can act on, for an API error."""
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") or str(exc)
    if exc.status is None:
        where = f" at {base_url}" if base_url else ""
        return f"The API{where} is unreachable; nothing was changed. Try again shortly."
    if exc.status in (502, 503, 504):
        return f"The API cannot reach its database right now ({message}); nothing was changed. Try again shortly."
    if exc.status == 401:
        return f"Your sign-in is no longer accepted ({message}): sign out and sign in again."
    if exc.status == 403:
        return f"Not allowed: {message}."
    if exc.status == 404:
        return "This edit does not exist (or belongs to another tenant)."
    if exc.status == 422:
        where = f" ({exc.field})" if exc.field else ""
        return f"Invalid value{where}: {message}"
    return f"The API answered {exc.status}: {message}"


@dataclass(frozen=True)
class Outcome:
    """The result of one decision.

    Attributes:
        kind: ``done`` (this call decided it), ``already`` (someone, maybe you, decided the same
            before), ``conflict`` (the opposite was decided before; nothing changed) or ``failed``.
        message: what to show the reviewer.
        edit: the edit as stored after the call, when known.
    """

    kind: str
    message: str
    edit: SelfEdit | None = None


def _who(edit: SelfEdit) -> str:
    when = edit.reviewed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if edit.reviewed_at else "an unknown time"
    return f"{edit.reviewer or 'someone'} at {when}"


def decide(
    client: MemoryClient,
    edit_id: uuid.UUID | str,
    decision: EditStatus,
    reviewer: str,
    *,
    note: str | None = None,
    edited_output: str | None = None,
) -> Outcome:
    """Approve or reject one edit (amending it first when EDITED_OUTPUT is given).

    Args:
        reviewer: the signed-in reviewer's name (the token's subject), to tell our decision
            from an identical one taken before.
        note: the reason of a rejection, or a comment; stored with the edit.

    Returns:
        An Outcome; never raises for an API error (the message says what happened).
    """
    if decision is EditStatus.rejected and not (note or "").strip():
        return Outcome("failed", "Give a reason to reject.")
    started = datetime.now().astimezone()
    try:
        edit = client.review(edit_id, decision, note=(note or "").strip() or None, edited_output=edited_output)
    except MemoryApiError as exc:
        if exc.status == 409:
            return _conflict(client, edit_id, decision)
        return Outcome("failed", describe_error(exc))
    verb = decision.value
    ours = edit.reviewer == reviewer and edit.reviewed_at is not None and edit.reviewed_at >= started - _CLOCK_SLACK
    if not ours:
        lost = " Your amendment was not applied." if edited_output is not None else ""
        return Outcome("already", f"Already {verb} by {_who(edit)}; nothing was changed.{lost}", edit)
    if edited_output is not None and edit.edited_output != edited_output:
        return Outcome("already", f"Already {verb} before your amendment; nothing was changed.", edit)
    amended = " (amended)" if edited_output is not None else ""
    return Outcome("done", f"{verb.capitalize()}{amended}.", edit)


def _conflict(client: MemoryClient, edit_id: uuid.UUID | str, decision: EditStatus) -> Outcome:
    try:
        edit = client.get_self_edit(edit_id)
    except MemoryApiError:
        return Outcome("conflict", f"This edit was already decided otherwise; it was not {decision.value}.")
    return Outcome(
        "conflict", f"Already {edit.status.value} by {_who(edit)}; your {decision.value} was not applied.", edit
    )


@dataclass
class BulkResult:
    """Outcomes of a bulk decision, counted by kind."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        """How many outcomes are of KIND."""
        return sum(1 for o in self.outcomes.values() if o.kind == kind)

    def summary(self, decision: EditStatus) -> str:
        """One line for the reviewer."""
        parts = [f"{self.count('done')} {decision.value}"]
        if self.count("already"):
            parts.append(f"{self.count('already')} already {decision.value} by someone else")
        if self.count("conflict"):
            parts.append(f"{self.count('conflict')} already decided otherwise (unchanged)")
        if self.count("failed"):
            first = next(o.message for o in self.outcomes.values() if o.kind == "failed")
            parts.append(f"{self.count('failed')} failed ({first})")
        return "; ".join(parts) + "."


def decide_many(
    client: MemoryClient, edit_ids: Iterable[uuid.UUID | str], decision: EditStatus, reviewer: str,
    *, note: str | None = None,
) -> BulkResult:
    """Apply DECISION to every edit of EDIT_IDS, one API call each; stops early when the API is unreachable.

    Returns:
        The outcome of each edit tried (an unreachable API ends the run: the rest are untouched).
    """
    result = BulkResult()
    if decision is EditStatus.rejected and not (note or "").strip():
        result.outcomes["-"] = Outcome("failed", "Give a reason to reject.")
        return result
    for edit_id in edit_ids:
        outcome = decide(client, edit_id, decision, reviewer, note=note)
        result.outcomes[str(edit_id)] = outcome
        if outcome.kind == "failed" and "unreachable" in outcome.message:
            break
    return result


# A word or a punctuation mark with the blanks after it: a changed phrase is one marked run, not
# every word marked apart with the unchanged spaces between them.
_TOKENS = re.compile(r"\w+[^\S\n]*|[^\w\s][^\S\n]*|\s+")


def _span(cls: str, text: str) -> str:
    return f'<span class="{cls}">{html.escape(text)}</span>'


def diff_html(original: str, edited: str) -> tuple[str, str]:
    """The two texts as HTML, word by word: removed words marked in the original, added ones in the edit.

    Every piece of text is HTML-escaped, so an edit containing markup shows as text.

    Returns:
        (original_html, edited_html): ``<span class="del">`` and ``<span class="ins">`` around changes.
    """
    a, b = _TOKENS.findall(original), _TOKENS.findall(edited)
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "equal":
            left.append(html.escape(old))
            right.append(html.escape(new))
        else:
            if old:
                left.append(_span("del", old))
            if new:
                right.append(_span("ins", new))
    return "".join(left), "".join(right)


#: Styles of the diff panes: dark text on pale backgrounds (readable in light and dark themes).
DIFF_CSS = """
<style>
.aion-diff {white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.9rem; line-height: 1.5;
  padding: 0.75rem; border: 1px solid rgba(128,128,128,0.4); border-radius: 0.4rem;
  max-height: 28rem; overflow-y: auto;}
.aion-diff .del {background: #ffd7d5; color: #82071e; text-decoration: line-through;}
.aion-diff .ins {background: #ccffd8; color: #055d20; font-weight: 600;}
</style>
"""


def edit_label(edit: SelfEdit) -> str:
    """A short label of EDIT for lists: time, agent, editor, reason, reward, and the id's start (labels
    must differ: a list shows them, and two edits of one second by one agent are common)."""
    reason = edit.reason_code or "no reason code"
    return (
        f"{edit.timestamp:%Y-%m-%d %H:%M} · {edit.agent_id} · {edit.editor_type.value} · {reason} · "
        f"reward {edit.reward_score:.2f} · #{str(edit.id)[:8]}"
    )


def page_rows(page: SelfEditPage) -> list[dict[str, Any]]:
    """The page as table rows (the first 80 characters of each edited output)."""
    return [
        {
            "time (UTC)": f"{e.timestamp:%Y-%m-%d %H:%M:%S}",
            "agent": e.agent_id,
            "editor": e.editor_type.value,
            "reason": e.reason_code or "",
            "reward": round(e.reward_score, 3),
            "edited output": e.edited_output[:80].replace("\n", " "),
        }
        for e in page.items
    ]


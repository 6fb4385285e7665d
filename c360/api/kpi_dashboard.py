"""The KPI dashboard, ``/console/kpis``: the loyalty scorecard in a browser.

The page is a shell; its script (``static/pages/kpis.js``) reads everything through ``/graphql``
with the caller's credentials, so role rules hold on screen as in the API, and draws the charts
as plain SVG (nothing vendored, nothing from another origin). Credentials: an API key the
person types, kept in the tab's ``sessionStorage`` only; nothing is asked of the API before.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from c360.api.graphql.http import PATH as GRAPHQL_PATH
from c360.api.pages import page
from c360.kpis.definitions import Dimension

router = APIRouter(include_in_schema=False)
PATH = "/console/kpis"

_DIMENSIONS = {
    Dimension.LIFECYCLE_STAGE: "Lifecycle stage",
    Dimension.VALUE_TIER: "Value tier",
    Dimension.COUNTRY: "Country",
    Dimension.ORDER_CHANNEL: "Order channel",
    Dimension.STORE: "Store",
    Dimension.SERVICE_CHANNEL: "Service channel",
    Dimension.SURVEY_TOUCHPOINT: "Survey touchpoint",
    Dimension.TEAM: "Follow-up team",
    Dimension.ROOT_CAUSE: "Root cause",
}


def _options() -> str:
    options = ['<option value="">No split</option>']
    options += [
        f'<option value="{d.name}">{escape(label)}</option>' for d, label in _DIMENSIONS.items()
    ]
    return "".join(options)


BODY = """\
<header class="bar">
  <h1>Loyalty scorecard</h1>
  <span id="zone" class="muted"></span>
  <button type="button" id="sign-out" hidden>Sign out</button>
</header>
<main id="sign-in" hidden>
  <form id="sign-in-form">
    <h2>Sign in</h2>
    <label>API key <input type="password" name="key" autocomplete="off" required
      aria-describedby="sign-in-error sign-in-help"></label>
    <button type="submit">Sign in</button>
    <p id="sign-in-help" class="muted">An agent's, marketing's or admin's key
    (<code>make run</code> prints them). It is kept in this browser tab only.</p>
    <p id="sign-in-error" class="error" role="alert"></p>
  </form>
</main>
<main id="board" hidden>
  <form id="controls">
    <label>From <input type="date" name="from" required></label>
    <label>Through <input type="date" name="through" required></label>
    <label>By <select name="interval">
      <option value="DAY">day</option><option value="WEEK" selected>week</option>
      <option value="MONTH">month</option></select></label>
    <label>Split by <select name="groupBy">{options}</select></label>
    <button type="submit">Show</button>
  </form>
  <p id="status" class="muted" role="status"></p>
  <section>
    <h2>Trends <span class="muted">(dashed: the period before)</span></h2>
    <div id="trends" class="grid"></div>
  </section>
  <section class="pair">
    <div>
      <h2>Net Promoter Score</h2>
      <div id="nps"></div>
    </div>
    <div>
      <h2 id="segments-heading">By segment</h2>
      <p><label for="segment-kpi">KPI</label>
      <select id="segment-kpi" aria-describedby="segments-heading"></select></p>
      <div id="segments"><p class="muted">Choose a split above.</p></div>
    </div>
  </section>
  <section>
    <h2>Followed up against held out
    <span class="muted">(customers with a follow-up opened in the span: the holdout)</span></h2>
    <div id="holdout"></div>
  </section>
  <section>
    <h2 id="every-kpi">Every KPI</h2>
    <div class="table-scroll" tabindex="0" role="region" aria-labelledby="every-kpi">
    <table id="kpi-table">
      <thead><tr><th>KPI</th><th>Value</th><th>Before</th><th>Numerator / denominator</th>
      <th>n</th><th>Definition</th></tr></thead>
      <tbody></tbody>
    </table>
    </div>
  </section>
</main>
"""


@router.get(PATH)
async def kpi_dashboard(request: Request) -> HTMLResponse:
    zone = request.app.state.settings.reporting_time_zone
    head = '<link rel="stylesheet" href="/static/pages/kpis.css">\n'
    body = (
        f'<div id="kpis" data-endpoint="{GRAPHQL_PATH}" data-time-zone="{escape(zone)}">\n'
        + BODY.replace("{options}", _options())
        + "</div>\n"
        + '<script src="/static/pages/kpis.js"></script>\n'
    )
    return page("c360 — loyalty scorecard", head, body)

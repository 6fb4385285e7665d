// The loyalty scorecard (/console/kpis): reads Query.kpis through /graphql and draws plain SVG.
// Everything shown comes from the API with the caller's own credentials, so a role sees on
// screen what it reads over the API; text is set with textContent, never parsed as HTML.
(function () {
  "use strict";

  const root = document.getElementById("kpis");
  const endpoint = root.dataset.endpoint;
  const zone = root.dataset.timeZone;
  const SVG = "http://www.w3.org/2000/svg";
  const HOLDOUT = "HOLDOUT_CHURN_DIFFERENCE";
  const TRENDS = [
    "REVENUE",
    "AVERAGE_ORDER_VALUE",
    "REPURCHASE_RATE",
    "CONVERSION_RATE",
    "NPS",
    "CSAT",
  ];
  const NAMES = {
    LIFECYCLE_STAGE: "lifecycle stage",
    VALUE_TIER: "value tier",
    COUNTRY: "country",
    ORDER_CHANNEL: "order channel",
    STORE: "store",
    SERVICE_CHANNEL: "service channel",
    SURVEY_TOUCHPOINT: "survey touchpoint",
  };

  // --- Credentials -----------------------------------------------------------------------
  // /graphql reads an API key only: the page asks for one and keeps it in this tab's
  // sessionStorage only (gone when the tab closes; never in a cookie or localStorage), and
  // asks nothing of the API before it has one.
  const credentials = {
    storeKey: "c360.kpis.apiKey",
    header() {
      const key = window.sessionStorage.getItem(this.storeKey);
      return key ? { Authorization: "Bearer " + key } : {};
    },
    remember(key) {
      window.sessionStorage.setItem(this.storeKey, key.trim());
    },
    forget() {
      window.sessionStorage.removeItem(this.storeKey);
    },
    held() {
      return window.sessionStorage.getItem(this.storeKey) !== null;
    },
  };

  class Unauthenticated extends Error {}

  // What the person typed, said in words about it (the API's own message for a malformed key
  // is about the Authorization header, which the person never sees).
  const KEY_SHAPE = /^c360_[^_\s]+_\S+$/;
  const NOT_A_KEY = "This is not a c360 API key: one reads c360_<id>_<secret>.";

  function sentence(message) {
    const text = String(message || "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  async function graphql(query, variables) {
    const response = await fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: Object.assign(
        {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json, application/json",
        },
        credentials.header()
      ),
      body: JSON.stringify({ query: query, variables: variables }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401 || response.status === 403) {
      const first = (body.errors || [])[0];
      throw new Unauthenticated(sentence(first ? first.message : "sign in with an API key"));
    }
    if (body.errors && body.errors.length) {
      throw new Error(body.errors.map((e) => e.message).join("; "));
    }
    if (!response.ok) {
      throw new Error("the API answered " + response.status);
    }
    return body.data;
  }

  // --- Dates: periods start at local midnight in the reporting time zone ------------------

  function offsetMinutes(instant) {
    // The zone's offset at an instant: its wall clock there, read back as if it were UTC.
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(instant));
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
    return Math.round((wall - instant) / 60000);
  }

  function midnight(isoDate) {
    // The instant a local date begins in the reporting zone (two passes settle DST changes).
    const [y, m, d] = isoDate.split("-").map(Number);
    const guess = Date.UTC(y, m - 1, d);
    let instant = guess - offsetMinutes(guess) * 60000;
    instant = guess - offsetMinutes(instant) * 60000;
    return new Date(instant).toISOString();
  }

  function localDate(iso) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
  }

  function shortDate(iso) {
    return new Intl.DateTimeFormat("en-GB", { timeZone: zone, day: "numeric", month: "short" }).format(new Date(iso));
  }

  function addDays(isoDate, days) {
    const [y, m, d] = isoDate.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
  }

  // --- Numbers as people read them -----------------------------------------------------------

  function digitsOf(currency) {
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency: currency }).resolvedOptions().maximumFractionDigits;
    } catch (e) {
      return 2;
    }
  }

  function duration(seconds) {
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + String(minutes % 60).padStart(2, "0") + " min";
    return (hours / 24).toFixed(1) + " days";
  }

  function percentagePoints(value) {
    // A difference of two shares: its sign always written, in percentage points.
    return (value < 0 ? "\u2212" : "+") + Math.abs(value * 100).toFixed(1) + " pp";
  }

  function show(value, row) {
    if (value === null || value === undefined) return "—";
    if (row.kpi === HOLDOUT) return percentagePoints(value);
    switch (row.unit) {
      case "MONEY":
        return new Intl.NumberFormat("en", { style: "currency", currency: row.currency }).format(value / Math.pow(10, digitsOf(row.currency)));
      case "RATE":
        return (value * 100).toFixed(1) + " %";
      case "POINTS":
        return (value > 0 ? "+" : "") + value.toFixed(1);
      case "SECONDS":
        return duration(value);
      case "COUNT":
        return Math.round(value).toLocaleString("en");
      default:
        return value.toFixed(2);
    }
  }

  function shown(figure, row) {
    if (!figure) return "";
    if (figure.suppressed) return "suppressed";
    return show(figure.value, row);
  }

  // --- Drawing -------------------------------------------------------------------------------

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function headline(rows) {
    // One row per period: the reporting-currency row of money KPIs when there is one, else the
    // first currency's; the count-based row of the return rate.
    const converted = rows.filter((r) => r.converted);
    if (converted.length) return converted;
    const currencies = [...new Set(rows.map((r) => r.currency))];
    return rows.filter((r) => r.currency === currencies[0]);
  }

  function flatStep(row) {
    if (row.unit === "MONEY") return Math.pow(10, digitsOf(row.currency)); // one whole unit
    if (row.unit === "RATE") return 0.01;
    if (row.unit === "SECONDS") return 60;
    return 1;
  }

  function trendChart(kpi, rows, name) {
    const width = 360, height = 170, left = 56, right = 12, top = 16, bottom = 28;
    const figure = el("figure", { class: "chart", "data-kpi": kpi });
    figure.appendChild(el("figcaption", {}, name));
    const points = headline(rows);
    const values = points.flatMap((r) => [r.value, r.previous && r.previous.value]).filter((v) => v !== null && v !== undefined);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": name + " by period, with the period before" });
    chart.appendChild(svg("title", {}, name));
    // Suppressed periods are no points of the line: marks on its axis and a line below say so.
    const hidden = points.filter((r) => r.suppressed).length;
    const hiddenNote = () =>
      hidden
        ? el(
            "p",
            { class: "muted", "data-suppressed-periods": String(hidden) },
            hidden + " of " + points.length + " periods suppressed" + (values.length ? " (×), left out of the line" : ""),
          )
        : null;
    if (!values.length) {
      chart.appendChild(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted" }, hidden === points.length ? "every figure suppressed" : "nothing to show"));
      figure.appendChild(chart);
      if (hidden) figure.appendChild(hiddenNote());
      return figure;
    }
    let low = Math.min(0, ...values), high = Math.max(...values);
    // A flat line (every shown period at zero, say) still gets an axis a person reads: one
    // whole unit above it (€1.00, 1 %, 1), not the smallest step of the unit (€0.01).
    if (high === low) high = low + flatStep(points[0]);
    const x = (i) => left + (points.length === 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (points.length - 1));
    const y = (v) => top + (height - top - bottom) * (1 - (v - low) / (high - low));
    chart.appendChild(svg("line", { x1: left, y1: y(low), x2: width - right, y2: y(low), class: "axis" }));
    chart.appendChild(svg("text", { x: left - 6, y: y(high) + 4, "text-anchor": "end", class: "tick" }, show(high, points[0])));
    chart.appendChild(svg("text", { x: left - 6, y: y(low) + 4, "text-anchor": "end", class: "tick" }, show(low, points[0])));
    chart.appendChild(svg("text", { x: x(0), y: height - 8, "text-anchor": "start", class: "tick" }, shortDate(points[0].periodStart)));
    if (points.length > 1) {
      chart.appendChild(svg("text", { x: x(points.length - 1), y: height - 8, "text-anchor": "end", class: "tick" }, shortDate(points[points.length - 1].periodStart)));
    }
    for (const [series, pick] of [["previous", (r) => r.previous], ["current", (r) => r]]) {
      let d = "";
      let pen = false; // a gap (no value, or suppressed) lifts it
      points.forEach((row, i) => {
        const f = pick(row);
        if (!f || f.value === null || f.suppressed) {
          pen = false;
          return;
        }
        d += (pen ? " L" : " M") + x(i).toFixed(1) + "," + y(f.value).toFixed(1);
        pen = true;
      });
      chart.appendChild(svg("path", { d: d.trim(), class: "line " + series, "data-series": series }));
    }
    points.forEach((row, i) => {
      if (!row.suppressed) return;
      const mark = svg("text", { x: x(i), y: y(low) + 4, "text-anchor": "middle", class: "suppressed-mark", "data-suppressed": "true" }, "×");
      mark.appendChild(svg("title", {}, shortDate(row.periodStart) + ": suppressed"));
      chart.appendChild(mark);
    });
    points.forEach((row, i) => {
      if (row.value === null || row.suppressed) return;
      const dot = svg("circle", { cx: x(i), cy: y(row.value), r: 3, class: "dot" });
      dot.appendChild(svg("title", {}, shortDate(row.periodStart) + ": " + show(row.value, row)));
      chart.appendChild(dot);
    });
    figure.appendChild(chart);
    const last = points[points.length - 1];
    figure.appendChild(el("p", { class: "latest" }, shortDate(last.periodStart) + ": " + shown(last, last) + (last.previous ? " (before: " + shown(last.previous, last) + ")" : "")));
    if (hidden) figure.appendChild(hiddenNote());
    return figure;
  }

  function npsSplit(row) {
    const box = document.getElementById("nps");
    box.replaceChildren();
    if (!row) {
      box.appendChild(el("p", { class: "muted" }, "No NPS answers."));
      return;
    }
    box.appendChild(el("p", { class: "big", "data-nps": "value" }, shown(row, row)));
    if (row.suppressed || !row.parts.length) {
      box.appendChild(el("p", { class: "muted" }, row.note || "No answers in the period."));
      return;
    }
    const total = row.parts[0].total || 1;
    const bar = svg("svg", { viewBox: "0 0 400 36", role: "img", "aria-label": "promoters, passives and detractors" });
    let at = 0;
    for (const part of row.parts) {
      const w = (400 * part.count) / total;
      const rect = svg("rect", { x: at, y: 0, width: w, height: 36, class: "band " + part.name, "data-band": part.name });
      rect.appendChild(svg("title", {}, part.name + ": " + part.count));
      bar.appendChild(rect);
      at += w;
    }
    box.appendChild(bar);
    const legend = el("ul", { class: "legend" });
    for (const part of row.parts) {
      const item = el("li", { class: part.name });
      item.textContent = part.name + ": " + part.count + " (" + ((100 * part.count) / total).toFixed(0) + " %)";
      legend.appendChild(item);
    }
    box.appendChild(legend);
    box.appendChild(el("p", { class: "muted" }, row.sampleSize + " answers" + (row.previous && !row.previous.suppressed && row.previous.value !== null ? "; the period before: " + show(row.previous.value, row) : "")));
  }

  function interval(row) {
    return row.intervalLow !== null && row.intervalHigh !== null
      ? percentagePoints(row.intervalLow) + " to " + percentagePoints(row.intervalHigh)
      : null;
  }

  function intervalChart(row) {
    // The difference on an axis centred on zero, with its interval: left of zero, the
    // followed-up customers churned less than the held-out ones.
    const width = 400, height = 54, middle = width / 2, half = 180;
    const reach = Math.max(0.05, Math.abs(row.intervalLow), Math.abs(row.intervalHigh));
    const x = (v) => middle + (half * v) / reach;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": "the difference in churn, " + show(row.value, row) + ", and its 95 % interval, " + interval(row),
    });
    chart.appendChild(svg("line", { x1: x(-reach), y1: 22, x2: x(reach), y2: 22, class: "axis" }));
    chart.appendChild(svg("line", { x1: middle, y1: 8, x2: middle, y2: 36, class: "zero" }));
    chart.appendChild(svg("line", { x1: x(row.intervalLow), y1: 22, x2: x(row.intervalHigh), y2: 22, class: "interval", "data-holdout": "interval-bar" }));
    if (row.value !== null) chart.appendChild(svg("circle", { cx: x(row.value), cy: 22, r: 5, class: "dot" }));
    chart.appendChild(svg("text", { x: x(-reach), y: 50, "text-anchor": "start", class: "tick" }, percentagePoints(-reach)));
    chart.appendChild(svg("text", { x: middle, y: 50, "text-anchor": "middle", class: "tick" }, "0"));
    chart.appendChild(svg("text", { x: x(reach), y: 50, "text-anchor": "end", class: "tick" }, percentagePoints(reach)));
    return chart;
  }

  function holdoutBox(row) {
    const box = document.getElementById("holdout");
    box.replaceChildren();
    if (!row) {
      box.appendChild(el("p", { class: "muted" }, "No follow-ups opened in the span."));
      return;
    }
    if (row.suppressed) {
      box.appendChild(el("p", { class: "muted" }, row.note || "suppressed"));
      return;
    }
    const headline = el("div", { class: "holdout-figure" });
    headline.appendChild(el("p", { class: "big", "data-holdout": "difference" }, show(row.value, row)));
    const range = interval(row);
    const words = el("p", { "data-holdout": "interval" });
    words.textContent = range ? "95 % interval: " + range : "no interval: " + (row.note || "nothing to compare");
    if (range) {
      words.dataset.low = String(row.intervalLow);
      words.dataset.high = String(row.intervalHigh);
    }
    headline.appendChild(words);
    headline.appendChild(el("p", { class: "muted" }, "Churn of followed-up customers minus that of held-out ones: below zero, following up kept customers; an interval across zero, no difference shown yet."));
    box.appendChild(headline);
    if (range) box.appendChild(intervalChart(row));
    const groups = {};
    for (const part of row.parts) {
      const [group, measure] = part.name.split(": ");
      groups[group] = groups[group] || { total: part.total };
      groups[group][measure] = part.count;
    }
    const parts = el("table", { class: "holdout-parts" });
    const head = el("tr");
    for (const title of ["group", "customers", "churned", "ordered again"]) head.appendChild(el("th", { scope: "col" }, title));
    parts.appendChild(el("thead")).appendChild(head);
    const body = parts.appendChild(el("tbody"));
    const share = (count, total) => count + (total ? " (" + ((100 * count) / total).toFixed(0) + " %)" : "");
    for (const [group, counts] of Object.entries(groups)) {
      const tr = el("tr", { "data-group": group });
      tr.appendChild(el("th", { scope: "row" }, group));
      tr.appendChild(el("td", { class: "num" }, String(counts.total)));
      tr.appendChild(el("td", { class: "num" }, share(counts.churned || 0, counts.total)));
      tr.appendChild(el("td", { class: "num" }, share(counts["ordered again"] || 0, counts.total)));
      body.appendChild(tr);
    }
    box.appendChild(parts);
    if (row.previous && !row.previous.suppressed && row.previous.value !== null) {
      const before = interval(row.previous);
      box.appendChild(el("p", { class: "muted" }, "The period before: " + show(row.previous.value, row) + (before ? " (95 % interval: " + before + ")" : "")));
    }
  }

  function segmentBars(report, kpi, definitions) {
    const box = document.getElementById("segments");
    box.replaceChildren();
    if (!report) {
      box.appendChild(el("p", { class: "muted" }, "Choose a split above."));
      return;
    }
    if (report.__typename !== "KpiReport") {
      box.appendChild(el("p", { class: "error" }, report.message));
      return;
    }
    const rows = headline(report.values.filter((r) => r.kpi === kpi));
    if (!rows.length) {
      const why = report.leftOut.includes(kpi) ? "This KPI cannot be split by " + NAMES[report.groupBy[0]] + "." : "Nothing to show.";
      box.appendChild(el("p", { class: "muted" }, why));
      return;
    }
    const values = rows.flatMap((r) => [r.value, r.previous && r.previous.value]).filter((v) => v !== null && v !== undefined);
    const low = Math.min(0, ...values), high = Math.max(0.000001, ...values);
    const scale = (v) => (300 * (v - low)) / (high - low);
    const height = rows.length * 30 + 8;
    const chart = svg("svg", { viewBox: `0 0 560 ${height}`, role: "img", "aria-label": (definitions[kpi] || {}).name + " by segment" });
    rows.forEach((row, i) => {
      const y = 6 + i * 30;
      const label = row.group.map((g) => g.value === null ? "(none)" : g.value.replace(/_/g, " ")).join(" · ") || "everyone";
      chart.appendChild(svg("text", { x: 140, y: y + 15, "text-anchor": "end", class: "label" }, label));
      if (row.previous && row.previous.value !== null && !row.previous.suppressed) {
        chart.appendChild(svg("rect", { x: 150 + Math.min(scale(0), scale(row.previous.value)), y: y + 16, width: Math.abs(scale(row.previous.value) - scale(0)), height: 5, class: "bar previous" }));
      }
      if (row.value !== null && !row.suppressed) {
        const bar = svg("rect", { x: 150 + Math.min(scale(0), scale(row.value)), y: y, width: Math.max(1, Math.abs(scale(row.value) - scale(0))), height: 14, class: "bar current", "data-group": label });
        bar.appendChild(svg("title", {}, label + ": " + show(row.value, row)));
        chart.appendChild(bar);
      }
      chart.appendChild(svg("text", { x: 150 + scale(Math.max(0, row.value || 0)) + 6, y: y + 12, class: "value" }, shown(row, row)));
    });
    box.appendChild(chart);
  }

  function table(report) {
    const body = document.querySelector("#kpi-table tbody");
    body.replaceChildren();
    const definitions = Object.fromEntries(report.definitions.map((d) => [d.kpi, d]));
    for (const row of report.values) {
      const definition = definitions[row.kpi];
      const tr = el("tr", { "data-kpi": row.kpi });
      const name = definition.name + (row.currency ? " (" + row.currency + (row.converted ? ", converted" : "") + ")" : "");
      tr.appendChild(el("th", { scope: "row" }, name));
      const value = el("td", { class: "num" }, shown(row, row));
      if (row.p90 !== null && !row.suppressed) value.textContent += " · p90 " + show(row.p90, row);
      if (interval(row) && !row.suppressed) value.textContent += " · 95 % " + interval(row);
      tr.appendChild(value);
      tr.appendChild(el("td", { class: "num" }, shown(row.previous, row)));
      const ratio = row.numerator !== null && row.denominator !== null ? Math.round(row.numerator).toLocaleString("en") + " / " + Math.round(row.denominator).toLocaleString("en") : "";
      tr.appendChild(el("td", { class: "num" }, ratio));
      tr.appendChild(el("td", { class: "num" }, row.suppressed ? "" : String(row.sampleSize)));
      const words = el("td", { class: "definition" }, definition.definition);
      if (row.note) words.appendChild(el("span", { class: "note" }, " " + row.note));
      tr.appendChild(words);
      body.appendChild(tr);
    }
  }

  // --- The page ------------------------------------------------------------------------------

  const FIGURE =
    "value numerator denominator sampleSize p90 intervalLow intervalHigh note suppressed periodStart periodEnd";
  const REPORT = `__typename
    ... on KpiReport {
      timeZone groupBy leftOut minGroupSize
      definitions { kpi name unit definition numerator denominator }
      values { kpi unit currency converted group { dimension value } ${FIGURE}
        parts { name count total } previous { ${FIGURE} } }
    }
    ... on Error { code message }`;
  const QUERY = `query Scorecard($from: DateTime!, $to: DateTime!, $interval: KpiInterval,
      $groupBy: [KpiDimension!], $grouped: Boolean!, $trends: [KpiId!]) {
    trend: kpis(from: $from, to: $to, interval: $interval, compareToPrevious: true, only: $trends) { ${REPORT} }
    total: kpis(from: $from, to: $to, compareToPrevious: true) { ${REPORT} }
    segments: kpis(from: $from, to: $to, groupBy: $groupBy, compareToPrevious: true) @include(if: $grouped) { ${REPORT} }
  }`;

  const form = document.getElementById("controls");
  const status = document.getElementById("status");
  const segmentKpi = document.getElementById("segment-kpi");
  let last = null;

  function signIn(message) {
    document.getElementById("board").hidden = true;
    document.getElementById("sign-out").hidden = true;
    document.getElementById("sign-in").hidden = false;
    document.getElementById("sign-in-error").textContent = message || "";
    const key = document.querySelector("#sign-in-form input[name=key]");
    if (message) key.setAttribute("aria-invalid", "true");
    else key.removeAttribute("aria-invalid");
    key.focus();
  }

  function board() {
    document.getElementById("sign-in").hidden = true;
    document.getElementById("board").hidden = false;
    document.getElementById("sign-out").hidden = !credentials.held();
  }

  /** What an earlier answer drew goes when a new one cannot be shown: figures of another span
   * must not stand under the message that this one failed. */
  function clearResults() {
    for (const id of ["trends", "nps", "holdout", "segments"]) document.getElementById(id).replaceChildren();
    document.querySelector("#kpi-table tbody").replaceChildren();
    root.removeAttribute("data-loaded");
    last = null;
  }

  function choices() {
    const data = new FormData(form);
    const from = data.get("from");
    const through = data.get("through");
    return {
      from: from,
      through: through,
      interval: data.get("interval"),
      groupBy: data.get("groupBy") || "",
    };
  }

  function draw(data, chosen) {
    const total = data.total;
    if (total.__typename !== "KpiReport") throw new Error(total.message);
    if (data.trend.__typename !== "KpiReport") throw new Error(data.trend.message);
    const definitions = Object.fromEntries(total.definitions.map((d) => [d.kpi, d]));
    const trends = document.getElementById("trends");
    trends.replaceChildren();
    for (const kpi of TRENDS) {
      const rows = data.trend.values.filter((r) => r.kpi === kpi);
      if (rows.length) trends.appendChild(trendChart(kpi, rows, (definitions[kpi] || {}).name || kpi));
    }
    npsSplit(total.values.find((r) => r.kpi === "NPS"));
    holdoutBox(total.values.find((r) => r.kpi === HOLDOUT));
    table(total);
    if (!segmentKpi.options.length) {
      for (const d of total.definitions) segmentKpi.appendChild(el("option", { value: d.kpi }, d.name));
      segmentKpi.value = "NPS";
    }
    last = { data: data, definitions: definitions };
    segmentBars(chosen.groupBy ? data.segments : null, segmentKpi.value, definitions);
    document.getElementById("zone").textContent = "periods in " + total.timeZone + "; fewer than " + total.minGroupSize + " people: suppressed";
  }

  let asked = 0; // the latest load: an earlier one answering late must not draw over it

  async function load() {
    const mine = ++asked;
    const chosen = choices();
    if (!chosen.from || !chosen.through || chosen.through < chosen.from) {
      status.textContent = "Choose a start and an end on or after it.";
      clearResults();
      root.removeAttribute("aria-busy"); // an earlier load still under way is ignored now
      return;
    }
    const query = new URLSearchParams({ from: chosen.from, through: chosen.through, interval: chosen.interval });
    if (chosen.groupBy) query.set("groupBy", chosen.groupBy);
    window.history.replaceState(null, "", "?" + query.toString());
    status.textContent = "Loading…";
    root.setAttribute("aria-busy", "true");
    try {
      const data = await graphql(QUERY, {
        from: midnight(chosen.from),
        to: midnight(addDays(chosen.through, 1)),
        interval: chosen.interval,
        groupBy: chosen.groupBy ? [chosen.groupBy] : [],
        grouped: Boolean(chosen.groupBy),
        trends: TRENDS,
      });
      if (mine !== asked) return;
      board();
      draw(data, chosen);
      status.textContent = "From " + chosen.from + " through " + chosen.through + ".";
      root.dataset.loaded = "true";
    } catch (error) {
      if (mine !== asked) return;
      if (error instanceof Unauthenticated) {
        const refused = credentials.held();
        credentials.forget(); // a refused key is not sent again (nor on the next visit)
        signIn(refused ? error.message : "");
        return;
      }
      board();
      clearResults();
      status.textContent = "Could not load the KPIs: " + error.message;
    } finally {
      if (mine === asked) root.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  segmentKpi.addEventListener("change", () => {
    if (last) segmentBars(choices().groupBy ? last.data.segments : null, segmentKpi.value, last.definitions);
  });
  document.getElementById("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = String(new FormData(event.target).get("key") || "").trim();
    if (!KEY_SHAPE.test(key)) {
      signIn(NOT_A_KEY); // said without asking the API
      return;
    }
    credentials.remember(key);
    event.target.reset();
    load();
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    asked++; // what is still on its way is not drawn over the sign-in
    credentials.forget();
    signIn("");
  });

  // The span and split from the address (a dashboard can be bookmarked), else the last twelve
  // weeks through today.
  const params = new URLSearchParams(window.location.search);
  const today = localDate(new Date().toISOString());
  form.elements.from.value = params.get("from") || addDays(today, -83);
  form.elements.through.value = params.get("through") || today;
  if (params.get("interval")) form.elements.interval.value = params.get("interval");
  if (params.get("groupBy")) form.elements.groupBy.value = params.get("groupBy");
  if (credentials.held()) load();
  else signIn(""); // no request the API can only refuse
})();

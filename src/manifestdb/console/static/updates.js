// manifestdb console: a dataset's Updates page, the reports of its creates, updates and
// distributions (GET /_manifestdb/datasets/{arn}/updates), newest first, paged by next_token.

import { h, put, main, api, datasetPath } from "./kit.js";

const PAGE = 20;

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "–";
}

function names(list) { return list && list.length ? list.join(", ") : "none"; }

function report(update) {
  const terminal = update.terminal;
  const dropped = update.dropped || [];
  return h("article", { class: `report ${update.outcome || ""}`, dataset: { reportId: update.id } },
    h("h2", {}, `${update.kind || "update"} · `, h("span", { class: "outcome" }, update.outcome || "?"),
      h("span", { class: "muted" }, ` · ${when(update.finished_at)}`)),
    h("dl", { class: "facts" },
      [["Lines read", update.lines_read], ["Added", update.added], ["Replaced", update.replaced],
        ["Dropped", update.dropped_count], ["Entries with errors", update.entries_with_errors],
        ["Labels added", names(update.labels_added)], ["Labels removed", names(update.labels_removed)],
        ["Duration", update.duration_ms !== undefined ? `${update.duration_ms} ms` : "–"]]
        .flatMap(([name, value]) => [h("dt", {}, name),
          h("dd", { dataset: { fact: name } }, value ?? "–")])),
    terminal ? h("div", { class: "terminal" }, h("strong", {}, `${terminal.code}: `),
      terminal.message, terminal.detail ? h("p", { class: "detail" }, terminal.detail) : null) : null,
    dropped.length ? h("table", { class: "dropped" },
      h("thead", {}, h("tr", {}, ["Line", "Code", "Message", "Detail"].map((name) =>
        h("th", { scope: "col" }, name)))),
      h("tbody", {}, dropped.map((line) => h("tr", {}, h("td", {}, line.line),
        h("td", {}, h("code", {}, line.code)), h("td", {}, line.message),
        h("td", {}, line.detail || ""))))) : null);
}

export async function renderUpdates(arn, isCurrent, setCrumbs, projectName) {
  const params = new URLSearchParams(location.search);
  const token = params.get("next_token") || "";
  document.title = `Updates · ${projectName(arn)} · manifestdb`;
  setCrumbs(h("a", { href: "/console/", "data-route": true }, "Projects"),
    h("a", { href: datasetPath(arn), "data-route": true }, projectName(arn)), h("span", {}, "Updates"));
  const query = new URLSearchParams({ max_results: String(PAGE) });
  if (token) query.set("next_token", token);
  const page = await api(`/_manifestdb/datasets/${encodeURIComponent(arn)}/updates`, query);
  if (!isCurrent()) return;
  const updatesUrl = (next) => `${datasetPath(arn)}/updates${next ? `?next_token=${encodeURIComponent(next)}` : ""}`;
  put(main, h("h1", {}, "Updates"),
    h("p", { class: "muted" }, "What each create, update and distribution of the dataset did, newest first."),
    h("div", { id: "updates" }, page.Updates.length ? page.Updates.map(report)
      : h("p", { class: "muted" }, "No updates yet.")),
    h("nav", { class: "pager", "aria-label": "Pages" },
      token ? h("a", { href: updatesUrl(""), "data-route": true, id: "newest" }, "« Newest") : null,
      page.NextToken ? h("a", { href: updatesUrl(page.NextToken), "data-route": true, id: "older" },
        "Older ›") : null));
}

// manifestdb console: a dataset's History page (docs/history.md). Its versions, newest first and
// paged by NextToken; what changed between two versions (entries added, removed and changed, with
// their labels before and after, and the label counts at both); a version reverted, or the
// dataset restored to one, each queued as a job that makes a new version.
//
//   /console/datasets/{arn}/history?next_token=T&from=A&to=B&diff_token=D
//
// The page reads and changes through POST /console/api/history/{Operation} (the operations of
// POST /_manifestdb/history/, with the session's CSRF token).

import { h, put, main, postJson, waitForUpdate, datasetPath, colorOf, describeLine } from "./kit.js";

const PAGE = 20;
const CHANGES = 50; // changes of a diff per page

export function historyCall(operation, params) {
  return postJson(`/console/api/history/${operation}`, params);
}

function when(seconds) { return new Date(seconds * 1000).toLocaleString(); }

function plural(count, one, many = `${one}s`) { return `${count} ${count === 1 ? one : many}`; }

// What a version did, in words: its counts as its job reported them.
function did(version) {
  const counts = version.Counts || {};
  const parts = [];
  if (counts.added) parts.push(`${counts.added} added`);
  if (counts.replaced) parts.push(`${counts.replaced} replaced`);
  if (counts.removed) parts.push(`${counts.removed} removed`);
  if (counts.moved) parts.push(`${counts.moved} moved`);
  if (counts.dropped_count) parts.push(`${counts.dropped_count} lines dropped`);
  return parts.length ? parts.join(", ") : "no entry changed";
}

const KIND_WORDS = {
  baseline: "baseline (history starts here)", created: "created", update: "update",
  create_manifest: "created from a manifest", create_copy: "created as a copy",
  distribute: "distribution", delete_entries: "entries deleted", revert: "revert",
  restore: "restore", folded: "older versions folded",
};

function historyUrl(arn, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) query.set(name, String(value));
  }
  const text = query.toString();
  return `${datasetPath(arn)}/history${text ? `?${text}` : ""}`;
}

function labelsOf(line) {
  if (!line) return [];
  const entry = describeLine(JSON.stringify(line));
  return [...new Set([...entry.labels, ...entry.boxes.map((box) => box.label)])];
}

function chipList(names) {
  return names.length ? names.map((name) => h("span", { class: "chip",
    style: `background:${colorOf(name)}` }, name)) : h("span", { class: "muted" }, "no labels");
}

// A job queued by a revert or a restore: its status while it runs, then the page drawn again with
// what it did (the newest version is the one it made).
async function runJob(arn, status, started, work, redraw) {
  status.classList.remove("failed");
  status.textContent = started;
  try {
    await work();
  } catch (error) {
    status.classList.add("failed");
    status.textContent = error.message;
    return false;
  }
  const description = await waitForUpdate(arn, (d) => { status.textContent = `${d.Status}: ${started}`; });
  const failed = description.Status !== "UPDATE_COMPLETE";
  const newest = failed ? null : (await historyCall("ListDatasetVersions",
    { DatasetArn: arn, MaxResults: 1 })).Versions[0];
  redraw({ failed, text: failed ? `${description.Status}: ${description.StatusMessage || ""}`
    : `${description.Status}: version ${newest.VersionNumber} made (${did(newest)}).` });
  return true;
}

function versionRow(arn, version, latest, hasPrevious, status, redraw) {
  const number = version.VersionNumber;
  const revert = (force) => runJob(arn, status, `reverting version ${number}…`,
    () => historyCall("RevertDatasetVersion", { DatasetArn: arn, VersionNumber: number,
      ...(force ? { Force: true } : {}) }), redraw);
  const actions = [];
  if (hasPrevious) {
    actions.push(h("a", { href: historyUrl(arn, { from: number - 1, to: number }),
      "data-route": true, class: "changes" }, "Changes"));
  }
  if (number !== latest) {
    actions.push(h("a", { href: historyUrl(arn, { from: number, to: latest }), "data-route": true,
      class: "since" }, "Since then"));
  }
  if (version.Revertible) {
    actions.push(h("button", { type: "button", class: "revert", onclick: async () => {
      if (!window.confirm(`Revert version ${number}? Each entry it changed goes back to what it `
        + "was before it, as a new version (which can be reverted in turn).")) return;
      const reverted = await revert(false);
      if (reverted === false && status.textContent.startsWith("ConflictException")) {
        status.append(" ", h("button", { type: "button", id: "revert-anyway", onclick: () => {
          if (window.confirm(`Revert version ${number} anyway? The later changes of those `
            + "entries are overwritten.")) revert(true);
        } }, "Revert anyway"));
      }
    } }, "Revert"));
  }
  if (number !== latest) {
    actions.push(h("button", { type: "button", class: "restore", onclick: () => {
      if (!window.confirm(`Restore the dataset to version ${number}? Every entry becomes what `
        + "it was then, as a new version.")) return;
      runJob(arn, status, `restoring version ${number}…`, () => historyCall(
        "RestoreDatasetVersion", { DatasetArn: arn, VersionNumber: number }), redraw);
    } }, "Restore"));
  }
  const stats = version.DatasetStats;
  return h("tr", { class: "version", dataset: { version: number, kind: version.Kind } },
    h("td", { class: "number" }, number, number === latest ? h("span", { class: "muted" }, " (current)") : null),
    h("td", {}, KIND_WORDS[version.Kind] || version.Kind, version.Folded
      ? h("span", { class: "muted", title: "older versions were folded into this one by the retention settings" }, " · folded") : null),
    h("td", {}, when(version.CreationTimestamp)),
    h("td", { class: "caller" }, version.Caller),
    h("td", { class: "did" }, did(version)),
    h("td", { class: "stats" }, `${stats.TotalEntries} entries, ${stats.LabeledEntries} labeled, `
      + `${stats.TotalLabels} labels, ${stats.ErrorEntries} with errors`),
    h("td", { class: "actions-cell" }, actions));
}

function labelTable(summary) {
  const names = [...new Set([...Object.keys(summary.LabelsBefore), ...Object.keys(summary.LabelsAfter)])].sort();
  if (!names.length) return h("p", { class: "muted" }, "No labels at either version.");
  return h("table", { id: "label-counts" },
    h("thead", {}, h("tr", {}, ["Label", "Entries before", "Entries after", "Difference"].map((name) =>
      h("th", { scope: "col" }, name)))),
    h("tbody", {}, names.map((name) => {
      const before = summary.LabelsBefore[name] || 0;
      const after = summary.LabelsAfter[name] || 0;
      const delta = after - before;
      return h("tr", { dataset: { label: name } }, h("td", {}, chipList([name])),
        h("td", { class: "before" }, before), h("td", { class: "after" }, after),
        h("td", { class: `delta${delta > 0 ? " up" : delta < 0 ? " down" : ""}` },
          delta > 0 ? `+${delta}` : String(delta)));
    })));
}

async function diffSection(arn, from, to, token, page) {
  const params = { DatasetArn: arn, FromVersion: from, ToVersion: to, MaxResults: CHANGES };
  if (token) params.NextToken = token;
  const diff = await historyCall("DiffDatasetVersions", params);
  const summary = diff.Summary;
  const entryLink = (ref) => `${datasetPath(arn)}/entry?${new URLSearchParams({ "source-ref": ref })}`;
  return h("section", { id: "diff", class: "diff", "aria-label": `Changes from version ${from} to ${to}` },
    h("h2", {}, `Changes from version ${from} to version ${to}`),
    h("p", { id: "diff-summary" }, `${plural(summary.Added, "entry", "entries")} added, `
      + `${summary.Removed} removed, ${summary.Changed} changed`),
    labelTable(summary),
    diff.Changes.length ? h("table", { id: "changes" },
      h("thead", {}, h("tr", {}, ["Source-ref", "Change", "Labels before", "Labels after"].map((name) =>
        h("th", { scope: "col" }, name)))),
      h("tbody", {}, diff.Changes.map((change) => h("tr", { class: `change ${change.Change}`,
        dataset: { sourceRef: change.SourceRef, change: change.Change } },
      h("td", {}, change.After ? h("a", { href: entryLink(change.SourceRef), "data-route": true },
        change.SourceRef) : change.SourceRef),
      h("td", { class: "kind" }, change.Change.toLowerCase()),
      h("td", {}, change.Before ? chipList(labelsOf(change.Before)) : h("span", { class: "muted" }, "–")),
      h("td", {}, change.After ? chipList(labelsOf(change.After)) : h("span", { class: "muted" }, "–"))))))
      : h("p", { class: "muted" }, "No entry differs."),
    diff.NextToken ? h("nav", { class: "pager" }, h("a", { id: "more-changes", "data-route": true,
      href: historyUrl(arn, { next_token: page, from, to, diff_token: diff.NextToken }) }, "More changes ›"))
      : null);
}

function compareForm(arn, from, to, latest, page, navigate) {
  const field = (name, value) => h("input", { type: "number", name, min: 0, max: latest, required: true,
    value: value ?? "", "aria-label": name === "from" ? "From version" : "To version" });
  const form = h("form", { id: "compare", class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    navigate(historyUrl(arn, { next_token: page, from: data.get("from"), to: data.get("to") }));
  } }, h("label", {}, "Compare version ", field("from", from)), h("label", {}, " with ", field("to", to)),
  h("button", { type: "submit" }, "Compare"));
  return form;
}

export async function renderHistory(arn, isCurrent, setCrumbs, projectName, said, redraw, navigate) {
  const params = new URLSearchParams(location.search);
  const token = params.get("next_token") || "";
  const from = params.get("from");
  const to = params.get("to");
  document.title = `History · ${projectName(arn)} · manifestdb`;
  setCrumbs(h("a", { href: "/console/", "data-route": true }, "Projects"),
    h("a", { href: datasetPath(arn), "data-route": true }, projectName(arn)), h("span", {}, "History"));
  const [page, newest] = await Promise.all([
    historyCall("ListDatasetVersions", { DatasetArn: arn, MaxResults: PAGE, ...(token ? { NextToken: token } : {}) }),
    historyCall("ListDatasetVersions", { DatasetArn: arn, MaxResults: 1 }),
  ]);
  const latest = newest.Versions[0].VersionNumber;
  let diff = null;
  let diffProblem = null;
  if (from !== null && to !== null) {
    try {
      diff = await diffSection(arn, Number(from), Number(to), params.get("diff_token") || "", token);
    } catch (error) { diffProblem = error.message; }
  }
  if (!isCurrent()) return;
  const status = h("p", { id: "history-status", role: "status", "aria-live": "polite",
    class: said && said.failed ? "failed" : null }, said ? said.text : "");
  const versions = page.Versions;
  const rows = versions.map((version, index) => {
    // The oldest version kept has none before it to compare with.
    const oldest = !page.NextToken && index === versions.length - 1;
    return versionRow(arn, version, latest, !oldest, status, redraw);
  });
  put(main, h("h1", {}, "History"),
    h("p", { class: "muted" }, "Every create, update, distribution, deletion, revert and restore of "
      + "the dataset is a version, newest first. A revert or a restore is a version too."),
    status,
    compareForm(arn, from, to, latest, token, navigate),
    diffProblem ? h("p", { class: "failed", id: "diff-problem" }, diffProblem) : diff,
    h("table", { id: "versions" },
      h("thead", {}, h("tr", {}, ["Version", "Kind", "When", "Caller", "What it did",
        "Dataset after it", ""].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows)),
    h("nav", { class: "pager", "aria-label": "Pages" },
      token ? h("a", { href: historyUrl(arn, {}), "data-route": true, id: "newest" }, "« Newest") : null,
      page.NextToken ? h("a", { href: historyUrl(arn, { next_token: page.NextToken }), "data-route": true,
        id: "older" }, "Older ›") : null));
}

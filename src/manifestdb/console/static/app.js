// manifestdb console: projects, a dataset's gallery and an entry view, read through the console's
// JSON routes (the API's operations and parameters). Hand-written, no build step, no CDN.
//
// URLs (deep links):
//   /console/                                   projects
//   /console/datasets/{DatasetArn}?filters      gallery; filters named as ListDatasetEntries'
//                                               (ContainsLabels repeated, Labeled, HasErrors,
//                                               SourceRefContains) and NextToken for the page
//   /console/datasets/{DatasetArn}/entry?source-ref=S&filters   one entry within the filtered set
//   /console/datasets/{DatasetArn}/updates?next_token=T          the dataset's update reports
//   /console/datasets/{DatasetArn}/history?next_token=T&from=A&to=B  its versions, a diff


import {
  POLL_MS, main, crumbs, h, put, api, showError, clearError, whenLoginNeeded, colorOf, projectName, datasetPath, apiPath, imagePath, shortName, describeLine, withDetails, boxesSvg, chips, badges, describe,
} from "./kit.js";
import { entryEditor, knownLabels, selectionBar } from "./editor.js";
import { renderUpdates } from "./updates.js";
import { renderHistory } from "./history.js";
import { loadSession, showLogin } from "./login.js";
import { datasetForm, deleteButton, newProjectForm } from "./manage.js";

const FILTERS = ["ContainsLabels", "Labeled", "HasErrors", "SourceRefContains"];
let generation = 0; // bumped on every render: late answers of an older view are dropped
let keyHandler = null;
// What the last save said, shown by the view drawn after it: {text, failed, saved}.
let notice = null;

// Draw the view again (its line or page as stored now), saying what a save did.
function redraw(said) { notice = said; render(); }

function noticeText(said) { return said ? said.text : ""; }

function takeNotice() { const said = notice; notice = null; return said; }

// -- filters and pages in the URL ---------------------------------------------------------------

function filtersFrom(search) {
  const params = new URLSearchParams(search);
  return {
    ContainsLabels: params.getAll("ContainsLabels"),
    Labeled: params.get("Labeled") || "",
    HasErrors: params.get("HasErrors") || "",
    SourceRefContains: params.get("SourceRefContains") || "",
    NextToken: params.get("NextToken") || "",
  };
}

function filterParams(filters, withToken = true) {
  const params = new URLSearchParams();
  for (const label of filters.ContainsLabels) params.append("ContainsLabels", label);
  for (const name of ["Labeled", "HasErrors", "SourceRefContains"]) {
    if (filters[name]) params.set(name, filters[name]);
  }
  if (withToken && filters.NextToken) params.set("NextToken", filters.NextToken);
  return params;
}

// The tokens of the pages before this one, kept per dataset and filter (a token is opaque).
function stackKey(arn, filters) { return `pages:${arn}?${filterParams(filters, false)}`; }
function readStack(arn, filters) {
  try { return JSON.parse(sessionStorage.getItem(stackKey(arn, filters)) || "[]"); } catch { return []; }
}
function writeStack(arn, filters, stack) {
  sessionStorage.setItem(stackKey(arn, filters), JSON.stringify(stack));
}

function galleryUrl(arn, filters) {
  const query = filterParams(filters).toString();
  return datasetPath(arn) + (query ? `?${query}` : "");
}

function entryUrl(arn, filters, sourceRef) {
  const params = filterParams(filters);
  params.set("source-ref", sourceRef);
  return `${datasetPath(arn)}/entry?${params}`;
}

async function entriesPage(arn, filters) {
  const page = await api(`${apiPath(arn)}/entries`, filterParams(filters));
  return { entries: page.DatasetEntries.map(describeLine), next: page.NextToken || "" };
}

// -- the router ---------------------------------------------------------------------------------

function render() {
  generation += 1;
  clearError();
  if (keyHandler) document.removeEventListener("keydown", keyHandler);
  keyHandler = null;
  const view = generation;
  // aria-busy: the view is being drawn (tests and assistive technology wait for "false").
  main.setAttribute("aria-busy", "true");
  const done = () => { if (view === generation) main.setAttribute("aria-busy", "false"); };
  const match = location.pathname.match(/^\/console\/datasets\/([^/]+)(\/entry|\/updates|\/history)?\/?$/);
  const arn = match ? decodeURIComponent(match[1]) : "";
  const isCurrent = () => view === generation;
  const drawn = !match ? renderProjects(view)
    : match[2] === "/entry" ? renderEntry(arn, view)
      : match[2] === "/updates" ? renderUpdates(arn, isCurrent, setCrumbs, projectName)
        : match[2] === "/history" ? renderHistory(arn, isCurrent, setCrumbs, projectName, takeNotice(), redraw, navigate)
          : renderGallery(arn, view);
  drawn.catch(showError).finally(done);
}

function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  render();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-route]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", render);

function setCrumbs(...items) {
  put(crumbs, ...items.flatMap((item, index) => [index ? h("span", {}, "›") : null, item]));
}

// -- projects -----------------------------------------------------------------------------------

async function renderProjects(view) {
  document.title = "Projects · manifestdb";
  setCrumbs(h("span", {}, "Projects"));
  let body;
  try { body = await api("/console/api/projects"); } catch (error) {
    put(main, h("h1", {}, "Projects")); return showError(error);
  }
  if (view !== generation) return;
  const projects = body.ProjectDescriptions;
  const sections = projects.map((project) => h("section", { class: "project",
    dataset: { projectArn: project.ProjectArn } },
  h("h2", {}, projectName(project.ProjectArn), " ",
    h("span", { class: "muted" }, `(${project.Status})`), " ",
    deleteButton(projectName(project.ProjectArn), project.ProjectArn, render)),
  project.Datasets.length === 0 ? h("p", { class: "muted" }, "No datasets.") : h("table", {},
    h("thead", {}, h("tr", {}, ["Dataset", "Status", "Status message", "Entries", "Labeled",
      "Labels", "Errors", ""].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, project.Datasets.map((dataset) => {
      const stats = dataset.Description ? dataset.Description.DatasetStats : {};
      const status = dataset.Description ? dataset.Description.Status : dataset.Status;
      const message = dataset.Description ? dataset.Description.StatusMessage
        : (dataset.Error ? dataset.Error.Message : dataset.StatusMessage);
      return h("tr", { class: "dataset", dataset: { datasetArn: dataset.DatasetArn } },
        h("td", {}, h("a", { href: datasetPath(dataset.DatasetArn), "data-route": true },
          dataset.DatasetType)),
        h("td", { class: `status ${status}` }, status),
        h("td", {}, message || ""),
        ["TotalEntries", "LabeledEntries", "TotalLabels", "ErrorEntries"].map((name) =>
          h("td", { class: name }, stats[name] ?? "–")),
        h("td", {}, deleteButton(`${projectName(project.ProjectArn)} ${dataset.DatasetType}`,
          dataset.DatasetArn, render)));
    }))),
  project.Status === "CREATED" ? datasetForm(project, render) : null));
  put(main, h("h1", {}, "Projects"), newProjectForm(render),
    projects.length ? sections : h("p", { class: "muted" }, "No projects yet."));
}

// -- the gallery --------------------------------------------------------------------------------

async function allLabels(arn) {
  const labels = [];
  let token = "";
  do {
    const params = new URLSearchParams(token ? { NextToken: token } : {});
    const page = await api(`${apiPath(arn)}/labels`, params);
    labels.push(...page.DatasetLabelDescriptions);
    token = page.NextToken || "";
  } while (token);
  return labels;
}

function statusBanner(description) {
  const status = description.Status;
  if (status.endsWith("IN_PROGRESS")) {
    return h("div", { class: "banner", id: "update-status", role: "status" },
      h("strong", {}, status), " — the page refreshes when the update ends.");
  }
  const failed = status.endsWith("FAILED");
  return h("div", { class: `banner${failed ? " failed" : ""}`, id: "update-status", role: "status",
    hidden: !failed && !description.justFinished },
  h("strong", {}, status), " ", description.StatusMessage || "");
}

async function renderGallery(arn, view) {
  const said = notice;
  notice = null;
  const filters = filtersFrom(location.search);
  document.title = `${projectName(arn)} · manifestdb`;
  const typeName = (arn.split("/dataset/")[1] || "").split("/")[0];
  setCrumbs(h("a", { href: "/console/", "data-route": true }, "Projects"),
    h("span", {}, `${projectName(arn)} / ${typeName}`));
  let description;
  try { description = await describe(arn); } catch (error) {
    put(main); return showError(error);
  }
  if (view !== generation) return;
  let justFinished = false;
  while (description.Status.endsWith("IN_PROGRESS")) {
    put(main, statusBanner(description));
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (view !== generation) return;
    try { description = await describe(arn); } catch (error) { return showError(error); }
    justFinished = true;
  }
  description.justFinished = justFinished;
  let labels = [];
  try { labels = await allLabels(arn); } catch (error) { showError(error); }
  if (view !== generation) return;

  const grid = h("ul", { class: "grid", id: "grid", "aria-label": "Entries" });
  const count = h("p", { id: "count", "aria-live": "polite" });
  const previous = h("button", { type: "button", id: "previous" }, "‹ Previous");
  const next = h("button", { type: "button", id: "next" }, "Next ›");
  const pageInfo = h("span", { id: "page-info", class: "muted" });
  const form = filterForm(filters, labels, () => {
    if (!form.isConnected) return; // a late change of a view already left
    const chosen = readForm(form);
    navigate(galleryUrl(arn, chosen), true);
  });
  const stats = description.DatasetStats;
  const selection = h("div", { id: "selection-holder" });
  const typed = typedSearch(arn, filters);
  put(main, h("div", { class: "layout" },
    h("aside", {},
      h("h2", {}, `${projectName(arn)} · ${typeName}`),
      h("p", { class: "muted" }, `${stats.TotalEntries} entries, ${stats.LabeledEntries} labeled, `
        + `${stats.TotalLabels} labels, ${stats.ErrorEntries} with errors`),
      form, count,
      h("p", {}, h("a", { href: `${datasetPath(arn)}/updates`, "data-route": true, id: "updates-link" },
        "Updates"), h("span", { class: "muted" }, ": what each change did")),
      h("p", {}, h("a", { href: `${datasetPath(arn)}/history`, "data-route": true, id: "history-link" },
        "History"), h("span", { class: "muted" }, ": every version, diff, revert"))),
    h("section", {}, statusBanner(description), selection, grid,
      h("nav", { class: "pager", "aria-label": "Pages" }, previous, pageInfo, next))));
  form.dataset.arn = arn;
  typed(form);

  const stack = readStack(arn, filters);
  let page;
  try { page = await entriesPage(arn, filters); } catch (error) { return showError(error); }
  if (view !== generation) return;
  put(grid, ...page.entries.map((entry) => tile(arn, filters, entry)));
  const bar = selectionBar(arn, grid, page.entries, redraw);
  bar.status.textContent = noticeText(said);
  if (said && said.failed) bar.status.classList.add("failed");
  put(selection, bar.bar, knownLabels(labels.map((label) => label.LabelName)));
  // The dataset's stats count every entry; a filter's matches are not counted (that would
  // read them all), so a filtered page says how many it shows.
  const filtered = filterParams(filters, false).toString() !== "";
  count.textContent = filtered
    ? `${page.entries.length} matching entries shown (page ${stack.length + 1})`
    : `${page.entries.length} of ${stats.TotalEntries} entries shown`;
  pageInfo.textContent = `page ${stack.length + 1}`;
  previous.disabled = stack.length === 0;
  next.disabled = !page.next;
  previous.addEventListener("click", () => {
    const tokens = readStack(arn, filters);
    const token = tokens.pop();
    writeStack(arn, { ...filters, NextToken: token || "" }, tokens);
    navigate(galleryUrl(arn, { ...filters, NextToken: token || "" }));
  });
  next.addEventListener("click", () => {
    writeStack(arn, { ...filters, NextToken: page.next }, [...stack, filters.NextToken]);
    navigate(galleryUrl(arn, { ...filters, NextToken: page.next }));
  });
}

function filterForm(filters, labels, onChange) {
  const select = (name, text, yes, no) => h("label", {}, text,
    h("select", { name, onchange: onChange },
      [["", "any"], ["true", yes], ["false", no]].map(([value, words]) =>
        h("option", { value, selected: filters[name] === value }, words))));
  let timer = null;
  const search = h("input", { type: "search", name: "SourceRefContains",
    value: filters.SourceRefContains, placeholder: "part of s3://bucket/key",
    "data-drawn": filters.SourceRefContains,
    oninput: () => { clearTimeout(timer); timer = setTimeout(onChange, 400); },
    onchange: () => { clearTimeout(timer); onChange(); } });
  return h("form", { id: "filters", onsubmit: (event) => { event.preventDefault(); onChange(); } },
    h("fieldset", {}, h("legend", {}, "Contains labels"),
      labels.length === 0 ? h("p", { class: "muted" }, "No labels.") : null,
      labels.map((label) => h("label", { class: "label-option" },
        h("input", { type: "checkbox", name: "ContainsLabels", value: label.LabelName,
          checked: filters.ContainsLabels.includes(label.LabelName), onchange: onChange }),
        h("span", { class: "swatch", style: `background:${colorOf(label.LabelName)}` }),
        h("span", { class: "label-name" }, label.LabelName),
        h("span", { class: "counts", title: "entries · entries with boxes" },
          `${label.LabelStats.EntryCount} · ${label.LabelStats.BoundingBoxCount} boxed`)))),
    select("Labeled", "Labeled", "labeled only", "unlabeled only"),
    select("HasErrors", "Errors", "with errors", "without errors"),
    h("label", {}, "Source-ref contains", search));
}

// The view is drawn anew on each filter change. The search box of the view being replaced hands
// over to the new one: its focus and caret, and what was typed into it since that view was drawn
// (after the change that replaces it), searched for as if typed there. No keystroke is lost to a
// redraw, and typing is not interrupted by the search it starts.
function typedSearch(arn, filters) {
  const old = document.querySelector("#filters input[name=SourceRefContains]");
  if (!old || old.form.dataset.arn !== arn) return () => {};
  // Only what was typed since that view was drawn (not a value Back or a link replaces).
  const typed = old.value !== old.dataset.drawn && old.value !== filters.SourceRefContains;
  const focused = document.activeElement === old;
  const { value, selectionStart, selectionEnd } = old;
  return (form) => {
    const box = form.querySelector("input[name=SourceRefContains]");
    if (typed) box.value = value;
    if (focused) { box.focus(); box.setSelectionRange(selectionStart, selectionEnd); }
    if (typed) box.dispatchEvent(new Event("input"));
  };
}

function readForm(form) {
  const data = new FormData(form);
  return { ContainsLabels: data.getAll("ContainsLabels"), Labeled: data.get("Labeled") || "",
    HasErrors: data.get("HasErrors") || "", SourceRefContains: data.get("SourceRefContains") || "",
    NextToken: "" };
}

const TILE = 220;

function frame(arn, entry, kind, side) {
  const image = h("img", { alt: entry.sourceRef, src: imagePath(arn, kind, entry.sourceRef),
    loading: kind === "thumbnail" ? "lazy" : null, decoding: "async" });
  if (!entry.size) {
    const style = side ? `width:${side}px;height:${side}px` : "";
    return h("div", { class: "frame", style }, image);
  }
  const { width, height } = entry.size;
  let style = `aspect-ratio:${width}/${height}`;
  if (side) {
    const scale = Math.min(side / width, side / height);
    style = `width:${Math.round(width * scale)}px;height:${Math.round(height * scale)}px`;
  } else {
    style += `;width:${width}px`;
  }
  return h("div", { class: "frame", style }, image, boxesSvg(entry, width, height));
}

function tile(arn, filters, entry) {
  return h("li", { class: "tile", dataset: { sourceRef: entry.sourceRef } },
    h("input", { type: "checkbox", class: "pick", value: entry.sourceRef,
      "aria-label": `Select ${entry.sourceRef}` }),
    h("a", { class: "thumb", href: entryUrl(arn, filters, entry.sourceRef), "data-route": true,
      title: entry.sourceRef }, frame(arn, entry, "thumbnail", TILE)),
    h("div", { class: "caption" }, h("span", { class: "name" }, shortName(entry.sourceRef)),
      chips(entry), badges(entry)));
}

// -- the entry view -----------------------------------------------------------------------------

async function renderEntry(arn, view) {
  const said = notice;
  notice = null;
  const params = new URLSearchParams(location.search);
  const sourceRef = params.get("source-ref") || "";
  const filters = filtersFrom(location.search);
  const back = galleryUrl(arn, filters);
  document.title = `${shortName(sourceRef)} · manifestdb`;
  setCrumbs(h("a", { href: "/console/", "data-route": true }, "Projects"),
    h("a", { href: back, "data-route": true }, projectName(arn)), h("span", {}, shortName(sourceRef)));
  let page;
  let entry;
  try {
    // The entry as stored now, with the detail of each problem (the server judges it again);
    // the filtered page around it for ←/→.
    const [found, around] = await Promise.all([
      api(`${apiPath(arn)}/entry`, new URLSearchParams({ "source-ref": sourceRef })),
      entriesPage(arn, filters),
    ]);
    page = around;
    entry = withDetails(describeLine(found.DatasetEntry), found.Problems);
    const index = page.entries.findIndex((candidate) => candidate.sourceRef === sourceRef);
    if (index >= 0) page.entries[index] = entry;
  } catch (error) { put(main); return showError(error); }
  if (view !== generation) return;
  const index = page.entries.indexOf(entry);
  const stack = readStack(arn, filters);

  const go = async (step) => {
    if (index < 0) return;
    const target = index + step;
    if (target >= 0 && target < page.entries.length) {
      return navigate(entryUrl(arn, filters, page.entries[target].sourceRef), true);
    }
    if (step > 0 && page.next) {
      const nextFilters = { ...filters, NextToken: page.next };
      const nextPage = await entriesPage(arn, nextFilters);
      if (!nextPage.entries.length) return;
      writeStack(arn, nextFilters, [...stack, filters.NextToken]);
      return navigate(entryUrl(arn, nextFilters, nextPage.entries[0].sourceRef), true);
    }
    if (step < 0 && stack.length) {
      const tokens = [...stack];
      const previousFilters = { ...filters, NextToken: tokens.pop() || "" };
      const previousPage = await entriesPage(arn, previousFilters);
      if (!previousPage.entries.length) return;
      writeStack(arn, previousFilters, tokens);
      const last = previousPage.entries[previousPage.entries.length - 1];
      return navigate(entryUrl(arn, previousFilters, last.sourceRef), true);
    }
  };
  const hasPrevious = index > 0 || (index === 0 && stack.length > 0);
  const hasNext = index >= 0 && (index < page.entries.length - 1 || Boolean(page.next));
  const previous = h("button", { type: "button", id: "previous", disabled: !hasPrevious,
    onclick: () => go(-1) }, "‹ Previous");
  const next = h("button", { type: "button", id: "next", disabled: !hasNext,
    onclick: () => go(1) }, "Next ›");
  keyHandler = (event) => {
    if (event.target.closest && event.target.closest("input, select, textarea, #editor")) return;
    if (event.key === "ArrowLeft" && hasPrevious) { event.preventDefault(); go(-1); }
    else if (event.key === "ArrowRight" && hasNext) { event.preventDefault(); go(1); }
    else if (event.key === "Escape") { event.preventDefault(); navigate(back); }
  };
  document.addEventListener("keydown", keyHandler);

  const boxLabels = {};
  for (const box of entry.boxes) boxLabels[box.label] = (boxLabels[box.label] || 0) + 1;
  const picture = frame(arn, entry, "image", 0);
  const editor = entryEditor(arn, entry, picture, redraw);
  const status = editor.querySelector("#save-status");
  status.textContent = noticeText(said);
  if (said && (said.failed || entry.errorCount)) status.classList.add("failed");
  if (said && !said.failed && entry.errorCount) {
    status.textContent += ` The saved line has ${entry.errorCount} error`
      + `${entry.errorCount > 1 ? "s" : ""}: ${entry.problems.filter((p) => p.kind === "error")
        .map((p) => (p.detail ? `${p.message} (${p.detail})` : p.message)).join(" ")}`;
  }
  put(main,
    h("nav", { class: "entry-nav", "aria-label": "Entries" },
      h("a", { href: back, "data-route": true, id: "back" }, "← Gallery"), previous, next,
      h("span", { class: "muted" }, index >= 0 ? `entry ${index + 1} of ${page.entries.length} on this page`
        : "this entry is not in the filtered set"),
      h("span", { class: "muted" }, h("kbd", {}, "←"), " ", h("kbd", {}, "→"), " move, ",
        h("kbd", {}, "Esc"), " back")),
    h("div", { class: "entry" },
      h("figure", {}, picture,
        h("figcaption", {}, entry.sourceRef)),
      h("div", {},
        editor, knownLabels([...entry.labels, ...entry.boxes.map((box) => box.label)]),
        h("section", {}, h("h3", {}, "Labels"),
          entry.labels.length || entry.boxes.length ? h("ul", { id: "labels" },
            entry.labels.map((label) => h("li", {}, h("span", { class: "chip",
              style: `background:${colorOf(label)}` }, label), " image-level")),
            Object.entries(boxLabels).map(([label, count]) => h("li", {},
              h("span", { class: "chip", style: `background:${colorOf(label)}` }, label),
              ` ${count} box${count > 1 ? "es" : ""}`)))
            : h("p", { class: "muted" }, "No labels.")),
        h("section", {}, h("h3", {}, "Errors and warnings"),
          entry.problems.length ? h("ul", { class: "problems", id: "problems" },
            entry.problems.map((problem) => h("li", { class: problem.kind },
              h("strong", {}, `${problem.where}: `), `${problem.message} `,
              h("code", {}, problem.code),
              problem.detail ? h("p", { class: "detail" }, problem.detail) : null)))
            : h("p", { class: "muted" }, "None: the line is valid.")),
        h("section", {}, h("h3", {}, "Stored line"),
          h("pre", { class: "line", id: "line" }, JSON.stringify(entry.line, null, 2))))));
}

whenLoginNeeded(() => showLogin(main, render));
loadSession().catch(() => null).finally(render);

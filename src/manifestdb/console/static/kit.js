// manifestdb console: what every view shares (DOM helpers, the JSON routes, a stored line as
// the pages show it). Hand-written, no build step.
import { csrfToken } from "./login.js";

export const SERVICE_KEYS = new Set(["source-ref", "errors", "warnings", "cl-metadata", "cl-errors"]);
export const POLL_MS = 1000;
export const main = document.getElementById("main");
export const crumbs = document.getElementById("crumbs");
export const alertBox = document.getElementById("alert");

// -- small helpers ------------------------------------------------------------------------------

export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "rect", "title", "g", "line"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style") node.style.cssText = value; // CSSOM: allowed by the page's CSP
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// replaceChildren that takes arrays and skips null, as h() does.
export function put(parent, ...children) {
  parent.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
}

export class ApiError extends Error {
  constructor(code, message) { super(`${code}: ${message}`); this.code = code; }
}

export async function api(path, params = null) {
  const query = params ? "?" + params.toString() : "";
  const response = await fetch(path + query, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.__type || response.status, body.Message || "");
  return body;
}

// A state-changing request: JSON, with the header the server requires of the console's page.
export async function postJson(path, document) {
  const response = await fetch(path, { method: "POST", body: JSON.stringify(document),
    headers: { Accept: "application/json", "Content-Type": "application/json",
      "X-Manifestdb-Console": "1", "X-CSRF-Token": csrfToken() } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new ApiError(body.__type || response.status, body.Message || "");
    error.status = response.status;
    throw error;
  }
  return body;
}

export async function describe(arn) { return (await api(apiPath(arn))).DatasetDescription; }

// DescribeDataset once the dataset is no longer *_IN_PROGRESS (onWait: each description before).
export async function waitForUpdate(arn, onWait = () => {}) {
  for (;;) {
    const description = await describe(arn);
    if (!description.Status.endsWith("IN_PROGRESS")) return description;
    onWait(description);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS / 4));
  }
}

// Words for an error of a save: what happened and what to do.
export function saveProblem(error) {
  const code = error.code || "";
  if (code === "ConflictException") return `Not saved: ${error.message.replace(/^[^:]*: /, "")}`;
  if (code === "ResourceInUseException") {
    return "Not saved: another update of this dataset is running. "
      + error.message.replace(/^[^:]*: /, "");
  }
  return `Not saved: ${error.message}`;
}

let loginNeeded = null; // what to do when the server has no session for the page

export function whenLoginNeeded(handler) { loginNeeded = handler; }

export function showError(error) {
  // No session (--auth sigv4): the login form, then the view asked for.
  if (error instanceof ApiError && error.code === "MissingAuthenticationTokenException"
      && loginNeeded) {
    clearError();
    loginNeeded();
    return;
  }
  alertBox.hidden = false;
  alertBox.textContent = error instanceof Error ? error.message : String(error);
}

export function clearError() { alertBox.hidden = true; alertBox.textContent = ""; }

export function colorOf(label) {
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 75% 42%)`;
}

export function projectName(arn) { return (arn.split(":project/")[1] || arn).split("/")[0]; }
export function datasetPath(arn) { return `/console/datasets/${encodeURIComponent(arn)}`; }
export function apiPath(arn) { return `/console/api/datasets/${encodeURIComponent(arn)}`; }
export function imagePath(arn, kind, sourceRef) {
  const query = new URLSearchParams({ "source-ref": sourceRef });
  return `/console/images/${encodeURIComponent(arn)}/${kind}?${query}`;
}
export function shortName(sourceRef) { return sourceRef.split("/").pop() || sourceRef; }

// -- a stored line, as the pages show it --------------------------------------------------------

export function describeLine(text) {
  const line = JSON.parse(text);
  // boxAttributes: the names of the line's bounding-box attributes, in key order (a line of
  // several labeling jobs has several); new boxes go into the first unless the editor says.
  const entry = { text, line, sourceRef: line["source-ref"], boxes: [], labels: [], size: null,
    problems: [], boxAttributes: [] };
  // Each problem with the object that holds it (level, attribute, index: as the server names
  // them), so the detail the server computes for it can be put beside it (problemKey).
  const collect = (holder, where, level, attribute = null, index = null) => {
    if (!holder || typeof holder !== "object") return;
    for (const kind of ["errors", "warnings"]) {
      for (const problem of Array.isArray(holder[kind]) ? holder[kind] : []) {
        entry.problems.push({ kind: kind === "errors" ? "error" : "warning", where, level,
          attribute, index, ...problem });
      }
    }
  };
  collect(line, "The line", "line");
  for (const key of Object.keys(line)) {
    if (SERVICE_KEYS.has(key) || key.endsWith("-metadata")) continue;
    const value = line[key];
    const meta = line[`${key}-metadata`];
    collect(value, `Label attribute “${key}”`, "attribute", key);
    collect(meta, `The metadata of “${key}”`, "metadata", key);
    if (!meta || typeof meta !== "object") continue;
    const classMap = meta["class-map"] && typeof meta["class-map"] === "object" ? meta["class-map"] : {};
    if (meta.type === "groundtruth/object-detection" && value && typeof value === "object") {
      const size = Array.isArray(value.image_size) ? value.image_size[0] : null;
      if (size && size.width > 0 && size.height > 0 && !entry.size) entry.size = size;
      entry.boxAttributes.push(key);
      (Array.isArray(value.annotations) ? value.annotations : []).forEach((box, index) => {
        if (!box || typeof box !== "object") return;
        const label = classMap[String(box.class_id)] ?? `class ${box.class_id}`;
        entry.boxes.push({ label, attribute: key, left: +box.left, top: +box.top,
          width: +box.width, height: +box.height });
        collect(box, `Box ${index + 1} of “${key}” (${label})`, "annotation", key, index);
      });
    } else if (meta.type === "groundtruth/image-classification") {
      if (typeof meta["class-name"] === "string") entry.labels.push(meta["class-name"]);
    } else if (meta.type === "groundtruth/image-classification-multilabel") {
      for (const id of Array.isArray(value) ? value : []) {
        entry.labels.push(classMap[String(id)] ?? `class ${id}`);
      }
    }
  }
  entry.errorCount = entry.problems.filter((p) => p.kind === "error").length;
  entry.warningCount = entry.problems.length - entry.errorCount;
  return entry;
}

// Where a problem is written and what it is: the same for a problem of the stored line and for
// the server's judgement of it (GET .../entry: Problems with Level, Attribute, AnnotationIndex).
export function problemKey(level, attribute, index, code, message) {
  // A problem of the line itself is written once per code and message, whatever its attribute.
  return level === "line" ? `line|${code}|${message}` : `${level}|${attribute}|${index ?? ""}|${code}`;
}

// The stored line's problems with the detail of each (what the server found, and the rule).
export function withDetails(entry, explained) {
  const details = new Map();
  for (const problem of explained) {
    const key = problemKey(problem.Level, problem.Attribute, problem.AnnotationIndex,
      problem.Code, problem.Message);
    if (!details.has(key)) details.set(key, []);
    details.get(key).push(problem.Detail);
  }
  for (const problem of entry.problems) {
    const found = details.get(problemKey(problem.level, problem.attribute, problem.index,
      problem.code, problem.message));
    problem.detail = found && found.length ? found.shift() : null;
  }
  return entry;
}

export function boxesSvg(entry, width, height) {
  return h("svg", { class: "boxes", viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none", "aria-hidden": "true" },
  entry.boxes.map((box) => h("rect", { class: "box", x: box.left, y: box.top, width: box.width,
    height: box.height, stroke: colorOf(box.label), dataset: { label: box.label } },
  h("title", {}, box.label))));
}

export function chips(entry) {
  const names = [...new Set([...entry.labels, ...entry.boxes.map((box) => box.label)])];
  return names.map((name) => h("span", { class: "chip", style: `background:${colorOf(name)}`,
    title: entry.labels.includes(name) ? "image-level label" : "box label" }, name));
}

export function badges(entry) {
  return [
    entry.errorCount ? h("span", { class: "badge errors", title:
      entry.problems.filter((p) => p.kind === "error").map((p) => p.code).join(", ") },
    `${entry.errorCount} error${entry.errorCount > 1 ? "s" : ""}`) : null,
    entry.warningCount ? h("span", { class: "badge warnings" },
      `${entry.warningCount} warning${entry.warningCount > 1 ? "s" : ""}`) : null,
  ];
}


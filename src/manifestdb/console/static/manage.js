// The projects page's changes: create a project, create a dataset (empty, or from a manifest
// file picked or dropped here, pushed as UpdateDatasetEntries changes under 5 MiB with a progress
// bar), delete a dataset or a project after a confirmation. Every change is the API's own
// operation, run through POST /console/api/operations/{Operation} with the session's CSRF token.

import { csrfToken } from "./login.js";

export const MAX_CHANGE_BYTES = 5 * 1024 * 1024 - 64 * 1024; // under AWS's 5 MiB, with room
const POLL_MS = 300;

export class OperationError extends Error {
  constructor(code, message) { super(`${code}: ${message}`); this.code = code; }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export async function run(operation, params) {
  const response = await fetch(`/console/api/operations/${operation}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-CSRF-Token": csrfToken(),
      "X-Manifestdb-Console": "1" },
    body: JSON.stringify(params),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new OperationError(body.__type || response.status, body.Message || "");
  return body;
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// DescribeDataset until the dataset is no longer *_IN_PROGRESS; null once it is gone.
async function settled(arn) {
  for (;;) {
    let description;
    try {
      description = (await run("DescribeDataset", { DatasetArn: arn })).DatasetDescription;
    } catch (error) {
      if (error.code === "ResourceNotFoundException") return null;
      throw error;
    }
    if (!description.Status.endsWith("_IN_PROGRESS")) return description;
    await sleep(POLL_MS);
  }
}

// The file's bytes cut at line ends into pieces of at most MAX_CHANGE_BYTES.
export function changes(bytes, limit = MAX_CHANGE_BYTES) {
  const pieces = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + limit, bytes.length);
    if (end < bytes.length) {
      const newline = bytes.lastIndexOf(10, end - 1);
      if (newline < start) throw new Error(`a line at byte ${start} is longer than ${limit} bytes`);
      end = newline + 1;
    }
    pieces.push(bytes.subarray(start, end));
    start = end;
  }
  return pieces;
}

function base64(bytes) {
  let text = "";
  for (let at = 0; at < bytes.length; at += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  }
  return btoa(text);
}

// Push a manifest into a dataset, one change at a time; `progress(done, total)` after each.
export async function push(arn, bytes, progress) {
  const pieces = changes(bytes);
  let done = 0;
  for (const piece of pieces) {
    for (;;) {
      try {
        await run("UpdateDatasetEntries", { DatasetArn: arn, Changes: { GroundTruth: base64(piece) } });
        break;
      } catch (error) {
        if (error.code !== "ResourceInUseException") throw error;
        await sleep(POLL_MS); // another update runs: wait for it, then send ours
      }
    }
    const description = await settled(arn);
    if (description && description.Status === "UPDATE_FAILED") {
      throw new OperationError(description.StatusMessageCode, description.StatusMessage);
    }
    done += piece.length;
    progress(done, bytes.length);
  }
}

function problemBox() { return el("p", { class: "problem", role: "alert" }); }

export function newProjectForm(refresh) {
  const name = el("input", { name: "ProjectName", required: true, pattern: "[a-zA-Z0-9_.\\-]+",
    maxlength: 255, autocomplete: "off" });
  const problem = problemBox();
  const form = el("form", { id: "new-project", class: "manage" },
    el("label", {}, "New project name ", name),
    el("button", { type: "submit" }, "Create project"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    try {
      await run("CreateProject", { ProjectName: name.value.trim() });
      refresh();
    } catch (error) { problem.textContent = error.message; }
  });
  return form;
}

export function datasetForm(project, refresh) {
  const present = new Set(project.Datasets.map((dataset) => dataset.DatasetType));
  const types = ["TRAIN", "TEST"].filter((type) => !present.has(type));
  if (!types.length) return null;
  const slug = project.ProjectArn.split(":project/")[1].split("/")[0];
  const type = el("select", { name: "DatasetType" },
    ...types.map((value) => el("option", { value }, value)));
  const file = el("input", { type: "file", name: "manifest", accept: ".manifest,.jsonl,.json,.txt" });
  const bar = el("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload" });
  const status = el("span", { class: "muted", role: "status" });
  const problem = problemBox();
  let dropped = null;
  const zone = el("div", { class: "drop", tabindex: -1 }, "or drop a manifest file here");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    dropped = event.dataTransfer.files[0] || null;
    zone.textContent = dropped ? `manifest: ${dropped.name}` : "or drop a manifest file here";
  });
  const button = el("button", { type: "submit" }, "Create dataset");
  const form = el("form", { class: "manage new-dataset", "aria-label": `New dataset of ${slug}` },
    el("label", {}, "Dataset type ", type),
    el("label", {}, "Manifest (optional) ", file), zone, button, bar, status, problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    button.disabled = true;
    try {
      const { DatasetArn } = await run("CreateDataset",
        { ProjectArn: project.ProjectArn, DatasetType: type.value });
      await settled(DatasetArn);
      const chosen = file.files[0] || dropped;
      if (chosen) {
        const bytes = new Uint8Array(await chosen.arrayBuffer());
        bar.hidden = false;
        bar.max = bytes.length || 1;
        await push(DatasetArn, bytes, (done, total) => {
          bar.value = done;
          status.textContent = `${Math.round((100 * done) / total)}% of ${chosen.name} sent`;
        });
      }
      refresh();
    } catch (error) {
      problem.textContent = error.message;
      button.disabled = false;
    }
  });
  return form;
}

export function deleteButton(what, arn, refresh) {
  const isProject = !arn.includes("/dataset/");
  return el("button", { type: "button", class: "danger",
    "aria-label": `Delete ${what}`,
    onclick: async () => {
      const warning = isProject
        ? `Delete the project ${what} and its datasets? Their entries cannot be recovered.`
        : `Delete the dataset ${what}? Its entries cannot be recovered.`;
      if (!window.confirm(warning)) return;
      try {
        if (isProject) await run("DeleteProject", { ProjectArn: arn });
        else {
          await run("DeleteDataset", { DatasetArn: arn });
          await settled(arn);
        }
        refresh();
      } catch (error) { window.alert(error.message); }
    } }, "Delete");
}

// manifestdb console: editing. An entry's image-level labels and boxes (drawn, moved, resized,
// relabelled, deleted on the image), and labels added to or removed from a selection of the
// gallery. A save POSTs the edits with the lines as loaded; the server makes the Ground Truth
// lines and sends one UpdateDatasetEntries (a line changed meanwhile: ConflictException).

import { h, put, colorOf, apiPath, postJson, waitForUpdate, saveProblem } from "./kit.js";
import { historyCall } from "./history.js";

const HANDLES = ["nw", "ne", "sw", "se"];
const MIN_SIDE = 2; // pixels: a drag shorter than this is a click, not a box

async function send(arn, entries, status, after) {
  status.textContent = "Saving…";
  let result;
  try {
    result = await postJson(`${apiPath(arn)}/edits`, { Entries: entries });
  } catch (error) {
    if (error.code === "ConflictException") return after({ text: saveProblem(error), failed: true });
    status.textContent = saveProblem(error);
    status.classList.add("failed");
    return false;
  }
  if (!result.SourceRefs.length) { status.textContent = "Nothing changed: nothing to save."; return false; }
  status.textContent = `UPDATE_IN_PROGRESS: saving ${result.SourceRefs.length} `
    + `entr${result.SourceRefs.length > 1 ? "ies" : "y"}…`;
  const description = await waitForUpdate(arn);
  const failed = description.Status !== "UPDATE_COMPLETE";
  return after({ text: `${description.Status}: ${description.StatusMessage || ""}`, failed,
    saved: result.SourceRefs });
}

// -- one entry ----------------------------------------------------------------------------------

// Every box of every bounding-box attribute is edited; each box keeps the attribute it is in
// (a line of several labeling jobs has several), drawn with the attribute's own dash.
export function entryEditor(arn, entry, frame, after) {
  const image = frame.querySelector("img");
  const attributes = entry.boxAttributes;
  const several = attributes.length > 1;
  // The dash of a box attribute: the first solid, the others dashed (app.css .attr-<n>).
  const attributeClass = (name) => `attr-${Math.max(0, attributes.indexOf(name)) % 4}`;
  const state = {
    labels: [...entry.labels],
    boxes: entry.boxes.map((box) => ({ ...box })),
    selected: -1,
    boxesChanged: false,
    size: entry.size ? { ...entry.size } : null,
  };
  const svg = h("svg", { class: "boxes editing", id: "canvas", role: "img",
    "aria-label": "The image's boxes: drag to draw a box, drag a box to move it, its corners to resize it" });
  frame.querySelector("svg.boxes")?.remove();
  frame.append(svg);
  const status = h("p", { id: "save-status", role: "status", "aria-live": "polite" });
  const boxLabel = h("input", { id: "box-label", name: "box-label", value: entry.boxes[0]?.label || "",
    placeholder: "e.g. dog", list: "known-labels" });
  const labelList = h("ul", { id: "edit-labels", class: "edit-list" });
  const boxList = h("ul", { id: "box-list", class: "edit-list" });
  // Where a new box goes: the first attribute unless another is chosen (none: a new one).
  const boxAttribute = several ? h("select", { id: "box-attribute", name: "box-attribute" },
    attributes.map((name) => h("option", { value: name }, name))) : null;
  const selectedPanel = h("div", { id: "selected-box" });
  const newLabel = h("input", { id: "new-label", name: "new-label", placeholder: "e.g. outdoor",
    list: "known-labels" });
  const saveButton = h("button", { type: "button", id: "save", disabled: true }, "Save");
  const discard = h("button", { type: "button", id: "discard", disabled: true,
    onclick: () => after(null) }, "Discard changes");

  const changed = () => {
    const labelsChanged = state.labels.join("\n") !== entry.labels.join("\n");
    saveButton.disabled = discard.disabled = !(labelsChanged || state.boxesChanged);
  };
  const touchBoxes = () => { state.boxesChanged = true; drawBoxes(); drawPanel(); changed(); };

  function drawBoxes() {
    if (!state.size) return;
    const { width, height } = state.size;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    const handle = Math.max(6, Math.round(Math.max(width, height) / 60));
    const rects = state.boxes.map((box, index) => h("rect", { class: `box editable ${
      attributeClass(box.attribute)}${index === state.selected ? " selected" : ""}`, x: box.left,
    y: box.top, width: box.width, height: box.height, stroke: colorOf(box.label),
    dataset: { label: box.label, index, attribute: box.attribute || "" } },
    h("title", {}, several ? `${box.label} (${box.attribute})` : box.label)));
    const chosen = state.boxes[state.selected];
    const handles = chosen ? HANDLES.map((name) => {
      const x = name.endsWith("w") ? chosen.left : chosen.left + chosen.width;
      const y = name.startsWith("n") ? chosen.top : chosen.top + chosen.height;
      return h("rect", { class: "handle", x: x - handle / 2, y: y - handle / 2, width: handle,
        height: handle, dataset: { handle: name } });
    }) : [];
    put(svg, rects, handles);
  }

  function drawPanel() {
    put(labelList, state.labels.length ? state.labels.map((label) => h("li", {},
      h("span", { class: "chip", style: `background:${colorOf(label)}` }, label), " ",
      h("button", { type: "button", class: "remove-label", "aria-label": `Remove label ${label}`,
        onclick: () => { state.labels = state.labels.filter((l) => l !== label); drawPanel(); changed(); } },
      "✕"))) : h("li", { class: "muted" }, "No image-level labels."));
    const item = (box, index) => h("li", {},
      h("button", { type: "button", class: "box-item", "aria-pressed": String(index === state.selected),
        dataset: { index, attribute: box.attribute || "" }, onclick: () => select(index),
        onkeydown: (event) => boxKey(event, index) },
      `Box ${index + 1}: ${box.label} (${Math.round(box.left)}, ${Math.round(box.top)}, `
        + `${Math.round(box.width)}×${Math.round(box.height)})`));
    // With several attributes, the boxes are listed under the attribute each is in.
    const groups = several ? attributes.map((name) => [h("li", { class: "attribute-head" },
      h("svg", { class: "dash", viewBox: "0 0 24 6", "aria-hidden": "true" },
        h("line", { class: attributeClass(name), x1: 0, y1: 3, x2: 24, y2: 3 })),
      ` ${name}`), ...state.boxes.map((box, index) => box.attribute === name ? item(box, index) : null)])
      : state.boxes.map(item);
    put(boxList, state.boxes.length || several ? groups : h("li", { class: "muted" }, "No boxes."));
    const chosen = state.boxes[state.selected];
    put(selectedPanel, chosen ? [
      h("label", {}, "Label of the selected box ", h("input", { id: "selected-label",
        value: chosen.label, list: "known-labels", onchange: (event) => {
          const value = event.target.value.trim();
          if (value) { chosen.label = value; touchBoxes(); }
        } })),
      several ? h("label", {}, "Attribute of the selected box ", h("select", {
        id: "selected-attribute", onchange: (event) => { chosen.attribute = event.target.value; touchBoxes(); },
      }, attributes.map((name) => h("option", { value: name, selected: name === chosen.attribute }, name))))
        : null,
      h("button", { type: "button", id: "delete-box", onclick: () => removeBox(state.selected) },
        "Delete box"),
    ] : []);
  }

  function select(index) { state.selected = index; drawBoxes(); drawPanel(); }
  function removeBox(index) {
    state.boxes.splice(index, 1);
    state.selected = -1;
    touchBoxes();
  }
  function boxKey(event, index) {
    const box = state.boxes[index];
    const step = event.shiftKey ? 10 : 1;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault(); removeBox(index);
    } else if (moves[event.key] && state.size) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      box.left = clamp(box.left + dx, 0, state.size.width - box.width);
      box.top = clamp(box.top + dy, 0, state.size.height - box.height);
      state.selected = index;
      touchBoxes();
      boxList.querySelector(`[data-index="${index}"]`)?.focus();
    }
  }

  // -- pointer: draw, move, resize ----------------------------------------------------------
  let drag = null;
  const point = (event) => {
    const rect = svg.getBoundingClientRect();
    return { x: clamp((event.clientX - rect.left) * state.size.width / rect.width, 0, state.size.width),
      y: clamp((event.clientY - rect.top) * state.size.height / rect.height, 0, state.size.height) };
  };
  svg.addEventListener("pointerdown", (event) => {
    if (!state.size || event.button !== 0) return;
    event.preventDefault();
    svg.setPointerCapture(event.pointerId);
    const at = point(event);
    const target = event.target;
    if (target.dataset && target.dataset.handle) {
      drag = { mode: "resize", handle: target.dataset.handle, box: { ...state.boxes[state.selected] }, at };
    } else if (target.dataset && target.dataset.index !== undefined) {
      select(Number(target.dataset.index));
      drag = { mode: "move", box: { ...state.boxes[state.selected] }, at };
    } else {
      const label = boxLabel.value.trim();
      if (!label) { status.textContent = "Name the label of new boxes first."; boxLabel.focus(); return; }
      const attribute = boxAttribute ? boxAttribute.value : attributes[0] || null;
      state.boxes.push({ label, attribute, left: at.x, top: at.y, width: 0, height: 0 });
      state.selected = state.boxes.length - 1;
      drag = { mode: "draw", at };
      drawBoxes();
    }
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const at = point(event);
    const box = state.boxes[state.selected];
    const { width, height } = state.size;
    if (drag.mode === "draw") {
      Object.assign(box, { left: Math.min(drag.at.x, at.x), top: Math.min(drag.at.y, at.y),
        width: Math.abs(at.x - drag.at.x), height: Math.abs(at.y - drag.at.y) });
    } else if (drag.mode === "move") {
      box.left = clamp(drag.box.left + at.x - drag.at.x, 0, width - box.width);
      box.top = clamp(drag.box.top + at.y - drag.at.y, 0, height - box.height);
    } else {
      const start = drag.box;
      let [x1, y1, x2, y2] = [start.left, start.top, start.left + start.width, start.top + start.height];
      if (drag.handle.endsWith("w")) x1 = at.x; else x2 = at.x;
      if (drag.handle.startsWith("n")) y1 = at.y; else y2 = at.y;
      Object.assign(box, { left: Math.min(x1, x2), top: Math.min(y1, y2),
        width: Math.abs(x2 - x1), height: Math.abs(y2 - y1) });
    }
    drawBoxes();
  });
  const finish = () => {
    if (!drag) return;
    const box = state.boxes[state.selected];
    const moved = drag.mode === "draw" || ["left", "top", "width", "height"].some((side) =>
      Math.round(box[side]) !== Math.round(drag.box[side]));
    if (drag.mode === "draw" && (box.width < MIN_SIDE || box.height < MIN_SIDE)) {
      state.boxes.pop();
      state.selected = -1;
      drag = null;
      drawBoxes(); drawPanel();
      return;
    }
    for (const side of ["left", "top", "width", "height"]) box[side] = Math.round(box[side]);
    drag = null;
    if (moved) touchBoxes(); else { drawBoxes(); drawPanel(); }
  };
  svg.addEventListener("pointerup", finish);
  svg.addEventListener("pointercancel", finish);

  const sizeFromImage = () => {
    if (!state.size && image.naturalWidth > 0) {
      state.size = { width: image.naturalWidth, height: image.naturalHeight };
      drawBoxes();
    }
  };
  if (image.complete) sizeFromImage(); else image.addEventListener("load", sizeFromImage);

  saveButton.addEventListener("click", () => {
    const edit = { SourceRef: entry.sourceRef, Loaded: entry.text };
    const added = state.labels.filter((label) => !entry.labels.includes(label));
    const removed = entry.labels.filter((label) => !state.labels.includes(label));
    if (added.length) edit.AddLabels = added;
    if (removed.length) edit.RemoveLabels = removed;
    if (state.boxesChanged) {
      // Every box of the line, each in its attribute (none yet: the server makes one).
      edit.Boxes = state.boxes.map((box) => ({ Label: box.label, Left: Math.round(box.left),
        Top: Math.round(box.top), Width: Math.round(box.width), Height: Math.round(box.height),
        ...(box.attribute ? { Attribute: box.attribute } : {}) }));
    }
    saveButton.disabled = true;
    send(arn, [edit], status, after).then((kept) => { if (kept === false) changed(); });
  });

  drawBoxes();
  drawPanel();
  return h("section", { id: "editor", "aria-label": "Edit this entry" }, h("h3", {}, "Edit"),
    h("p", { class: "muted" }, "Drag on the image to draw a box; drag a box to move it and its "
      + "corners to resize it. A box in the list moves with the arrow keys; Delete removes it."),
    h("h4", {}, "Image-level labels"), labelList,
    h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const value = newLabel.value.trim();
      if (value && !state.labels.includes(value)) state.labels.push(value);
      newLabel.value = "";
      drawPanel(); changed();
    } }, h("label", {}, "New image-level label ", newLabel),
    h("button", { type: "submit", id: "add-label" }, "Add label")),
    h("h4", {}, "Boxes"), h("label", {}, "Label of new boxes ", boxLabel),
    boxAttribute ? h("label", {}, "Attribute of new boxes ", boxAttribute) : null,
    boxList, selectedPanel,
    h("div", { class: "actions" }, saveButton, discard), status);
}

// -- a selection of the gallery -----------------------------------------------------------------

export function selectionBar(arn, grid, entries, after) {
  const byRef = new Map(entries.map((entry) => [entry.sourceRef, entry]));
  const count = h("span", { id: "selected-count" }, "0 selected");
  const label = h("input", { id: "selection-label", name: "selection-label", list: "known-labels",
    placeholder: "label" });
  const status = h("p", { id: "selection-status", role: "status", "aria-live": "polite" });
  const boxes = () => [...grid.querySelectorAll("input.pick")];
  const chosen = () => boxes().filter((box) => box.checked).map((box) => box.value);
  const refresh = () => {
    const n = chosen().length;
    count.textContent = `${n} selected`;
    for (const button of actions) button.disabled = n === 0;
    for (const box of boxes()) box.closest(".tile").classList.toggle("picked", box.checked);
  };
  let last = -1;
  grid.addEventListener("click", (event) => {
    const box = event.target.closest && event.target.closest("input.pick");
    if (!box) return;
    const all = boxes();
    const index = all.indexOf(box);
    if (event.shiftKey && last >= 0) {
      const [from, to] = [Math.min(last, index), Math.max(last, index)];
      for (const other of all.slice(from, to + 1)) other.checked = box.checked;
    }
    last = index;
    refresh();
  });
  grid.addEventListener("change", refresh);
  const edit = (kind) => {
    const name = label.value.trim();
    if (!name) { status.textContent = "Name the label first."; label.focus(); return; }
    const refs = chosen().filter((ref) => kind === "AddLabels" || byRef.get(ref).labels.includes(name));
    if (!refs.length) { status.textContent = `No selected entry has the image-level label ${name}.`; return; }
    for (const button of actions) button.disabled = true;
    send(arn, refs.map((ref) => ({ SourceRef: ref, Loaded: byRef.get(ref).text, [kind]: [name] })),
      status, after).then((kept) => { if (kept === false) refresh(); });
  };
  // Deleting entries (DeleteDatasetEntries, which AWS lacks) is a version: History reverts it.
  const remove = async () => {
    const refs = chosen();
    const what = refs.length === 1 ? `the entry ${refs[0]}` : `these ${refs.length} entries`;
    if (!window.confirm(`Delete ${what}? The deletion is a version of the dataset: its History `
      + "page can revert it.")) return;
    for (const button of actions) button.disabled = true;
    status.classList.remove("failed");
    status.textContent = `Deleting ${refs.length} entr${refs.length > 1 ? "ies" : "y"}…`;
    try {
      await historyCall("DeleteDatasetEntries", { DatasetArn: arn, SourceRefs: refs });
    } catch (error) {
      status.textContent = saveProblem(error).replace(/^Not saved/, "Not deleted");
      status.classList.add("failed");
      refresh();
      return;
    }
    const description = await waitForUpdate(arn);
    const failed = description.Status !== "UPDATE_COMPLETE";
    after({ failed, text: failed ? `${description.Status}: ${description.StatusMessage || ""}`
      : `${description.Status}: deleted ${refs.length} entr${refs.length > 1 ? "ies" : "y"}. `
        + "The History page can revert the deletion." });
  };
  const actions = [
    h("button", { type: "button", id: "add-to-selected", onclick: () => edit("AddLabels") },
      "Add label to selected"),
    h("button", { type: "button", id: "remove-from-selected", onclick: () => edit("RemoveLabels") },
      "Remove label from selected"),
    h("button", { type: "button", id: "delete-selected", class: "danger", onclick: remove },
      "Delete selected"),
  ];
  const bar = h("div", { id: "selection", class: "selection", role: "region",
    "aria-label": "Edit the selected entries" }, count,
  h("button", { type: "button", id: "select-all", onclick: () => {
    for (const box of boxes()) box.checked = true; refresh();
  } }, "Select all on this page"),
  h("button", { type: "button", id: "select-none", onclick: () => {
    for (const box of boxes()) box.checked = false; refresh();
  } }, "Clear selection"),
  h("label", {}, "Image-level label ", label), actions, status);
  refresh();
  return { bar, status };
}

export function knownLabels(names) {
  return h("datalist", { id: "known-labels" }, [...new Set(names)].map((name) => h("option", { value: name })));
}

function clamp(value, low, high) { return Math.max(low, Math.min(high, value)); }

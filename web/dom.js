// Small DOM helpers: build elements without string-concatenating untrusted text.

/** `el("button", {type: "button"}, "text", child)`: attributes set as attributes, children appended. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for innerHTML. */
export function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A table: `columns` = [[label, (row) => cell text or Node, {numeric}]], rows of data. */
export function table(columns, rows, attrs = {}) {
  const head = el("tr", {}, ...columns.map(([label, , opts = {}]) =>
    el("th", { scope: "col", class: opts.numeric ? "num" : null }, label)));
  const body = rows.map((row) => el("tr", {}, ...columns.map(([, cell, opts = {}]) => {
    const value = cell(row);
    const td = el("td", { class: opts.numeric ? "num" : null });
    td.append(value instanceof Node ? value : String(value ?? "–"));
    if (opts.value) td.dataset.value = String(opts.value(row));
    return td;
  })));
  return el("table", attrs, el("thead", {}, head), el("tbody", {}, ...body));
}

export function section(title, ...children) {
  return el("section", { class: "block" }, el("h2", {}, title), ...children);
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

// The console's login (--auth sigv4): a form for an access key of the server's auth file, the
// user shown in the header with a logout button, and the CSRF token that every change carries.
// The session itself is an HttpOnly cookie this script never sees.

let session = null; // {Auth, User, Account, Region, CsrfToken} once known

export function csrfToken() { return session ? session.CsrfToken : ""; }

export async function loadSession() {
  const response = await fetch("/console/api/session", { headers: { Accept: "application/json" } });
  session = response.ok ? await response.json() : null;
  showUser();
  return session;
}

function element(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function showUser() {
  const who = document.getElementById("who");
  if (!who) return;
  if (!session || session.Auth === "off") { who.replaceChildren(); return; }
  const logout = element("button", { type: "button", id: "logout", onclick: async () => {
    await fetch("/console/api/logout", { method: "POST",
      headers: { "X-CSRF-Token": csrfToken(), "X-Manifestdb-Console": "1" } });
    session = null;
    location.reload();
  } }, "Log out");
  who.replaceChildren(element("span", { id: "user" }, session.User), logout);
}

// The login form in `main`; `done` runs once logged in.
export function showLogin(main, done, message = "") {
  document.title = "Log in · manifestdb";
  const field = (label, attrs) => element("label", {}, label, element("input", attrs));
  const problem = element("p", { id: "login-problem", role: "alert" }, message);
  const form = element("form", { id: "login", "aria-label": "Log in" },
    element("h1", {}, "Log in"),
    element("p", { class: "muted" },
      "The server runs with --auth sigv4: log in with an access key of its auth file."),
    field("Access key ID", { name: "AccessKeyId", required: "", autocomplete: "username" }),
    field("Secret access key", { name: "SecretAccessKey", type: "password", required: "",
      autocomplete: "current-password" }),
    field("Region", { name: "Region", value: "us-east-1", required: "" }),
    problem,
    element("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    const response = await fetch("/console/api/login", {
      method: "POST", headers: { "Content-Type": "application/json", "X-Manifestdb-Console": "1" },
      body: JSON.stringify(values),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { problem.textContent = body.Message || `HTTP ${response.status}`; return; }
    session = body;
    showUser();
    done();
  });
  main.replaceChildren(form);
  form.querySelector("input").focus();
}

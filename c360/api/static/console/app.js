// The console's page: reads the URL, shows the view it names, and keeps links and the search
// box inside the page (history API), so the back button works as on any site.

import { session } from "./api.js";
import { h, notify, problem, replace } from "./dom.js";
import { forgetDrafts } from "./drafts.js";
import { profileView } from "./profile.js";
import { homeView, lookupView, searchView } from "./search.js";

const main = document.getElementById("main");
// Signing out leaves nothing typed about a customer in the tab for whoever signs in next; a
// request still under way then is refused, which is not a session that ended.
const signOut = document.querySelector('form[action="/console/sign-out"]');
if (signOut) {
  signOut.addEventListener("submit", () => {
    session.signingOut = true;
    forgetDrafts();
  });
}

// The page now shown (path and query): a move to one of its own sections (#consent) is not
// another page, and draws nothing again.
let shown = null;
let opened = false; // whether a page was shown before this one (in this tab's page)

// Each page is drawn in a view of its own, put in ``main`` when the page is opened: a page
// left before its answers came (a search, then a customer opened at once) draws them into its
// view, no longer shown, rather than over the page opened since.
function freshView() {
  const view = h("div", { class: "view" });
  main.replaceChildren(view);
  delete main.dataset.rendered;
  return view;
}

function navigate(href, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  route();
}

function openProfile(id, via) {
  history.replaceState(null, "", `/console/profile/${encodeURIComponent(id)}`);
  shown = location.pathname + location.search;
  const view = freshView();
  profileView(view, id, via).catch((error) => fail(error, view));
}

async function route() {
  const { pathname, search, searchParams } = new URL(location.href);
  shown = pathname + search;
  const box = document.getElementById("q");
  const view = freshView();
  try {
    if (pathname === "/console" || pathname === "/console/") {
      const text = (searchParams.get("q") || "").trim();
      if (box) box.value = text;
      document.title = text ? `“${text}” — c360 console` : "c360 console";
      if (text) await searchView(view, text, navigate);
      else homeView(view);
    } else if (pathname.startsWith("/console/profile/")) {
      document.title = "Customer — c360 console";
      await profileView(view, decodeURIComponent(pathname.slice("/console/profile/".length)));
    } else if (pathname === "/console/lookup") {
      document.title = "Screen pop — c360 console";
      await lookupView(view, searchParams, openProfile, navigate);
    } else {
      replace(view, problem("There is no such page in the console."));
    }
  } catch (error) {
    fail(error, view);
  }
  // A page opened within the console: its heading, for a screen reader to read and the next
  // Tab to go on from. The page first loaded keeps the focus at its start, where Tab finds the
  // skip link and the search box first, as on any site.
  const heading = main.querySelector("h1");
  if (opened && heading && document.activeElement === document.body) heading.focus();
  opened = true;
}

function fail(error, view) {
  if (!view.isConnected) return; // a page left since
  replace(view, problem(`Something went wrong: ${error && error.message ? error.message : error}`));
}

document.querySelector("form.search").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = document.getElementById("q").value.trim();
  if (text) navigate(`/console?q=${encodeURIComponent(text)}`);
});

// Links within the console stay in the page; sections' anchors and new tabs behave as usual.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/console")) return;
  if (url.pathname.startsWith("/console/sign-") || (url.hash && url.pathname === location.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", () => {
  if (location.pathname + location.search !== shown) route();
});
window.addEventListener("error", (event) => notify(`Something went wrong: ${event.message}`, "error"));
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason;
  notify(`Something went wrong: ${reason && reason.message ? reason.message : reason}`, "error");
});

route();

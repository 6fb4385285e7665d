// The console's page: reads the URL, shows the view it names, and keeps links and the search
// box inside the page (history API), so the back button works as on any site.

import { notify, problem, replace } from "./dom.js";
import { forgetDrafts } from "./drafts.js";
import { profileView } from "./profile.js";
import { homeView, lookupView, searchView } from "./search.js";

const main = document.getElementById("main");
// Signing out leaves nothing typed about a customer in the tab for whoever signs in next.
const signOut = document.querySelector('form[action="/console/sign-out"]');
if (signOut) signOut.addEventListener("submit", forgetDrafts);

// The page now shown (path and query): a move to one of its own sections (#consent) is not
// another page, and draws nothing again.
let shown = null;

function navigate(href, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  route();
}

function openProfile(id, via) {
  history.replaceState(null, "", `/console/profile/${encodeURIComponent(id)}`);
  shown = location.pathname + location.search;
  profileView(main, id, via).catch(fail);
}

async function route() {
  const { pathname, search, searchParams } = new URL(location.href);
  shown = pathname + search;
  const box = document.getElementById("q");
  try {
    if (pathname === "/console" || pathname === "/console/") {
      const text = (searchParams.get("q") || "").trim();
      if (box) box.value = text;
      document.title = text ? `“${text}” — c360 console` : "c360 console";
      if (text) await searchView(main, text, navigate);
      else homeView(main);
    } else if (pathname.startsWith("/console/profile/")) {
      document.title = "Customer — c360 console";
      await profileView(main, decodeURIComponent(pathname.slice("/console/profile/".length)));
    } else if (pathname === "/console/lookup") {
      document.title = "Screen pop — c360 console";
      await lookupView(main, searchParams, openProfile, navigate);
    } else {
      replace(main, problem("There is no such page in the console."));
    }
  } catch (error) {
    fail(error);
  }
  const heading = main.querySelector("h1");
  if (heading && document.activeElement === document.body) heading.focus();
}

function fail(error) {
  replace(main, problem(`Something went wrong: ${error && error.message ? error.message : error}`));
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

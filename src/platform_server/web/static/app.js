// Progressive enhancement only: every form works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Open the workspace panel or card a redirect pointed at (e.g. after saving), and move focus there.
  const target = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  if (target) {
    if (target.tagName === "DETAILS") target.open = true;
    target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: false });
  } else {
    // After an action, bring the result to keyboard and screen-reader users first.
    const banner = document.querySelector(".banner");
    if (banner) {
      banner.setAttribute("tabindex", "-1");
      banner.focus();
    }
  }

  // A submitted form cannot be submitted twice (a sync or a connect takes a moment).
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (form.dataset.submitted === "true") {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "true";
      const button = event.submitter;
      if (button && button.dataset.busyLabel) {
        button.dataset.idleLabel = button.textContent;
        button.textContent = button.dataset.busyLabel;
        button.setAttribute("aria-busy", "true");
      }
    });
  });
});

// Coming back with the Back button (e.g. from a provider's consent page) restores a page from the cache
// with its forms still marked as submitted: make them usable again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  document.querySelectorAll("form[data-submitted]").forEach((form) => delete form.dataset.submitted);
  document.querySelectorAll("[aria-busy='true']").forEach((button) => {
    button.textContent = button.dataset.idleLabel || button.textContent;
    button.removeAttribute("aria-busy");
  });
});

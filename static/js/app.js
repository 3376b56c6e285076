/* crmviewer: small touches on top of pages that work without this file.
   - On a phone, the filters and the download options start folded (.fold), so the first
     contacts are on the first screen; the summary opens them.
   - Copy buttons ([data-copy]) for a phone number, an e-mail, a shown personnummer.
   - A lookup that takes more than a second says that it is working (#working).
   Served from this site (CSP script-src 'self'); no inline script, no external asset. */
(function () {
  "use strict";

  var phone = window.matchMedia("(max-width: 699px)");
  function foldForPhone() {
    if (!phone.matches) return;
    document.querySelectorAll("details.fold[open]").forEach(function (fold) {
      fold.open = false;
    });
  }

  function setUpCopyButtons() {
    if (!navigator.clipboard) return;  // an insecure origin has no clipboard: no buttons
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          button.textContent = button.dataset.copied || label;
          window.setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }

  // The list page: a lookup may wait on Vitec. After a second, say so until the page changes.
  var timer = null;
  function working() {
    var note = document.getElementById("working");
    if (!note || timer !== null) return;
    timer = window.setTimeout(function () {
      note.textContent = note.dataset.text;  // a live region: read out as it fills
      document.body.setAttribute("aria-busy", "true");
    }, 1000);
  }
  function goesToTheList(url) {
    return url.origin === window.location.origin && url.pathname === "/contacts/";
  }
  function watchForSlowPages() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var submitter = event.submitter;
      // A button's own formaction (the Excel and vCard downloads), else the form's action.
      var action = (submitter && submitter.getAttribute("formaction")) || form.action;
      if (!event.defaultPrevented && goesToTheList(new URL(action, window.location.href))) {
        working();
      }
    });
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[href]");
      if (!link || event.defaultPrevented || event.button !== 0) return;
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      if (link.target || link.hasAttribute("download")) return;
      var url = new URL(link.href, window.location.href);
      if (goesToTheList(url) && url.search !== window.location.search) working();
    });
    window.addEventListener("pageshow", function () {  // back from the next page: not working
      var note = document.getElementById("working");
      if (timer !== null) window.clearTimeout(timer);
      timer = null;
      if (note) note.textContent = "";
      document.body.removeAttribute("aria-busy");
    });
  }

  foldForPhone();
  setUpCopyButtons();
  watchForSlowPages();
})();

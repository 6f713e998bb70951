// Klaxon console: live refresh. Pages work without this file; with it, an element marked
// data-refresh is re-fetched as a fragment every few seconds and swapped in place.
(function () {
  "use strict";
  var region = document.querySelector("[data-refresh]");
  if (!region || !window.fetch) {
    return;
  }
  var seconds = parseInt(region.getAttribute("data-refresh"), 10) || 5;
  function fragmentUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    return url.toString();
  }
  function busy() {
    // Never swap the region under someone typing or about to click.
    // Nor while incidents are ticked for a bulk action: the swap would untick them.
    var active = document.activeElement;
    if (region.querySelector("input[type=checkbox]:checked")) {
      return true;
    }
    return active && region.contains(active) && active !== document.body;
  }
  function refresh() {
    if (document.hidden || busy()) {
      return;
    }
    fetch(fragmentUrl(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401 || response.redirected) {
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== undefined && html !== region.innerHTML) {
          region.innerHTML = html;
        }
      })
      .catch(function () { /* offline: try again next time */ });
  }
  window.setInterval(refresh, seconds * 1000);
})();

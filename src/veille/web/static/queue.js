// Veille: keeps the queue's rows current without a reload (the page works without it).
// Every 15 seconds (or ?poll=N seconds) it asks the server for the rows of the same view and puts them in
// place, keeping the reports ticked; a screen reader hears how many are open.
(function () {
  "use strict";
  var table = document.querySelector("table[data-fragment]");
  var rows = document.getElementById("queue-rows");
  var live = document.getElementById("queue-live");
  if (!table || !rows || !window.fetch) { return; }
  var lastOpen = table.getAttribute("data-open");
  function refresh() {
    fetch(table.getAttribute("data-fragment"), { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (!answer.ok || answer.redirected) { return null; }
        return answer.text().then(function (html) { return [answer, html]; });
      })
      .then(function (got) {
        if (!got) { return; }
        var ticked = {};
        rows.querySelectorAll("input[name=report_id]:checked").forEach(function (box) {
          ticked[box.value] = true;
        });
        rows.innerHTML = got[1];
        rows.querySelectorAll("input[name=report_id]").forEach(function (box) {
          box.checked = !!ticked[box.value];
        });
        var open = got[0].headers.get("X-Queue-Open");
        if (live && open !== null && open !== lastOpen) {
          live.textContent = live.getAttribute("data-template").replace("%s", open);
        }
        lastOpen = open;
      })
      .catch(function () { /* the next tick tries again */ });
  }
  var every = parseInt(table.getAttribute("data-every"), 10) || 15000;
  window.setInterval(refresh, Math.max(every, 1000));
})();

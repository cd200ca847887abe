/* A case's PACS page: while a pull runs, the retrievals table is fetched again every 4 s and swapped in place
   (announced politely); it stops once none runs. Without JavaScript the "Update the progress" link does it. */
(function () {
  "use strict";
  var section = document.getElementById("pacs-jobs");
  if (!section || section.getAttribute("data-running") !== "true" || !window.fetch || !window.DOMParser) return;
  var url = section.getAttribute("data-url");
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}}).then(function (answer) {
      return answer.ok ? answer.text() : Promise.reject(answer.status);
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("pacs-jobs");
      if (!fresh) return;
      section.innerHTML = fresh.innerHTML;
      if (fresh.getAttribute("data-running") === "true") window.setTimeout(poll, 4000);
    }).catch(function () { /* the link stays: the coordinator updates by hand */ });
  }
  window.setTimeout(poll, 4000);
})();

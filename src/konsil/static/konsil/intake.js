/* Intake: search-as-you-type for ICD-10-CM codes (progressive enhancement: the form works without it).
   Each input marked data-icd10-lookup asks the JSON endpoint for titles and fills the shared <datalist>;
   picking an entry ("C50.911 — Malignant neoplasm ...") keeps only the code. */
(function () {
  "use strict";
  var SEP = " — ";
  var timer = null;
  var last = "";

  function fill(list, results) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    results.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.code + SEP + item.title;
      list.appendChild(option);
    });
  }

  function lookup(input) {
    var q = input.value.trim();
    var list = document.getElementById(input.getAttribute("list"));
    var status = document.getElementById("icd10-status");
    if (!list || q.length < 2 || q === last || q.indexOf(SEP) !== -1) { return; }
    last = q;
    var url = input.getAttribute("data-icd10-lookup") + "?limit=15&q=" + encodeURIComponent(q.slice(0, 100));
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (results) {
        fill(list, results);
        if (status) { status.textContent = results.length ? "" : (status.getAttribute("data-none") || ""); }
      })
      .catch(function () { /* the lookup is a help, never a requirement */ });
  }

  function keepCode(input) {
    var at = input.value.indexOf(SEP);
    if (at > 0) { input.value = input.value.slice(0, at).trim(); }
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.hasAttribute || !input.hasAttribute("data-icd10-lookup")) { return; }
    if (input.value.indexOf(SEP) !== -1) { keepCode(input); return; }
    clearTimeout(timer);
    timer = setTimeout(function () { lookup(input); }, 200);
  });
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.hasAttribute && input.hasAttribute("data-icd10-lookup")) { keepCode(input); }
  });
}());

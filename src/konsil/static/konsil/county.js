/* The intake's county picker: only the counties of the chosen US state are offered (the select keeps every
 * state's counties in optgroups, so the form works without this script). */
(function () {
  "use strict";
  function sync(form) {
    var state = form.querySelector('select[name="state"]');
    var county = form.querySelector('select[name="county"]');
    if (!state || !county) return;
    var chosen = state.value;
    Array.prototype.forEach.call(county.querySelectorAll("optgroup"), function (group) {
      var show = group.label === chosen;
      group.hidden = !show;
      group.disabled = !show;
    });
    var selected = county.selectedOptions[0];
    if (selected && selected.parentElement.tagName === "OPTGROUP" && selected.parentElement.label !== chosen) {
      county.value = "";
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target.name === "state" && event.target.form) sync(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form"), sync);
  });
})();

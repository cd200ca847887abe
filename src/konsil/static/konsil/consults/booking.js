// Booking: show the slots in the browser's own time zone on the first visit (the page works without this).
(function () {
  "use strict";
  var form = document.getElementById("zone-form");
  if (!form || form.dataset.zoneAuto !== "1") return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  var select = form.querySelector("select[name=patient_time_zone]");
  if (!zone || !select || select.value === zone) return;
  var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
  if (!known) {
    var option = document.createElement("option");
    option.value = zone; option.textContent = zone.replace(/_/g, " ");
    select.insertBefore(option, select.firstChild);
  }
  select.value = zone;
  form.submit();
})();

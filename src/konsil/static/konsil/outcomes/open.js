// The follow-up link carries its secret after "#": browsers never send it to a server, so it is in no access log.
// Read it, wipe it from the address bar and history, and post it (the page's form works without this script).
(function () {
  "use strict";
  var secret = window.location.hash.replace(/^#/, "");
  var form = document.getElementById("code-form");
  var opening = document.getElementById("opening");
  if (!secret || !form || document.getElementById("link-error")) {
    if (opening) opening.hidden = true;
    return;
  }
  history.replaceState(null, "", window.location.pathname);
  form.querySelector("input[name=token]").value = decodeURIComponent(secret);
  form.submit();
})();

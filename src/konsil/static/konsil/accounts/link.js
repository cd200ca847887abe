// Single-use links keep their secret after "#": browsers never send it to a server, so no access log sees it.
// Read it, wipe it from the address bar and history, and post it (accounts.links). Without JavaScript the
// person pastes the link into the same form.
(function () {
  "use strict";
  var secret = window.location.hash.replace(/^#/, "");
  var form = document.getElementById("link-form");
  if (!secret || !form) {
    return;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);  // ?next= holds no secret
  var field = form.querySelector("input[name=link]");
  if (!field || form.querySelector(".has-error")) {
    return;
  }
  field.value = secret;
  form.hidden = true;
  var wait = document.getElementById("link-wait");
  if (wait) {
    wait.hidden = false;
  }
  form.submit();
})();

// Passkeys (WebAuthn): add one on the passkeys page, use one at the second-factor step, or sign in with one
// alone from the sign-in page. The server's steps are accounts/passkey_views.py; nothing here is inline.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;  // the buttons stay hidden; passwords, codes and recovery codes still work
  }

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrf(root) {
    var field = root.querySelector("input[name=csrfmiddlewaretoken]") ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function post(url, token, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"X-CSRFToken": token, "Content-Type": "application/json"},
                       body: JSON.stringify(body || {})})
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            var errors = data.errors || {};
            var first = Object.keys(errors).map(function (k) { return errors[k][0]; })[0];
            throw new Error(first || data.detail || data.message || response.statusText);
          }
          return data;
        });
      });
  }

  function credentialJSON(credential) {
    var r = credential.response, out = {id: credential.id, rawId: toB64url(credential.rawId), type: credential.type,
                                        response: {clientDataJSON: toB64url(r.clientDataJSON)},
                                        clientExtensionResults: credential.getClientExtensionResults()};
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      out.response.userHandle = r.userHandle ? toB64url(r.userHandle) : null;
    }
    return out;
  }

  function say(box, text) {
    if (box) { box.textContent = text; box.hidden = !text; }
  }

  function add(root) {
    var button = root.querySelector("[data-passkey-add]"), status = root.querySelector("[data-passkey-status]");
    var token = csrf(root);
    button.addEventListener("click", function () {
      say(status, "");
      var name = (root.querySelector("input[name=passkey_name]") || {}).value || "";
      post(button.dataset.optionsUrl, token).then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
        return navigator.credentials.create({publicKey: options});
      }).then(function (credential) {
        return post(button.dataset.url, token, {credential: credentialJSON(credential), name: name});
      }).then(function () {
        window.location.assign(button.dataset.next || window.location.pathname);
      }).catch(function (error) { say(status, error.message || String(error)); });
    });
  }

  function use(root) {
    var button = root.querySelector("[data-passkey-use]"), status = root.querySelector("[data-passkey-status]");
    var token = csrf(root);
    button.addEventListener("click", function () {
      say(status, "");
      post(button.dataset.optionsUrl, token).then(function (options) {
        options.challenge = toBytes(options.challenge);
        (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
        return navigator.credentials.get({publicKey: options});
      }).then(function (credential) {
        return post(button.dataset.url, token, {credential: credentialJSON(credential)});
      }).then(function (data) {
        window.location.assign(data.redirect || "/");
      }).catch(function (error) { say(status, error.message || String(error)); });
    });
  }

  document.querySelectorAll("[data-passkey-root]").forEach(function (root) {
    root.hidden = false;
    if (root.querySelector("[data-passkey-add]")) { add(root); }
    if (root.querySelector("[data-passkey-use]")) { use(root); }
  });
})();

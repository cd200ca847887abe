/* Konsil: small progressive enhancements (loaded with defer). Every page also works without it.
 *  - select[data-autosubmit]: submit its form on change.
 *  - form[data-autosave="URL"]: after 800 ms without typing, POST the form (FormData + CSRF header) to URL;
 *    status text in [data-autosave-status] from data-saving-text / data-saved-text / data-error-text;
 *    a JSON answer {"errors": {field: [messages]}} marks the named fields.
 *  - [data-confirm="question"]: ask before the click goes through.
 *  - the konsil_tz cookie: the browser's time zone, for the dates the server writes.
 */
(function () {
  "use strict";

  function csrfToken(form) {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
  });

  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  });

  function setupAutosave(form) {
    var url = form.getAttribute("data-autosave");
    var status = form.querySelector("[data-autosave-status]");
    var texts = {
      saving: form.getAttribute("data-saving-text") || "Saving…",
      saved: form.getAttribute("data-saved-text") || "Saved",
      error: form.getAttribute("data-error-text") || "Not saved"
    };
    var timer = null;
    var busy = false;
    var again = false;

    function say(text, isError) {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("is-error", !!isError);
    }

    function clearErrors() {
      form.querySelectorAll("[data-autosave-error]").forEach(function (el) { el.remove(); });
      form.querySelectorAll("[data-autosave-invalid]").forEach(function (el) {
        el.removeAttribute("aria-invalid");
        el.removeAttribute("data-autosave-invalid");
      });
    }

    function showErrors(errors) {
      Object.keys(errors).forEach(function (name) {
        var note = document.createElement("p");
        note.className = "field-error";
        note.setAttribute("data-autosave-error", "");
        note.textContent = [].concat(errors[name]).join(" ");
        var input = form.querySelector('[name="' + cssEscape(name) + '"]') ||
          form.querySelector('[data-field="' + cssEscape(name) + '"]');
        if (!input) {
          if (status) status.insertAdjacentElement("beforebegin", note); else form.prepend(note);
          return;
        }
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("data-autosave-invalid", "");
        var box = input.closest(".field");
        if (box && form.contains(box)) box.appendChild(note); else input.insertAdjacentElement("afterend", note);
      });
    }

    function save() {
      if (busy) { again = true; return; }
      busy = true;
      say(texts.saving, false);
      fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form), "X-Requested-With": "XMLHttpRequest", "Accept": "application/json" }
      }).then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("json") !== -1;
        return (json ? response.json() : Promise.resolve(null)).then(function (data) {
          return { ok: response.ok, data: data || {} };
        });
      }).then(function (result) {
        clearErrors();
        var errors = result.data.errors || {};
        if (Object.keys(errors).length) {
          showErrors(errors);
          say(texts.error, true);
        } else if (result.ok) {
          say(texts.saved, false);
        } else {
          say(result.data.detail || texts.error, true);
        }
      }).catch(function () {
        say(texts.error, true);
      }).then(function () {
        busy = false;
        if (again) { again = false; save(); }
      });
    }

    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(save, 800);
    });
    form.addEventListener("submit", function () { clearTimeout(timer); });
  }

  function init() {
    document.querySelectorAll("form[data-autosave]").forEach(setupAutosave);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();

/* Demo sign-in: a button with data-demo-email / data-demo-password fills the sign-in form (no inline script). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-demo-email]") : null;
    if (!button) return;
    var form = document.getElementById("login-form");
    if (!form) return;
    var email = form.querySelector('input[name="email"]');
    var password = form.querySelector('input[name="password"]');
    if (email) email.value = button.getAttribute("data-demo-email");
    if (password) password.value = button.getAttribute("data-demo-password") || "";
    var submit = form.querySelector('button[type="submit"]');
    if (submit) submit.focus();
  });
})();

/* Tables that scroll sideways on small screens can be scrolled with the keyboard too (tabindex, a named region). */
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        var caption = wrap.querySelector("caption");
        var heading = caption ? caption.textContent.trim() : "";
        if (heading && !wrap.hasAttribute("aria-label")) wrap.setAttribute("aria-label", heading);
        wrap.setAttribute("data-scroll-marked", "");
      } else if (!scrolls && wrap.hasAttribute("data-scroll-marked")) {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("data-scroll-marked");
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark); else mark();
  window.addEventListener("resize", mark);
})();

/* A form that comes back with errors: move focus to its error summary so it is read first. */
(function () {
  "use strict";
  function focusSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusSummary); else focusSummary();
})();

/* Times in the reader's zone: the browser's IANA time zone goes into the konsil_tz cookie, and the server writes
 * every date and time of the pages in it from the next page on (core/zones.py; not personal data). */
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) return;  /* an IANA name: as it is in the cookie */
  var match = document.cookie.match(/(?:^|;\s*)konsil_tz=([^;]*)/);
  if (match && match[1] === zone) return;
  document.cookie = "konsil_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
    (location.protocol === "https:" ? "; Secure" : "");
})();

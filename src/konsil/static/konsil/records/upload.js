/* Konsil records upload (progressive enhancement of templates/records/_upload_widget.html).
 *
 * [data-upload-widget] carries the endpoints, limits, CSRF token and the translated texts (data-msg-*, data-label-*).
 * Without tus-js-client (vendor/tus/tus.min.js) or without script the plain multipart form stays.
 *  - Files come from three pickers (files, a CD/USB folder via webkitdirectory, the phone camera) or a drop zone
 *    (dropped folders are walked). A folder is one study: its total size is checked against max_study_bytes, its
 *    files do not count against max_batch_files, and disc junk (programs, autorun, viewer files) is skipped.
 *  - Each file is one tus upload (creation + resumable PATCH, termination on cancel), at most 3 at a time. The
 *    fingerprint is a SHA-256 of name, size, date, relative path and endpoint, and the URL storage keeps no metadata,
 *    so no file name lands in localStorage; a reload or a lost connection resumes where it stopped.
 *  - The files list (files_url) is rendered on load and polled every 2 s while a file is queued or processing.
 */
(function () {
  "use strict";

  var PARALLEL_UPLOADS = 3;
  var POLL_MS = 2000;
  var POLL_ERROR_MS = 10000;
  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
  var JUNK_EXTENSIONS = [".exe", ".dll", ".msi", ".bat", ".cmd", ".com", ".jar", ".ini", ".inf", ".htm", ".html",
    ".js", ".css", ".ico"];
  var JUNK_NAMES = [".ds_store", "thumbs.db", "desktop.ini"];
  var PENDING_STATUSES = ["queued", "processing"];

  /* ---- small helpers ---- */

  function fmt(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
    });
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function pageLanguage() {
    return document.documentElement.lang || undefined;
  }

  /* Steps of 1024 labelled kB, MB, ... like Django's filesizeformat, so the page and the script agree (bytes
     spelled out: "90 bytes", as the server writes them, not "90B"). */
  function formatBytes(bytes) {
    var units = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte"];
    var value = Math.max(0, Number(bytes) || 0);
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    try {
      return new Intl.NumberFormat(pageLanguage(), {
        style: "unit", unit: units[unit], unitDisplay: unit ? "short" : "long", maximumFractionDigits: unit ? 1 : 0
      }).format(value);
    } catch (e) {
      return value.toFixed(unit ? 1 : 0) + " " + ["B", "kB", "MB", "GB", "TB"][unit];
    }
  }

  function formatDate(iso) {
    var date = new Date(iso);
    if (!iso || isNaN(date.getTime())) return "";
    try {
      // as the page writes its dates: the long date, in the time zone the server renders them in
      var zone = document.documentElement.getAttribute("data-time-zone") || undefined;
      return new Intl.DateTimeFormat(pageLanguage(), { dateStyle: "long", timeStyle: "short", timeZone: zone })
        .format(date);
    } catch (e) {
      return date.toLocaleString();
    }
  }

  function randomUuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  /* Not cryptographic: only for pages served over plain http (no crypto.subtle), so names still stay out of storage. */
  function weakHashHex(text) {
    var h1 = 0xdeadbeef;
    var h2 = 0x41c6ce57;
    for (var i = 0; i < text.length; i += 1) {
      var code = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
  }

  async function sha256Hex(text) {
    if (!(window.crypto && crypto.subtle)) return weakHashHex(text);
    var digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.prototype.map.call(new Uint8Array(digest), function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
  }

  function isJunk(path) {
    var lower = String(path || "").toLowerCase();
    var parts = lower.split("/");
    var name = parts[parts.length - 1];
    if (parts.indexOf("__macosx") !== -1 || name.indexOf("._") === 0) return true;
    if (JUNK_NAMES.indexOf(name) !== -1) return true;
    return JUNK_EXTENSIONS.some(function (ext) { return name.slice(-ext.length) === ext; });
  }

  /* tus keeps {size, metadata, creationTime, uploadUrl} per fingerprint; drop the metadata (it holds the name). */
  function storageWithoutMetadata(inner) {
    return {
      findAllUploads: function () { return inner.findAllUploads(); },
      findUploadsByFingerprint: function (fp) { return inner.findUploadsByFingerprint(fp); },
      removeUpload: function (key) { return inner.removeUpload(key); },
      addUpload: function (fp, upload) { return inner.addUpload(fp, Object.assign({}, upload, { metadata: {} })); }
    };
  }

  function serverMessage(response) {
    if (!response || typeof response.getBody !== "function") return "";
    try {
      var data = JSON.parse(response.getBody() || "");
      return data && typeof data.error === "string" ? data.error : "";
    } catch (e) {
      return "";
    }
  }

  /* Do not retry what the server refused on purpose (a JSON {"error"} answer, or a 4xx other than 409/423). */
  function shouldRetry(err) {
    var response = err && err.originalResponse;
    if (serverMessage(response)) return false;
    var status = response ? response.getStatus() : 0;
    if (status >= 400 && status < 500 && status !== 409 && status !== 423) return false;
    return navigator.onLine !== false;
  }

  /* ---- reading dropped folders ---- */

  function readAllEntries(reader) {
    return new Promise(function (resolve, reject) {
      var all = [];
      (function next() {
        reader.readEntries(function (batch) {
          if (!batch.length) { resolve(all); return; }
          all = all.concat(Array.prototype.slice.call(batch));
          next();
        }, reject);
      })();
    });
  }

  async function walkEntry(entry) {
    if (entry.isFile) {
      var file = await new Promise(function (resolve, reject) { entry.file(resolve, reject); });
      return [{ file: file, relpath: entry.fullPath.replace(/^\//, "") }];
    }
    var children = await readAllEntries(entry.createReader());
    var lists = await Promise.all(children.map(walkEntry));
    return [].concat.apply([], lists);
  }

  async function readDrop(dataTransfer) {
    var picked = { singles: [], folders: [] };
    var items = Array.prototype.slice.call(dataTransfer.items || []);
    var entries = items.map(function (item) {
      return item.kind === "file" && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    });
    if (!entries.some(Boolean)) {
      picked.singles = Array.prototype.slice.call(dataTransfer.files || []);
      return picked;
    }
    for (var i = 0; i < entries.length; i += 1) {
      var entry = entries[i];
      if (!entry) continue;
      if (entry.isDirectory) {
        picked.folders.push({ name: entry.name, files: await walkEntry(entry) });
      } else {
        picked.singles.push((await walkEntry(entry))[0].file);
      }
    }
    return picked;
  }

  /* ---- the widget ---- */

  function UploadWidget(root) {
    this.root = root;
    var data = root.dataset;
    this.endpoint = data.endpoint;
    this.filesUrl = data.filesUrl;
    this.csrfToken = data.csrfToken || "";
    this.maxStudyBytes = parseInt(data.maxStudyBytes, 10) || Infinity;
    this.maxBatchFiles = parseInt(data.maxBatchFiles, 10) || Infinity;
    this.chunkBytes = parseInt(data.chunkBytes, 10) || Infinity;
    this.items = [];
    this.active = 0;
    this.nextId = 1;
    this.renderQueued = false;
    this.lastSummary = "";
    this.storage = null;
    this.files = new FilesList(root, this);
  }

  UploadWidget.prototype.msg = function (name, values) {
    return fmt(this.root.getAttribute("data-msg-" + name), values || {});
  };

  /* data-msg-NAME-one when the language calls `count` singular (Intl.PluralRules), else data-msg-NAME. */
  UploadWidget.prototype.countMsg = function (name, count, values) {
    var one = this.root.getAttribute("data-msg-" + name + "-one");
    var category = "other";
    try { category = new Intl.PluralRules(pageLanguage()).select(count); } catch (e) { category = "other"; }
    return fmt(one && category === "one" ? one : this.root.getAttribute("data-msg-" + name), values);
  };

  UploadWidget.prototype.label = function (name) {
    return this.root.getAttribute("data-label-" + name) || name;
  };

  UploadWidget.prototype.part = function (selector) {
    return this.root.querySelector(selector);
  };

  UploadWidget.prototype.enhance = function () {
    var tus = window.tus;
    if (!tus || !tus.isSupported || !this.endpoint) return;
    this.tus = tus;
    this.storage = tus.defaultOptions && tus.defaultOptions.urlStorage
      ? storageWithoutMetadata(tus.defaultOptions.urlStorage) : undefined;
    var fallback = this.part("[data-upload-fallback]");
    if (fallback) fallback.hidden = true;
    this.part("[data-upload-rich]").hidden = false;
    this.bindPickers();
    this.bindDropZone();
  };

  UploadWidget.prototype.bindPickers = function () {
    var self = this;
    this.root.querySelectorAll("[data-pick]").forEach(function (button) {
      var input = self.part('[data-input="' + button.getAttribute("data-pick") + '"]');
      if (!input) { button.hidden = true; return; }
      button.addEventListener("click", function () { input.click(); });
    });
    this.root.querySelectorAll("input[data-input]").forEach(function (input) {
      input.addEventListener("change", function () {
        var files = Array.prototype.slice.call(input.files || []);
        input.value = "";
        if (!files.length) return;
        if (input.getAttribute("data-input") === "folder") {
          var first = files[0].webkitRelativePath || files[0].name;
          self.addBatch({
            singles: [],
            folders: [{
              name: first.split("/")[0],
              files: files.map(function (f) { return { file: f, relpath: f.webkitRelativePath || f.name }; })
            }]
          });
        } else {
          self.addBatch({ singles: files, folders: [] });
        }
      });
    });
  };

  UploadWidget.prototype.bindDropZone = function () {
    var self = this;
    var zone = this.part("[data-drop-zone]");
    if (!zone) return;
    var depth = 0;
    zone.addEventListener("dragenter", function (event) {
      event.preventDefault();
      depth += 1;
      zone.classList.add("is-dragover");
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("is-dragover");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("is-dragover");
      readDrop(event.dataTransfer).then(function (picked) { self.addBatch(picked); }, function () {
        self.showAlerts([self.msg("generic-error")]);
      });
    });
  };

  UploadWidget.prototype.showAlerts = function (messages) {
    var box = this.part("[data-upload-alert]");
    box.textContent = "";
    messages.forEach(function (text) { box.appendChild(make("p", null, text)); });
    box.hidden = !messages.length;
  };

  UploadWidget.prototype.showNote = function (text) {
    var note = this.part("[data-upload-note]");
    note.textContent = text || "";
    note.hidden = !text;
  };

  /* picked = {singles: [File], folders: [{name, files: [{file, relpath}]}]} */
  UploadWidget.prototype.addBatch = function (picked) {
    var self = this;
    var alerts = [];
    var ignored = 0;
    if (picked.singles.length > this.maxBatchFiles) {
      this.showAlerts([this.msg("too-many", { count: picked.singles.length, max: this.maxBatchFiles })]);
      this.showNote("");
      return;
    }
    var batch = randomUuid();
    picked.singles.forEach(function (file) { self.addItem(file, "", batch, null); });
    picked.folders.forEach(function (folder) {
      var usable = folder.files.filter(function (entry) { return !isJunk(entry.relpath) && entry.file.size > 0; });
      ignored += folder.files.length - usable.length;
      var total = usable.reduce(function (sum, entry) { return sum + entry.file.size; }, 0);
      if (!usable.length) {
        alerts.push(self.msg("folder-empty", { name: folder.name }));
      } else if (total > self.maxStudyBytes) {
        alerts.push(self.msg("folder-too-large", {
          name: folder.name, size: formatBytes(total), limit: formatBytes(self.maxStudyBytes)
        }));
      } else {
        var group = self.addGroup(folder.name);
        usable.forEach(function (entry) { self.addItem(entry.file, entry.relpath, batch, group); });
      }
    });
    this.showAlerts(alerts);
    this.showNote(ignored ? this.msg("ignored", { count: ignored }) : "");
    this.scheduleRender();
    this.pump();
  };

  UploadWidget.prototype.addGroup = function (name) {
    var group = { name: name, items: [] };
    var li = make("li", "upload-group");
    var details = make("details");
    var summary = make("summary");
    group.title = make("span", "upload-name", this.label("folder") + ": " + name);
    group.count = make("span", "upload-count muted small");
    group.progress = make("progress");
    group.progress.max = 1;
    group.progress.value = 0;
    group.progress.setAttribute("aria-label", name);
    summary.append(group.title, " ", group.count, group.progress);
    group.list = make("ul", "upload-queue");
    details.append(summary, group.list);
    li.appendChild(details);
    this.part("[data-upload-queue]").appendChild(li);
    return group;
  };

  UploadWidget.prototype.keyOf = function (file, relpath) {
    return [file.name, file.size, file.lastModified, relpath].join("|");
  };

  UploadWidget.prototype.addItem = function (file, relpath, batch, group) {
    var item = {
      id: this.nextId++, file: file, relpath: relpath, batch: batch, group: group,
      state: "waiting", sent: 0, error: "", upload: null
    };
    var key = this.keyOf(file, relpath);
    var busy = this.items.some(function (other) {
      return (other.state === "waiting" || other.state === "uploading") && other.key === key;
    });
    item.key = key;
    if (file.size === 0) this.refuse(item, this.msg("empty"));
    else if (file.size > this.maxStudyBytes) this.refuse(item, this.msg("too-large", { limit: formatBytes(this.maxStudyBytes) }));
    else if (busy) this.refuse(item, this.msg("duplicate"));
    this.items.push(item);
    if (group) group.items.push(item);
    this.buildRow(item);
    return item;
  };

  UploadWidget.prototype.refuse = function (item, message) {
    item.state = "refused";
    item.error = message;
  };

  UploadWidget.prototype.buildRow = function (item) {
    var self = this;
    var name = item.relpath || item.file.name;
    var row = make("li", "upload-item");
    var head = make("div", "upload-item-head");
    var title = make("span", "upload-name", name);
    title.title = name;
    item.stateBadge = make("span", "pill upload-state");
    head.append(title, item.stateBadge);
    item.bar = make("progress");
    item.bar.max = Math.max(1, item.file.size);
    item.bar.value = 0;
    item.bar.setAttribute("aria-label", name);
    item.errorText = make("p", "field-error");
    var actions = make("div", "upload-item-actions");
    item.retryButton = make("button", "small", this.label("retry"));
    item.retryButton.type = "button";
    item.retryButton.setAttribute("aria-label", this.label("retry") + ": " + name);
    item.retryButton.addEventListener("click", function () { self.retry(item); });
    item.cancelButton = make("button", "small", this.label("cancel"));
    item.cancelButton.type = "button";
    item.cancelButton.setAttribute("aria-label", this.label("cancel") + ": " + name);
    item.cancelButton.addEventListener("click", function () { self.cancel(item); });
    actions.append(item.retryButton, item.cancelButton);
    row.append(head, item.bar, item.errorText, actions);
    item.row = row;
    (item.group ? item.group.list : this.part("[data-upload-queue]")).appendChild(row);
    this.updateRow(item);
  };

  UploadWidget.prototype.updateRow = function (item) {
    item.row.setAttribute("data-state", item.state);
    item.stateBadge.textContent = this.label(item.state);
    item.bar.hidden = item.state === "refused" || item.state === "cancelled";
    item.bar.value = item.state === "done" ? item.bar.max : item.sent;
    item.errorText.textContent = item.error;
    item.errorText.hidden = !item.error;
    item.retryButton.hidden = item.state !== "failed";
    item.cancelButton.hidden = ["waiting", "uploading", "failed"].indexOf(item.state) === -1;
  };

  function isCounted(item) {
    return item.state !== "refused" && item.state !== "cancelled";
  }

  /* Bytes and files of the uploads that count (not refused, not cancelled). */
  function tally(items) {
    var result = { files: 0, totalBytes: 0, sentBytes: 0, done: 0, failed: 0 };
    items.filter(isCounted).forEach(function (item) {
      result.files += 1;
      result.totalBytes += item.file.size;
      result.sentBytes += item.state === "done" ? item.file.size : item.sent;
      if (item.state === "done") result.done += 1;
      if (item.state === "failed") result.failed += 1;
    });
    return result;
  }

  UploadWidget.prototype.scheduleRender = function () {
    var self = this;
    if (this.renderQueued) return;
    this.renderQueued = true;
    window.requestAnimationFrame(function () {
      self.renderQueued = false;
      self.renderTotals();
    });
  };

  UploadWidget.prototype.renderTotals = function () {
    var sums = tally(this.items);
    this.part("[data-upload-overall-box]").hidden = !sums.files;
    var bar = this.part("[data-upload-overall]");
    bar.max = Math.max(1, sums.totalBytes);
    bar.value = sums.sentBytes;
    var summary = this.countMsg("progress", sums.files, { done: sums.done, total: sums.files });
    if (sums.failed) summary += " · " + this.msg("failed-count", { count: sums.failed });
    if (summary !== this.lastSummary) {
      this.lastSummary = summary;
      this.part("[data-upload-summary]").textContent = summary;
    }
    this.renderGroups();
  };

  UploadWidget.prototype.renderGroups = function () {
    var self = this;
    var groups = [];
    this.items.forEach(function (item) {
      if (item.group && groups.indexOf(item.group) === -1) groups.push(item.group);
    });
    groups.forEach(function (group) {
      var sums = tally(group.items);
      group.progress.max = Math.max(1, sums.totalBytes);
      group.progress.value = sums.sentBytes;
      group.count.textContent = self.msg("folder-progress", { done: sums.done, total: sums.files });
    });
  };

  UploadWidget.prototype.pump = function () {
    while (this.active < PARALLEL_UPLOADS) {
      var next = this.items.find(function (item) { return item.state === "waiting"; });
      if (!next) break;
      this.start(next);
    }
    if (!this.active && !this.items.some(function (item) { return item.state === "waiting"; })) {
      this.files.refresh();
    }
  };

  UploadWidget.prototype.fingerprintFor = function (item) {
    var endpoint = this.endpoint;
    return function (file) {
      var text = [file.name, file.size, file.lastModified, item.relpath, endpoint].join("|");
      return sha256Hex(text).then(function (hex) { return "konsil-" + hex; });
    };
  };

  UploadWidget.prototype.start = function (item) {
    var self = this;
    item.state = "uploading";
    item.error = "";
    this.active += 1;
    var options = {
      endpoint: this.endpoint,
      chunkSize: this.chunkBytes,
      retryDelays: RETRY_DELAYS,
      metadata: {
        filename: item.file.name,
        filetype: item.file.type || "",
        batch: item.batch,
        relativepath: item.file.webkitRelativePath || item.relpath || ""
      },
      headers: { "X-CSRFToken": this.csrfToken },
      removeFingerprintOnSuccess: true,
      fingerprint: this.fingerprintFor(item),
      onShouldRetry: shouldRetry,
      onProgress: function (sent) {
        if (item.upload !== upload || item.state !== "uploading") return;
        item.sent = sent;
        item.bar.value = sent;
        self.scheduleRender();
      },
      onSuccess: function () {
        if (item.upload === upload) self.finish(item, "done", "");
      },
      onError: function (err) {
        if (item.upload === upload) self.finish(item, "failed", serverMessage(err && err.originalResponse) ||
          self.msg("generic-error"));
      }
    };
    if (this.storage) options.urlStorage = this.storage;
    var upload = new this.tus.Upload(item.file, options);
    item.upload = upload;
    this.updateRow(item);
    this.scheduleRender();
    upload.findPreviousUploads().then(function (previous) {
      if (item.upload !== upload || item.state !== "uploading") return;
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    }, function () {
      if (item.upload === upload && item.state === "uploading") upload.start();
    });
  };

  UploadWidget.prototype.finish = function (item, state, error) {
    if (item.state !== "uploading") return;
    this.active -= 1;
    item.state = state;
    item.error = error;
    if (state === "done") item.sent = item.file.size;
    this.updateRow(item);
    this.scheduleRender();
    if (state === "done") this.files.refreshSoon();
    this.pump();
  };

  UploadWidget.prototype.retry = function (item) {
    if (item.state !== "failed") return;
    item.state = "waiting";
    item.error = "";
    item.upload = null;
    this.updateRow(item);
    this.scheduleRender();
    this.pump();
  };

  UploadWidget.prototype.cancel = function (item) {
    var upload = item.upload;
    var wasUploading = item.state === "uploading";
    item.state = "cancelled";
    item.upload = null;
    if (wasUploading) this.active -= 1;
    if (upload) upload.abort(true).catch(function () { /* the server drops stale uploads itself */ });
    this.updateRow(item);
    this.scheduleRender();
    this.pump();
  };

  /* ---- the case's files and their processing state ---- */

  function FilesList(root, widget) {
    this.root = root;
    this.widget = widget;
    this.url = root.getAttribute("data-files-url");
    this.list = root.querySelector("[data-files-list]");
    this.status = root.querySelector("[data-files-status]");
    this.rows = new Map();
    this.timer = null;
    this.loading = false;
    this.again = false;
    this.pending = false;
    var self = this;
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) self.stop();
      else if (self.pending) self.refresh();
    });
  }

  FilesList.prototype.stop = function () {
    clearTimeout(this.timer);
    this.timer = null;
  };

  FilesList.prototype.schedule = function (delay) {
    var self = this;
    this.stop();
    if (document.hidden) return;
    this.timer = setTimeout(function () { self.refresh(); }, delay);
  };

  FilesList.prototype.refreshSoon = function () {
    this.schedule(300);
  };

  FilesList.prototype.refresh = function () {
    var self = this;
    if (!this.url || !this.list) return;
    if (this.loading) { this.again = true; return; }
    this.stop();
    this.loading = true;
    fetch(this.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        self.render((data && data.files) || []);
      }, function () {
        self.status.textContent = self.widget.msg("list-error");
        if (self.pending) self.schedule(POLL_ERROR_MS);
      })
      .then(function () {
        self.loading = false;
        if (self.again) { self.again = false; self.refresh(); }
      });
  };

  FilesList.prototype.render = function (files) {
    var self = this;
    var inProgress = files.filter(function (file) { return PENDING_STATUSES.indexOf(file.status) !== -1; }).length;
    var wasPending = this.pending;
    this.pending = inProgress > 0;
    if (this.pending) this.status.textContent = this.widget.msg("processing", { count: inProgress });
    else this.status.textContent = wasPending ? this.widget.msg("processed") : "";
    if (this.pending) this.schedule(POLL_MS); else this.stop();

    var ul = this.list.querySelector("ul.records-files");
    if (!files.length) {
      this.list.textContent = "";
      this.list.appendChild(make("p", "muted", this.widget.msg("no-files")));
      this.rows.clear();
      return;
    }
    if (!ul) {
      this.list.textContent = "";
      ul = make("ul", "records-files");
      this.list.appendChild(ul);
    }
    var seen = new Set();
    files.forEach(function (file) {
      var signature = JSON.stringify(file);
      var known = self.rows.get(file.id);
      var row = known && known.signature === signature ? known.row : self.buildRow(file);
      if (known && known.row !== row) known.row.replaceWith(row);
      self.rows.set(file.id, { row: row, signature: signature });
      seen.add(file.id);
      ul.appendChild(row);
    });
    this.rows.forEach(function (entry, id) {
      if (!seen.has(id)) { entry.row.remove(); self.rows.delete(id); }
    });
  };

  FilesList.prototype.buildRow = function (file) {
    var status = String(file.status || "");
    var row = make("li", "record-file");
    row.setAttribute("data-file-id", file.id);
    row.setAttribute("data-status", status);
    var thumb = make("div", "record-thumb");
    if (file.thumbnail_url) {
      var img = make("img");
      img.src = file.thumbnail_url;
      img.alt = "";
      img.loading = "lazy";
      img.width = 64;
      img.height = 64;
      thumb.appendChild(img);
    } else {
      /* the file's own extension (TXT, PDF, ZIP), as the patient knows it; the kind when the name has none */
      var name = String(file.name || "");
      var ext = (name.lastIndexOf(".") > 0 ? name.split(".").pop() : String(file.kind || "")).slice(0, 5);
      var placeholder = make("span", "record-thumb-placeholder", ext.toUpperCase());
      placeholder.setAttribute("aria-hidden", "true");
      thumb.appendChild(placeholder);
    }
    var body = make("div", "record-body");
    var name = make("p", "record-name");
    if (file.download_url) {
      var link = make("a", null, file.name);
      link.href = file.download_url;
      name.appendChild(link);
    } else {
      name.textContent = file.name;
    }
    var meta = make("p", "record-meta small");
    meta.appendChild(make("span", "pill file-status file-status-" + status.replace(/[^a-z_]/g, ""),
      file.status_label || status));
    var facts = [formatBytes(file.size), file.detail, file.created_label || formatDate(file.created_at)].filter(Boolean).join(" · ");
    meta.append(" ", make("span", "muted", facts));
    body.append(name, meta);
    if (file.error) body.appendChild(make("p", "field-error", file.error));
    row.append(thumb, body);
    return row;
  };

  function init() {
    document.querySelectorAll("[data-upload-widget]").forEach(function (root) {
      if (root.hasAttribute("data-upload-ready")) return;
      root.setAttribute("data-upload-ready", "");
      var widget = new UploadWidget(root);
      widget.enhance();
      widget.files.refresh();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();

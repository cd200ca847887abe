/* Konsil imaging viewer (progressive enhancement of templates/records/_viewer.html).
 *
 * [data-viewer] with data-imaging-url: fetches {header, presets, studies: [{series: [{frames: [url]}]}]} and shows
 * one series at a time. Every frame URL renders a PNG; the window goes in the query (preset=ID, or wc=&ww=, none for
 * the DICOM default) together with size=PX, so the cache key of a frame is its full URL.
 *  - Slices: mouse wheel, ArrowUp/ArrowDown, PageUp/PageDown, Home/End, the slider, drag or swipe (scroll tool).
 *    ArrowLeft/ArrowRight change series; +/- zoom, 0 resets. Keys work on the focusable viewport.
 *  - Loading: frames around the current slice first, outward over the whole series, at most 6 requests in flight.
 *    Loaded frames are decoded Image elements that are swapped into the stage, so showing a cached slice is
 *    immediate; while the wanted slice loads, the nearest loaded one stays on screen.
 *  - Window/level: preset select, or the W/L tool (drag sideways: width, up/down: level; requests debounced 150 ms).
 *  - Zoom and pan: buttons, keys, Ctrl+wheel or pinch; the pan tool drags (CSS transform on the stage).
 *  - The root carries data-slice (1-based), data-slices, data-series and, once the first image is on screen,
 *    data-first-image-ms; it then dispatches "konsil:viewer-ready" (detail: {firstImageMs}).
 */
(function () {
  "use strict";

  var MAX_IN_FLIGHT = 6;
  var WINDOW_DEBOUNCE_MS = 150;
  var MAX_CACHED = 3000;
  var SIZE_STEPS = [256, 512, 768, 1024];
  var ZOOM_STEP = 1.25;
  var ZOOM_MIN = 0.25;
  var ZOOM_MAX = 16;
  var PAGE_STEP = 10;
  /* Starting points for the W/L drag when the JSON gives no numbers (center, width). */
  var KNOWN_WINDOWS = {
    ct_soft_tissue: [40, 400], ct_abdomen: [60, 400], ct_mediastinum: [50, 350], ct_liver: [60, 160],
    ct_lung: [-600, 1500], ct_bone: [400, 1800], ct_brain: [40, 80], ct_subdural: [75, 215], ct_stroke: [40, 40]
  };
  var FALLBACK_WINDOW = [40, 400];

  function fmt(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
    });
  }

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function roundWindowValue(value) {
    return Math.abs(value) >= 10 ? Math.round(value) : Math.round(value * 100) / 100;
  }

  function finiteNumber(value) {
    var number = Number(value);
    return value !== null && value !== "" && isFinite(number) ? number : null;
  }

  function Viewer(root) {
    this.root = root;
    this.startedAt = performance.now();
    this.viewport = root.querySelector("[data-viewer-viewport]");
    this.stage = root.querySelector("[data-viewer-stage]");
    this.slider = root.querySelector("[data-viewer-slider]");
    this.presetSelect = root.querySelector("[data-viewer-preset]");
    this.message = root.querySelector("[data-viewer-message]");
    this.layout = root.querySelector("[data-viewer-layout]");
    this.seriesNav = root.querySelector("[data-viewer-series]");
    this.shownImage = this.stage.querySelector("img");
    this.header = {};
    this.presets = [];
    this.allSeries = [];
    this.seriesIndex = -1;
    this.slice = 0;
    this.urls = [];
    this.urlIndex = new Map();
    this.cache = new Map();
    this.queue = [];
    this.inFlight = 0;
    this.shownEntry = null;
    this.windowState = { kind: "default" };
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.tool = "scroll";
    this.pointers = new Map();
    this.gesture = null;
    this.wheelRest = 0;
    this.windowTimer = null;
    this.firstImageDone = false;
    this.frameSize = SIZE_STEPS[SIZE_STEPS.length - 1];
  }

  Viewer.prototype.msg = function (name, values) {
    return fmt(this.root.getAttribute("data-msg-" + name), values || {});
  };

  /* data-msg-NAME-one when the language calls the count singular (Intl.PluralRules), else data-msg-NAME. */
  Viewer.prototype.countMsg = function (name, count) {
    var one = this.root.getAttribute("data-msg-" + name + "-one");
    var category = "other";
    try { category = new Intl.PluralRules(document.documentElement.lang || undefined).select(count); } catch (e) { category = "other"; }
    return fmt(one && category === "one" ? one : this.root.getAttribute("data-msg-" + name), { count: count });
  };

  Viewer.prototype.start = function () {
    var self = this;
    var url = this.root.getAttribute("data-imaging-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { self.setup(data || {}); }, function () { self.say(self.msg("error"), true); });
  };

  Viewer.prototype.say = function (text, isError) {
    this.message.textContent = text;
    this.message.hidden = !text;
    this.message.classList.toggle("alert", !!isError);
    this.message.classList.toggle("error", !!isError);
  };

  Viewer.prototype.setup = function (data) {
    var self = this;
    this.header = data.header || {};
    this.presets = Array.isArray(data.presets) ? data.presets : [];
    (Array.isArray(data.studies) ? data.studies : []).forEach(function (study) {
      (Array.isArray(study.series) ? study.series : []).forEach(function (series) {
        self.allSeries.push({ study: study, series: series, frames: Array.isArray(series.frames) ? series.frames : [] });
      });
    });
    this.root.setAttribute("data-slices", "0");
    if (!this.allSeries.length) {
      this.say(this.msg("empty"), false);
      this.root.setAttribute("data-empty", "");
      this.root.dispatchEvent(new CustomEvent("konsil:viewer-ready", { bubbles: true, detail: { empty: true } }));
      return;
    }
    this.say("", false);
    this.layout.hidden = false;
    this.frameSize = this.pickFrameSize();
    this.fillPresets();
    this.buildSeriesList();
    this.bindControls();
    this.bindPointer();
    this.renderOverlay();
    var first = this.allSeries.findIndex(function (item) { return item.frames.length > 0; });
    this.selectSeries(first === -1 ? 0 : first);
  };

  Viewer.prototype.pickFrameSize = function () {
    var needed = Math.max(this.viewport.clientWidth, this.viewport.clientHeight) * (window.devicePixelRatio || 1);
    var size = SIZE_STEPS.find(function (step) { return step >= needed; });
    return size || SIZE_STEPS[SIZE_STEPS.length - 1];
  };

  /* ---- controls ---- */

  Viewer.prototype.fillPresets = function () {
    var select = this.presetSelect;
    this.presets.forEach(function (preset) {
      var option = document.createElement("option");
      option.value = "preset:" + preset.id;
      option.textContent = preset.label || preset.id;
      select.appendChild(option);
    });
    this.customOption = document.createElement("option");
    this.customOption.value = "custom";
    this.customOption.textContent = this.msg("custom-window");
    this.customOption.hidden = true;
    select.appendChild(this.customOption);
  };

  Viewer.prototype.buildSeriesList = function () {
    var self = this;
    var lists = new Map();
    this.seriesButtons = this.allSeries.map(function (item, index) {
      var list = lists.get(item.study);
      if (!list) {
        var block = document.createElement("div");
        block.className = "viewer-study";
        var title = document.createElement("p");
        title.className = "viewer-study-title";
        title.textContent = [item.study.date, item.study.description || item.study.modality].filter(Boolean).join(" · ");
        list = document.createElement("ul");
        list.className = "viewer-series-list";
        block.append(title, list);
        self.seriesNav.appendChild(block);
        lists.set(item.study, list);
      }
      var button = self.seriesButton(item, index);
      var li = document.createElement("li");
      li.appendChild(button);
      list.appendChild(li);
      return button;
    });
  };

  Viewer.prototype.seriesLabel = function (series) {
    return series.description || series.body_part || (series.number != null
      ? this.msg("series", { number: series.number }) : series.modality || "");
  };

  Viewer.prototype.seriesButton = function (item, index) {
    var self = this;
    var series = item.series;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "viewer-series-button";
    button.setAttribute("aria-pressed", "false");
    var thumb = document.createElement("span");
    thumb.className = "viewer-thumb";
    if (series.thumbnail_url) {
      var img = document.createElement("img");
      img.src = series.thumbnail_url;
      img.alt = "";
      img.loading = "lazy";
      img.width = 64;
      img.height = 64;
      thumb.appendChild(img);
    } else {
      thumb.textContent = series.modality || "";
    }
    var text = document.createElement("span");
    text.className = "viewer-series-text";
    var name = document.createElement("span");
    name.className = "viewer-series-name";
    name.textContent = this.seriesLabel(series);
    var count = document.createElement("span");
    count.className = "viewer-series-count";
    var images = item.frames.length || series.instance_count || series.frame_count || 0;
    count.textContent = [series.modality, this.countMsg("images", images)].filter(Boolean).join(" · ");
    text.append(name, count);
    button.append(thumb, text);
    if (!item.frames.length) button.title = this.msg("no-frames");
    button.addEventListener("click", function () { self.selectSeries(index); });
    return button;
  };

  Viewer.prototype.bindControls = function () {
    var self = this;
    this.slider.addEventListener("input", function () { self.showSlice(parseInt(self.slider.value, 10) - 1); });
    this.presetSelect.addEventListener("change", function () { self.choosePreset(self.presetSelect.value); });
    this.root.querySelectorAll("[data-tool]").forEach(function (button) {
      button.addEventListener("click", function () { self.setTool(button.getAttribute("data-tool")); });
    });
    var actions = {
      "zoom-in": function () { self.zoomBy(ZOOM_STEP); },
      "zoom-out": function () { self.zoomBy(1 / ZOOM_STEP); },
      reset: function () { self.resetView(true); },
      "previous-slice": function () { self.showSlice(self.slice - 1); },
      "next-slice": function () { self.showSlice(self.slice + 1); },
      fullscreen: function () { self.toggleFullscreen(); }
    };
    this.root.querySelectorAll("[data-action]").forEach(function (button) {
      var action = actions[button.getAttribute("data-action")];
      if (action) button.addEventListener("click", action);
    });
    this.viewport.addEventListener("keydown", function (event) { self.onKey(event); });
    this.viewport.addEventListener("wheel", function (event) { self.onWheel(event); }, { passive: false });
  };

  Viewer.prototype.onKey = function (event) {
    if (event.altKey || event.metaKey || event.ctrlKey) return;
    var keys = {
      ArrowUp: function (v) { v.showSlice(v.slice - 1); },
      ArrowDown: function (v) { v.showSlice(v.slice + 1); },
      PageUp: function (v) { v.showSlice(v.slice - PAGE_STEP); },
      PageDown: function (v) { v.showSlice(v.slice + PAGE_STEP); },
      Home: function (v) { v.showSlice(0); },
      End: function (v) { v.showSlice(v.urls.length - 1); },
      ArrowLeft: function (v) { v.stepSeries(-1); },
      ArrowRight: function (v) { v.stepSeries(1); },
      "+": function (v) { v.zoomBy(ZOOM_STEP); },
      "=": function (v) { v.zoomBy(ZOOM_STEP); },
      "-": function (v) { v.zoomBy(1 / ZOOM_STEP); },
      _: function (v) { v.zoomBy(1 / ZOOM_STEP); },
      0: function (v) { v.resetView(false); }
    };
    var handler = keys[event.key];
    if (!handler) return;
    event.preventDefault();
    handler(this);
  };

  Viewer.prototype.onWheel = function (event) {
    event.preventDefault();
    var scale = event.deltaMode === 1 ? 33 : event.deltaMode === 2 ? this.viewport.clientHeight : 1;
    var delta = event.deltaY * scale;
    if (event.ctrlKey) {
      var point = this.pointFromCenter(event.clientX, event.clientY);
      this.zoomBy(Math.exp(-delta * 0.002), point.x, point.y);
      return;
    }
    if (Math.abs(delta) >= 50) {
      this.wheelRest = 0;
      this.showSlice(this.slice + Math.sign(delta) * Math.max(1, Math.round(Math.abs(delta) / 100)));
      return;
    }
    this.wheelRest += delta;
    if (Math.abs(this.wheelRest) >= 50) {
      this.showSlice(this.slice + Math.sign(this.wheelRest));
      this.wheelRest = 0;
    }
  };

  Viewer.prototype.setTool = function (tool) {
    this.tool = tool;
    this.viewport.setAttribute("data-active-tool", tool);
    this.root.querySelectorAll("[data-tool]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-tool") === tool));
    });
  };

  /* ---- pointer: drag tools, swipe, pinch ---- */

  Viewer.prototype.bindPointer = function () {
    var self = this;
    var viewport = this.viewport;
    viewport.setAttribute("data-active-tool", this.tool);
    viewport.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      viewport.focus({ preventScroll: true });
      try { viewport.setPointerCapture(event.pointerId); } catch (e) { /* not an active pointer */ }
      self.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      self.beginGesture(event);
    });
    viewport.addEventListener("pointermove", function (event) {
      if (!self.pointers.has(event.pointerId)) return;
      self.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      self.moveGesture(event);
    });
    function end(event) {
      if (!self.pointers.delete(event.pointerId)) return;
      if (self.pointers.size) self.beginGesture(event); else self.gesture = null;
    }
    viewport.addEventListener("pointerup", end);
    viewport.addEventListener("pointercancel", end);
  };

  Viewer.prototype.beginGesture = function (event) {
    var points = Array.from(this.pointers.values());
    if (points.length >= 2) {
      this.gesture = { kind: "pinch", distance: this.distance(points[0], points[1]), zoom: this.zoom };
      return;
    }
    var centerWindow = this.currentWindowNumbers();
    this.gesture = {
      kind: this.tool, touch: event.pointerType === "touch", x: points[0].x, y: points[0].y,
      panX: this.panX, panY: this.panY, center: centerWindow[0], width: centerWindow[1], rest: 0, lastY: points[0].y
    };
  };

  Viewer.prototype.distance = function (a, b) {
    return Math.max(1, Math.hypot(a.x - b.x, a.y - b.y));
  };

  Viewer.prototype.moveGesture = function (event) {
    var g = this.gesture;
    if (!g) return;
    var points = Array.from(this.pointers.values());
    if (g.kind === "pinch" && points.length >= 2) {
      var mid = this.pointFromCenter((points[0].x + points[1].x) / 2, (points[0].y + points[1].y) / 2);
      this.zoomTo(g.zoom * this.distance(points[0], points[1]) / g.distance, mid.x, mid.y);
      return;
    }
    var dx = event.clientX - g.x;
    var dy = event.clientY - g.y;
    if (g.kind === "pan") {
      this.panX = g.panX + dx;
      this.panY = g.panY + dy;
      this.applyTransform();
    } else if (g.kind === "window") {
      this.setCustomWindow(g.center + dy * g.width / 256, g.width * Math.exp(dx / 200));
    } else if (g.kind === "scroll") {
      this.dragSlices(g, event.clientY);
    }
  };

  /* Mouse: drag down = next slice. Touch: swipe up = next slice, as when scrolling a page. */
  Viewer.prototype.dragSlices = function (g, y) {
    var perSlice = clamp(this.viewport.clientHeight / Math.max(1, this.urls.length), 4, 24);
    g.rest += (y - g.lastY) * (g.touch ? -1 : 1);
    g.lastY = y;
    var steps = Math.trunc(g.rest / perSlice);
    if (steps) {
      g.rest -= steps * perSlice;
      this.showSlice(this.slice + steps);
    }
  };

  /* ---- zoom and pan ---- */

  Viewer.prototype.pointFromCenter = function (clientX, clientY) {
    var box = this.viewport.getBoundingClientRect();
    return { x: clientX - box.left - box.width / 2, y: clientY - box.top - box.height / 2 };
  };

  Viewer.prototype.zoomBy = function (factor, x, y) {
    this.zoomTo(this.zoom * factor, x, y);
  };

  /* Keep the point (x, y), relative to the viewport center, where it is while zooming. */
  Viewer.prototype.zoomTo = function (zoom, x, y) {
    var next = clamp(zoom, ZOOM_MIN, ZOOM_MAX);
    var px = x || 0;
    var py = y || 0;
    var ratio = next / this.zoom;
    this.panX = px - ratio * (px - this.panX);
    this.panY = py - ratio * (py - this.panY);
    this.zoom = next;
    this.applyTransform();
  };

  /** The whole viewer on the whole screen (a laptop's review screen leaves it a narrow column). */
  Viewer.prototype.toggleFullscreen = function () {
    var root = this.root;
    if (document.fullscreenElement === root) {
      if (document.exitFullscreen) document.exitFullscreen();
    } else if (root.requestFullscreen) {
      root.requestFullscreen().then(function () { root.querySelector("[data-viewer-viewport]").focus(); },
        function () { /* refused (iframe, old browser): stay in the page */ });
    }
  };

  Viewer.prototype.resetView = function (alsoWindow) {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.applyTransform();
    if (alsoWindow && this.windowState.kind === "custom") this.choosePreset("");
  };

  Viewer.prototype.applyTransform = function () {
    this.stage.style.transform = "translate(" + this.panX + "px, " + this.panY + "px) scale(" + this.zoom + ")";
    this.renderOverlay();
  };

  /* ---- window / level ---- */

  Viewer.prototype.choosePreset = function (value) {
    if (value === "custom") return;
    if (value && value.indexOf("preset:") === 0) {
      var id = value.slice(7);
      var preset = this.presets.find(function (p) { return String(p.id) === id; });
      this.windowState = { kind: "preset", id: id, label: preset ? preset.label || id : id };
    } else {
      this.windowState = { kind: "default" };
    }
    this.presetSelect.value = value || "";
    this.customOption.hidden = true;
    this.applyWindow();
  };

  Viewer.prototype.currentWindowNumbers = function () {
    var state = this.windowState;
    if (state.kind === "custom") return [state.center, state.width];
    if (state.kind === "preset") {
      var preset = this.presets.find(function (p) { return String(p.id) === state.id; }) || {};
      var center = finiteNumber(preset.wc != null ? preset.wc : preset.center);
      var width = finiteNumber(preset.ww != null ? preset.ww : preset.width);
      if (center !== null && width !== null) return [center, width];
      if (KNOWN_WINDOWS[state.id]) return KNOWN_WINDOWS[state.id].slice();
    }
    var series = this.currentSeries() ? this.currentSeries().series : {};
    var seriesCenter = finiteNumber(series.window_center);
    var seriesWidth = finiteNumber(series.window_width);
    if (seriesCenter !== null && seriesWidth !== null) return [seriesCenter, seriesWidth];
    return FALLBACK_WINDOW.slice();
  };

  Viewer.prototype.setCustomWindow = function (center, width) {
    var self = this;
    this.windowState = {
      kind: "custom", center: roundWindowValue(center), width: Math.max(1, roundWindowValue(width))
    };
    this.customOption.hidden = false;
    this.presetSelect.value = "custom";
    this.renderOverlay();
    clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(function () { self.applyWindow(); }, WINDOW_DEBOUNCE_MS);
  };

  Viewer.prototype.windowParams = function () {
    var state = this.windowState;
    if (state.kind === "preset") return { preset: state.id };
    if (state.kind === "custom") return { wc: state.center, ww: state.width };
    return {};
  };

  Viewer.prototype.applyWindow = function () {
    clearTimeout(this.windowTimer);
    this.buildUrls();
    this.showSlice(this.slice);
  };

  /* ---- series and slices ---- */

  Viewer.prototype.currentSeries = function () {
    return this.allSeries[this.seriesIndex] || null;
  };

  Viewer.prototype.stepSeries = function (step) {
    var next = this.seriesIndex + step;
    if (next >= 0 && next < this.allSeries.length) this.selectSeries(next);
  };

  Viewer.prototype.selectSeries = function (index) {
    this.seriesIndex = index;
    var item = this.currentSeries();
    this.seriesButtons.forEach(function (button, i) { button.setAttribute("aria-pressed", String(i === index)); });
    this.revealInList(this.seriesButtons[index]);
    this.root.setAttribute("data-series", item.series.id != null ? item.series.id : "");
    this.resetView(false);
    this.buildUrls();
    this.slider.max = String(Math.max(1, this.urls.length));
    this.slider.disabled = this.urls.length < 2;
    this.root.setAttribute("data-slices", String(this.urls.length));
    this.slice = 0;
    if (!this.urls.length) {
      this.setShown(null);
      this.renderOverlay();
      this.setFrameError(this.msg("no-frames"));
      return;
    }
    this.showSlice(0);
  };

  /* Scroll the series list (never the page) so the chosen series is in view. */
  Viewer.prototype.revealInList = function (button) {
    var nav = this.seriesNav;
    if (!button) return;
    var box = nav.getBoundingClientRect();
    var item = button.getBoundingClientRect();
    if (item.left < box.left) nav.scrollLeft -= box.left - item.left;
    else if (item.right > box.right) nav.scrollLeft += item.right - box.right;
    if (item.top < box.top) nav.scrollTop -= box.top - item.top;
    else if (item.bottom > box.bottom) nav.scrollTop += item.bottom - box.bottom;
  };

  Viewer.prototype.frameUrl = function (base, params) {
    var url = new URL(base, window.location.href);
    ["preset", "wc", "ww", "size"].forEach(function (key) { url.searchParams.delete(key); });
    Object.keys(params).forEach(function (key) { url.searchParams.set(key, params[key]); });
    url.searchParams.set("size", String(this.frameSize));
    return url.origin === window.location.origin ? url.pathname + url.search : url.href;
  };

  Viewer.prototype.buildUrls = function () {
    var self = this;
    var item = this.currentSeries();
    var params = this.windowParams();
    this.urls = item ? item.frames.map(function (base) { return self.frameUrl(base, params); }) : [];
    this.urlIndex = new Map(this.urls.map(function (url, index) { return [url, index]; }));
    this.abortStale();
  };

  Viewer.prototype.showSlice = function (index) {
    var total = this.urls.length;
    if (!total) return;
    this.slice = clamp(Math.round(index) || 0, 0, total - 1);
    this.slider.value = String(this.slice + 1);
    this.slider.setAttribute("aria-valuetext", this.msg("slice", { index: this.slice + 1, total: total }));
    this.root.setAttribute("data-slice", String(this.slice + 1));
    this.setFrameError("");
    var entry = this.cache.get(this.urls[this.slice]);
    if (entry && entry.state === "loaded") {
      this.setShown(entry);
    } else {
      var nearest = this.nearestLoaded(this.slice);
      if (nearest && this.distanceFromSlice(nearest) < this.distanceFromSlice(this.shownEntry)) this.setShown(nearest);
      if (entry && entry.state === "error") this.setFrameError(this.msg("frame-error"));
    }
    this.updateWaiting();
    this.renderOverlay();
    this.prioritize();
  };

  Viewer.prototype.nearestLoaded = function (index) {
    for (var d = 1; d < this.urls.length; d += 1) {
      var candidates = [index - d, index + d];
      for (var k = 0; k < 2; k += 1) {
        var i = candidates[k];
        if (i < 0 || i >= this.urls.length) continue;
        var entry = this.cache.get(this.urls[i]);
        if (entry && entry.state === "loaded") return entry;
      }
    }
    return null;
  };

  Viewer.prototype.setShown = function (entry) {
    var img = entry ? entry.img : this.shownImage;
    if (entry && img !== this.shownImage) {
      img.className = "viewer-image";
      img.draggable = false;
      img.setAttribute("data-viewer-image", "");
      this.shownImage.removeAttribute("data-viewer-image");
      this.stage.replaceChild(img, this.shownImage);
      this.shownImage = img;
    }
    this.shownEntry = entry;
    this.shownImage.hidden = !entry;
    this.updateWaiting();
    if (!entry) return;
    var item = this.allSeries[entry.seriesIndex];
    this.shownImage.alt = this.msg("alt", {
      series: item ? this.seriesLabel(item.series) : "", index: entry.index + 1, total: item ? item.frames.length : 0
    });
    if (!this.firstImageDone) this.markFirstImage();
  };

  Viewer.prototype.updateWaiting = function () {
    var waiting = this.urls.length > 0 && !(this.shownEntry && this.shownEntry.url === this.urls[this.slice]);
    this.viewport.classList.toggle("is-waiting", waiting);
  };

  /* Slices away from the wanted one; a frame of the same slice in an older window counts as 0. */
  Viewer.prototype.distanceFromSlice = function (entry) {
    if (!entry || entry.seriesIndex !== this.seriesIndex) return Infinity;
    return Math.abs(entry.index - this.slice);
  };

  Viewer.prototype.markFirstImage = function () {
    this.firstImageDone = true;
    var ms = Math.round(performance.now() - this.startedAt);
    this.root.setAttribute("data-first-image-ms", String(ms));
    this.root.dispatchEvent(new CustomEvent("konsil:viewer-ready", { bubbles: true, detail: { firstImageMs: ms } }));
  };

  Viewer.prototype.setFrameError = function (text) {
    var node = this.root.querySelector('[data-overlay="frame-error"]');
    if (node) node.textContent = text;
  };

  /* ---- loading ---- */

  /* Wanted order: the current slice, then outward (±1, ±2, ...), so ±15 comes first and then the rest. */
  Viewer.prototype.prioritize = function () {
    var order = [];
    var total = this.urls.length;
    for (var d = 0; d < total; d += 1) {
      if (this.slice + d < total) order.push(this.urls[this.slice + d]);
      if (d && this.slice - d >= 0) order.push(this.urls[this.slice - d]);
      if (this.slice + d >= total && this.slice - d < 0) break;
    }
    var cache = this.cache;
    this.queue = order.filter(function (url) { return !cache.has(url); });
    this.pump();
  };

  Viewer.prototype.pump = function () {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length) {
      var url = this.queue.shift();
      if (!this.cache.has(url)) this.load(url);
    }
  };

  Viewer.prototype.load = function (url) {
    var self = this;
    var img = new Image();
    var entry = {
      url: url, img: img, state: "loading", aborted: false, index: this.urlIndex.get(url), seriesIndex: this.seriesIndex
    };
    var settled = false;
    function settle(ok) {
      if (settled) return;
      settled = true;
      self.inFlight -= 1;
      if (entry.aborted) {
        if (self.cache.get(url) === entry) self.cache.delete(url);
      } else {
        entry.state = ok ? "loaded" : "error";
        self.onLoaded(entry);
      }
      self.pump();
    }
    this.inFlight += 1;
    this.cache.set(url, entry);
    img.decoding = "async";
    img.src = url;
    if (typeof img.decode === "function") {
      img.decode().then(function () { settle(true); }, function () { settle(img.complete && img.naturalWidth > 0); });
    } else {
      img.onload = function () { settle(true); };
      img.onerror = function () { settle(false); };
    }
  };

  /* Stop loading frames of another series or window; they would hold the in-flight slots. */
  Viewer.prototype.abortStale = function () {
    var urlIndex = this.urlIndex;
    this.cache.forEach(function (entry) {
      if (entry.state === "loading" && !urlIndex.has(entry.url)) {
        entry.aborted = true;
        entry.img.removeAttribute("src");
        entry.img.src = "";
      }
    });
    this.evict();
  };

  Viewer.prototype.evict = function () {
    if (this.cache.size <= MAX_CACHED) return;
    var self = this;
    var extra = this.cache.size - MAX_CACHED;
    Array.from(this.cache.keys()).some(function (url) {
      var entry = self.cache.get(url);
      if (!self.urlIndex.has(url) && entry !== self.shownEntry && entry.state !== "loading") {
        self.cache.delete(url);
        extra -= 1;
      }
      return extra <= 0;
    });
  };

  Viewer.prototype.onLoaded = function (entry) {
    if (!this.urlIndex.has(entry.url)) return;
    var index = this.urlIndex.get(entry.url);
    if (index === this.slice) {
      if (entry.state === "loaded") this.setShown(entry); else this.setFrameError(this.msg("frame-error"));
      return;
    }
    if (entry.state === "loaded" && this.distanceFromSlice(entry) < this.distanceFromSlice(this.shownEntry)) {
      this.setShown(entry);
    }
  };

  /* ---- overlay ---- */

  Viewer.prototype.renderOverlay = function () {
    var item = this.currentSeries();
    var header = this.header;
    var study = item ? item.study : {};
    var series = item ? item.series : {};
    var parts = {
      patient: header.patient || "",
      "patient-info": [header.birth_date, header.sex].filter(Boolean).join(" · "),
      study: [study.date, study.description].filter(Boolean).join(" · "),
      series: [series.number != null ? "#" + series.number : "", this.seriesLabel(series)].filter(Boolean).join(" "),
      slice: this.urls.length ? this.msg("slice", { index: this.slice + 1, total: this.urls.length }) : "",
      window: this.windowText(),
      zoom: this.msg("zoom", { percent: this.percent(this.zoom) })
    };
    var root = this.root;
    Object.keys(parts).forEach(function (key) {
      var node = root.querySelector('[data-overlay="' + key + '"]');
      if (node && node.textContent !== parts[key]) node.textContent = parts[key];
    });
  };

  Viewer.prototype.percent = function (value) {
    try {
      return new Intl.NumberFormat(document.documentElement.lang || undefined, {
        style: "percent", maximumFractionDigits: 0
      }).format(value);
    } catch (e) {
      return Math.round(value * 100) + "%";
    }
  };

  Viewer.prototype.windowText = function () {
    var state = this.windowState;
    if (state.kind === "preset") return state.label;
    if (state.kind === "custom") return this.msg("window", { width: state.width, center: state.center });
    return this.msg("default-window");
  };

  function init() {
    document.querySelectorAll("[data-viewer]").forEach(function (root) {
      if (root.hasAttribute("data-viewer-started")) return;
      root.setAttribute("data-viewer-started", "");
      new Viewer(root).start();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();

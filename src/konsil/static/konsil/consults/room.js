// The embedded two-party video room: WebRTC between the patient's side and the specialist, signalling relayed
// by Konsil (POST a message, poll for the other side's). The patient's side makes the offer.
(function () {
  "use strict";
  var configNode = document.getElementById("room-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var status = document.getElementById("room-status");
  var localVideo = document.getElementById("local-video");
  var remoteVideo = document.getElementById("remote-video");
  var isOfferer = config.party === "patient";
  var cursor = 0, pc = null, stream = null, pending = [], stopped = false, polling = null;
  // Each offer is a generation; its answer and both sides' candidates carry it. Two hellos that cross make two
  // offers: what belongs to an older one is dropped, and candidates that outrun their offer wait for it.
  var generation = 0, early = {};

  function say(key) { status.textContent = status.dataset[key] || key; }
  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function send(kind, payload) {
    // A lost signal stalls the call: retry what the server did not take (a busy database answers 503).
    for (var attempt = 0; attempt < 6; attempt++) {
      try {
        var response = await fetch(config.signals, {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
          body: JSON.stringify({kind: kind, payload: payload || {}})
        });
        if (response.ok || (response.status >= 400 && response.status < 500)) return response;
      } catch (e) { /* network: retry */ }
      await new Promise(function (resolve) { setTimeout(resolve, 300 * (attempt + 1)); });
    }
  }
  function newPeer(gen) {
    if (pc) { pc.close(); }
    pending = [];
    generation = gen || 0;
    pc = new RTCPeerConnection({iceServers: config.iceServers || []});
    window.konsilRoom = {get pc() { return pc; }};
    stream.getTracks().forEach(function (track) { pc.addTrack(track, stream); });
    pc.onicecandidate = function (event) {
      if (event.candidate) send("candidate", {candidate: event.candidate.toJSON(), gen: gen || 0});
    };
    pc.ontrack = function (event) {
      if (remoteVideo.srcObject !== event.streams[0]) remoteVideo.srcObject = event.streams[0];
    };
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === "connected") say("connected");
      if (pc.connectionState === "failed") say("failed");
    };
    return pc;
  }
  async function offer() {
    var gen = 1 + Math.floor(Math.random() * 1e9);  // unique, also across a reload of this page
    newPeer(gen);
    var own = pc;
    var description = await own.createOffer();
    await own.setLocalDescription(description);
    if (own === pc) await send("offer", {sdp: own.localDescription.toJSON(), gen: gen});
  }
  async function flushCandidates() {
    while (pending.length) { await pc.addIceCandidate(pending.shift()); }
  }
  async function handle(signal) {
    var p = signal.payload || {};
    if (signal.kind === "hello") {
      if (isOfferer) await offer(); else await send("hello", {});
    } else if (signal.kind === "offer" && !isOfferer) {
      var gen = p.gen || 0;
      newPeer(gen);
      pending = early[gen] || [];
      early = {};
      await pc.setRemoteDescription(p.sdp);
      await flushCandidates();
      var answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await send("answer", {sdp: pc.localDescription.toJSON(), gen: gen});
    } else if (signal.kind === "answer" && isOfferer && pc) {
      if ((p.gen || 0) !== generation || pc.signalingState !== "have-local-offer") return;  // an older offer's
      await pc.setRemoteDescription(p.sdp);
      await flushCandidates();
    } else if (signal.kind === "candidate" && p.candidate) {
      var of = p.gen || 0;
      if (!isOfferer && (of !== generation || !pc)) {  // it outran its offer: kept until that offer comes
        (early[of] = early[of] || []).push(p.candidate);
      } else if (pc && of === generation) {
        if (pc.remoteDescription) await pc.addIceCandidate(p.candidate); else pending.push(p.candidate);
      }
    } else if (signal.kind === "bye") {
      remoteVideo.srcObject = null;
      if (pc) { pc.close(); pc = null; }
      say("left");
    }
  }
  async function poll() {
    if (stopped) return;
    try {
      var response = await fetch(config.signals + "?after=" + cursor, {credentials: "same-origin"});
      if (response.ok) {
        var body = await response.json();
        for (var i = 0; i < body.signals.length; i++) {
          cursor = Math.max(cursor, body.signals[i].id);
          await handle(body.signals[i]);
        }
      } else if (response.status === 409 || response.status === 403 || response.status === 404) {
        stopped = true; say("failed"); return;
      }
    } catch (e) { /* a dropped poll is retried */ }
    polling = setTimeout(poll, 1000);
  }
  async function start() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    } catch (e) { say("nomedia"); return; }
    localVideo.srcObject = stream;
    say("waiting");
    var tail = await fetch(config.signals + "?after=0&tail=1", {credentials: "same-origin"});
    if (tail.ok) { cursor = (await tail.json()).last || 0; }
    newPeer();
    await send("hello", {});
    poll();
  }
  function toggle(button, kind) {
    var tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
    var off = button.getAttribute("aria-pressed") !== "true";
    tracks.forEach(function (t) { t.enabled = !off; });
    button.setAttribute("aria-pressed", off ? "true" : "false");
    button.textContent = off ? button.dataset.off : button.dataset.on;
  }
  document.getElementById("toggle-mic").addEventListener("click", function () { if (stream) toggle(this, "audio"); });
  document.getElementById("toggle-cam").addEventListener("click", function () { if (stream) toggle(this, "video"); });
  document.getElementById("leave-room").addEventListener("click", function () {
    stopped = true; clearTimeout(polling);
    send("bye", {}).finally(function () {
      if (pc) pc.close();
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      window.location.href = config.signals.replace(/room\/signals\/$/, "");
    });
  });
  start();
})();
